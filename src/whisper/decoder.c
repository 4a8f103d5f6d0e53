/*
 * The decoder's forward pass in float (the reference the int8 path will be held to;
 * ../shared/WHISPER.md B; openai/whisper model.py TextDecoder), token by token as decoding runs
 * it, or over a whole sequence at once (the same pass with every token in one step):
 *
 *   x = E[tokens] + P[len .. len + n)
 *   per layer: x += out(causal self-attention(qkv(LN(x)))), keys and values of every token so
 *                   far kept in a cache
 *              x += out(attention(q(LN(x)), kv(encoder output))), kv computed once per window
 *              x += fc2(GELU(fc1(LN(x))))
 *   logits = LN(x) E^T
 *
 * Attention is self_attention.c's float multi-head attention; the new tokens are the last
 * positions of the cache (a bottom-right causal mask).
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/float_ops.h"
#include "whisper/decoder.h"

struct qattn_decoder_state {
    const struct qattn_decoder *dec;
    int32_t n_audio, len;     /* encoder frames; tokens seen so far */
    float *cross_kv;          /* [n_layers][n_audio][2 d] */
    float *self_k, *self_v;   /* [n_layers][n_text_ctx][d] */
    float *x, *h, *wide, *att, *scores; /* scratch for up to n_text_ctx new tokens */
};

void qattn_decoder_state_free(qattn_decoder_state *s)
{
    if (!s)
        return;
    free(s->cross_kv), free(s->self_k), free(s->self_v);
    free(s->x), free(s->h), free(s->wide), free(s->att), free(s->scores);
    free(s);
}

qattn_status qattn_decoder_begin(const qattn_decoder *dec, const float *features, int32_t n_audio,
                                 qattn_decoder_state **out)
{
    qattn_clear_error();
    if (!dec || !features || !out)
        return qattn_fail(QATTN_ERR_NULL, "decoder_begin: a pointer argument is NULL");
    *out = NULL;
    if (n_audio < 1 || n_audio > 65536)
        return qattn_fail(QATTN_ERR_SIZE, "decoder_begin: %d encoder frames", n_audio);
    const size_t d = (size_t)dec->n_state, a = (size_t)n_audio, ctx = (size_t)dec->n_text_ctx;
    const size_t layers = (size_t)dec->n_layers;
    for (size_t i = 0; i < a * d; i++)
        if (!isfinite(features[i]))
            return qattn_fail(QATTN_ERR_VALUE, "decoder_begin: features[%zu] is not finite", i);
    qattn_decoder_state *s = calloc(1, sizeof *s);
    if (!s)
        return qattn_fail(QATTN_ERR_NOMEM, "decoder_begin: out of memory");
    s->dec = dec, s->n_audio = n_audio;
    const size_t width = d * 3 > (size_t)dec->n_ffn ? d * 3 : (size_t)dec->n_ffn;
    s->cross_kv = malloc(layers * a * 2 * d * sizeof(float));
    s->self_k = malloc(layers * ctx * d * sizeof(float));
    s->self_v = malloc(layers * ctx * d * sizeof(float));
    s->x = malloc(ctx * d * sizeof(float)), s->h = malloc(ctx * d * sizeof(float));
    s->wide = malloc(ctx * width * sizeof(float)), s->att = malloc(ctx * d * sizeof(float));
    s->scores = malloc(ctx * (a > ctx ? a : ctx) * sizeof(float));
    qattn_status st = s->cross_kv && s->self_k && s->self_v && s->x && s->h && s->wide && s->att &&
                              s->scores ? QATTN_OK
                          : qattn_fail(QATTN_ERR_NOMEM, "decoder_begin: out of memory");
    for (int32_t l = 0; st == QATTN_OK && l < dec->n_layers; l++)
        st = qattn_linear_run(&dec->run, &dec->layers[l].cross_kv, features, n_audio,
                              s->cross_kv + (size_t)l * a * 2 * d);
    if (st != QATTN_OK) {
        qattn_decoder_state_free(s);
        return st;
    }
    *out = s;
    return QATTN_OK;
}

/* Checks tokens against the state, then runs them through every layer: s->x holds their
 * hidden states before the final LayerNorm. On failure the state is not advanced (the cache
 * may hold this call's keys, past s->len). */
static qattn_status forward(qattn_decoder_state *s, const int32_t *tokens, int32_t n_tokens,
                            const char *who)
{
    const struct qattn_decoder *dec = s->dec;
    if (n_tokens < 1 || n_tokens > dec->n_text_ctx - s->len)
        return qattn_fail(QATTN_ERR_SIZE, "%s: %d tokens after %d; the decoder's context is %d",
                          who, n_tokens, s->len, dec->n_text_ctx);
    for (int32_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= dec->n_vocab)
            return qattn_fail(QATTN_ERR_ARG, "%s: token %d is %d, outside the vocabulary [0, %d)",
                              who, i, tokens[i], dec->n_vocab);
    const size_t d = (size_t)dec->n_state, n = (size_t)n_tokens, a = (size_t)s->n_audio;
    const size_t ctx = (size_t)dec->n_text_ctx, len = (size_t)s->len, m = len + n;
    const qattn_run *run = &dec->run;
    const int32_t heads = dec->n_heads, th = run->threads;
    qattn_status st = QATTN_OK;
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < d; t++)
            s->x[i * d + t] = dec->embed[(size_t)tokens[i] * d + t] + dec->pos[(len + i) * d + t];
    for (int32_t l = 0; st == QATTN_OK && l < dec->n_layers; l++) {
        const whisper_decoder_layer *L = &dec->layers[l];
        float *k = s->self_k + (size_t)l * ctx * d, *v = s->self_v + (size_t)l * ctx * d;
        qattn_layer_norm(s->x, L->self_ln_w, L->self_ln_b, s->h, n_tokens, (int32_t)d, th);
        if ((st = qattn_linear_run(run, &L->self_qkv, s->h, n_tokens, s->wide)))
            break;
        for (size_t i = 0; i < n; i++) { /* the new keys and values join the cache */
            memcpy(k + (len + i) * d, s->wide + i * 3 * d + d, d * sizeof(float));
            memcpy(v + (len + i) * d, s->wide + i * 3 * d + 2 * d, d * sizeof(float));
        }
        qattn_attention_heads_f32(heads, (int32_t)d, s->wide, (int32_t)(3 * d), k, v, (int32_t)d,
                                  n_tokens, (int32_t)m, 1, th, s->scores, s->att);
        if ((st = qattn_linear_run(run, &L->self_out, s->att, n_tokens, s->h)))
            break;
        qattn_add(s->x, s->h, n * d);
        qattn_layer_norm(s->x, L->cross_ln_w, L->cross_ln_b, s->h, n_tokens, (int32_t)d, th);
        if ((st = qattn_linear_run(run, &L->cross_q, s->h, n_tokens, s->wide)))
            break;
        const float *kv = s->cross_kv + (size_t)l * a * 2 * d;
        qattn_attention_heads_f32(heads, (int32_t)d, s->wide, (int32_t)d, kv, kv + d,
                                  (int32_t)(2 * d), n_tokens, (int32_t)a, 0, th, s->scores, s->att);
        if ((st = qattn_linear_run(run, &L->cross_out, s->att, n_tokens, s->h)))
            break;
        qattn_add(s->x, s->h, n * d);
        qattn_layer_norm(s->x, L->mlp_ln_w, L->mlp_ln_b, s->h, n_tokens, (int32_t)d, th);
        if ((st = qattn_linear_run(run, &L->fc1, s->h, n_tokens, s->wide)))
            break;
        qattn_gelu(s->wide, n_tokens, dec->n_ffn, th);
        if ((st = qattn_linear_run(run, &L->fc2, s->wide, n_tokens, s->h)))
            break;
        qattn_add(s->x, s->h, n * d);
    }
    if (st == QATTN_OK)
        s->len += n_tokens;
    return st;
}

qattn_status qattn_decoder_step(qattn_decoder_state *s, const int32_t *tokens, int32_t n_tokens,
                                float *logits)
{
    qattn_clear_error();
    if (!s || !tokens || !logits)
        return qattn_fail(QATTN_ERR_NULL, "decoder_step: a pointer argument is NULL");
    qattn_status st = forward(s, tokens, n_tokens, "decoder_step");
    if (st != QATTN_OK)
        return st;
    const struct qattn_decoder *dec = s->dec;
    const size_t d = (size_t)dec->n_state;
    qattn_layer_norm(s->x + (size_t)(n_tokens - 1) * d, dec->ln_w, dec->ln_b, s->h, 1, (int32_t)d, 1);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, dec->n_vocab, (int32_t)d, 1.0f, dec->embed, (int32_t)d,
                s->h, 1, 0.0f, logits, 1);
    return QATTN_OK;
}

qattn_status qattn_decoder_logits(const qattn_decoder *dec, const float *features,
                                  int32_t n_audio, const int32_t *tokens, int32_t n_tokens,
                                  float *logits)
{
    qattn_clear_error();
    if (!dec || !features || !tokens || !logits)
        return qattn_fail(QATTN_ERR_NULL, "decoder_logits: a pointer argument is NULL");
    qattn_decoder_state *s = NULL; /* the whole sequence is one step of a fresh state */
    qattn_status st = qattn_decoder_begin(dec, features, n_audio, &s);
    if (st == QATTN_OK && (st = forward(s, tokens, n_tokens, "decoder_logits")) == QATTN_OK) {
        const int32_t d = dec->n_state;
        qattn_layer_norm(s->x, dec->ln_w, dec->ln_b, s->h, n_tokens, d, dec->run.threads);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tokens, dec->n_vocab, d, 1.0f, s->h,
                    d, dec->embed, d, 0.0f, logits, dec->n_vocab);
    }
    qattn_decoder_state_free(s);
    return st;
}

qattn_status qattn_decoder_get_info(const qattn_decoder *dec, qattn_decoder_info *info)
{
    qattn_clear_error();
    if (!dec || !info)
        return qattn_fail(QATTN_ERR_NULL, "decoder_get_info: NULL argument");
    info->n_vocab = dec->n_vocab, info->n_text_ctx = dec->n_text_ctx;
    info->n_state = dec->n_state, info->n_heads = dec->n_heads, info->n_layers = dec->n_layers;
    return QATTN_OK;
}

