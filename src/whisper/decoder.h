/*
 * The Whisper decoder (openai/whisper model.py TextDecoder; ../shared/WHISPER.md B): token and
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
    float *embed;                   /* [n_vocab][d]: tokens in, logits out (tied) */
    float *pos;                     /* [n_text_ctx][d] */
    whisper_decoder_layer *layers;  /* [n_layers] */
    float *ln_w, *ln_b;             /* [d] */
};

#endif
