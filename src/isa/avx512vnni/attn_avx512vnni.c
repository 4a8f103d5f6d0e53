/*
 * Attention microkernels for AVX-512 (F, BW, VL) with VNNI. Compiled with those flags only;
 * called only when the dispatch found them on the CPU and enabled by the OS.
 *
 * vpdpbusd multiplies u8 by s8: the scores are the shared int8 panel kernel (q offset by 128,
 * key sums subtracted); for P.V the 16-bit weights go in as their two bytes,
 * e = 256 e_hi + e_lo, and v is the s8 operand. Both are exact.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "attn/ukernels.h"
#include "isa/avx512vnni/attn_avx512vnni.h"
#include "isa/avx512vnni/panel_s8.h"

/* Packed key tile at head_dim d: K as one panel of panel_s8.h ([d/4][64][4] and the 64 key
 * sums), then V as [16][d][4] (v[4g .. 4g+3][t]). */
size_t qattn_avx512_attn_kv_tile_bytes(int32_t d)
{
    return panel_bytes(d) + (size_t)64 * d;
}

/* K of a whole tile (keys 0..63, absent ones zero) as its panel: output row g (64 dwords) is
 * dword g of every key, 16 keys per gather; the column sums by vpdpbusd with ones. */
static void pack_k_tile(const int8_t *k, ptrdiff_t stride, int32_t keys, int32_t d, int8_t *panel)
{
    const __m512i key_offsets = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int32_t)stride));
    const __m512i ones = _mm512_set1_epi8(1);
    int32_t *colsum = (int32_t *)(panel + (size_t)64 * d);
    for (int32_t j0 = 0; j0 < 64; j0 += 16) {
        const int32_t n = keys - j0 >= 16 ? 16 : keys - j0 <= 0 ? 0 : keys - j0;
        const __mmask16 present = (__mmask16)((1u << n) - 1);
        __m512i sum = _mm512_setzero_si512();
        for (int32_t g = 0; g < d / 4; g++) {
            const int8_t *column = k + j0 * stride + 4 * g; /* dword g of key j0 */
            const __m512i v = n ? _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), present,
                                                               key_offsets, column, 1)
                                : _mm512_setzero_si512();
            _mm512_storeu_si512(panel + ((size_t)g * 64 + j0) * 4, v);
            sum = _mm512_dpbusd_epi32(sum, ones, v);
        }
        _mm512_storeu_si512(colsum + j0, sum);
    }
}

/* V of a whole tile as [16][d][4]: for 4 keys and 16 columns, their bytes interleaved
 * (two rounds of unpacks) into the 16 dwords of those columns. */
static void pack_v_tile(const int8_t *v, ptrdiff_t stride, int32_t keys, int32_t d, int8_t *vp)
{
    static const int8_t absent[QATTN_MAX_HEAD_DIM]; /* zeros: the rows of absent keys */
    for (int32_t g = 0; g < 16; g++) {
        const int8_t *row[4];
        for (int b = 0; b < 4; b++)
            row[b] = 4 * g + b < keys ? v + (4 * g + b) * stride : absent;
        for (int32_t t = 0; t < d; t += 16) {
            const __m128i r0 = _mm_loadu_si128((const __m128i *)(row[0] + t));
            const __m128i r1 = _mm_loadu_si128((const __m128i *)(row[1] + t));
            const __m128i r2 = _mm_loadu_si128((const __m128i *)(row[2] + t));
            const __m128i r3 = _mm_loadu_si128((const __m128i *)(row[3] + t));
            const __m128i lo01 = _mm_unpacklo_epi8(r0, r1), hi01 = _mm_unpackhi_epi8(r0, r1);
            const __m128i lo23 = _mm_unpacklo_epi8(r2, r3), hi23 = _mm_unpackhi_epi8(r2, r3);
            int8_t *out = vp + ((size_t)g * d + t) * 4;
            _mm_storeu_si128((__m128i *)out, _mm_unpacklo_epi16(lo01, lo23));
            _mm_storeu_si128((__m128i *)(out + 16), _mm_unpackhi_epi16(lo01, lo23));
            _mm_storeu_si128((__m128i *)(out + 32), _mm_unpacklo_epi16(hi01, hi23));
            _mm_storeu_si128((__m128i *)(out + 48), _mm_unpackhi_epi16(hi01, hi23));
        }
    }
}

void qattn_avx512_attn_pack_kv(const int8_t *k, const int8_t *v, ptrdiff_t stride, int32_t first,
                    int32_t keys, int32_t d, void *packed)
{
    int8_t *vp = (int8_t *)packed + panel_bytes(d);
    if (first == 0 && stride <= INT32_MAX / 64) { /* a whole tile: vectors */
        pack_k_tile(k, stride, keys, d, packed);
        pack_v_tile(v, stride, keys, d, vp);
        return;
    }
    /* keys joining a tile (a decoder's cache, a few at a time): byte by byte */
    const int32_t end = first == 0 ? 64 : keys; /* a whole tile zeroes its absent keys */
    panel_pack_columns(k, stride, first, end, keys, d, packed);
    for (int32_t j = first; j < end; j++)
        for (int32_t t = 0; t < d; t++)
            vp[((size_t)(j / 4) * d + t) * 4 + j % 4] = j < keys ? v[j * stride + t] : 0;
}

static inline __m512i broadcast4(const void *p)
{
    int32_t x;
    memcpy(&x, p, 4);
    return _mm512_set1_epi32(x);
}

/* The packed K tile is one 64-column panel of panel_s8.h: QK^T is its kernel, on the rows
 * turned to u8 form in a buffer (64 x d bytes, 1/64 of the products' instructions). */
void qattn_avx512_attn_scores(const int8_t *q, ptrdiff_t q_stride, int32_t rows, const void *packed,
                   int32_t d, int32_t *s)
{
    _Alignas(64) uint8_t xu[QATTN_TILE_ROWS * QATTN_MAX_HEAD_DIM];
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int32_t r = 0; r < rows; r++)
        for (int32_t t = 0; t < d; t += 64) {
            const __mmask64 m = d - t >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (d - t)) - 1;
            _mm512_mask_storeu_epi8(xu + (size_t)r * d + t, m,
                                    _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, q + r * q_stride + t), flip));
        }
    int32_t r = 0;
    for (; r + 4 <= rows; r += 4)
        panel_rows(xu + (size_t)r * d, d, 4, packed, d, 0, d, 1, 1, s + r * 64, 64, 64);
    for (; r < rows; r++)
        panel_rows(xu + (size_t)r * d, d, 1, packed, d, 0, d, 1, 1, s + r * 64, 64, 64);
}

/* 64-bit lanes hold the even 32-bit lanes in their low halves; odd lanes via a shift. */
static inline __m512i odd_lanes(__m512i x)
{
    return _mm512_srli_epi64(x, 32);
}

/* The constants of the weights of one head, set once per tile of rows. */
typedef struct exp_consts {
    __m512i mult, half, d_zero, tab_lo, tab_hi, y_zero, e_max, frac, rem, ln2, x_round,
        sq_round, one_q24, e_low16;
    __m128i shift;
} exp_consts;

/*
 * The Q16 exponent per 32-bit lane ([Q2]), for d >= 0. d is first clamped to d_zero, the
 * first difference whose exponent reaches Y_ZERO: below it y is the reference's exactly,
 * from it on y >= Y_ZERO (e = 0 either way), and y(d_zero) < 2^32 fits the lane.
 */
static inline __m512i exponent(__m512i d, const exp_consts *k)
{
    d = _mm512_min_epi32(d, k->d_zero);
    __m512i pe = _mm512_srl_epi64(_mm512_add_epi64(_mm512_mul_epu32(d, k->mult), k->half), k->shift);
    __m512i po = _mm512_srl_epi64(_mm512_add_epi64(_mm512_mul_epu32(odd_lanes(d), k->mult), k->half),
                                  k->shift);
    return _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
}

/*
 * e = 2^-y in Q16 for y < Y_ZERO ([Q3]). The reference's rounding shift of the 48-bit
 * product P, (P + 2^(31+n)) >> (32+n), equals ((P >> 31) + 2^n) >> (n+1) (nested floors),
 * and P >> 31 < 2^17 fits a 32-bit lane: one 64-bit shift per half, then 32-bit shifts.
 * x16 < 2^11, so its square is one vpmaddwd (the high 16 bits of each lane are zero).
 */
static inline __m512i exp2_neg(__m512i y, const exp_consts *k)
{
    __m512i n = _mm512_srli_epi32(y, 16);
    __m512i f = _mm512_and_si512(y, k->frac);
    __m512i r = _mm512_and_si512(f, k->rem);
    __m512i x = _mm512_srli_epi32(_mm512_add_epi32(_mm512_mullo_epi32(r, k->ln2), k->x_round), 13);
    __m512i x16 = _mm512_srli_epi32(x, 8);
    __m512i sq = _mm512_srli_epi32(_mm512_add_epi32(_mm512_madd_epi16(x16, x16), k->sq_round), 9);
    __m512i poly = _mm512_add_epi32(_mm512_sub_epi32(k->one_q24, x), sq);
    __m512i t = _mm512_permutex2var_epi32(k->tab_lo, _mm512_srli_epi32(f, 11), k->tab_hi);
    __m512i pe = _mm512_mul_epu32(t, poly);
    __m512i po = _mm512_mul_epu32(odd_lanes(t), odd_lanes(poly));
    /* P >> 31: even lanes in the low halves, odd lanes (P << 1) in the high halves */
    __m512i a = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
    __m512i one = _mm512_set1_epi32(1);
    return _mm512_srlv_epi32(_mm512_add_epi32(a, _mm512_sllv_epi32(one, n)), _mm512_add_epi32(n, one));
}

/* P row layout: e_lo[64] bytes, then e_hi[64] bytes. */
static inline __attribute__((always_inline)) int32_t
softmax_row(const int32_t *s, int32_t allowed, int32_t m_old, const exp_consts *k,
            const uint16_t *table, uint8_t *lo, int32_t *m_new)
{
    __m512i sv[4];
    __mmask16 live[4];
    __m512i mx = _mm512_set1_epi32(INT32_MIN);
    for (int c = 0; c < 4; c++) {
        int32_t n = allowed - 16 * c;
        live[c] = n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
        sv[c] = _mm512_loadu_si512(s + 16 * c);
        mx = _mm512_mask_max_epi32(mx, live[c], mx, sv[c]);
    }
    int32_t tile_max = _mm512_reduce_max_epi32(mx);
    int32_t m = tile_max > m_old ? tile_max : m_old;
    *m_new = m;

    const __m512i mv = _mm512_set1_epi32(m);
    __m512i sum = _mm512_setzero_si512(), ev[4];
    for (int c = 0; c < 4; c++) {
        __m512i e;
        if (table) { /* one gather of the weight by difference; lanes at or past d_zero
                      * (weight 0) load nothing: a peaked row's gathers load a few lanes
                      * (5-6% of a base attention call at 3-6x the logit spread, same run) */
            __m512i dd = _mm512_sub_epi32(mv, sv[c]);
            __mmask16 load = _mm512_mask_cmplt_epu32_mask(live[c], dd, k->d_zero);
            e = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), load, dd, table, 2);
            e = _mm512_and_si512(e, k->e_low16);
        } else {
            __m512i y = exponent(_mm512_sub_epi32(mv, sv[c]), k);
            e = _mm512_min_epu32(exp2_neg(y, k), k->e_max);
            __mmask16 keep = live[c] & _mm512_cmplt_epu32_mask(y, k->y_zero);
            e = _mm512_maskz_mov_epi32(keep, e);
        }
        sum = _mm512_add_epi32(sum, e);
        ev[c] = e;
    }
    /* the 64 weights (<= 65535) as u16 by two packs, then their low and high bytes by one
     * pack each; packs work within 128-bit lanes, so one permute puts each row in order
     * (8 vpmovdb, 2 uops each, before) */
    const __m512i w01 = _mm512_packus_epi32(ev[0], ev[1]), w23 = _mm512_packus_epi32(ev[2], ev[3]);
    const __m512i low = _mm512_set1_epi16(0xFF);
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    _mm512_storeu_si512(lo, _mm512_permutexvar_epi32(order, _mm512_packus_epi16(_mm512_and_si512(w01, low),
                                                                                _mm512_and_si512(w23, low))));
    _mm512_storeu_si512(lo + 64, _mm512_permutexvar_epi32(order, _mm512_packus_epi16(_mm512_srli_epi16(w01, 8),
                                                                                     _mm512_srli_epi16(w23, 8))));
    return _mm512_reduce_add_epi32(sum);
}

static exp_consts exp_consts_for(const qattn_tile_params *p)
{
    const exp_consts k = {
        .mult = _mm512_set1_epi64((uint32_t)p->score_mult),
        .half = _mm512_set1_epi64(p->score_shift > 0 ? (int64_t)1 << (p->score_shift - 1) : 0),
        .d_zero = _mm512_set1_epi32(p->d_zero),
        .tab_lo = _mm512_loadu_si512(qattn_exp2_neg_q24),
        .tab_hi = _mm512_loadu_si512(qattn_exp2_neg_q24 + 16),
        .y_zero = _mm512_set1_epi32(QATTN_EXP_Y_ZERO),
        .e_max = _mm512_set1_epi32(QATTN_E_MAX),
        .frac = _mm512_set1_epi32(0xFFFF),
        .rem = _mm512_set1_epi32(0x7FF),
        .ln2 = _mm512_set1_epi32(1453635),
        .x_round = _mm512_set1_epi32(4096),
        .sq_round = _mm512_set1_epi32(256),
        .one_q24 = _mm512_set1_epi32(1 << 24),
        .e_low16 = _mm512_set1_epi32(0xFFFF),
        .shift = _mm_cvtsi32_si128(p->score_shift),
    };
    return k;
}

void qattn_avx512_attn_softmax_rows(const int32_t *s, int32_t rows, const int32_t *allowed,
                         const int32_t *m_old, const qattn_tile_params *p,
                         const uint16_t *e_table, void *p_rows, int32_t *m_new, int32_t *sums)
{
    const exp_consts k = exp_consts_for(p);
    uint8_t *out = p_rows;
    if (e_table)
        for (int32_t r = 0; r < rows; r++)
            sums[r] = softmax_row(s + r * 64, allowed[r], m_old[r], &k, e_table,
                                  out + (size_t)r * QATTN_P_ROW_BYTES, &m_new[r]);
    else
        for (int32_t r = 0; r < rows; r++)
            sums[r] = softmax_row(s + r * 64, allowed[r], m_old[r], &k, NULL,
                                  out + (size_t)r * QATTN_P_ROW_BYTES, &m_new[r]);
}

/* The weights by difference, 16 at a time by the same arithmetic as softmax_row's. The
 * table has d_zero + 2 entries (d_zero < INT32_MAX here: the glue asks only then). */
void qattn_avx512_attn_exp_table(const qattn_tile_params *p, uint16_t *table)
{
    const exp_consts k = exp_consts_for(p);
    const int32_t len = p->d_zero + 2;
    const __m512i step = _mm512_set1_epi32(16);
    __m512i dd = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int32_t i = 0; i < len; i += 16, dd = _mm512_add_epi32(dd, step)) {
        __m512i y = exponent(dd, &k);
        __m512i e = _mm512_min_epu32(exp2_neg(y, &k), k.e_max);
        e = _mm512_maskz_mov_epi32(_mm512_cmplt_epu32_mask(y, k.y_zero), e);
        __mmask16 m = len - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (len - i)) - 1);
        _mm256_mask_storeu_epi16(table + i, m, _mm512_cvtepi32_epi16(e));
    }
}

/* Adds a tile's int32 sums for 16 output columns into their int64 accumulators. */
static inline void add_to_acc(int64_t *a, __m512i sum)
{
    _mm512_storeu_si512(a, _mm512_add_epi64(_mm512_loadu_si512(a),
                                            _mm512_cvtepi32_epi64(_mm512_castsi512_si256(sum))));
    _mm512_storeu_si512(a + 8, _mm512_add_epi64(_mm512_loadu_si512(a + 8),
                                                _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(sum, 1))));
}

/* nc (1..4) blocks of 16 output columns from t0 on, for `rows` (1 or 2) rows whose weights
 * are QATTN_P_ROW_BYTES apart, each V load serving both rows; inlined with constant rows and
 * nc so the accumulators (2 x 2 x 4) stay in registers and the inner loop has no branches. */
static inline __attribute__((always_inline)) void pv_columns(const uint8_t *lo, int rows,
                                                             const int8_t *vp, int32_t d,
                                                             int32_t t0, int nc, int64_t *acc)
{
    __m512i acc_lo[2][4], acc_hi[2][4];
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < nc; c++)
            acc_lo[r][c] = acc_hi[r][c] = _mm512_setzero_si512();
    for (int g = 0; g < 16; g++) {
        __m512i vv[4];
        for (int c = 0; c < nc; c++)
            vv[c] = _mm512_loadu_si512(vp + ((size_t)g * d + t0 + 16 * c) * 4);
        for (int r = 0; r < rows; r++) {
            const uint8_t *row = lo + (size_t)r * QATTN_P_ROW_BYTES;
            __m512i blo = broadcast4(row + 4 * g), bhi = broadcast4(row + 64 + 4 * g);
            for (int c = 0; c < nc; c++) {
                acc_lo[r][c] = dpbusd(acc_lo[r][c], blo, vv[c]);
                acc_hi[r][c] = dpbusd(acc_hi[r][c], bhi, vv[c]);
            }
        }
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < nc; c++)
            add_to_acc(acc + (size_t)r * d + t0 + 16 * c,
                       _mm512_add_epi32(_mm512_slli_epi32(acc_hi[r][c], 8), acc_lo[r][c]));
}

/* One or two rows (a constant after inlining) over all d columns. */
static inline __attribute__((always_inline)) void pv_rows(const uint8_t *lo, int rows,
                                                          const int8_t *vp, int32_t d,
                                                          int64_t *acc)
{
    int32_t t0 = 0;
    for (; t0 + 64 <= d; t0 += 64)
        pv_columns(lo, rows, vp, d, t0, 4, acc);
    switch ((d - t0) / 16) {
    case 3: pv_columns(lo, rows, vp, d, t0, 3, acc); break;
    case 2: pv_columns(lo, rows, vp, d, t0, 2, acc); break;
    case 1: pv_columns(lo, rows, vp, d, t0, 1, acc); break;
    default: break;
    }
}

void qattn_avx512_attn_pv(const void *p_rows, int32_t rows, const void *packed, int32_t d, int64_t *acc)
{
    const int8_t *vp = (const int8_t *)packed + panel_bytes(d);
    const uint8_t *p = p_rows;
    int32_t r = 0;
    for (; r + 2 <= rows; r += 2)
        pv_rows(p + (size_t)r * QATTN_P_ROW_BYTES, 2, vp, d, acc + (size_t)r * d);
    if (r < rows)
        pv_rows(p + (size_t)r * QATTN_P_ROW_BYTES, 1, vp, d, acc + (size_t)r * d);
}

/* floor((x * alpha + 2^15) / 2^16) on int64 lanes: the product from 32-bit halves (exact
 * mod 2^64, and the true value is below 2^62), then an arithmetic shift (floor). */
void qattn_avx512_attn_rescale(int64_t *acc, int32_t n, uint32_t alpha)
{
    const __m512i a = _mm512_set1_epi64(alpha), round = _mm512_set1_epi64(32768);
    for (int32_t t = 0; t < n; t += 8) {
        __m512i x = _mm512_loadu_si512(acc + t);
        __m512i hi = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), a);
        __m512i prod = _mm512_add_epi64(_mm512_slli_epi64(hi, 32), _mm512_mul_epu32(x, a));
        _mm512_storeu_si512(acc + t, _mm512_srai_epi64(_mm512_add_epi64(prod, round), 16));
    }
}

static inline int bit_length(uint64_t x)
{
    return x ? 64 - __builtin_clzll(x) : 0;
}

/*
 * [Q7] as finish_row of the reference, 8 int64 lanes at a time: |acc| (< 2^62) and the row
 * sum shifted right together by `norm` until they fit 31 bits, one reciprocal
 * rcp = floor(out_mult 2^b / sum) in [2^30, 2^32) per row (scalar, as the reference), then
 * mag = (a rcp + 2^(shift-1)) >> shift with a < 2^31: the product is one vpmuludq, below
 * 2^63; a shift of 64 or more gives 0 as the reference's test does. Saturated to [-128, 127].
 */
static void finish_row(int64_t row_sum, const int64_t *acc, int32_t d, const qattn_tile_params *p,
                       int8_t *out)
{
    if (row_sum <= 0) {
        memset(out, 0, (size_t)d);
        return;
    }
    __m512i amax = _mm512_set1_epi64(row_sum);
    for (int32_t t = 0; t < d; t += 8) {
        __mmask8 k = d - t >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (d - t)) - 1);
        amax = _mm512_max_epu64(amax, _mm512_abs_epi64(_mm512_maskz_loadu_epi64(k, acc + t)));
    }
    int norm = bit_length(_mm512_reduce_max_epu64(amax)) - 31;
    norm = norm < 0 ? 0 : norm;
    const uint64_t sum = (uint64_t)row_sum >> norm;
    if (sum == 0) { /* unreachable: the row maximum alone contributes 65535 to the sum */
        memset(out, 0, (size_t)d);
        return;
    }
    const int b = bit_length(sum);
    const uint64_t rcp = ((uint64_t)p->out_mult << b) / sum;
    const int shift = p->out_shift + b;
    const __m512i rv = _mm512_set1_epi64((int64_t)rcp);
    const __m512i round = _mm512_set1_epi64(shift >= 64 ? 0 : (int64_t)((uint64_t)1 << (shift - 1)));
    const __m128i norm_count = _mm_cvtsi32_si128(norm), shift_count = _mm_cvtsi32_si128(shift);
    const __m512i pos_max = _mm512_set1_epi64(127), neg_max = _mm512_set1_epi64(128);
    for (int32_t t = 0; t < d; t += 8) {
        __mmask8 k = d - t >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (d - t)) - 1);
        __m512i v = _mm512_maskz_loadu_epi64(k, acc + t);
        __m512i a = _mm512_srl_epi64(_mm512_abs_epi64(v), norm_count);
        __m512i mag = _mm512_srl_epi64(_mm512_add_epi64(_mm512_mul_epu32(a, rv), round), shift_count);
        __mmask8 neg = _mm512_cmplt_epi64_mask(v, _mm512_setzero_si512());
        __m512i pos = _mm512_min_epu64(mag, pos_max);
        __m512i q = _mm512_mask_sub_epi64(pos, neg, _mm512_setzero_si512(), _mm512_min_epu64(mag, neg_max));
        _mm512_mask_cvtepi64_storeu_epi8(out + t, k, q);
    }
}

void qattn_avx512_attn_finish(const qattn_tile_state *st, const qattn_tile_params *p, int8_t *out,
                   ptrdiff_t out_stride)
{
    for (int32_t r = 0; r < st->rows; r++)
        finish_row(st->row_sum[r], st->acc + (size_t)r * st->head_dim, st->head_dim, p,
                   out + r * out_stride);
}

const qattn_attn_ukernels qattn_attn_ukernels_avx512vnni = {
    "avx512vnni", qattn_avx512_attn_kv_tile_bytes, qattn_avx512_attn_pack_kv,
    qattn_avx512_attn_scores, qattn_avx512_attn_softmax_rows, qattn_avx512_attn_exp_table,
    qattn_avx512_attn_pv, qattn_avx512_attn_rescale, qattn_avx512_attn_finish, NULL,
};
