/* Float attention over quantized caches that follow float keys (attn/quantized_cache.h). */
#include "attn/quantized_cache.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/float_ops.h"

/* A decoder's step attends one query row per sequence to a few hundred keys, and appends
 * one key: a few microseconds of work, less than waking another thread costs. Below about
 * 2^20 units of work (multiply-adds of an attention call; for an append, 64 units per byte
 * packed; measured on tiny.en and base transcription) the caller's thread does it alone. */
static int32_t threads_for(int32_t threads, int64_t work)
{
    return work < (1 << 20) ? 1 : threads;
}

qattn_status qattn_quantized_cache_init(qattn_quantized_cache *c, int32_t heads, int32_t head_dim,
                                        int32_t capacity, int32_t isa)
{
    memset(c, 0, sizeof *c);
    qattn_status st = qattn_kv_cache_init(&c->kv, heads, head_dim, capacity, isa);
    if (st != QATTN_OK)
        return st;
    float *f = calloc(4 * (size_t)heads, sizeof *f);
    if (!f) {
        qattn_kv_cache_free(&c->kv);
        return qattn_fail(QATTN_ERR_NOMEM, "quantized cache: out of memory");
    }
    c->amax_k = f, c->amax_v = f + heads, c->scale_k = f + 2 * heads, c->scale_v = f + 3 * heads;
    return QATTN_OK;
}

void qattn_quantized_cache_free(qattn_quantized_cache *c)
{
    qattn_kv_cache_free(&c->kv);
    free(c->amax_k); /* the one allocation behind the four arrays */
    memset(c, 0, sizeof *c);
}

void qattn_quantized_cache_reset(qattn_quantized_cache *c)
{
    c->kv.len = 0;
    memset(c->amax_k, 0, 2 * (size_t)c->kv.heads * sizeof *c->amax_k);
}

qattn_status qattn_quantized_cache_sync(qattn_quantized_cache *c, const float *k, const float *v,
                                        ptrdiff_t ld, int32_t len, int8_t *scratch,
                                        int32_t threads)
{
    if (len < 0 || len > c->kv.capacity)
        return qattn_fail(QATTN_ERR_SIZE, "quantized cache: %d keys, capacity %d", len,
                          c->kv.capacity);
    if (len < c->kv.len)
        qattn_quantized_cache_reset(c);
    const int32_t heads = c->kv.heads, hd = c->kv.head_dim, from = c->kv.len, rows = len - from;
    if (rows == 0)
        return QATTN_OK;
    /* the scales of every head over all len rows; a head whose scale moved has its first
     * `from` rows quantized again (one head: a new maximum is rare, and in one head) */
    for (int32_t h = 0; h < heads; h++) {
        const float ak = qattn_max_abs_block(k + from * ld + h * hd, rows, hd, ld);
        const float av = qattn_max_abs_block(v + from * ld + h * hd, rows, hd, ld);
        c->amax_k[h] = ak > c->amax_k[h] ? ak : c->amax_k[h];
        c->amax_v[h] = av > c->amax_v[h] ? av : c->amax_v[h];
        const float sk = qattn_scale_for_max_abs(c->amax_k[h]);
        const float sv = qattn_scale_for_max_abs(c->amax_v[h]);
        const int moved = from > 0 && (sk != c->scale_k[h] || sv != c->scale_v[h]);
        c->scale_k[h] = sk, c->scale_v[h] = sv;
        if (!moved)
            continue;
        int8_t *k8 = scratch, *v8 = scratch + (size_t)from * hd;
        qattn_quantize_block_at(k + h * hd, from, hd, ld, sk, k8);
        qattn_quantize_block_at(v + h * hd, from, hd, ld, sv, v8);
        qattn_status st = qattn_kv_cache_rewrite_head(&c->kv, h, k8, v8, threads);
        if (st != QATTN_OK)
            return st;
    }
    const size_t per_head = (size_t)rows * hd; /* then the new rows of every head */
    int8_t *k8 = scratch, *v8 = scratch + (size_t)heads * per_head;
    for (int32_t h = 0; h < heads; h++) {
        qattn_quantize_block_at(k + from * ld + h * hd, rows, hd, ld, c->scale_k[h],
                                k8 + h * per_head);
        qattn_quantize_block_at(v + from * ld + h * hd, rows, hd, ld, c->scale_v[h],
                                v8 + h * per_head);
    }
    return qattn_kv_cache_append(&c->kv, k8, v8, rows,
                                 threads_for(threads, (int64_t)rows * heads * hd * 64));
}

qattn_status qattn_quantized_cache_copy(qattn_quantized_cache *dst, const qattn_quantized_cache *src)
{
    qattn_status st = qattn_kv_cache_copy(&dst->kv, &src->kv);
    if (st == QATTN_OK)
        memcpy(dst->amax_k, src->amax_k, 4 * (size_t)src->kv.heads * sizeof *src->amax_k);
    return st;
}

qattn_status qattn_quantized_attention_init(qattn_quantized_attention *a, int32_t heads,
                                            int32_t head_dim, int32_t rows, int32_t threads)
{
    memset(a, 0, sizeof *a);
    a->heads = heads, a->head_dim = head_dim, a->rows = rows, a->threads = threads;
    const size_t values = (size_t)heads * rows * head_dim; /* callers' sizes: < 2^40 */
    a->q8 = malloc(values), a->o16 = malloc(values * sizeof *a->o16);
    a->scale_q = malloc(2 * (size_t)heads * sizeof(float));
    a->scale_o = a->scale_q ? a->scale_q + heads : NULL;
    if (!a->q8 || !a->o16 || !a->scale_q) {
        qattn_quantized_attention_free(a);
        return qattn_fail(QATTN_ERR_NOMEM, "quantized attention: out of memory");
    }
    return QATTN_OK;
}

void qattn_quantized_attention_free(qattn_quantized_attention *a)
{
    free(a->q8), free(a->o16), free(a->scale_q);
    qattn_attn_workspace_free(&a->ws);
    memset(a, 0, sizeof *a);
}

qattn_status qattn_quantized_attend(qattn_quantized_attention *a, qattn_quantized_cache *c,
                                    const float *q, ptrdiff_t ld_q, int32_t n, int32_t causal,
                                    float *out, ptrdiff_t ld_out)
{
    if (n < 1 || n > a->rows || c->kv.heads != a->heads || c->kv.head_dim != a->head_dim)
        return qattn_fail(QATTN_ERR_SIZE, "quantized attention: %d queries (at most %d)", n,
                          a->rows);
    const int32_t hd = a->head_dim;
    const size_t per_head = (size_t)n * hd;
    for (int32_t h = 0; h < a->heads; h++) {
        a->scale_q[h] = qattn_quantize_block(q + h * hd, n, hd, ld_q, a->q8 + h * per_head);
        a->scale_o[h] = c->scale_v[h] / QATTN_QUANTIZED_OUTPUT_GAIN; /* exact: a power of 2 */
    }
    const int32_t threads = threads_for(a->threads, (int64_t)n * c->kv.len * a->heads * hd);
    qattn_status st = qattn_kv_cache_attention_s16(&c->kv, a->q8, n, a->scale_q, c->scale_k,
                                                   c->scale_v, a->scale_o, causal, threads,
                                                   &a->ws, a->o16);
    for (int32_t h = 0; st == QATTN_OK && h < a->heads; h++)
        for (int32_t i = 0; i < n; i++)
            for (int32_t t = 0; t < hd; t++)
                out[i * ld_out + h * hd + t] = (float)a->o16[h * per_head + (size_t)i * hd + t] * a->scale_o[h];
    return st;
}
