/*
 * The decoder's forward pass in float (the reference the int8 path will be held to;
 * docs/whisper-facts.md, "The decoder"; openai/whisper model.py TextDecoder), token by token as decoding runs
 * it, or over a whole sequence at once (the same pass with every token in one step):
 *
 *   x = E[tokens] + P[len .. len + n)
 *   per layer: x += out(causal self-attention(qkv(LN(x)))), keys and values of every token so
 *                   far kept in a cache
 *              x += out(attention(q(LN(x)), kv(encoder output))), kv computed once per window
 *              x += fc2(GELU(fc1(LN(x))))
 *   logits = LN(x) E^T
 *
 * The new tokens are the last positions of the cache (a bottom-right causal mask). Attention
 * is self_attention.c's float multi-head attention (f32), or the integer kernel over quantized
 * copies of the caches (int8; attn/quantized_cache.h): the cross-attention's keys and values
 * packed once per window and shared by the sequences, each sequence's self-attention cache
 * quantized as if all at once at every step.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attn/quantized_cache.h"
#include "core/error.h"
#include "core/half.h"
#include "ops/float_ops.h"
#include "whisper/decoder.h"

struct qattn_decoder_state {
    const struct qattn_decoder *dec;
    int32_t n_audio, len;     /* encoder frames; tokens seen so far (by every sequence) */
    int32_t max_seqs, n_seqs; /* sequences decoded side by side (beams, samples) */
    int32_t n_items;          /* windows (items of a batch): sequence j attends to item[j]'s */
    float *cross_kv;          /* f32: [n_items][n_layers][n_audio][2 d], shared by the
                               * sequences of an item */
    /* The self-attention caches live in slots, [n_slots][n_layers][n_text_ctx][d]; sequence j
     * is in slot[j]. n_slots = 2 max_seqs (1 for one sequence), so a reorder moves a sequence
     * by its slot number and copies only a parent's second and later children. */
    float *self_k, *self_v;
    int32_t n_slots, *slot, *item;  /* [max_seqs] */
    int32_t *next, *next_item;        /* [max_seqs]: reorder's scratch */
    uint8_t *read_from, *taken;           /* [n_slots]: reorder's scratch */
    int32_t rows;             /* scratch rows: max(n_items x n_text_ctx, max_seqs) */
    float *x, *h, *wide, *att, *scores; /* scores: f32 only */
    qattn_gemm_workspace gemm; /* int8: the GEMMs' scratch, so no token step allocates */
    /* int8: the caches the integer attention reads, in the same slots as self_k
     * (quantized_self[slot * n_layers + l]); cross per item and layer
     * (quantized_cross[item * n_layers + l]) */
    qattn_quantized_cache *quantized_cross, *quantized_self;
    qattn_quantized_attention attend;
    int8_t *quantize_scratch; /* 2 * n_audio-or-n_text_ctx rows of d */
    qattn_decoder_observer observer; /* stage_done NULL: none (qattn_decoder_observe) */
    /* qattn_decoder_align: the heads whose raw cross-attention scores a pass writes out */
    const int32_t *capture_heads; /* (layer, head) pairs */
    int32_t capture_n, capture_frames;
    float *capture_scores, *capture_keys; /* [n][rows][frames]; int8: one head's keys */
};

static void free_caches(qattn_quantized_cache *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++)
        qattn_quantized_cache_free(&c[i]);
    free(c);
}

/* *out = n caches of `capacity` keys. */
static qattn_status make_caches(const struct qattn_decoder *dec, size_t n, int32_t capacity,
                                qattn_quantized_cache **out)
{
    qattn_quantized_cache *c = *out = calloc(n, sizeof *c);
    if (!c)
        return qattn_fail(QATTN_ERR_NOMEM, "decoder_begin: out of memory");
    qattn_status st = QATTN_OK;
    for (size_t i = 0; st == QATTN_OK && i < n; i++)
        st = qattn_quantized_cache_init(&c[i], dec->n_heads, dec->n_state / dec->n_heads, capacity,
                                        dec->run.isa);
    return st; /* on failure the caller frees the array (the unmade entries are zeros) */
}

void qattn_decoder_state_free(qattn_decoder_state *s)
{
    if (!s)
        return;
    free(s->cross_kv), free(s->self_k), free(s->self_v);
    free(s->slot), free(s->item), free(s->next), free(s->next_item), free(s->read_from);
    free(s->taken);
    free(s->x), free(s->h), free(s->wide), free(s->att), free(s->scores);
    qattn_gemm_workspace_free(&s->gemm);
    free_caches(s->quantized_cross, (size_t)s->n_items * s->dec->n_layers);
    free_caches(s->quantized_self, (size_t)s->n_slots * s->dec->n_layers);
    qattn_quantized_attention_free(&s->attend);
    free(s->quantize_scratch);
    free(s);
}

static size_t cache_floats(const struct qattn_decoder *dec)
{
    return (size_t)dec->n_layers * (size_t)dec->n_text_ctx * (size_t)dec->n_state;
}

/* int8: the quantized caches and the scratch of the integer attention; the cross-attention's
 * keys and values computed and quantized, item by item and layer by layer through one layer's
 * floats. */
static qattn_status begin_int8_attention(qattn_decoder_state *s, const float *features)
{
    const struct qattn_decoder *dec = s->dec;
    const int32_t d = dec->n_state, layers = dec->n_layers, a = s->n_audio;
    const size_t n = (size_t)s->n_slots * layers, longest = a > dec->n_text_ctx ? a : dec->n_text_ctx;
    qattn_status st = make_caches(dec, (size_t)s->n_items * layers, a, &s->quantized_cross);
    if (st == QATTN_OK)
        st = make_caches(dec, n, dec->n_text_ctx, &s->quantized_self);
    if (st == QATTN_OK && !(s->quantize_scratch = malloc(2 * longest * (size_t)d)))
        st = qattn_fail(QATTN_ERR_NOMEM, "decoder_begin: out of memory");
    if (st == QATTN_OK)
        st = qattn_quantized_attention_init(&s->attend, dec->n_heads, d / dec->n_heads, s->rows,
                                            dec->run.threads);
    for (int32_t i = 0; i < s->n_items; i++)
        for (int32_t l = 0; st == QATTN_OK && l < layers; l++)
            if ((st = qattn_linear_run(&dec->run, &dec->layers[l].cross_kv,
                                       features + (size_t)i * a * d, a, s->cross_kv)) == QATTN_OK)
                st = qattn_quantized_cache_sync(&s->quantized_cross[(size_t)i * layers + l],
                                                s->cross_kv, s->cross_kv + d, 2 * d, a,
                                                s->quantize_scratch, dec->run.threads);
    free(s->cross_kv);
    s->cross_kv = NULL;
    return st;
}

qattn_status qattn_decoder_begin_items(const qattn_decoder *dec, const float *features,
                                       int32_t n_audio, int32_t n_items, int32_t max_seqs,
                                       qattn_decoder_state **out)
{
    qattn_clear_error();
    if (!dec || !features || !out)
        return qattn_fail(QATTN_ERR_NULL, "decoder_begin: a pointer argument is NULL");
    *out = NULL;
    if (n_audio < 1 || n_audio > 65536)
        return qattn_fail(QATTN_ERR_SIZE, "decoder_begin: %d encoder frames", n_audio);
    if (n_items < 1 || n_items > QATTN_DECODER_MAX_ITEMS || max_seqs < n_items ||
        max_seqs > QATTN_DECODER_MAX_SEQS)
        return qattn_fail(QATTN_ERR_ARG, "decoder_begin: %d windows and %d sequences (1 to %d "
                          "windows, as many to %d sequences)", n_items, max_seqs,
                          QATTN_DECODER_MAX_ITEMS, QATTN_DECODER_MAX_SEQS);
    const size_t d = (size_t)dec->n_state, a = (size_t)n_audio, ctx = (size_t)dec->n_text_ctx;
    const size_t layers = (size_t)dec->n_layers, seqs = (size_t)max_seqs, items = (size_t)n_items;
    const size_t bad = qattn_first_non_finite(features, items * a * d);
    if (bad < items * a * d)
        return qattn_fail(QATTN_ERR_VALUE, "decoder_begin: features[%zu] is not finite", bad);
    qattn_decoder_state *s = calloc(1, sizeof *s);
    if (!s)
        return qattn_fail(QATTN_ERR_NOMEM, "decoder_begin: out of memory");
    s->dec = dec, s->n_audio = n_audio, s->max_seqs = max_seqs, s->n_items = n_items;
    s->n_slots = max_seqs > 1 ? 2 * max_seqs : 1;
    s->slot = malloc(seqs * sizeof *s->slot), s->item = malloc(seqs * sizeof *s->item);
    s->next = malloc(seqs * sizeof *s->next), s->next_item = malloc(seqs * sizeof *s->next_item);
    s->read_from = malloc((size_t)s->n_slots), s->taken = malloc((size_t)s->n_slots);
    /* every item's prompt may run at once: n_items x n_text_ctx rows */
    const size_t rows = items * ctx > seqs ? items * ctx : seqs;
    s->rows = (int32_t)rows;
    const size_t width = d * 3 > (size_t)dec->n_ffn ? d * 3 : (size_t)dec->n_ffn;
    const size_t cache = (size_t)s->n_slots * cache_floats(dec) * sizeof(float);
    /* int8 keeps the encoder output's keys and values quantized only: one layer's floats */
    const int int8 = dec->run.precision == QATTN_PRECISION_INT8;
    s->cross_kv = malloc((int8 ? 1 : items * layers) * a * 2 * d * sizeof(float));
    s->self_k = malloc(cache), s->self_v = malloc(cache);
    s->x = malloc(rows * d * sizeof(float)), s->h = malloc(rows * d * sizeof(float));
    s->wide = malloc(rows * width * sizeof(float)), s->att = malloc(rows * d * sizeof(float));
    if (!int8) /* the float attention's score rows */
        s->scores = malloc(rows * (a > ctx ? a : ctx) * sizeof(float));
    qattn_status st = s->slot && s->item && s->next && s->next_item && s->read_from && s->taken && s->cross_kv &&
                              s->self_k && s->self_v && s->x && s->h && s->wide && s->att &&
                              (int8 || s->scores)
                          ? QATTN_OK
                          : qattn_fail(QATTN_ERR_NOMEM, "decoder_begin: out of memory");
    if (st == QATTN_OK) {
        for (int32_t j = 0; j < max_seqs; j++)
            s->slot[j] = j, s->item[j] = j < n_items ? j : 0;
        s->n_seqs = 1;
    }
    if (st == QATTN_OK && int8) /* 16-bit activations take two of its rows a row (gemm.h) */
        st = qattn_gemm_workspace_init(&s->gemm, 2 * (int32_t)rows,
                                       dec->n_ffn > dec->n_state ? dec->n_ffn : dec->n_state,
                                       dec->run.threads);
    if (st == QATTN_OK && int8)
        st = begin_int8_attention(s, features);
    for (size_t i = 0; st == QATTN_OK && !int8 && i < items; i++)
        for (int32_t l = 0; st == QATTN_OK && l < dec->n_layers; l++)
            st = qattn_linear_run(&dec->run, &dec->layers[l].cross_kv, features + i * a * d,
                                  n_audio, s->cross_kv + (i * layers + (size_t)l) * a * 2 * d);
    if (st != QATTN_OK) {
        qattn_decoder_state_free(s);
        return st;
    }
    *out = s;
    return QATTN_OK;
}

qattn_status qattn_decoder_begin_seqs(const qattn_decoder *dec, const float *features,
                                      int32_t n_audio, int32_t max_seqs, qattn_decoder_state **out)
{
    if (max_seqs < 1 || max_seqs > 64)
        return qattn_fail(QATTN_ERR_ARG, "decoder_begin: %d sequences (1 to 64)", max_seqs);
    return qattn_decoder_begin_items(dec, features, n_audio, 1, max_seqs, out);
}

qattn_status qattn_decoder_restart(qattn_decoder_state *s, const int32_t *items, int32_t n)
{
    if (n < 1 || n > s->max_seqs)
        return qattn_fail(QATTN_ERR_ARG, "decoder_restart: %d sequences, room for %d", n, s->max_seqs);
    for (int32_t j = 0; j < n; j++)
        if (items[j] < 0 || items[j] >= s->n_items)
            return qattn_fail(QATTN_ERR_ARG, "decoder_restart: window %d of %d", items[j], s->n_items);
    for (int32_t j = 0; j < n; j++)
        s->item[j] = items[j];
    s->len = 0, s->n_seqs = n;
    return QATTN_OK;
}

qattn_status qattn_decoder_begin(const qattn_decoder *dec, const float *features, int32_t n_audio,
                                 qattn_decoder_state **out)
{
    return qattn_decoder_begin_seqs(dec, features, n_audio, 1, out);
}

void qattn_decoder_truncate(qattn_decoder_state *s, int32_t len)
{
    s->len = len < s->len ? len : s->len;
    s->n_seqs = 1;
}

/* Copies the caches of slot `from` into slot `to` (the float rows used, the quantized ones). */
static void copy_slot(qattn_decoder_state *s, int32_t to, int32_t from)
{
    const struct qattn_decoder *dec = s->dec;
    const size_t per_seq = cache_floats(dec), per_layer = (size_t)dec->n_text_ctx * dec->n_state;
    const size_t used = (size_t)s->len * dec->n_state;
    for (int32_t l = 0; l < dec->n_layers; l++) {
        const size_t t = to * per_seq + l * per_layer, f = from * per_seq + l * per_layer;
        memcpy(s->self_k + t, s->self_k + f, used * sizeof(float));
        memcpy(s->self_v + t, s->self_v + f, used * sizeof(float));
        if (s->quantized_self) /* same shapes and tier: cannot fail */
            (void)qattn_quantized_cache_copy(&s->quantized_self[to * dec->n_layers + l],
                                             &s->quantized_self[from * dec->n_layers + l]);
    }
}

void qattn_decoder_reorder(qattn_decoder_state *s, const int32_t *parents, int32_t n_seqs)
{
    int identity = n_seqs <= s->n_seqs;
    for (int32_t i = 0; identity && i < n_seqs; i++)
        identity = parents[i] == i;
    if (identity) {
        s->n_seqs = n_seqs;
        return;
    }
    /* A parent's first child takes its slot as it is; each later child gets a copy in a slot no
     * new sequence reads from (there are n_slots = 2 max_seqs; at most n_seqs are read from or
     * written), so no source is overwritten before it is copied. */
    memset(s->read_from, 0, (size_t)s->n_slots), memset(s->taken, 0, (size_t)s->n_slots);
    for (int32_t i = 0; i < n_seqs; i++)
        s->read_from[s->slot[parents[i]]] = 1;
    for (int32_t i = 0, free_slot = 0; i < n_seqs; i++) {
        const int32_t from = s->slot[parents[i]];
        if (!s->taken[from]) {
            s->next[i] = from, s->taken[from] = 1;
            continue;
        }
        while (s->read_from[free_slot] || s->taken[free_slot])
            free_slot++;
        copy_slot(s, free_slot, from);
        s->next[i] = free_slot, s->taken[free_slot] = 1;
    }
    for (int32_t i = 0; i < n_seqs; i++) /* the items follow their parents */
        s->next_item[i] = s->item[parents[i]];
    memcpy(s->slot, s->next, (size_t)n_seqs * sizeof *s->slot);
    memcpy(s->item, s->next_item, (size_t)n_seqs * sizeof *s->item);
    s->n_seqs = n_seqs;
}

/* int8: a quantized cache holding keys past the state's length (after a truncate, or a
 * failed step) starts again from the floats, which are the truth. */
static void rewind_quantized(qattn_decoder_state *s, int32_t n_seqs)
{
    for (int32_t j = 0; s->quantized_self && j < n_seqs; j++)
        for (int32_t l = 0; l < s->dec->n_layers; l++) {
            qattn_quantized_cache *c = &s->quantized_self[s->slot[j] * s->dec->n_layers + l];
            if (c->kv.len > s->len)
                qattn_quantized_cache_reset(c);
        }
}

/* Causal self-attention of sequence j's n new tokens (layer l; their q, k, v rows in qkv,
 * the keys and values already in the float caches k and v of m = len + n rows). */
static qattn_status self_attention(qattn_decoder_state *s, int32_t l, size_t j, const float *qkv,
                                   const float *k, const float *v, int32_t n, int32_t m)
{
    const struct qattn_decoder *dec = s->dec;
    const int32_t d = dec->n_state;
    float *out = s->att + j * (size_t)n * d;
    if (!s->quantized_self) {
        qattn_attention_heads_f32(dec->n_heads, d, qkv, 3 * d, k, v, d, n, m, 1, dec->run.threads,
                                  s->scores, out);
        return QATTN_OK;
    }
    qattn_quantized_cache *c = &s->quantized_self[(size_t)s->slot[j] * dec->n_layers + l];
    qattn_status st = qattn_quantized_cache_sync(c, k, v, d, m, s->quantize_scratch,
                                                 dec->run.threads);
    return st != QATTN_OK ? st
                          : qattn_quantized_attend(&s->attend, c, qkv, 3 * d, n,
                                                   QATTN_CAUSAL_BOTTOM_RIGHT, out, d);
}

/* qattn_decoder_align: scores[i][t][f] = q.k / sqrt(head_dim) of the captured heads of
 * layer l, token t's query (s->wide) against frame f's key, f < capture_frames, in float:
 * the f32 keys, or the int8 cache's at their scale (the keys the integer kernel reads). */
static void capture_scores(qattn_decoder_state *s, int32_t l, int32_t n)
{
    const struct qattn_decoder *dec = s->dec;
    const int32_t d = dec->n_state, dh = d / dec->n_heads, frames = s->capture_frames;
    const float scale = 1.0f / sqrtf((float)dh);
    for (int32_t i = 0; i < s->capture_n; i++) {
        const int32_t layer = s->capture_heads[2 * i], h = s->capture_heads[2 * i + 1];
        if (layer != l)
            continue;
        const float *k = NULL;
        int32_t ld = 0;
        if (s->quantized_cross) {
            const qattn_quantized_cache *c = &s->quantized_cross[(size_t)s->item[0] * dec->n_layers + l];
            const int8_t *k8 = c->kv.k + (size_t)h * c->kv.capacity * dh;
            for (size_t e = 0; e < (size_t)frames * dh; e++)
                s->capture_keys[e] = (float)k8[e] * c->scale_k[h];
            k = s->capture_keys, ld = dh;
        } else {
            k = s->cross_kv + ((size_t)s->item[0] * dec->n_layers + (size_t)l) * s->n_audio * 2 * d +
                (size_t)h * dh, ld = 2 * d;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, frames, dh, scale,
                    s->wide + (size_t)h * dh, d, k, ld, 0.0f,
                    s->capture_scores + (size_t)i * n * frames, frames);
    }
}

/* Cross-attention of the r = n_seqs * n query rows in s->wide (layer l) into s->att, each
 * sequence's over its item's window. */
static qattn_status cross_attention(qattn_decoder_state *s, int32_t l, int32_t n_seqs, int32_t n)
{
    const struct qattn_decoder *dec = s->dec;
    const size_t d = (size_t)dec->n_state, a = (size_t)s->n_audio, rows = (size_t)n;
    if (!s->quantized_cross) {
        for (int32_t j = 0; j < n_seqs;) { /* the run of sequences over the same item at once */
            int32_t end = j + 1;
            while (end < n_seqs && s->item[end] == s->item[j])
                end++;
            const float *kv = s->cross_kv + ((size_t)s->item[j] * dec->n_layers + (size_t)l) * a * 2 * d;
            qattn_attention_heads_f32(dec->n_heads, (int32_t)d, s->wide + j * rows * d, (int32_t)d,
                                      kv, kv + d, (int32_t)(2 * d), (end - j) * n, (int32_t)a, 0,
                                      dec->run.threads, s->scores, s->att + j * rows * d);
            j = end;
        }
        return QATTN_OK;
    }
    qattn_status st = QATTN_OK; /* one call per sequence: its queries get their own scales */
    for (int32_t j = 0; st == QATTN_OK && j < n_seqs; j++)
        st = qattn_quantized_attend(&s->attend,
                                    &s->quantized_cross[(size_t)s->item[j] * dec->n_layers + l],
                                    s->wide + j * rows * d, (ptrdiff_t)d, n, QATTN_CAUSAL_NONE,
                                    s->att + j * rows * d, (ptrdiff_t)d);
    return st;
}

/* x[d] = E[token] + position (the embedding's row from its float or its 16-bit copy). */
static void embed_token(const struct qattn_decoder *dec, int32_t token, const float *position,
                        float *x)
{
    const size_t d = (size_t)dec->n_state, row = (size_t)token * d;
    if (dec->embed)
        for (size_t t = 0; t < d; t++)
            x[t] = dec->embed[row + t] + position[t];
    else if (dec->embed16_is_bf16)
        for (size_t t = 0; t < d; t++)
            x[t] = qattn_bf16_to_f32(dec->embed16[row + t]) + position[t];
    else
        for (size_t t = 0; t < d; t++)
            x[t] = qattn_f16_to_f32(dec->embed16[row + t]) + position[t];
}

void qattn_decoder_observe(qattn_decoder_state *s, const qattn_decoder_observer *observer)
{
    s->observer = observer ? *observer : (qattn_decoder_observer){NULL, NULL};
}

static void stage_done(const qattn_decoder_state *s, qattn_decoder_stage stage)
{
    if (s->observer.stage_done)
        s->observer.stage_done(s->observer.ctx, stage);
}

/* Checks tokens against the state, then runs them through every layer: n_seqs sequences of
 * n_tokens new tokens each (tokens[j * n_tokens + i]); s->x holds their hidden states before
 * the final LayerNorm. On failure the state is not advanced (the caches may hold this call's
 * keys, past s->len). */
static qattn_status forward(qattn_decoder_state *s, const int32_t *tokens, int32_t n_seqs,
                            int32_t n_tokens, const char *who)
{
    const struct qattn_decoder *dec = s->dec;
    if (n_tokens < 1 || n_tokens > dec->n_text_ctx - s->len)
        return qattn_fail(QATTN_ERR_SIZE, "%s: %d tokens after %d; the decoder's context is %d",
                          who, n_tokens, s->len, dec->n_text_ctx);
    if (n_seqs < 1 || n_seqs > s->n_seqs)
        return qattn_fail(QATTN_ERR_ARG, "%s: %d sequences, the state holds %d", who, n_seqs,
                          s->n_seqs);
    const size_t n = (size_t)n_tokens, r = (size_t)n_seqs * n;
    if (r > (size_t)s->rows)
        return qattn_fail(QATTN_ERR_SIZE, "%s: %zu rows at once, at most %d", who, r, s->rows);
    for (size_t i = 0; i < r; i++)
        if (tokens[i] < 0 || tokens[i] >= dec->n_vocab)
            return qattn_fail(QATTN_ERR_ARG, "%s: token %zu is %d, outside the vocabulary [0, %d)",
                              who, i, tokens[i], dec->n_vocab);
    const size_t d = (size_t)dec->n_state;
    const size_t ctx = (size_t)dec->n_text_ctx, len = (size_t)s->len, m = len + n;
    const size_t per_seq = cache_floats(dec);
    const qattn_run *run = &dec->run;
    const int32_t th = run->threads, rows = (int32_t)r;
    qattn_status st = QATTN_OK;
    rewind_quantized(s, n_seqs);
    for (size_t i = 0; i < r; i++)
        embed_token(dec, tokens[i], dec->pos + (len + i % n) * d, s->x + i * d);
    stage_done(s, QATTN_DECODER_EMBED);
    for (int32_t l = 0; st == QATTN_OK && l < dec->n_layers; l++) {
        const whisper_decoder_layer *L = &dec->layers[l];
        qattn_layer_norm(s->x, L->self_ln_w, L->self_ln_b, s->h, rows, (int32_t)d, th);
        if ((st = qattn_linear_run_in(run, &L->self_qkv, s->h, rows, s->wide, &s->gemm)))
            break;
        stage_done(s, QATTN_DECODER_SELF_QKV);
        for (size_t j = 0; st == QATTN_OK && j < (size_t)n_seqs; j++) {
            float *k = s->self_k + s->slot[j] * per_seq + (size_t)l * ctx * d;
            float *v = s->self_v + s->slot[j] * per_seq + (size_t)l * ctx * d;
            const float *qkv = s->wide + j * n * 3 * d;
            for (size_t i = 0; i < n; i++) { /* the new keys and values join the cache */
                memcpy(k + (len + i) * d, qkv + i * 3 * d + d, d * sizeof(float));
                memcpy(v + (len + i) * d, qkv + i * 3 * d + 2 * d, d * sizeof(float));
            }
            st = self_attention(s, l, j, qkv, k, v, n_tokens, (int32_t)m);
        }
        if (st)
            break;
        stage_done(s, QATTN_DECODER_SELF_ATTENTION);
        if ((st = qattn_linear_run_in(run, &L->self_out, s->att, rows, s->h, &s->gemm)))
            break;
        qattn_add(s->x, s->h, r * d);
        stage_done(s, QATTN_DECODER_SELF_OUT);
        qattn_layer_norm(s->x, L->cross_ln_w, L->cross_ln_b, s->h, rows, (int32_t)d, th);
        if ((st = qattn_linear_run_in(run, &L->cross_q, s->h, rows, s->wide, &s->gemm)))
            break;
        stage_done(s, QATTN_DECODER_CROSS_Q);
        if (s->capture_n > 0)
            capture_scores(s, l, rows);
        if ((st = cross_attention(s, l, n_seqs, n_tokens)))
            break;
        stage_done(s, QATTN_DECODER_CROSS_ATTENTION);
        if ((st = qattn_linear_run_in(run, &L->cross_out, s->att, rows, s->h, &s->gemm)))
            break;
        qattn_add(s->x, s->h, r * d);
        stage_done(s, QATTN_DECODER_CROSS_OUT);
        qattn_layer_norm(s->x, L->mlp_ln_w, L->mlp_ln_b, s->h, rows, (int32_t)d, th);
        if ((st = qattn_linear_run_in(run, &L->fc1, s->h, rows, s->wide, &s->gemm)))
            break;
        qattn_gelu(s->wide, rows, dec->n_ffn, th);
        if ((st = qattn_linear_run_in(run, &L->fc2, s->wide, rows, s->h, &s->gemm)))
            break;
        qattn_add(s->x, s->h, r * d);
        stage_done(s, QATTN_DECODER_MLP);
    }
    if (st == QATTN_OK)
        s->len += n_tokens;
    return st;
}

/* logits[rows][n_vocab] = h E^T: an INT8 GEMM (int8) or OpenBLAS over the tied embedding. */
static qattn_status project(const struct qattn_decoder *dec, const float *h, int32_t rows,
                            float *logits, qattn_gemm_workspace *ws)
{
    const int32_t d = dec->n_state;
    if (dec->run.precision == QATTN_PRECISION_INT8)
        return qattn_linear_run_in(&dec->run, &dec->logits_int8, h, rows, logits, ws);
    if (rows == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, dec->n_vocab, d, 1.0f, dec->embed, d, h, 1, 0.0f,
                    logits, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, dec->n_vocab, d, 1.0f, h, d,
                    dec->embed, d, 0.0f, logits, dec->n_vocab);
    return QATTN_OK;
}

/* logits[j] = LN(x of sequence j's last new token) E^T. */
static qattn_status last_logits(qattn_decoder_state *s, int32_t n_seqs, int32_t n_tokens,
                                float *logits)
{
    const struct qattn_decoder *dec = s->dec;
    const size_t d = (size_t)dec->n_state;
    for (int32_t j = 0; j < n_seqs; j++)
        qattn_layer_norm(s->x + ((size_t)j * n_tokens + n_tokens - 1) * d, dec->ln_w, dec->ln_b,
                         s->h + (size_t)j * d, 1, (int32_t)d, 1);
    const qattn_status st = project(dec, s->h, n_seqs, logits, &s->gemm);
    stage_done(s, QATTN_DECODER_LOGITS);
    return st;
}

qattn_status qattn_decoder_step(qattn_decoder_state *s, const int32_t *tokens, int32_t n_tokens,
                                float *logits)
{
    qattn_clear_error();
    if (!s || !tokens || !logits)
        return qattn_fail(QATTN_ERR_NULL, "decoder_step: a pointer argument is NULL");
    if (s->n_seqs != 1)
        return qattn_fail(QATTN_ERR_ARG, "decoder_step: the state holds %d sequences", s->n_seqs);
    qattn_status st = forward(s, tokens, 1, n_tokens, "decoder_step");
    return st == QATTN_OK ? last_logits(s, 1, n_tokens, logits) : st;
}

qattn_status qattn_decoder_step_seqs(qattn_decoder_state *s, const int32_t *tokens,
                                     int32_t n_seqs, float *logits)
{
    qattn_status st = forward(s, tokens, n_seqs, 1, "decoder_step");
    return st == QATTN_OK ? last_logits(s, n_seqs, 1, logits) : st;
}

qattn_status qattn_decoder_step_many(qattn_decoder_state *s, const int32_t *tokens,
                                     int32_t n_seqs, int32_t n_tokens, float *logits)
{
    qattn_status st = forward(s, tokens, n_seqs, n_tokens, "decoder_step");
    return st == QATTN_OK ? last_logits(s, n_seqs, n_tokens, logits) : st;
}

qattn_status qattn_decoder_align(qattn_decoder_state *s, const int32_t *tokens, int32_t n,
                                 const int32_t *heads, int32_t n_heads, int32_t n_frames,
                                 float *scores, int32_t first, float *logits)
{
    const struct qattn_decoder *dec = s->dec;
    const int32_t dh = dec->n_state / dec->n_heads;
    if (n_heads < 1 || n_frames < 1 || n_frames > s->n_audio || first < 0 || first >= n)
        return qattn_fail(QATTN_ERR_ARG, "decoder_align: %d heads, %d of %d frames, rows from %d "
                          "of %d", n_heads, n_frames, s->n_audio, first, n);
    for (int32_t i = 0; i < n_heads; i++)
        if (heads[2 * i] < 0 || heads[2 * i] >= dec->n_layers || heads[2 * i + 1] < 0 ||
            heads[2 * i + 1] >= dec->n_heads)
            return qattn_fail(QATTN_ERR_ARG, "decoder_align: head (%d, %d) outside the decoder's "
                              "%d layers of %d heads", heads[2 * i], heads[2 * i + 1],
                              dec->n_layers, dec->n_heads);
    if (s->quantized_cross && !(s->capture_keys = malloc((size_t)n_frames * dh * sizeof(float))))
        return qattn_fail(QATTN_ERR_NOMEM, "decoder_align: out of memory");
    s->len = 0, s->n_seqs = 1; /* one fresh sequence over the same window */
    s->capture_heads = heads, s->capture_n = n_heads, s->capture_frames = n_frames;
    s->capture_scores = scores;
    qattn_status st = forward(s, tokens, 1, n, "decoder_align");
    s->capture_n = 0, s->capture_scores = NULL;
    free(s->capture_keys);
    s->capture_keys = NULL;
    if (st == QATTN_OK && logits) {
        const size_t d = (size_t)dec->n_state;
        qattn_layer_norm(s->x + (size_t)first * d, dec->ln_w, dec->ln_b, s->h, n - first,
                         (int32_t)d, dec->run.threads);
        st = project(dec, s->h, n - first, logits, &s->gemm);
    }
    return st;
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
    if (st == QATTN_OK && (st = forward(s, tokens, 1, n_tokens, "decoder_logits")) == QATTN_OK) {
        qattn_layer_norm(s->x, dec->ln_w, dec->ln_b, s->h, n_tokens, dec->n_state,
                         dec->run.threads);
        st = project(dec, s->h, n_tokens, logits, &s->gemm);
    }
    qattn_decoder_state_free(s);
    return st;
}

qattn_status qattn_decoder_get_info(const qattn_decoder *dec, qattn_decoder_info *info)
{
    qattn_clear_error();
    if (!dec || !info)
        return qattn_fail(QATTN_ERR_NULL, "decoder_get_info: NULL argument");
    const qattn_decoder_info full = {sizeof full, dec->n_vocab, dec->n_text_ctx, dec->n_state,
                                     dec->n_heads, dec->n_layers};
    return qattn_struct_write(info, &full, sizeof full, "decoder_get_info");
}

