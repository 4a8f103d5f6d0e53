/*
 * Multi-head attention driver: validates the call, makes the per-head fixed-point
 * parameters, picks the tier, and runs heads x query tiles in parallel. The scalar tier is
 * the reference tile kernel itself; the fast tiers run attention_tiled.c's glue over their
 * microkernels. Every query tile is independent, so results do not depend on the threads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn/attention.h"
#include "attn/attention_tiled.h"
#include "attn/tile_kernel.h"
#include "attn/tile_params.h"
#include "core/tiers.h"
#include "core/error.h"
#include "core/reserve.h"
#include "core/parallel.h"
#include "core/size.h"

qattn_attention_desc qattn_attention_desc_default(void)
{
    qattn_attention_desc d = {0};
    d.struct_size = sizeof d;
    return d;
}

qattn_status qattn_attention_read_desc(const qattn_attention_desc *desc, qattn_attention_desc *d)
{
    *d = qattn_attention_desc_default();
    if (!desc)
        return qattn_fail(QATTN_ERR_NULL, "attention: desc is NULL");
    return qattn_struct_read(d, sizeof *d, desc, "attention");
}

qattn_status qattn_attention_validate(const qattn_attention_desc *desc, const void *q,
                                      const void *k, const void *v, const void *out,
                                      size_t *q_elems, size_t *kv_elems)
{
    if (!desc)
        return qattn_fail(QATTN_ERR_NULL, "attention: desc is NULL");
    if (!q || !k || !v || !out)
        return qattn_fail(QATTN_ERR_NULL, "attention: %s is NULL",
                          !q ? "q" : !k ? "k" : !v ? "v" : "out");
    if (desc->heads < 1 || desc->heads > QATTN_MAX_HEADS)
        return qattn_fail(QATTN_ERR_SIZE, "attention: heads = %d, must be in [1, %d]",
                          desc->heads, QATTN_MAX_HEADS);
    if (desc->len_q < 1 || desc->len_q > QATTN_MAX_QUERIES)
        return qattn_fail(QATTN_ERR_SIZE, "attention: len_q = %d, must be in [1, %d]",
                          desc->len_q, QATTN_MAX_QUERIES);
    if (desc->len_k < 1)
        return qattn_fail(QATTN_ERR_SIZE, "attention: len_k = %d, must be >= 1", desc->len_k);
    if (desc->len_k > QATTN_MAX_KEYS)
        return qattn_fail(QATTN_ERR_TOO_MANY_KEYS,
                          "attention: len_k = %d exceeds %d, the largest key length whose "
                          "int64 accumulators are proven exact",
                          desc->len_k, QATTN_MAX_KEYS);
    if (desc->head_dim < QATTN_MIN_HEAD_DIM || desc->head_dim > QATTN_MAX_HEAD_DIM ||
        desc->head_dim % 16 != 0)
        return qattn_fail(QATTN_ERR_HEAD_DIM,
                          "attention: head_dim = %d, must be a multiple of 16 in [16, 256]",
                          desc->head_dim);
    if (desc->threads < 0)
        return qattn_fail(QATTN_ERR_ARG, "attention: threads = %d, must be >= 0 (0 = default)",
                          desc->threads);
    if (!qattn_mul3_size((size_t)desc->heads, (size_t)desc->len_q, (size_t)desc->head_dim,
                         q_elems) ||
        !qattn_mul3_size((size_t)desc->heads, (size_t)desc->len_k, (size_t)desc->head_dim,
                         kv_elems))
        return qattn_fail(QATTN_ERR_SIZE, "attention: tensor size overflows");
    if (desc->causal != QATTN_CAUSAL_NONE && desc->causal != QATTN_CAUSAL_TOP_LEFT &&
        desc->causal != QATTN_CAUSAL_BOTTOM_RIGHT)
        return qattn_fail(QATTN_ERR_ARG,
                          "attention: causal = %d, must be 0 (none), 1 (top-left) or 2 "
                          "(bottom-right)", desc->causal);
    if (desc->kv_len) {
        for (int32_t h = 0; h < desc->heads; h++)
            if (desc->kv_len[h] < 1 || desc->kv_len[h] > desc->len_k)
                return qattn_fail(QATTN_ERR_KV_LEN,
                                  "attention: kv_len[%d] = %d, must be in [1, len_k = %d]", h,
                                  desc->kv_len[h], desc->len_k);
    }
    if (desc->causal == QATTN_CAUSAL_BOTTOM_RIGHT)
        for (int32_t h = 0; h < desc->heads; h++) {
            int32_t valid = desc->kv_len ? desc->kv_len[h] : desc->len_k;
            if (desc->len_q > valid)
                return qattn_fail(QATTN_ERR_KV_LEN,
                                  "attention: bottom-right causal needs len_q <= valid keys; head "
                                  "%d has len_q = %d, %d keys (its first queries would see none)",
                                  h, desc->len_q, valid);
        }
    return QATTN_OK;
}

/* The per-head fixed-point parameters into scratch->params (grown to desc->heads). */
static qattn_status make_params(const qattn_attention_desc *desc, qattn_attention_scratch *scratch)
{
    if (!desc->scale_q || !desc->scale_k || !desc->scale_v || !desc->scale_out)
        return qattn_fail(QATTN_ERR_NULL, "attention: a per-head scale array is NULL");
    scratch->params = qattn_reserve(scratch->params, &scratch->params_bytes,
                                    (size_t)desc->heads * sizeof *scratch->params);
    if (!scratch->params)
        return qattn_fail(QATTN_ERR_NOMEM, "attention: out of memory");
    for (int32_t h = 0; h < desc->heads; h++) {
        qattn_status st = qattn_tile_params_make(&scratch->params[h], desc->head_dim,
                                                 desc->scale_q[h], desc->scale_k[h],
                                                 desc->scale_v[h], desc->scale_out[h]);
        if (st != QATTN_OK) {
            char why[200];
            snprintf(why, sizeof why, "%s", qattn_last_error());
            return qattn_fail(st, "attention: head %d: %s", h, why);
        }
    }
    return QATTN_OK;
}

void qattn_attention_scratch_free(qattn_attention_scratch *scratch)
{
    if (!scratch)
        return;
    free(scratch->params), free(scratch->packed);
    qattn_attn_workspace_free(&scratch->ws);
    memset(scratch, 0, sizeof *scratch);
}

qattn_status qattn_attention_s8_in(const qattn_attention_desc *desc, const int8_t *q,
                                   const int8_t *k, const int8_t *v, int8_t *out,
                                   qattn_attention_scratch *scratch)
{
    qattn_clear_error();
    size_t q_elems, kv_elems;
    qattn_status st = qattn_attention_validate(desc, q, k, v, out, &q_elems, &kv_elems);
    qattn_isa isa;
    const qattn_attn_ukernels *uk = NULL;
    if (st == QATTN_OK)
        st = qattn_tier_resolve(desc->isa, &isa);
    if (st == QATTN_OK)
        uk = qattn_attn_kernels_for(isa);
    if (st == QATTN_OK)
        st = make_params(desc, scratch);
    if (st != QATTN_OK)
        return st;
    qattn_attention_job job = {desc->heads, desc->len_q, desc->len_k, desc->head_dim,
                               desc->kv_len, desc->causal, scratch->params, uk, q,
                               {k, v, (ptrdiff_t)desc->len_k * desc->head_dim, NULL, 0, 0},
                               out, NULL, desc->threads};
    if (uk) { /* the fast tiers read K and V packed: once per call here */
        job.kv.head_tiles = (desc->len_k + QATTN_TILE_KEYS - 1) / QATTN_TILE_KEYS;
        job.kv.tile_bytes = qattn_attn_tile_bytes(uk, desc->head_dim);
        /* heads * tiles * tile_bytes <= 4096 * 65536 * ~33 KiB: checked all the same */
        size_t total;
        if (__builtin_mul_overflow((size_t)desc->heads * (size_t)job.kv.head_tiles,
                                   job.kv.tile_bytes, &total) ||
            !(scratch->packed = qattn_reserve(scratch->packed, &scratch->packed_bytes, total)))
            return qattn_fail(QATTN_ERR_NOMEM, "attention: out of memory packing K and V");
        job.kv.packed = scratch->packed;
        qattn_attn_pack(uk, &job.kv, desc->heads, 0, desc->len_k, desc->head_dim, desc->threads);
    }
    return qattn_attention_run(&job, &scratch->ws);
}

qattn_status qattn_attention_s8(const qattn_attention_desc *desc, const int8_t *q,
                                const int8_t *k, const int8_t *v, int8_t *out)
{
    qattn_clear_error();
    qattn_attention_desc d;
    qattn_status st = qattn_attention_read_desc(desc, &d);
    if (st != QATTN_OK)
        return st;
    qattn_attention_scratch scratch;
    memset(&scratch, 0, sizeof scratch);
    st = qattn_attention_s8_in(&d, q, k, v, out, &scratch);
    qattn_attention_scratch_free(&scratch);
    return st;
}
