/*
 * The decoder's forward pass in float (the reference the int8 path will be held to), over a
 * whole token sequence at once (../shared/WHISPER.md B; openai/whisper model.py TextDecoder):
 *
 *   x = E[tokens] + P[0 .. n)
 *   per layer: x += out(causal self-attention(qkv(LN(x))))
 *              x += out(attention(q(LN(x)), kv(encoder output)))
 *              x += fc2(GELU(fc1(LN(x))))
 *   logits = LN(x) E^T
 *
 * Attention is per head, softmax(q k^T / sqrt(head_dim)) v with OpenBLAS products; query i of
 * the self-attention sees tokens 0..i only (the softmax runs over that prefix, so masked
 * scores are exactly 0).
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/float_ops.h"
#include "whisper/decoder.h"

/* Multi-head attention: q [n][d] (ld_q apart), k and v [m][d] (ld_kv apart) -> out [n][d];
 * causal: query i sees keys 0 .. i + m - n (the queries are the last n of the m positions:
 * bottom-right). scores: n x m floats of scratch. */
static void attend(const struct qattn_decoder *dec, const float *q, int32_t ld_q, const float *k,
                   const float *v, int32_t ld_kv, int32_t n, int32_t m, int causal,
                   float *scores, float *out)
{
    const int32_t d = dec->n_state, hd = d / dec->n_heads;
    for (int32_t h = 0; h < dec->n_heads; h++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, m, hd, 1.0f / sqrtf((float)hd),
                    q + h * hd, ld_q, k + h * hd, ld_kv, 0.0f, scores, m);
        if (causal) {
            for (int32_t i = 0; i < n; i++) {
                const int32_t seen = i + m - n + 1;
                qattn_softmax_rows(scores + (size_t)i * m, 1, seen, m, 1);
                memset(scores + (size_t)i * m + seen, 0, (size_t)(m - seen) * sizeof(float));
            }
        } else {
            qattn_softmax_rows(scores, n, m, m, dec->run.threads);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, m, 1.0f, scores, m,
                    v + h * hd, ld_kv, 0.0f, out + h * hd, d);
    }
}

qattn_status qattn_decoder_logits(const qattn_decoder *dec, const float *features,
                                  int32_t n_audio, const int32_t *tokens, int32_t n_tokens,
                                  float *logits)
{
    qattn_clear_error();
    if (!dec || !features || !tokens || !logits)
        return qattn_fail(QATTN_ERR_NULL, "decoder_logits: a pointer argument is NULL");
    if (n_tokens < 1 || n_tokens > dec->n_text_ctx)
        return qattn_fail(QATTN_ERR_SIZE, "decoder_logits: %d tokens; the decoder takes 1 to %d",
                          n_tokens, dec->n_text_ctx);
    if (n_audio < 1 || n_audio > 65536)
        return qattn_fail(QATTN_ERR_SIZE, "decoder_logits: %d encoder frames", n_audio);
    for (int32_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= dec->n_vocab)
            return qattn_fail(QATTN_ERR_ARG, "decoder_logits: token %d is %d, outside the "
                              "vocabulary [0, %d)", i, tokens[i], dec->n_vocab);
    const size_t d = (size_t)dec->n_state, n = (size_t)n_tokens, a = (size_t)n_audio;
    for (size_t i = 0; i < a * d; i++)
        if (!isfinite(features[i]))
            return qattn_fail(QATTN_ERR_VALUE, "decoder_logits: features[%zu] is not finite", i);
    const size_t width = d * 3 > (size_t)dec->n_ffn ? d * 3 : (size_t)dec->n_ffn;
    float *x = malloc(n * d * sizeof(float)), *h = malloc(n * d * sizeof(float));
    float *wide = malloc(n * width * sizeof(float)), *att = malloc(n * d * sizeof(float));
    float *kv = malloc(a * 2 * d * sizeof(float));
    float *scores = malloc(n * (a > n ? a : n) * sizeof(float));
    qattn_status st = x && h && wide && att && kv && scores ? QATTN_OK
                      : qattn_fail(QATTN_ERR_NOMEM, "decoder_logits: out of memory");
    const qattn_run *run = &dec->run;
    for (size_t i = 0; st == QATTN_OK && i < n; i++)
        for (size_t t = 0; t < d; t++)
            x[i * d + t] = dec->embed[(size_t)tokens[i] * d + t] + dec->pos[i * d + t];
    for (int32_t l = 0; st == QATTN_OK && l < dec->n_layers; l++) {
        const whisper_decoder_layer *L = &dec->layers[l];
        qattn_layer_norm(x, L->self_ln_w, L->self_ln_b, h, n_tokens, (int32_t)d, run->threads);
        if ((st = qattn_linear_run(run, &L->self_qkv, h, n_tokens, wide)))
            break;
        attend(dec, wide, (int32_t)(3 * d), wide + d, wide + 2 * d, (int32_t)(3 * d), n_tokens,
               n_tokens, 1, scores, att);
        if ((st = qattn_linear_run(run, &L->self_out, att, n_tokens, h)))
            break;
        qattn_add(x, h, n * d);
        qattn_layer_norm(x, L->cross_ln_w, L->cross_ln_b, h, n_tokens, (int32_t)d, run->threads);
        if ((st = qattn_linear_run(run, &L->cross_q, h, n_tokens, wide)) ||
            (st = qattn_linear_run(run, &L->cross_kv, features, n_audio, kv)))
            break;
        attend(dec, wide, (int32_t)d, kv, kv + d, (int32_t)(2 * d), n_tokens, n_audio, 0, scores, att);
        if ((st = qattn_linear_run(run, &L->cross_out, att, n_tokens, h)))
            break;
        qattn_add(x, h, n * d);
        qattn_layer_norm(x, L->mlp_ln_w, L->mlp_ln_b, h, n_tokens, (int32_t)d, run->threads);
        if ((st = qattn_linear_run(run, &L->fc1, h, n_tokens, wide)))
            break;
        qattn_gelu(wide, n_tokens, dec->n_ffn, run->threads);
        if ((st = qattn_linear_run(run, &L->fc2, wide, n_tokens, h)))
            break;
        qattn_add(x, h, n * d);
    }
    if (st == QATTN_OK) {
        qattn_layer_norm(x, dec->ln_w, dec->ln_b, h, n_tokens, (int32_t)d, run->threads);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tokens, dec->n_vocab, (int32_t)d,
                    1.0f, h, (int32_t)d, dec->embed, (int32_t)d, 0.0f, logits, dec->n_vocab);
    }
    free(x), free(h), free(wide), free(att), free(kv), free(scores);
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

/* --- Token by token: self-attention K/V cached, cross-attention K/V computed once ---------- */

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

qattn_status qattn_decoder_step(qattn_decoder_state *s, const int32_t *tokens, int32_t n_tokens,
                                float *logits)
{
    qattn_clear_error();
    if (!s || !tokens || !logits)
        return qattn_fail(QATTN_ERR_NULL, "decoder_step: a pointer argument is NULL");
    const struct qattn_decoder *dec = s->dec;
    if (n_tokens < 1 || n_tokens > dec->n_text_ctx - s->len)
        return qattn_fail(QATTN_ERR_SIZE, "decoder_step: %d tokens after %d; the decoder's context "
                          "is %d", n_tokens, s->len, dec->n_text_ctx);
    for (int32_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= dec->n_vocab)
            return qattn_fail(QATTN_ERR_ARG, "decoder_step: token %d is %d, outside the vocabulary "
                              "[0, %d)", i, tokens[i], dec->n_vocab);
    const size_t d = (size_t)dec->n_state, n = (size_t)n_tokens, a = (size_t)s->n_audio;
    const size_t ctx = (size_t)dec->n_text_ctx, len = (size_t)s->len, m = len + n;
    const qattn_run *run = &dec->run;
    qattn_status st = QATTN_OK;
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < d; t++)
            s->x[i * d + t] = dec->embed[(size_t)tokens[i] * d + t] + dec->pos[(len + i) * d + t];
    for (int32_t l = 0; st == QATTN_OK && l < dec->n_layers; l++) {
        const whisper_decoder_layer *L = &dec->layers[l];
        float *k = s->self_k + (size_t)l * ctx * d, *v = s->self_v + (size_t)l * ctx * d;
        qattn_layer_norm(s->x, L->self_ln_w, L->self_ln_b, s->h, n_tokens, (int32_t)d, run->threads);
        if ((st = qattn_linear_run(run, &L->self_qkv, s->h, n_tokens, s->wide)))
            break;
        for (size_t i = 0; i < n; i++) { /* the new keys and values join the cache */
            memcpy(k + (len + i) * d, s->wide + i * 3 * d + d, d * sizeof(float));
            memcpy(v + (len + i) * d, s->wide + i * 3 * d + 2 * d, d * sizeof(float));
        }
        attend(dec, s->wide, (int32_t)(3 * d), k, v, (int32_t)d, n_tokens, (int32_t)m, 1, s->scores,
               s->att);
        if ((st = qattn_linear_run(run, &L->self_out, s->att, n_tokens, s->h)))
            break;
        qattn_add(s->x, s->h, n * d);
        qattn_layer_norm(s->x, L->cross_ln_w, L->cross_ln_b, s->h, n_tokens, (int32_t)d, run->threads);
        if ((st = qattn_linear_run(run, &L->cross_q, s->h, n_tokens, s->wide)))
            break;
        const float *kv = s->cross_kv + (size_t)l * a * 2 * d;
        attend(dec, s->wide, (int32_t)d, kv, kv + d, (int32_t)(2 * d), n_tokens, (int32_t)a, 0,
               s->scores, s->att);
        if ((st = qattn_linear_run(run, &L->cross_out, s->att, n_tokens, s->h)))
            break;
        qattn_add(s->x, s->h, n * d);
        qattn_layer_norm(s->x, L->mlp_ln_w, L->mlp_ln_b, s->h, n_tokens, (int32_t)d, run->threads);
        if ((st = qattn_linear_run(run, &L->fc1, s->h, n_tokens, s->wide)))
            break;
        qattn_gelu(s->wide, n_tokens, dec->n_ffn, run->threads);
        if ((st = qattn_linear_run(run, &L->fc2, s->wide, n_tokens, s->h)))
            break;
        qattn_add(s->x, s->h, n * d);
    }
    if (st != QATTN_OK)
        return st; /* the cache may hold this call's keys: the state is not advanced */
    const float *last = s->x + (n - 1) * d;
    qattn_layer_norm(last, dec->ln_w, dec->ln_b, s->h, 1, (int32_t)d, 1);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, dec->n_vocab, (int32_t)d, 1.0f, dec->embed, (int32_t)d,
                s->h, 1, 0.0f, logits, 1);
    s->len += n_tokens;
    return QATTN_OK;
}
