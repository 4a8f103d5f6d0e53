/*
 * Attention microkernels for AVX2. Compiled with -mavx2 only; called only when the dispatch
 * found AVX2 on the CPU and YMM state enabled by the OS.
 *
 * Products use vpmaddwd (s16 x s16 -> s32 pairs, no saturation). The 16-bit weights e in
 * [0, 65535] do not fit s16, so P holds e - 32768 and pv adds back 32768 times each column
 * sum of V: exact, and every intermediate stays below 2^30.
 */
#include <immintrin.h>
#include <string.h>

#include "attn/ukernels.h"

/* Packed key tile at head_dim d:
 *   K    [d/2][64 keys][2] int16   k[j][2g], k[j][2g+1]
 *   V    [32][d][2] int16          v[2g][t], v[2g+1][t]
 *   vsum [d] int32                 sum over the 64 keys of v[j][t] (absent keys are 0)  */
static size_t kv_tile_bytes(int32_t d)
{
    return (size_t)64 * d * 2 + (size_t)64 * d * 2 + (size_t)d * sizeof(int32_t);
}

static void pack_kv(const int8_t *k, const int8_t *v, ptrdiff_t stride, int32_t first,
                    int32_t keys, int32_t d, void *packed)
{
    int16_t *kp = packed;
    int16_t *vp = kp + (size_t)64 * d;
    int32_t *vsum = (int32_t *)(vp + (size_t)64 * d);
    const int32_t end = first == 0 ? 64 : keys; /* a whole tile zeroes its absent keys */
    for (int32_t j = first; j < end; j++)
        for (int32_t t = 0; t < d; t++)
            kp[((size_t)(t / 2) * 64 + j) * 2 + t % 2] = j < keys ? k[j * stride + t] : 0;
    for (int32_t t = 0; first == 0 && t < d; t++)
        vsum[t] = 0; /* otherwise the earlier keys' sums, which the new keys add to */
    for (int32_t j = first; j < end; j++)
        for (int32_t t = 0; t < d; t++) {
            int16_t x = j < keys ? v[j * stride + t] : 0;
            vp[((size_t)(j / 2) * d + t) * 2 + j % 2] = x;
            vsum[t] += x;
        }
}

static inline __m256i broadcast_pair(int16_t a, int16_t b)
{
    return _mm256_set1_epi32((int32_t)((uint32_t)(uint16_t)a | (uint32_t)(uint16_t)b << 16));
}

static void scores(const int8_t *q, ptrdiff_t q_stride, int32_t rows, const void *packed,
                   int32_t d, int32_t *s)
{
    const int16_t *kp = packed;
    for (int32_t r = 0; r < rows; r++) {
        const int8_t *qr = q + r * q_stride;
        __m256i acc[8];
        for (int c = 0; c < 8; c++)
            acc[c] = _mm256_setzero_si256();
        for (int32_t g = 0; g < d / 2; g++) {
            __m256i qb = broadcast_pair(qr[2 * g], qr[2 * g + 1]);
            for (int c = 0; c < 8; c++)
                acc[c] = _mm256_add_epi32(
                    acc[c], _mm256_madd_epi16(qb, _mm256_loadu_si256(
                                                      (const __m256i *)(kp + ((size_t)g * 64 + 8 * c) * 2))));
        }
        for (int c = 0; c < 8; c++)
            _mm256_storeu_si256((__m256i *)(s + r * 64 + 8 * c), acc[c]);
    }
}

static inline __m256i odd_lanes(__m256i x)
{
    return _mm256_srli_epi64(x, 32);
}

/*
 * The Q16 exponent per 32-bit lane ([Q2]), for d >= 0, with d first clamped to d_zero (see
 * the AVX-512 tier): exact below it, >= Y_ZERO from it on. y(d_zero) < 2^31, so the signed
 * compare against Y_ZERO is right: y(d_zero) <= y(d_zero - 1) + mult / 2^shift + 1, below
 * Y_ZERO + 2^30 + 1 for shift >= 1, and equal to mult < 2^31 for shift = 0 (d_zero = 1).
 */
static inline __m256i exponent(__m256i d, __m256i d_zero, __m256i mult, __m256i half, __m128i shift)
{
    d = _mm256_min_epi32(d, d_zero);
    __m256i pe = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epu32(d, mult), half), shift);
    __m256i po = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epu32(odd_lanes(d), mult), half), shift);
    return _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
}

/* e = 2^-y in Q16 for y < Y_ZERO ([Q3]); the rounding shift as ((P >> 31) + 2^n) >> (n+1),
 * equal to the reference's (P + 2^(31+n)) >> (32+n). */
static inline __m256i exp2_neg(__m256i y)
{
    __m256i n = _mm256_srli_epi32(y, 16);
    __m256i f = _mm256_and_si256(y, _mm256_set1_epi32(0xFFFF));
    __m256i r = _mm256_and_si256(f, _mm256_set1_epi32(0x7FF));
    __m256i x = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_mullo_epi32(r, _mm256_set1_epi32(1453635)), _mm256_set1_epi32(4096)), 13);
    __m256i x16 = _mm256_srli_epi32(x, 8);
    __m256i sq = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_mullo_epi32(x16, x16), _mm256_set1_epi32(256)), 9);
    __m256i poly = _mm256_add_epi32(_mm256_sub_epi32(_mm256_set1_epi32(1 << 24), x), sq);
    __m256i t = _mm256_i32gather_epi32((const int *)qattn_exp2_neg_q24, _mm256_srli_epi32(f, 11), 4);
    __m256i pe = _mm256_mul_epu32(t, poly);
    __m256i po = _mm256_mul_epu32(odd_lanes(t), odd_lanes(poly));
    __m256i a = _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
    __m256i one = _mm256_set1_epi32(1);
    return _mm256_srlv_epi32(_mm256_add_epi32(a, _mm256_sllv_epi32(one, n)), _mm256_add_epi32(n, one));
}

static inline int32_t hmax(__m256i x)
{
    __m128i m = _mm_max_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0x4E));
    m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0xB1));
    return _mm_cvtsi128_si32(m);
}

static inline int32_t hsum(__m256i x)
{
    __m128i m = _mm_add_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    m = _mm_add_epi32(m, _mm_shuffle_epi32(m, 0x4E));
    m = _mm_add_epi32(m, _mm_shuffle_epi32(m, 0xB1));
    return _mm_cvtsi128_si32(m);
}

/* P row layout: e - 32768 as int16 [64]. With a table (exp_table's, e_table), each weight is
 * one gather of the table's entry at its score's difference from the row maximum instead of
 * the exponent arithmetic (about 30 instructions per 8 weights, one of them a gather too). */
static inline int32_t softmax_row(const int32_t *s, int32_t allowed, int32_t m_old,
                                  const qattn_tile_params *p, const uint16_t *table,
                                  void *p_row, int32_t *m_new)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i sv[8], live[8];
    __m256i mx = _mm256_set1_epi32(INT32_MIN);
    for (int c = 0; c < 8; c++) {
        live[c] = _mm256_cmpgt_epi32(_mm256_set1_epi32(allowed - 8 * c), lane);
        sv[c] = _mm256_loadu_si256((const __m256i *)(s + 8 * c));
        mx = _mm256_max_epi32(mx, _mm256_blendv_epi8(_mm256_set1_epi32(INT32_MIN), sv[c], live[c]));
    }
    int32_t tile_max = hmax(mx);
    int32_t m = tile_max > m_old ? tile_max : m_old;
    *m_new = m;

    const __m256i mv = _mm256_set1_epi32(m);
    const __m256i mult = _mm256_set1_epi64x((uint32_t)p->score_mult);
    const __m256i half = _mm256_set1_epi64x(p->score_shift > 0 ? (int64_t)1 << (p->score_shift - 1) : 0);
    const __m128i shift = _mm_cvtsi32_si128(p->score_shift);
    const __m256i d_zero = _mm256_set1_epi32(p->d_zero);
    const __m256i yz = _mm256_set1_epi32(QATTN_EXP_Y_ZERO);
    const __m256i bias = _mm256_set1_epi32(32768);
    const __m256i low16 = _mm256_set1_epi32(0xFFFF);
    int16_t *out = p_row;
    __m256i sum = _mm256_setzero_si256();
    for (int c = 0; c < 8; c += 2) {
        __m256i e2[2];
        for (int h = 0; h < 2; h++) {
            const __m256i dd = _mm256_sub_epi32(mv, sv[c + h]);
            __m256i e;
            if (table) {
                /* a live lane's difference is in [0, INT32_MAX]; past d_zero (and a dead
                 * lane's, whatever it is) reads table[d_zero] = 0; each lane reads its entry
                 * and the next (table[d_zero + 1] exists), keeping the low 16 bits */
                const __m256i at = _mm256_min_epu32(dd, d_zero);
                e = _mm256_and_si256(_mm256_i32gather_epi32((const int *)table, at, 2), low16);
                e = _mm256_and_si256(e, live[c + h]);
            } else {
                __m256i y = exponent(dd, d_zero, mult, half, shift);
                e = _mm256_min_epu32(exp2_neg(y), _mm256_set1_epi32(QATTN_E_MAX));
                __m256i keep = _mm256_and_si256(live[c + h], _mm256_cmpgt_epi32(yz, y));
                e = _mm256_and_si256(e, keep);
            }
            sum = _mm256_add_epi32(sum, e);
            e2[h] = _mm256_sub_epi32(e, bias); /* in [-32768, 32767]: packs exactly */
        }
        __m256i packed = _mm256_permute4x64_epi64(_mm256_packs_epi32(e2[0], e2[1]), 0xD8);
        _mm256_storeu_si256((__m256i *)(out + 8 * c), packed);
    }
    return hsum(sum);
}

static void softmax_rows(const int32_t *s, int32_t rows, const int32_t *allowed,
                         const int32_t *m_old, const qattn_tile_params *p,
                         const uint16_t *e_table, void *p_rows, int32_t *m_new, int32_t *sums)
{
    if (e_table)
        for (int32_t r = 0; r < rows; r++)
            sums[r] = softmax_row(s + r * 64, allowed[r], m_old[r], p, e_table,
                                  (uint8_t *)p_rows + (size_t)r * QATTN_P_ROW_BYTES, &m_new[r]);
    else
        for (int32_t r = 0; r < rows; r++)
            sums[r] = softmax_row(s + r * 64, allowed[r], m_old[r], p, NULL,
                                  (uint8_t *)p_rows + (size_t)r * QATTN_P_ROW_BYTES, &m_new[r]);
}

/* The weights by difference, 8 at a time by softmax_row's arithmetic: d_zero + 2 entries,
 * table[d_zero] = table[d_zero + 1] = 0 (the exponent of d_zero is past Y_ZERO). */
static void exp_table(const qattn_tile_params *p, uint16_t *table)
{
    const __m256i mult = _mm256_set1_epi64x((uint32_t)p->score_mult);
    const __m256i half = _mm256_set1_epi64x(p->score_shift > 0 ? (int64_t)1 << (p->score_shift - 1) : 0);
    const __m128i shift = _mm_cvtsi32_si128(p->score_shift);
    const __m256i d_zero = _mm256_set1_epi32(p->d_zero);
    const __m256i yz = _mm256_set1_epi32(QATTN_EXP_Y_ZERO);
    const int32_t len = p->d_zero + 2;
    __m256i dd = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int32_t i = 0; i < len; i += 8, dd = _mm256_add_epi32(dd, _mm256_set1_epi32(8))) {
        const __m256i y = exponent(dd, d_zero, mult, half, shift);
        __m256i e = _mm256_min_epu32(exp2_neg(y), _mm256_set1_epi32(QATTN_E_MAX));
        e = _mm256_and_si256(e, _mm256_cmpgt_epi32(yz, y));
        int32_t w[8];
        _mm256_storeu_si256((__m256i *)w, e);
        for (int32_t j = 0; j < 8 && i + j < len; j++)
            table[i + j] = (uint16_t)w[j];
    }
}

/* A block of 16 output columns' int32 sums of one row (lo: columns 0-7, hi: 8-15), with
 * 32768 times V's column sums added back (P holds e - 32768), added into the row's int64
 * accumulators. */
static inline void pv_add_block(int64_t *a, const int32_t *vsum, __m256i lo, __m256i hi)
{
    lo = _mm256_add_epi32(lo, _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)vsum), 15));
    hi = _mm256_add_epi32(hi, _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(vsum + 8)), 15));
    const __m256i parts[4] = {
        _mm256_cvtepi32_epi64(_mm256_castsi256_si128(lo)), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(lo, 1)),
        _mm256_cvtepi32_epi64(_mm256_castsi256_si128(hi)), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(hi, 1)),
    };
    for (int q = 0; q < 4; q++) {
        __m256i *at = (__m256i *)(a + 4 * q);
        _mm256_storeu_si256(at, _mm256_add_epi64(_mm256_loadu_si256(at), parts[q]));
    }
}

/* P.V for 6 rows (P rows QATTN_P_ROW_BYTES apart) and the 16 columns from t0: each V pair
 * group loaded once for the 6 rows, each row's weight pair one broadcast from memory, the 12
 * sums in registers (a variable each, pinned by an empty asm: GCC 12 otherwise loads later
 * rows' pairs early and spills sums to the stack, 28 ms instead of 18.5 for base's P.V). */
static inline void pv_6rows(const uint8_t *p_rows, const int16_t *vp, const int32_t *vsum,
                            int32_t d, int32_t t0, int64_t *acc)
{
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
            c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    const uint8_t *e0 = p_rows, *e1 = e0 + QATTN_P_ROW_BYTES, *e2 = e1 + QATTN_P_ROW_BYTES,
                  *e3 = e2 + QATTN_P_ROW_BYTES, *e4 = e3 + QATTN_P_ROW_BYTES,
                  *e5 = e4 + QATTN_P_ROW_BYTES;
    for (int g = 0; g < 32; g++) {
        const int16_t *vg = vp + ((size_t)g * d + t0) * 2;
        const __m256i v0 = _mm256_loadu_si256((const __m256i *)vg);
        const __m256i v1 = _mm256_loadu_si256((const __m256i *)(vg + 16));
#define QATTN_AVX2_PV_ROW(i)                                                                   \
    do {                                                                                       \
        int32_t pair;                                                                          \
        memcpy(&pair, e##i + 4 * g, sizeof pair);                                              \
        const __m256i eb = _mm256_set1_epi32(pair);                                            \
        c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(eb, v0));                        \
        c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(eb, v1));                        \
        __asm__("" : "+x"(c##i##0), "+x"(c##i##1));                                            \
    } while (0)
        QATTN_AVX2_PV_ROW(0);
        QATTN_AVX2_PV_ROW(1);
        QATTN_AVX2_PV_ROW(2);
        QATTN_AVX2_PV_ROW(3);
        QATTN_AVX2_PV_ROW(4);
        QATTN_AVX2_PV_ROW(5);
#undef QATTN_AVX2_PV_ROW
    }
    pv_add_block(acc + t0, vsum + t0, c00, c01);
    pv_add_block(acc + d + t0, vsum + t0, c10, c11);
    pv_add_block(acc + 2 * d + t0, vsum + t0, c20, c21);
    pv_add_block(acc + 3 * d + t0, vsum + t0, c30, c31);
    pv_add_block(acc + 4 * d + t0, vsum + t0, c40, c41);
    pv_add_block(acc + 5 * d + t0, vsum + t0, c50, c51);
}

/* One row, up to 64 columns from t0 (cols a multiple of 16, a constant where inlined): each
 * weight pair broadcast once for all of them (a decoder's step attends one row per call). */
static inline __attribute__((always_inline)) void pv_row(const uint8_t *p_row, const int16_t *vp,
                                                         const int32_t *vsum, int32_t d,
                                                         int32_t t0, int cols, int64_t *acc)
{
    __m256i c[8];
    for (int b = 0; b < cols / 8; b++)
        c[b] = _mm256_setzero_si256();
    for (int g = 0; g < 32; g++) {
        const int16_t *vg = vp + ((size_t)g * d + t0) * 2;
        int32_t pair;
        memcpy(&pair, p_row + 4 * g, sizeof pair);
        const __m256i eb = _mm256_set1_epi32(pair);
        for (int b = 0; b < cols / 8; b++)
            c[b] = _mm256_add_epi32(c[b], _mm256_madd_epi16(eb, _mm256_loadu_si256((const __m256i *)(vg + 16 * b))));
    }
    for (int b = 0; b < cols / 8; b += 2)
        pv_add_block(acc + t0 + 8 * b, vsum + t0 + 8 * b, c[b], c[b + 1]);
}

/* head_dim is a multiple of 16 (attention.h), so the columns go in whole blocks of 16. */
static void pv(const void *p_rows, int32_t rows, const void *packed, int32_t d, int64_t *acc)
{
    const int16_t *vp = (const int16_t *)packed + (size_t)64 * d;
    const int32_t *vsum = (const int32_t *)(vp + (size_t)64 * d);
    const uint8_t *e = p_rows;
    int32_t r = 0;
    for (; r + 6 <= rows; r += 6)
        for (int32_t t0 = 0; t0 < d; t0 += 16)
            pv_6rows(e + (size_t)r * QATTN_P_ROW_BYTES, vp, vsum, d, t0, acc + (size_t)r * d);
    for (; r < rows; r++) {
        const uint8_t *row = e + (size_t)r * QATTN_P_ROW_BYTES;
        int32_t t0 = 0;
        for (; t0 + 64 <= d; t0 += 64)
            pv_row(row, vp, vsum, d, t0, 64, acc + (size_t)r * d);
        for (; t0 < d; t0 += 16)
            pv_row(row, vp, vsum, d, t0, 16, acc + (size_t)r * d);
    }
}

/* floor((x * alpha + 2^15) / 2^16) on int64 lanes. AVX2 has no 64-bit arithmetic shift:
 * shift logically and put the sign bits back. */
static void rescale(int64_t *acc, int32_t n, uint32_t alpha)
{
    const __m256i a = _mm256_set1_epi64x(alpha), round = _mm256_set1_epi64x(32768);
    const __m256i zero = _mm256_setzero_si256();
    for (int32_t t = 0; t < n; t += 4) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(acc + t));
        __m256i hi = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), a);
        __m256i prod = _mm256_add_epi64(_mm256_slli_epi64(hi, 32), _mm256_mul_epu32(x, a));
        prod = _mm256_add_epi64(prod, round);
        __m256i sign = _mm256_cmpgt_epi64(zero, prod);
        __m256i shifted = _mm256_or_si256(_mm256_srli_epi64(prod, 16), _mm256_slli_epi64(sign, 48));
        _mm256_storeu_si256((__m256i *)(acc + t), shifted);
    }
}

const qattn_attn_ukernels qattn_attn_ukernels_avx2 = {
    "avx2", kv_tile_bytes, pack_kv, scores, softmax_rows, exp_table, pv, rescale, NULL, NULL,
};
