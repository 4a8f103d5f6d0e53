/* A packed key/value cache reused across attention calls (attn/kv_cache.h). */
#include "attn/kv_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn/tile_params.h"
#include "core/error.h"
#include "core/tiers.h"

static qattn_kv_view view(const qattn_kv_cache *c)
{
    qattn_kv_view v = {c->k, c->v, (ptrdiff_t)c->capacity * c->head_dim, c->packed, c->tile_bytes,
                       c->head_tiles};
    return v;
}

qattn_status qattn_kv_cache_init(qattn_kv_cache *c, int32_t heads, int32_t head_dim,
                                 int32_t capacity, int32_t isa)
{
    memset(c, 0, sizeof *c);
    if (heads < 1 || heads > QATTN_MAX_HEADS || capacity < 1 || capacity > QATTN_MAX_KEYS)
        return qattn_fail(QATTN_ERR_SIZE, "kv cache: %d heads, capacity %d", heads, capacity);
    if (head_dim < QATTN_MIN_HEAD_DIM || head_dim > QATTN_MAX_HEAD_DIM || head_dim % 16)
        return qattn_fail(QATTN_ERR_HEAD_DIM, "kv cache: head_dim = %d", head_dim);
    qattn_isa tier;
    qattn_status st = qattn_tier_resolve(isa, &tier);
    if (st != QATTN_OK)
        return st;
    c->heads = heads, c->head_dim = head_dim, c->capacity = capacity;
    c->uk = qattn_attn_kernels_for(tier);
    const size_t rows = (size_t)heads * capacity * head_dim; /* < 2^12 2^22 2^8: no overflow */
    c->k = malloc(rows), c->v = malloc(rows);
    c->params = malloc((size_t)heads * sizeof *c->params);
    int ok = c->k && c->v && c->params;
    if (ok && c->uk) {
        c->head_tiles = (capacity + QATTN_TILE_KEYS - 1) / QATTN_TILE_KEYS;
        c->tile_bytes = qattn_attn_tile_bytes(c->uk, head_dim);
        ok = (c->packed = aligned_alloc(64, (size_t)heads * c->head_tiles * c->tile_bytes)) != NULL;
    }
    if (!ok) {
        qattn_kv_cache_free(c);
        return qattn_fail(QATTN_ERR_NOMEM, "kv cache: out of memory for %d x %d keys", heads, capacity);
    }
    return QATTN_OK;
}

void qattn_kv_cache_free(qattn_kv_cache *c)
{
    free(c->k), free(c->v), free(c->packed), free(c->params);
    qattn_attn_workspace_free(&c->ws);
    memset(c, 0, sizeof *c);
}

/* Packs keys [from, c->len): the tile holding `from` gets only its new keys. */
static void pack_from(qattn_kv_cache *c, int32_t from, int32_t threads)
{
    if (!c->uk)
        return;
    qattn_kv_view v = view(c);
    qattn_attn_pack(c->uk, &v, c->heads, from, c->len, c->head_dim, threads);
}

qattn_status qattn_kv_cache_append(qattn_kv_cache *c, const int8_t *k, const int8_t *v,
                                   int32_t rows, int32_t threads)
{
    if (!c || !c->k || !k || !v)
        return qattn_fail(QATTN_ERR_NULL, "kv cache append: NULL argument");
    if (rows < 1 || rows > c->capacity - c->len)
        return qattn_fail(QATTN_ERR_SIZE, "kv cache append: %d rows to %d of capacity %d", rows,
                          c->len, c->capacity);
    const size_t hd = (size_t)c->head_dim;
    for (int32_t h = 0; h < c->heads; h++) {
        const size_t dst = ((size_t)h * c->capacity + c->len) * hd, src = (size_t)h * rows * hd;
        memcpy(c->k + dst, k + src, (size_t)rows * hd);
        memcpy(c->v + dst, v + src, (size_t)rows * hd);
    }
    const int32_t from = c->len;
    c->len += rows;
    pack_from(c, from, threads);
    return QATTN_OK;
}

qattn_status qattn_kv_cache_rewrite_head(qattn_kv_cache *c, int32_t h, const int8_t *k,
                                         const int8_t *v, int32_t threads)
{
    if (h < 0 || h >= c->heads)
        return qattn_fail(QATTN_ERR_ARG, "kv cache rewrite: head %d of %d", h, c->heads);
    const size_t hd = (size_t)c->head_dim, off = (size_t)h * c->capacity * hd;
    memcpy(c->k + off, k, (size_t)c->len * hd);
    memcpy(c->v + off, v, (size_t)c->len * hd);
    if (c->uk) { /* the view of this one head */
        qattn_kv_view one = view(c);
        one.k += off, one.v += off, one.packed = c->packed + (size_t)h * c->head_tiles * c->tile_bytes;
        qattn_attn_pack(c->uk, &one, 1, 0, c->len, c->head_dim, threads);
    }
    return QATTN_OK;
}

qattn_status qattn_kv_cache_truncate(qattn_kv_cache *c, int32_t len)
{
    if (len < 0 || len > c->len)
        return qattn_fail(QATTN_ERR_SIZE, "kv cache truncate: %d of %d keys", len, c->len);
    c->len = len;
    /* the last partial tile packed again whole, so no stale key stays past len and later
     * appends can add to it */
    pack_from(c, len / QATTN_TILE_KEYS * QATTN_TILE_KEYS, 1);
    return QATTN_OK;
}

qattn_status qattn_kv_cache_copy(qattn_kv_cache *dst, const qattn_kv_cache *src)
{
    if (dst->heads != src->heads || dst->head_dim != src->head_dim ||
        dst->capacity != src->capacity || dst->uk != src->uk)
        return qattn_fail(QATTN_ERR_SIZE, "kv cache copy: caches of different shapes or tiers");
    const size_t hd = (size_t)src->head_dim;
    for (int32_t h = 0; h < src->heads; h++) {
        const size_t off = (size_t)h * src->capacity * hd;
        memcpy(dst->k + off, src->k + off, (size_t)src->len * hd);
        memcpy(dst->v + off, src->v + off, (size_t)src->len * hd);
        if (src->uk && src->len > 0) {
            const size_t tiles = (size_t)(src->len + QATTN_TILE_KEYS - 1) / QATTN_TILE_KEYS;
            memcpy(dst->packed + (size_t)h * dst->head_tiles * dst->tile_bytes,
                   src->packed + (size_t)h * src->head_tiles * src->tile_bytes, tiles * src->tile_bytes);
        }
    }
    dst->len = src->len;
    return QATTN_OK;
}

/* Either output: out (int8) or out16. */
static qattn_status attend(qattn_kv_cache *c, const int8_t *q, int32_t len_q,
                           const float *scale_q, const float *scale_k, const float *scale_v,
                           const float *scale_out, int32_t causal, int32_t threads,
                           qattn_attn_workspace *ws, int8_t *out, int16_t *out16)
{
    if (!c || !c->k || !q || !(out || out16) || !scale_q || !scale_k || !scale_v || !scale_out)
        return qattn_fail(QATTN_ERR_NULL, "kv cache attention: NULL argument");
    if (c->len < 1 || len_q < 1 || len_q > QATTN_MAX_QUERIES)
        return qattn_fail(QATTN_ERR_SIZE, "kv cache attention: %d queries, %d keys", len_q, c->len);
    if (causal != QATTN_CAUSAL_NONE && causal != QATTN_CAUSAL_BOTTOM_RIGHT)
        return qattn_fail(QATTN_ERR_ARG, "kv cache attention: causal = %d (none or bottom-right)",
                          causal);
    if (causal == QATTN_CAUSAL_BOTTOM_RIGHT && len_q > c->len)
        return qattn_fail(QATTN_ERR_KV_LEN, "kv cache attention: %d queries after %d keys", len_q,
                          c->len);
    if (threads < 0)
        return qattn_fail(QATTN_ERR_ARG, "kv cache attention: threads = %d", threads);
    for (int32_t h = 0; h < c->heads; h++) {
        qattn_status st = qattn_tile_params_make(&c->params[h], c->head_dim, scale_q[h],
                                                 scale_k[h], scale_v[h], scale_out[h]);
        if (st != QATTN_OK)
            return st;
    }
    qattn_attention_job job = {c->heads, len_q, c->len, c->head_dim, NULL, causal, c->params,
                               c->uk, q, view(c), out, out16, threads};
    return qattn_attention_run(&job, ws ? ws : &c->ws);
}

qattn_status qattn_kv_cache_attention(qattn_kv_cache *c, const int8_t *q, int32_t len_q,
                                      const float *scale_q, const float *scale_k,
                                      const float *scale_v, const float *scale_out,
                                      int32_t causal, int32_t threads, qattn_attn_workspace *ws,
                                      int8_t *out)
{
    return attend(c, q, len_q, scale_q, scale_k, scale_v, scale_out, causal, threads, ws, out,
                  NULL);
}

qattn_status qattn_kv_cache_attention_s16(qattn_kv_cache *c, const int8_t *q, int32_t len_q,
                                          const float *scale_q, const float *scale_k,
                                          const float *scale_v, const float *scale_out,
                                          int32_t causal, int32_t threads,
                                          qattn_attn_workspace *ws, int16_t *out)
{
    if (!out)
        return qattn_fail(QATTN_ERR_NULL, "kv cache attention: NULL argument");
    return attend(c, q, len_q, scale_q, scale_k, scale_v, scale_out, causal, threads, ws, NULL,
                  out);
}
