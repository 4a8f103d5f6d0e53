/*
 * Keys and values packed once and attended to many times: a decoder's cross-attention over
 * an encoder output (packed once per window, shared by every token and beam), and its
 * self-attention cache, which grows by a few rows per token (each append repacks only the
 * tiles it touches). Queries run with a bottom-right causal mask (the new tokens are the last
 * positions of the cache) or none. After the first call, attention allocates nothing and
 * starts no thread.
 *
 * One cache is used by one caller at a time (it holds its workspace); threads that decode
 * in parallel each keep their own.
 */
#ifndef QATTN_ATTN_KV_CACHE_H
#define QATTN_ATTN_KV_CACHE_H

#include "attn/attention_tiled.h"

typedef struct qattn_kv_cache {
    int32_t heads, head_dim, capacity, len; /* len keys present per head, at most capacity */
    const qattn_attn_ukernels *uk;          /* NULL: the scalar reference (reads raw rows) */
    int8_t *k, *v;                          /* [heads][capacity][head_dim] */
    uint8_t *packed;                        /* fast tiers: [heads][head_tiles] tiles */
    size_t tile_bytes;
    int32_t head_tiles;
    qattn_tile_params *params;              /* [heads], remade per call from its scales */
    qattn_attn_workspace ws;
} qattn_kv_cache;

/* An empty cache for `capacity` keys of `heads` heads on tier `isa` (QATTN_ISA_AUTO: the
 * active one). */
qattn_status qattn_kv_cache_init(qattn_kv_cache *c, int32_t heads, int32_t head_dim,
                                 int32_t capacity, int32_t isa);
void qattn_kv_cache_free(qattn_kv_cache *c);

/* Appends `rows` keys and values to every head: k and v are [heads][rows][head_dim]. */
qattn_status qattn_kv_cache_append(qattn_kv_cache *c, const int8_t *k, const int8_t *v,
                                   int32_t rows, int32_t threads);

/* Head h's c->len keys and values become k and v ([c->len][head_dim] each; the head
 * quantized again at another scale) and its tiles are repacked. */
qattn_status qattn_kv_cache_rewrite_head(qattn_kv_cache *c, int32_t h, const int8_t *k,
                                         const int8_t *v, int32_t threads);

/* Keeps the first `len` keys (<= c->len). */
qattn_status qattn_kv_cache_truncate(qattn_kv_cache *c, int32_t len);

/* dst (same heads, head_dim, capacity and tier) becomes a copy of src: a beam taking over
 * another beam's history. */
qattn_status qattn_kv_cache_copy(qattn_kv_cache *dst, const qattn_kv_cache *src);

/*
 * out[h] = attention of the len_q queries q[h] ([heads][len_q][head_dim]) over the cache's
 * c->len keys, with per-head scales (heads entries each), causal = QATTN_CAUSAL_NONE or
 * QATTN_CAUSAL_BOTTOM_RIGHT (len_q <= c->len). Bit-identical to qattn_attention_s8 on the
 * same keys. The workers' memory is ws's (NULL: the cache's own): many caches used by one
 * caller in turn (a decoder's layers and beams) can share one workspace.
 */
qattn_status qattn_kv_cache_attention(qattn_kv_cache *c, const int8_t *q, int32_t len_q,
                                      const float *scale_q, const float *scale_k,
                                      const float *scale_v, const float *scale_out,
                                      int32_t causal, int32_t threads, qattn_attn_workspace *ws,
                                      int8_t *out);

/* The same attention with its output at 16 bits (qattn_tile_finish_s16): out[h] holds
 * round(o / scale_out[h]) saturated to int16, o the same quotient the int8 output rounds. */
qattn_status qattn_kv_cache_attention_s16(qattn_kv_cache *c, const int8_t *q, int32_t len_q,
                                          const float *scale_q, const float *scale_k,
                                          const float *scale_v, const float *scale_out,
                                          int32_t causal, int32_t threads,
                                          qattn_attn_workspace *ws, int16_t *out);

#endif
