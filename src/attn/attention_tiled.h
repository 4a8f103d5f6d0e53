/*
 * Running validated attention on one tier: heads x query tiles in parallel over K/V that
 * were packed for the tier beforehand (once per call, or once for many calls: kv_cache.h),
 * with per-worker memory from a workspace that is sized once and reused.
 */
#ifndef QATTN_ATTN_ATTENTION_TILED_H
#define QATTN_ATTN_ATTENTION_TILED_H

#include <stddef.h>

#include "attn/tile_kernel.h"
#include "attn/ukernels.h"
#include "qattn.h"

/* Where the keys of head h are: raw rows (what the scalar reference reads) and, on a fast
 * tier, the packed tiles (what its microkernels read). */
typedef struct qattn_kv_view {
    const int8_t *k, *v;    /* head h, key j: k + h * head_stride + j * head_dim */
    ptrdiff_t head_stride;  /* elements */
    const uint8_t *packed;  /* fast tiers: head h, tile t at packed + (h * head_tiles + t) * tile_bytes */
    size_t tile_bytes;
    int32_t head_tiles;
} qattn_kv_view;

typedef struct qattn_attention_job {
    int32_t heads, len_q, len_k, head_dim;
    const int32_t *kv_len;           /* NULL, or per head: keys at or past it are padding */
    int32_t causal;                  /* QATTN_CAUSAL_* */
    const qattn_tile_params *params; /* per head */
    const qattn_attn_ukernels *uk;   /* NULL: the reference tile kernel (scalar tier) */
    const int8_t *q;                 /* [heads][len_q][head_dim] */
    qattn_kv_view kv;
    int8_t *out;                     /* [heads][len_q][head_dim] */
    int16_t *out16;                  /* or, when not NULL, the output there at 16 bits
                                        (qattn_tile_finish_s16; out is then unused) */
    int32_t threads;
} qattn_attention_job;

/* Per-worker memory, grown when a call needs more and kept: a caller that reuses one
 * workspace (one per thread that calls) allocates nothing after its first call. */
typedef struct qattn_attn_workspace {
    int workers;
    int32_t head_dim;
    struct qattn_attn_worker *mem; /* [workers] */
    uint16_t *e_tables;            /* the heads' weight tables (exp_table), e_bytes of them */
    size_t e_bytes;
} qattn_attn_workspace;

void qattn_attn_workspace_free(qattn_attn_workspace *ws);

/* The packed size of one key tile, rounded to 64 bytes. */
size_t qattn_attn_tile_bytes(const qattn_attn_ukernels *uk, int32_t head_dim);

/* Packs keys [from, len_k) of every head into kv->packed (its raw rows must hold them):
 * the tiles they fall in, the first one from key `from` on if it does not start a tile (its
 * earlier keys packed by an earlier call, which had fewer keys; the last may be partial). */
void qattn_attn_pack(const qattn_attn_ukernels *uk, const qattn_kv_view *kv, int32_t heads,
                     int32_t from, int32_t len_k, int32_t head_dim, int32_t threads);

/* Runs the job with the workspace's memory (NULL: a temporary one). Fails only on memory
 * allocation (message set). */
qattn_status qattn_attention_run(const qattn_attention_job *job, qattn_attn_workspace *ws);

#endif
