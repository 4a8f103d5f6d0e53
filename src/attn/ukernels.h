/*
 * The attention microkernels of one instruction-set tier. Each is a pure function with
 * explicit sizes and strides; together with the tier-independent glue in
 * attention_tiled.c they reproduce the reference tile kernel bit for bit:
 *
 *   for each key tile (64 keys, packed once per head by pack_kv):
 *     scores       S[r][j] = q_r . k_j                      (int32, [Q1])
 *     softmax_rows tile max, e_j = 2^-y(m - S[r][j]), sum   ([Q2], [Q3]); the glue rescales
 *     rescale      acc = floor((acc * alpha + 2^15) / 2^16) when a row's maximum rises ([Q5])
 *     pv           acc[r][t] += sum_j e_rj v_jt             (int32 per tile, [Q6])
 *
 * The packed K/V layout and the P row layout belong to the tier; only its own kernels read
 * them.
 */
#ifndef QATTN_ATTN_UKERNELS_H
#define QATTN_ATTN_UKERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "attn/tile_kernel.h"
#include "qattn.h"

#define QATTN_P_ROW_BYTES 128 /* one row of 64 weights, in the tier's layout */

typedef struct qattn_attn_ukernels {
    const char *name;
    /* Bytes of one packed key tile (K and V of 64 keys) at head_dim d. */
    size_t (*kv_tile_bytes)(int32_t head_dim);
    /* Packs rows [first, keys) (keys 1..64) of a tile's K and V (k, v at its row 0, rows
     * `stride` bytes apart). first = 0: the whole tile, absent keys as 0. first > 0: the
     * tile holds rows [0, first) packed and zeros after them (what packing `first` keys
     * left), and the new rows join them: the same bytes as packing all `keys` at once. */
    void (*pack_kv)(const int8_t *k, const int8_t *v, ptrdiff_t stride, int32_t first,
                    int32_t keys, int32_t head_dim, void *packed);
    /* s[r * 64 + j] = q_r . k_j for r < rows (1..64), all 64 j (absent keys give 0). */
    void (*scores)(const int8_t *q, ptrdiff_t q_stride, int32_t rows, const void *packed,
                   int32_t head_dim, int32_t *s);
    /* For each row r < rows (1..64) of s (rows 64 apart), over its keys j < allowed[r]
     * (0..64): m_new[r] = max(m_old[r], max_j s[j]), e_j as the reference computes it
     * relative to m_new[r], and 0 for j >= allowed[r], written to P row r (rows
     * QATTN_P_ROW_BYTES apart); sums[r] = the sum of the row's e. m_old[r] may be INT32_MIN
     * (no key seen yet). allowed[r] = 0 writes a row of zero weights (in the tier's layout),
     * sums[r] = 0 and leaves m_new[r] unspecified. e_table: NULL, or the head's weights by
     * score difference as exp_table made them (d_zero + 1 entries and one more to read past),
     * read instead of computed: the same values. */
    void (*softmax_rows)(const int32_t *s, int32_t rows, const int32_t *allowed,
                         const int32_t *m_old, const qattn_tile_params *p,
                         const uint16_t *e_table, void *p_rows, int32_t *m_new, int32_t *sums);
    /* Optional (NULL: the tier computes every weight): table[dd] = the reference's weight
     * min(2^-y(dd), QATTN_E_MAX) for a score dd raw units below the row maximum, for
     * dd <= p->d_zero (table[d_zero] = 0), and table[d_zero + 1] = 0. */
    void (*exp_table)(const qattn_tile_params *p, uint16_t *table);
    /* acc[r * head_dim + t] += sum_j e_rj v_jt for r < rows (the sum is exact in int32). */
    void (*pv)(const void *p_rows, int32_t rows, const void *packed, int32_t head_dim,
               int64_t *acc);
    /* acc[t] = floor((acc[t] * alpha + 2^15) / 2^16) for t < n, as qattn_tile_rescale_acc. */
    void (*rescale)(int64_t *acc, int32_t n, uint32_t alpha);
    /* The int8 output rows of a finished query tile, as qattn_tile_finish; NULL: the tier
     * uses the reference's. */
    void (*finish)(const qattn_tile_state *st, const qattn_tile_params *p, int8_t *out,
                   ptrdiff_t out_stride);
    /* Optional (NULL: the glue calls rescale and pv tile by tile). `tiles` (1..
     * QATTN_PV_TILES_MAX) consecutive key tiles in order, as rescale and pv would take them:
     * for each kt < tiles, every row r < rows with alpha[kt * 64 + r] != 65536 has its
     * accumulators rescaled by that alpha, then acc[r * head_dim + t] += sum_j e_rj v_jt over
     * tile kt's P rows (at p_rows + kt * 64 * QATTN_P_ROW_BYTES) and its packed K/V (at
     * packed + kt * tile_bytes). */
    void (*pv_tiles)(const void *p_rows, int32_t rows, int32_t tiles, const void *packed,
                     size_t tile_bytes, const uint32_t *alpha, int32_t head_dim, int64_t *acc);
} qattn_attn_ukernels;

/* The most key tiles one pv_tiles call takes: the glue keeps their P rows (64 KiB each for
 * 64 rows), and the AMX tier's int32 byte sums hold 1024. */
#define QATTN_PV_TILES_MAX 16

extern const qattn_attn_ukernels qattn_attn_ukernels_avx2;
extern const qattn_attn_ukernels qattn_attn_ukernels_avx512vnni;
extern const qattn_attn_ukernels qattn_attn_ukernels_amx;

/* The family's kernels for a resolved tier: those of the best tier at or below it that has
 * attention kernels (attn_kernels.c holds the table); NULL = the scalar reference. */
const qattn_attn_ukernels *qattn_attn_kernels_for(qattn_isa tier);

#endif
