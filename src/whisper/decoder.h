/*
 * The Whisper decoder (openai/whisper model.py TextDecoder; docs/whisper-facts.md, "The decoder"): token and
 * learned position embeddings, pre-LayerNorm blocks of causal self-attention, cross-attention
 * over the encoder output and an MLP, a final LayerNorm, logits through the tied token
 * embedding. Weights as model.h's linear layers, so the precision machinery is shared.
 */
#ifndef QATTN_WHISPER_DECODER_H
#define QATTN_WHISPER_DECODER_H

#include "whisper/model.h"

typedef struct whisper_decoder_layer {
    float *self_ln_w, *self_ln_b;   /* [d] */
    whisper_linear self_qkv;        /* [3 d][d], rows q, k, v; k's bias 0 */
    whisper_linear self_out;        /* [d][d] */
    float *cross_ln_w, *cross_ln_b; /* [d] */
    whisper_linear cross_q;         /* [d][d] */
    whisper_linear cross_kv;        /* [2 d][d], rows k, v, applied to the encoder output */
    whisper_linear cross_out;       /* [d][d] */
    float *mlp_ln_w, *mlp_ln_b;     /* [d] */
    whisper_linear fc1, fc2;        /* [n_ffn][d], [d][n_ffn] */
} whisper_decoder_layer;

struct qattn_decoder {
    int32_t n_vocab, n_text_ctx, n_state, n_heads, n_layers, n_ffn;
    qattn_run run;
    float *embed;                   /* [n_vocab][d]: tokens in, logits out (tied); NULL when
                                       embed16 holds it */
    uint16_t *embed16;              /* int8: the same [n_vocab][d] in 16 bits when the file's
                                       values are exactly 16-bit floats (half the bytes of
                                       float: the lookup is all the int8 path reads of it) */
    int embed16_is_bf16;            /* embed16 as bfloat16, else binary16 */
    float *pos;                     /* [n_text_ctx][d] */
    whisper_decoder_layer *layers;  /* [n_layers] */
    float *ln_w, *ln_b;             /* [d] */
    whisper_linear logits_int8;     /* int8: the embedding as the output layer's INT8 GEMM
                                       (per-row scales); f32 uses embed */
};

/* Several sequences decoded side by side over one window (beams, samples; search.c): they
 * share the cross-attention keys and values and the length, each has its own self-attention
 * cache. begin_seqs makes room for max_seqs and starts with one sequence (the prompt is run
 * once through qattn_decoder_step); reorder makes sequence i a copy of sequence parents[i]
 * (0 <= parents[i] < the current count) for i < n_seqs and sets the count (n_seqs <= max_seqs);
 * step_seqs appends one token to each of the first n_seqs sequences and writes their logits
 * [n_seqs][n_vocab]. No allocation after begin. */
/* Several windows decoded side by side (the items of a batch: search.c): sequence j attends to
 * its item's encoder output; begin_items takes features[n_items][n_audio][d] and room for
 * max_seqs sequences in all (n_items <= max_seqs), starting with one sequence over item 0;
 * restart forgets every token and makes n sequences, sequence j over item items[j]; a reorder
 * gives each child its parent's item; step_many appends n_tokens tokens to each of the first
 * n_seqs sequences (tokens[j * n_tokens + i]: the same length for all) and writes the logits
 * after each one's last, [n_seqs][n_vocab]. The linear layers run once over every sequence's
 * rows; the attention per sequence, so an item's results do not depend on the others (int8
 * bit for bit; f32 up to OpenBLAS's blocking). */
#define QATTN_DECODER_MAX_ITEMS 64
#define QATTN_DECODER_MAX_SEQS 1024
qattn_status qattn_decoder_begin_items(const qattn_decoder *dec, const float *features,
                                       int32_t n_audio, int32_t n_items, int32_t max_seqs,
                                       qattn_decoder_state **out);
qattn_status qattn_decoder_restart(qattn_decoder_state *s, const int32_t *items, int32_t n);
qattn_status qattn_decoder_step_many(qattn_decoder_state *s, const int32_t *tokens,
                                     int32_t n_seqs, int32_t n_tokens, float *logits);
qattn_status qattn_decoder_begin_seqs(const qattn_decoder *dec, const float *features,
                                      int32_t n_audio, int32_t max_seqs, qattn_decoder_state **out);
void qattn_decoder_reorder(qattn_decoder_state *s, const int32_t *parents, int32_t n_seqs);
qattn_status qattn_decoder_step_seqs(qattn_decoder_state *s, const int32_t *tokens,
                                     int32_t n_seqs, float *logits);
/* Forgets the tokens after the first len (0 <= len <= the length) and every sequence but the
 * first: the prompt's pass, shared by every sequence, is kept for another search. */
void qattn_decoder_truncate(qattn_decoder_state *s, int32_t len);

/* Internal: the stages of a decoder step, and an observer told as each one ends (on the
 * thread that runs the step, each layer's stages in turn), so that `qattn bench decoder`
 * can time them; the library itself keeps no clock. Each stage includes its LayerNorm and
 * residual add. */
typedef enum qattn_decoder_stage {
    QATTN_DECODER_EMBED,           /* the token and position embeddings */
    QATTN_DECODER_SELF_QKV,        /* LayerNorm, the QKV GEMM */
    QATTN_DECODER_SELF_ATTENTION,  /* the new keys and values into the caches (quantized), attention */
    QATTN_DECODER_SELF_OUT,        /* the output GEMM */
    QATTN_DECODER_CROSS_Q,         /* LayerNorm, the query GEMM */
    QATTN_DECODER_CROSS_ATTENTION, /* attention over the window's keys and values */
    QATTN_DECODER_CROSS_OUT,       /* the output GEMM */
    QATTN_DECODER_MLP,             /* LayerNorm, fc1, GELU, fc2 */
    QATTN_DECODER_LOGITS,          /* the final LayerNorm, the vocabulary projection */
    QATTN_DECODER_STAGE_COUNT
} qattn_decoder_stage;

typedef struct qattn_decoder_observer {
    void (*stage_done)(void *ctx, qattn_decoder_stage stage);
    void *ctx;
} qattn_decoder_observer;

/* Tells `observer` (copied; NULL: none) where each stage of the state's later steps ends. */
void qattn_decoder_observe(qattn_decoder_state *s, const qattn_decoder_observer *observer);

/* Word alignment (openai whisper timing.py find_alignment; CTranslate2 WhisperReplica::align):
 * the n tokens run as one fresh sequence over the state's window (its sequences are
 * forgotten), writing for each of the n_heads (layer, head) pairs heads[2 i], heads[2 i + 1]
 * the raw cross-attention scores q.k / sqrt(head_dim) of every token over the first n_frames
 * encoder frames, scores[n_heads][n][n_frames]: in float, from the queries and keys the
 * attention reads (int8: the quantized keys at their scale; the integer kernel is untouched).
 * logits[n - first][n_vocab] (NULL: none) are those of rows first .. n - 1. */
qattn_status qattn_decoder_align(qattn_decoder_state *s, const int32_t *tokens, int32_t n,
                                 const int32_t *heads, int32_t n_heads, int32_t n_frames,
                                 float *scores, int32_t first, float *logits);

#endif
