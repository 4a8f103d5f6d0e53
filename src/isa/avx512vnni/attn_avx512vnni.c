/*
 * Attention microkernels for AVX-512 (F, BW, VL) with VNNI. Compiled with those flags only;
 * called only when the dispatch found them on the CPU and enabled by the OS.
 *
 * vpdpbusd multiplies u8 by s8: the scores are the shared int8 panel kernel (q offset by 128,
 * key sums subtracted); for P.V the 16-bit weights go in as their two bytes,
 * e = 256 e_hi + e_lo, and v is the s8 operand. Both are exact.
 */
#include <immintrin.h>
#include <string.h>

#include "attn/ukernels.h"
#include "isa/avx512vnni/panel_s8.h"

/* Packed key tile at head_dim d: K as one panel of panel_s8.h ([d/4][64][4] and the 64 key
 * sums), then V as [16][d][4] (v[4g .. 4g+3][t]). */
static size_t kv_tile_bytes(int32_t d)
{
    return panel_bytes(d) + (size_t)64 * d;
}

static void pack_kv(const int8_t *k, const int8_t *v, ptrdiff_t stride, int32_t first,
                    int32_t keys, int32_t d, void *packed)
{
    const int32_t end = first == 0 ? 64 : keys; /* a whole tile zeroes its absent keys */
    panel_pack_columns(k, stride, first, end, keys, d, packed);
    int8_t *vp = (int8_t *)packed + panel_bytes(d);
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

/* The packed K tile is one 64-column panel of panel_s8.h: QK^T is its kernel. */
static void scores(const int8_t *q, ptrdiff_t q_stride, int32_t rows, const void *packed,
                   int32_t d, int32_t *s)
{
    int32_t r = 0;
    for (; r + 4 <= rows; r += 4)
        panel_rows(q + r * q_stride, q_stride, 4, packed, d, s + r * 64, 64, 64);
    for (; r < rows; r++)
        panel_rows(q + r * q_stride, q_stride, 1, packed, d, s + r * 64, 64, 64);
}

/* 64-bit lanes hold the even 32-bit lanes in their low halves; odd lanes via a shift. */
static inline __m512i odd_lanes(__m512i x)
{
    return _mm512_srli_epi64(x, 32);
}

/*
 * The Q16 exponent per 32-bit lane ([Q2]), for d >= 0. d is first clamped to d_zero, the
 * first difference whose exponent reaches Y_ZERO: below it y is the reference's exactly,
 * from it on y >= Y_ZERO (e = 0 either way), and y(d_zero) < 2^32 fits the lane.
 */
static inline __m512i exponent(__m512i d, __m512i d_zero, __m512i mult, __m512i half, __m128i shift)
{
    d = _mm512_min_epi32(d, d_zero);
    __m512i pe = _mm512_srl_epi64(_mm512_add_epi64(_mm512_mul_epu32(d, mult), half), shift);
    __m512i po = _mm512_srl_epi64(_mm512_add_epi64(_mm512_mul_epu32(odd_lanes(d), mult), half), shift);
    return _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
}

/*
 * e = 2^-y in Q16 for y < Y_ZERO ([Q3]). The reference's rounding shift of the 48-bit
 * product P, (P + 2^(31+n)) >> (32+n), equals ((P >> 31) + 2^n) >> (n+1) (nested floors),
 * and P >> 31 < 2^17 fits a 32-bit lane: one 64-bit shift per half, then 32-bit shifts.
 */
static inline __m512i exp2_neg(__m512i y, __m512i tab_lo, __m512i tab_hi)
{
    __m512i n = _mm512_srli_epi32(y, 16);
    __m512i f = _mm512_and_si512(y, _mm512_set1_epi32(0xFFFF));
    __m512i r = _mm512_and_si512(f, _mm512_set1_epi32(0x7FF));
    __m512i x = _mm512_srli_epi32(
        _mm512_add_epi32(_mm512_mullo_epi32(r, _mm512_set1_epi32(1453635)), _mm512_set1_epi32(4096)), 13);
    __m512i x16 = _mm512_srli_epi32(x, 8);
    __m512i sq = _mm512_srli_epi32(
        _mm512_add_epi32(_mm512_mullo_epi32(x16, x16), _mm512_set1_epi32(256)), 9);
    __m512i poly = _mm512_add_epi32(_mm512_sub_epi32(_mm512_set1_epi32(1 << 24), x), sq);
    __m512i t = _mm512_permutex2var_epi32(tab_lo, _mm512_srli_epi32(f, 11), tab_hi);
    __m512i pe = _mm512_mul_epu32(t, poly);
    __m512i po = _mm512_mul_epu32(odd_lanes(t), odd_lanes(poly));
    /* P >> 31: even lanes in the low halves, odd lanes (P << 1) in the high halves */
    __m512i a = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
    __m512i one = _mm512_set1_epi32(1);
    return _mm512_srlv_epi32(_mm512_add_epi32(a, _mm512_sllv_epi32(one, n)), _mm512_add_epi32(n, one));
}

/* P row layout: e_lo[64] bytes, then e_hi[64] bytes. */
static int32_t softmax_row(const int32_t *s, int32_t allowed, int32_t m_old,
                           const qattn_tile_params *p, void *p_row, int32_t *m_new)
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
    const __m512i mult = _mm512_set1_epi64((uint32_t)p->score_mult);
    const __m512i half = _mm512_set1_epi64(p->score_shift > 0 ? (int64_t)1 << (p->score_shift - 1) : 0);
    const __m128i shift = _mm_cvtsi32_si128(p->score_shift);
    const __m512i d_zero = _mm512_set1_epi32(p->d_zero);
    const __m512i tab_lo = _mm512_loadu_si512(qattn_exp2_neg_q24);
    const __m512i tab_hi = _mm512_loadu_si512(qattn_exp2_neg_q24 + 16);
    uint8_t *lo = p_row, *hi = lo + 64;
    __m512i sum = _mm512_setzero_si512();
    for (int c = 0; c < 4; c++) {
        __m512i y = exponent(_mm512_sub_epi32(mv, sv[c]), d_zero, mult, half, shift);
        __m512i e = _mm512_min_epu32(exp2_neg(y, tab_lo, tab_hi), _mm512_set1_epi32(QATTN_E_MAX));
        __mmask16 keep = live[c] & _mm512_cmplt_epu32_mask(y, _mm512_set1_epi32(QATTN_EXP_Y_ZERO));
        e = _mm512_maskz_mov_epi32(keep, e);
        sum = _mm512_add_epi32(sum, e);
        _mm_storeu_si128((__m128i *)(lo + 16 * c), _mm512_cvtepi32_epi8(_mm512_and_si512(e, _mm512_set1_epi32(0xFF))));
        _mm_storeu_si128((__m128i *)(hi + 16 * c), _mm512_cvtepi32_epi8(_mm512_srli_epi32(e, 8)));
    }
    return _mm512_reduce_add_epi32(sum);
}

/* Adds a tile's int32 sums for 16 output columns into their int64 accumulators. */
static inline void add_to_acc(int64_t *a, __m512i sum)
{
    _mm512_storeu_si512(a, _mm512_add_epi64(_mm512_loadu_si512(a),
                                            _mm512_cvtepi32_epi64(_mm512_castsi512_si256(sum))));
    _mm512_storeu_si512(a + 8, _mm512_add_epi64(_mm512_loadu_si512(a + 8),
                                                _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(sum, 1))));
}

/* nc (1..4) blocks of 16 output columns from t0 on, for one row; inlined with a constant nc
 * so the accumulators stay in registers and the inner loop has no branches. */
static inline __attribute__((always_inline)) void pv_columns(const uint8_t *lo, const uint8_t *hi,
                                                             const int8_t *vp, int32_t d,
                                                             int32_t t0, int nc, int64_t *acc)
{
    __m512i acc_lo[4], acc_hi[4];
    for (int c = 0; c < nc; c++)
        acc_lo[c] = acc_hi[c] = _mm512_setzero_si512();
    for (int g = 0; g < 16; g++) {
        __m512i blo = broadcast4(lo + 4 * g), bhi = broadcast4(hi + 4 * g);
        for (int c = 0; c < nc; c++) {
            __m512i vv = _mm512_loadu_si512(vp + ((size_t)g * d + t0 + 16 * c) * 4);
            acc_lo[c] = _mm512_dpbusd_epi32(acc_lo[c], blo, vv);
            acc_hi[c] = _mm512_dpbusd_epi32(acc_hi[c], bhi, vv);
        }
    }
    for (int c = 0; c < nc; c++)
        add_to_acc(acc + t0 + 16 * c, _mm512_add_epi32(_mm512_slli_epi32(acc_hi[c], 8), acc_lo[c]));
}

static void pv(const void *p_rows, int32_t rows, const void *packed, int32_t d, int64_t *acc)
{
    const int8_t *vp = (const int8_t *)packed + panel_bytes(d);
    for (int32_t r = 0; r < rows; r++) {
        const uint8_t *lo = (const uint8_t *)p_rows + (size_t)r * QATTN_P_ROW_BYTES, *hi = lo + 64;
        int64_t *acc_row = acc + (size_t)r * d;
        int32_t t0 = 0;
        for (; t0 + 64 <= d; t0 += 64)
            pv_columns(lo, hi, vp, d, t0, 4, acc_row);
        switch ((d - t0) / 16) {
        case 3: pv_columns(lo, hi, vp, d, t0, 3, acc_row); break;
        case 2: pv_columns(lo, hi, vp, d, t0, 2, acc_row); break;
        case 1: pv_columns(lo, hi, vp, d, t0, 1, acc_row); break;
        default: break;
        }
    }
}

/* floor((x * alpha + 2^15) / 2^16) on int64 lanes: the product from 32-bit halves (exact
 * mod 2^64, and the true value is below 2^62), then an arithmetic shift (floor). */
static void rescale(int64_t *acc, int32_t n, uint32_t alpha)
{
    const __m512i a = _mm512_set1_epi64(alpha), round = _mm512_set1_epi64(32768);
    for (int32_t t = 0; t < n; t += 8) {
        __m512i x = _mm512_loadu_si512(acc + t);
        __m512i hi = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), a);
        __m512i prod = _mm512_add_epi64(_mm512_slli_epi64(hi, 32), _mm512_mul_epu32(x, a));
        _mm512_storeu_si512(acc + t, _mm512_srai_epi64(_mm512_add_epi64(prod, round), 16));
    }
}

const qattn_attn_ukernels qattn_attn_ukernels_avx512vnni = {
    "avx512vnni", kv_tile_bytes, pack_kv, scores, softmax_row, pv, rescale,
};
