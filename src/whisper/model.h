/*
 * The Whisper encoder's configuration and weights (llama2.c style: shapes in comments).
 * Loaded from a Hugging Face directory or file, or a whisper.cpp ggml file (model_open.c,
 * model_build.c); run by encoder.c.
 */
#ifndef QATTN_WHISPER_MODEL_H
#define QATTN_WHISPER_MODEL_H

#include <stdint.h>

#include "formats/model_config.h"
#include "gemm/gemm.h"
#include "qattn.h"


/* How a model's layers run (the encoder's and the decoder's): precision, threads, tier. */
typedef struct qattn_run {
    qattn_precision precision;
    int32_t threads; /* 0: one per online CPU */
    int32_t isa;     /* QATTN_ISA_AUTO or a tier */
} qattn_run;

/* A linear layer y = x W^T + b in the model's precision: float weights (f32), or INT8
 * weights packed once (int8). */
typedef struct whisper_linear {
    int32_t n_out, n_in;
    float *w;             /* f32: [n_out][n_in] */
    float *b;             /* f32: [n_out] or NULL */
    qattn_gemm_weights q; /* int8 */
} whisper_linear;

typedef struct whisper_layer {
    float *attn_ln_w, *attn_ln_b; /* [d] */
    whisper_linear qkv;           /* [3 d][d]: q, k, v stacked (one input quantization, one
                                     GEMM); k has no bias (zeros) */
    whisper_linear o;             /* [d][d] */
    float *mlp_ln_w, *mlp_ln_b;   /* [d] */
    whisper_linear fc1;           /* [n_ffn][d] */
    whisper_linear fc2;           /* [d][n_ffn] */
} whisper_layer;

struct qattn_encoder {
    whisper_config cfg;
    qattn_run run;
    whisper_linear conv1;         /* [d][3][n_mels]: the kernel tap-major, a GEMM over frames */
    whisper_linear conv2;         /* [d][3][d], stride 2 */
    float *pos;                   /* [n_ctx][d] */
    whisper_layer *layers;        /* [n_layers] */
    float *ln_post_w, *ln_post_b; /* [d] */
    struct qattn_encoder_spare *spare; /* the last run's working memory, for the next (encoder.c) */
};

struct qattn_attention_scratch;

/* The encoder's spare working memory: made empty with the encoder, freed with it. */
struct qattn_encoder_spare *qattn_encoder_spare_new(void);

/* y[m][n_out] = x[m][n_in] W^T + b in the layer's precision (linear.c). */
qattn_status qattn_linear_run(const qattn_run *run, const whisper_linear *l, const float *x,
                              int32_t m, float *y);
/* The same with the INT8 GEMM's scratch in ws (int8; the f32 path needs none): no allocation. */
qattn_status qattn_linear_run_in(const qattn_run *run, const whisper_linear *l, const float *x,
                                 int32_t m, float *y, qattn_gemm_workspace *ws);
void qattn_linear_free(whisper_linear *l);

/* Self-attention of n frames (self_attention.c): qkv is [n][3 d] (q, k, v side by side),
 * out [n][d]. f32 needs n x n floats of scores; int8 4 n d bytes of scratch. */
/* Float multi-head attention (self_attention.c), the encoder's and the decoder's: q [n][d]
 * (ld_q floats apart), k and v [m][d] (ld_kv apart) -> out [n][d], per head
 * softmax(q k^T / sqrt(head_dim)) v; causal: query i sees keys 0 .. i + m - n (bottom-right).
 * scores: n x m floats of scratch. */
void qattn_attention_heads_f32(int32_t heads, int32_t d, const float *q, int32_t ld_q,
                               const float *k, const float *v, int32_t ld_kv, int32_t n,
                               int32_t m, int causal, int32_t threads, float *scores, float *out);
void qattn_self_attention_f32(const struct qattn_encoder *enc, const float *qkv, int32_t n,
                              float *scores, float *out);
/* The integer attention of the stacked q, k, v, its output rows quantized straight into o_in
 * as the out projection o's input (never a float matrix). head_max: [n][3 heads] each row's
 * max |.| of every q, k and v head (the qkv GEMM's group_max), so the per-head scales need
 * no pass of their own. */
qattn_status qattn_self_attention_int8(const struct qattn_encoder *enc, const float *qkv,
                                       const float *head_max, int32_t n, int8_t *scratch,
                                       struct qattn_attention_scratch *attn,
                                       const qattn_gemm_weights *o, qattn_gemm_workspace *o_in);

/* SmoothQuant at load (smoothing.c): divides the LayerNorm's channel c by s_c (gamma, beta)
 * and multiplies input column c of the float weights w ([n_out][n_in]) that it feeds by s_c.
 * 0 if out of memory (nothing changed). */
int qattn_smooth_layer_norm_into(float *gamma, float *beta, float *w, int32_t n_out, int32_t n_in);

/* For the int8 precision: quantizes and packs l's float weights and drops them; its input
 * rows are then quantized to x_bits each (qattn_gemm_weights.x_bits: 8, or 16 where the
 * layer's rounding error must stay far below int8's, as in the decoder). */
qattn_status qattn_linear_finish(const qattn_run *run, whisper_linear *l, int32_t x_bits);

/* An empty encoder of a checked config in the params' precision (its tier resolved). */
qattn_status qattn_encoder_new(const char *name, const whisper_config *cfg,
                                 const qattn_encoder_params *p, struct qattn_encoder **out);


/* Whisper's sinusoidal position embedding, [length][channels] (malloc'd), for files that
 * leave it out. */
float *qattn_whisper_sinusoids(int32_t length, int32_t channels);

#endif
