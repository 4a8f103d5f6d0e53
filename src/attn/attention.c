/*
 * Multi-head attention driver: validates the call, makes the per-head fixed-point
 * parameters, and walks heads x query tiles x key tiles through the tile kernel.
 */
#include <stdio.h>
#include <stdlib.h>

#include "attn/attention.h"
#include "attn/tile_kernel.h"
#include "attn/tile_params.h"
#include "core/error.h"
#include "core/size.h"

qattn_attention_desc qattn_attention_desc_default(void)
{
    qattn_attention_desc d = {0};
    return d;
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
        return qattn_fail(QATTN_ERR_SIZE, "attention: threads = %d, must be >= 0 (0 = default)",
                          desc->threads);
    if (!qattn_mul3_size((size_t)desc->heads, (size_t)desc->len_q, (size_t)desc->head_dim,
                         q_elems) ||
        !qattn_mul3_size((size_t)desc->heads, (size_t)desc->len_k, (size_t)desc->head_dim,
                         kv_elems))
        return qattn_fail(QATTN_ERR_SIZE, "attention: tensor size overflows");
    if (desc->kv_len) {
        for (int32_t h = 0; h < desc->heads; h++)
            if (desc->kv_len[h] < 1 || desc->kv_len[h] > desc->len_k)
                return qattn_fail(QATTN_ERR_KV_LEN,
                                  "attention: kv_len[%d] = %d, must be in [1, len_k = %d]", h,
                                  desc->kv_len[h], desc->len_k);
    }
    return QATTN_OK;
}

/* Caller-owned memory of one query tile: state arrays and scratch. */
typedef struct tile_memory {
    int32_t *row_max;
    int64_t *row_sum;
    int64_t *acc;
    int32_t *scratch;
} tile_memory;

static void run_head(const qattn_attention_desc *desc, const qattn_tile_params *p,
                     int32_t keys_valid, const int8_t *q, const int8_t *k, const int8_t *v,
                     int8_t *out, tile_memory *mem)
{
    const int32_t d = desc->head_dim;
    const int32_t tile_rows = qattn_tile_rows_for_head_dim(d);
    for (int32_t row0 = 0; row0 < desc->len_q; row0 += tile_rows) {
        int32_t rows = desc->len_q - row0 < tile_rows ? desc->len_q - row0 : tile_rows;
        qattn_tile_state st = {rows, d, mem->row_max, mem->row_sum, mem->acc};
        qattn_tile_begin(&st);
        for (int32_t key0 = 0; key0 < keys_valid; key0 += QATTN_TILE_KEYS) {
            if (desc->causal && key0 > row0 + rows - 1)
                break; /* no row of this tile reaches these keys */
            int32_t keys = keys_valid - key0 < QATTN_TILE_KEYS ? keys_valid - key0
                                                                : QATTN_TILE_KEYS;
            int32_t diag = desc->causal ? row0 - key0 : QATTN_NO_CAUSAL;
            qattn_tile_absorb(&st, p, q + (ptrdiff_t)row0 * d, d, k + (ptrdiff_t)key0 * d,
                              v + (ptrdiff_t)key0 * d, d, keys, diag, mem->scratch);
        }
        qattn_tile_finish(&st, p, out + (ptrdiff_t)row0 * d, d);
    }
}

qattn_status qattn_attention_s8(const qattn_attention_desc *desc, const int8_t *q,
                                const int8_t *k, const int8_t *v, int8_t *out)
{
    qattn_clear_error();
    size_t q_elems, kv_elems;
    qattn_status st = qattn_attention_validate(desc, q, k, v, out, &q_elems, &kv_elems);
    if (st != QATTN_OK)
        return st;
    if (!desc->scale_q || !desc->scale_k || !desc->scale_v || !desc->scale_out)
        return qattn_fail(QATTN_ERR_NULL, "attention: a per-head scale array is NULL");

    qattn_tile_params *params = malloc((size_t)desc->heads * sizeof *params);
    if (!params)
        return qattn_fail(QATTN_ERR_NOMEM, "attention: out of memory");
    for (int32_t h = 0; h < desc->heads; h++) {
        st = qattn_tile_params_make(&params[h], desc->head_dim, desc->scale_q[h],
                                    desc->scale_k[h], desc->scale_v[h], desc->scale_out[h]);
        if (st != QATTN_OK) {
            char why[200];
            snprintf(why, sizeof why, "%s", qattn_last_error());
            free(params);
            return qattn_fail(st, "attention: head %d: %s", h, why);
        }
    }

    const int32_t rows = qattn_tile_rows_for_head_dim(desc->head_dim);
    tile_memory mem = {
        malloc((size_t)rows * sizeof(int32_t)),
        malloc((size_t)rows * sizeof(int64_t)),
        malloc((size_t)rows * (size_t)desc->head_dim * sizeof(int64_t)),
        malloc(((size_t)QATTN_TILE_KEYS + (size_t)desc->head_dim) * sizeof(int32_t)),
    };
    if (mem.row_max && mem.row_sum && mem.acc && mem.scratch) {
        const size_t q_head = (size_t)desc->len_q * (size_t)desc->head_dim;
        const size_t kv_head = (size_t)desc->len_k * (size_t)desc->head_dim;
        for (int32_t h = 0; h < desc->heads; h++)
            run_head(desc, &params[h], desc->kv_len ? desc->kv_len[h] : desc->len_k,
                     q + h * q_head, k + h * kv_head, v + h * kv_head, out + h * q_head, &mem);
    } else {
        st = qattn_fail(QATTN_ERR_NOMEM, "attention: out of memory");
    }
    free(mem.row_max);
    free(mem.row_sum);
    free(mem.acc);
    free(mem.scratch);
    free(params);
    return st;
}
