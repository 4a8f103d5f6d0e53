/*
 * The integer attention tile kernel: up to 64 query rows against successive tiles of up to
 * 64 keys, with online (flash-style) softmax state carried between key tiles.
 *
 * Freestanding: only <stddef.h> and <stdint.h>, no libc, no malloc, no floating point.
 * The caller owns all memory. The fixed-point parameters are made on the host by
 * qattn_tile_params_make() (tile_params.c), which is not part of the tile kernel.
 *
 * This is the reference every fast path must reproduce bit for bit. Its arithmetic is
 * docs/quantization.md, section by section; the bounds below are proven there.
 */
#ifndef QATTN_TILE_KERNEL_H
#define QATTN_TILE_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#define QATTN_TILE_ROWS 64 /* query rows per tile at head_dim <= 64 */
#define QATTN_TILE_KEYS 64 /* keys per tile: part of the contract (fixes the online rescaling) */

/* Base-2 exponents are Q16. e = 2^-y is 0 from y = 17.0 on (below half a Q16 unit). */
#define QATTN_EXP_FRAC_BITS 16
#define QATTN_EXP_Y_ZERO (17 << QATTN_EXP_FRAC_BITS)
/* e of the row maximum: 2^0 in Q16 is 65536, saturated to fit 16 bits. */
#define QATTN_E_MAX 65535

/* Largest raw score difference: 2 * 256 * 128 * 128 = 2^23 (head_dim <= 256). */
#define QATTN_SCORE_DIFF_MAX (1 << 23)

/* No causal limit (see qattn_tile_absorb). */
#define QATTN_NO_CAUSAL INT32_MAX

typedef struct qattn_tile_params {
    int32_t head_dim;
    /* y(d) = round(d * score_mult / 2^score_shift) is the Q16 base-2 exponent of a score
     * d raw units below the row maximum: score_mult / 2^score_shift ~ 2^16 * log2(e) *
     * s_q * s_k / sqrt(head_dim). score_mult in [0, 2^31), score_shift in [0, 62]. */
    int32_t score_mult;
    int32_t score_shift;
    /* Smallest d with y(d) = QATTN_EXP_Y_ZERO (e = 0 from there on), or INT32_MAX. Not
     * used by the reference; lets fast paths clamp d before a 32-bit multiply without
     * changing a result. */
    int32_t d_zero;
    /* Output gain s_v / s_out = out_mult / 2^out_shift, out_mult in [0, 2^31),
     * out_shift in [1, 62]. */
    int32_t out_mult;
    int32_t out_shift;
} qattn_tile_params;

/* Online softmax state of one query tile; the arrays are the caller's. */
typedef struct qattn_tile_state {
    int32_t rows;     /* query rows in the tile, 1..QATTN_TILE_ROWS */
    int32_t head_dim;
    int32_t *row_max; /* [rows] running maximum raw score; INT32_MIN: no key seen yet */
    int64_t *row_sum; /* [rows] running sum of e, in units of the current row maximum */
    int64_t *acc;     /* [rows][head_dim] running sum of e * v, same units */
} qattn_tile_state;

/* 2^(-i/32) in Q24, i = 0..31: the table of the exponential ([Q3]), shared with fast paths. */
extern const uint32_t qattn_exp2_neg_q24[32];

/* Q16 value of 2^(-y / 65536) for y >= 0, in [0, 65536]; 0 for y >= QATTN_EXP_Y_ZERO. */
uint32_t qattn_exp2_neg_q16(int32_t y);

/* The Q16 exponent of a score d in [0, 2^24) raw units below the row maximum:
 * min(round(d * score_mult / 2^score_shift), QATTN_EXP_Y_ZERO), ties rounded up. */
int32_t qattn_score_exponent(int32_t d, const qattn_tile_params *p);

/* If new_max exceeds *row_max: rescales *row_sum to the new maximum ([Q4], [Q5]), stores
 * it, and returns the factor alpha (Q16) by which the row's accumulators must be rescaled
 * with qattn_tile_rescale_acc; returns 65536 (the identity) otherwise. */
uint32_t qattn_tile_raise_max(int32_t *row_max, int64_t *row_sum, int32_t new_max,
                              const qattn_tile_params *p);

/* acc[t] = floor((acc[t] * alpha + 2^15) / 2^16) for t < n ([Q5]). */
void qattn_tile_rescale_acc(int64_t *acc, int32_t n, uint32_t alpha);

/* Resets the state: no keys seen. */
void qattn_tile_begin(qattn_tile_state *st);

/*
 * Absorbs one key tile into the state.
 *   q: st->rows rows of head_dim int8, q_stride bytes apart;
 *   k, v: `keys` rows (1..QATTN_TILE_KEYS) of head_dim int8, kv_stride bytes apart;
 *   causal_diag: row r may attend to tile-local key j only if j <= r + causal_diag
 *                (QATTN_NO_CAUSAL for none); rows with no allowed key are left untouched;
 *   scratch: 64 int32 scores + head_dim int32 partial sums = (64 + head_dim) int32.
 */
void qattn_tile_absorb(qattn_tile_state *st, const qattn_tile_params *p, const int8_t *q,
                       ptrdiff_t q_stride, const int8_t *k, const int8_t *v,
                       ptrdiff_t kv_stride, int32_t keys, int32_t causal_diag,
                       int32_t *scratch);

/* Writes the int8 output rows, out_stride bytes apart: round(gain * acc / row_sum),
 * saturated. A row that saw no key gets zeros. */
void qattn_tile_finish(const qattn_tile_state *st, const qattn_tile_params *p, int8_t *out,
                       ptrdiff_t out_stride);

/* The same rows as 16-bit integers (out_stride int16 apart), saturated to [-32768, 32767]:
 * with gain 256 x that of an int8 output, 8 more bits of the same quotient, for a consumer
 * that needs the output finer than int8 in one pass (the decoder's attention:
 * attn/quantized_cache.h). Every tier's state finishes here (no tier variant). */
void qattn_tile_finish_s16(const qattn_tile_state *st, const qattn_tile_params *p,
                           int16_t *out, ptrdiff_t out_stride);

/* Query rows per tile for a head dim: the largest power of two <= 64 whose working set
 * (below) fits in 64 KiB. */
int32_t qattn_tile_rows_for_head_dim(int32_t head_dim);

/*
 * Bytes the kernel touches for one tile of `rows` queries at `head_dim`: the q tile, one
 * k tile and one v tile, the state (row_max, row_sum, acc), the scratch and the int8
 * output tile. At head_dim 64 and 64 rows this is QATTN_TILE_WORKING_SET_D64.
 */
size_t qattn_tile_working_set_bytes(int32_t rows, int32_t head_dim);
#define QATTN_TILE_WORKING_SET_D64 50488u /* 49.3 KiB of the accelerator core's 64 KiB */

#endif /* QATTN_TILE_KERNEL_H */
