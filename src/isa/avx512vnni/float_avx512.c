/*
 * Float microkernels for AVX-512 (F, BW, VL), 16 floats a vector, each the reference's
 * operations in its order (ops/float_reference.h, core/quantize.h): bit-identical results.
 * Tails go through masked loads and stores (no read or write past n).
 */
#include <float.h>
#include <immintrin.h>
#include <string.h>

#include "core/quantize.h"
#include "ops/float_reference.h"
#include "ops/float_ukernels.h"

static inline __mmask16 first_lanes(size_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

/* Sign bits cleared, the magnitudes compared as int32 (qattn_max_abs's order). */
static float max_abs(const float *x, size_t n)
{
    const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF);
    __m512i m0 = _mm512_setzero_si512(), m1 = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm512_max_epi32(m0, _mm512_and_si512(_mm512_loadu_si512(x + i), magnitude));
        m1 = _mm512_max_epi32(m1, _mm512_and_si512(_mm512_loadu_si512(x + i + 16), magnitude));
    }
    for (; i < n; i += 16) {
        __m512i v = _mm512_maskz_loadu_epi32(first_lanes(n - i), x + i);
        m0 = _mm512_max_epi32(m0, _mm512_and_si512(v, magnitude));
    }
    int32_t m = _mm512_reduce_max_epi32(_mm512_max_epi32(m0, m1));
    float r;
    memcpy(&r, &m, sizeof r);
    return r;
}

/* saturate(rint(x / s)): the IEEE quotient, clamped to [-128, 127] (rint of a clamped value
 * is the saturated rint), rounded to nearest even by the conversion; NaN -> 0. */
static inline __m512i quantize16(__m512 x, __m512 s)
{
    __m512 r = _mm512_div_ps(x, s);
    __mmask16 number = _mm512_cmp_ps_mask(r, r, _CMP_ORD_Q);
    __m512 c = _mm512_min_ps(_mm512_max_ps(r, _mm512_set1_ps(-128.0f)), _mm512_set1_ps(127.0f));
    return _mm512_maskz_cvtps_epi32(number, c);
}

/*
 * The same integers with the quotient taken as a product, r = x * (1/s), where that cannot
 * change them. 1/s is rounded once and r once, so r is within 1.5 ulp of x/s (and of the
 * reference's rounded quotient q = fl(x/s)); r and q round to different integers only if a
 * half-integer lies between them or on one of them, so only where r is within a few ulps of
 * one. |r| < 256 matters (beyond it both saturate), where an ulp is at most 2^-15: a lane
 * whose |r - rint(r)| exceeds 0.5 - 2^-12 is redone by division (about one lane in 2000).
 * Infinite r saturates as the quotient does; NaN r (x NaN) gives 0. Checked against the
 * reference on all 2^32 float inputs for three scales (a one-off run), and in test_float_ops
 * at and around every half-integer quotient for 40 scales.
 */
static inline __m512i quantize16_by_product(__m512 x, __m512 s, __m512 inverse)
{
    __m512 r = _mm512_mul_ps(x, inverse);
    __m512 off = _mm512_sub_ps(r, _mm512_roundscale_ps(r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __mmask16 near_half = _mm512_cmp_ps_mask(_mm512_abs_ps(off), _mm512_set1_ps(0.5f - 0x1p-12f), _CMP_GT_OQ);
    if (near_half)
        r = _mm512_mask_div_ps(r, near_half, x, s);
    /* below -128 (down to -inf) the conversion gives INT32_MIN and the packing saturates it
     * to -128, as the reference's clamp; above 127 it must be clamped before converting */
    __mmask16 number = _mm512_cmp_ps_mask(r, r, _CMP_ORD_Q);
    return _mm512_maskz_cvtps_epi32(number, _mm512_min_ps(r, _mm512_set1_ps(127.0f)));
}

static void quantize(const float *x, size_t n, float scale, int8_t *out)
{
    const __m512 s = _mm512_set1_ps(scale);
    const float inverse = 1.0f / scale;
    size_t i = 0;
    if (scale >= FLT_MIN && inverse <= FLT_MAX) { /* 1/s a normal float: the product path */
        const __m512 inv = _mm512_set1_ps(inverse);
        /* 64 at a time: two saturating packs and one permute instead of 4 vpmovsdb (2 uops
         * each); the packs interleave 128-bit lanes, the permute puts them back in order */
        const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        for (; i + 64 <= n; i += 64) {
            __m512i a = quantize16_by_product(_mm512_loadu_ps(x + i), s, inv);
            __m512i b = quantize16_by_product(_mm512_loadu_ps(x + i + 16), s, inv);
            __m512i c = quantize16_by_product(_mm512_loadu_ps(x + i + 32), s, inv);
            __m512i d = quantize16_by_product(_mm512_loadu_ps(x + i + 48), s, inv);
            __m512i bytes = _mm512_packs_epi16(_mm512_packs_epi32(a, b), _mm512_packs_epi32(c, d));
            _mm512_storeu_si512(out + i, _mm512_permutexvar_epi32(order, bytes));
        }
        for (; i + 16 <= n; i += 16)
            _mm_storeu_si128((__m128i *)(out + i),
                             _mm512_cvtsepi32_epi8(quantize16_by_product(_mm512_loadu_ps(x + i), s, inv)));
        if (i < n) {
            __mmask16 k = first_lanes(n - i);
            _mm512_mask_cvtsepi32_storeu_epi8(out + i, k, quantize16_by_product(_mm512_maskz_loadu_ps(k, x + i), s, inv));
        }
        return;
    }
    for (; i + 16 <= n; i += 16)
        _mm_storeu_si128((__m128i *)(out + i), _mm512_cvtsepi32_epi8(quantize16(_mm512_loadu_ps(x + i), s)));
    if (i < n) {
        __mmask16 k = first_lanes(n - i);
        _mm512_mask_cvtsepi32_storeu_epi8(out + i, k, quantize16(_mm512_maskz_loadu_ps(k, x + i), s));
    }
}

/* qattn_gelu_ref on 16 lanes. The clamps and selects compare as the reference's ifs do (a
 * NaN stays NaN). */
static inline __m512 gelu16(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f), clamp = _mm512_set1_ps(QATTN_ERF_CLAMP);
    const __m512 one_from = _mm512_set1_ps(QATTN_ERF_ONE_FROM);
    __m512 c = _mm512_mul_ps(x, _mm512_set1_ps(QATTN_SQRT1_2));
    c = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(c, clamp, _CMP_GT_OQ), c, clamp);
    const __m512 low = _mm512_sub_ps(_mm512_setzero_ps(), clamp);
    c = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(c, low, _CMP_LT_OQ), c, low);
    const __m512 z = _mm512_mul_ps(c, c);
    __m512 p = _mm512_set1_ps(QATTN_ERF_P6);
    p = _mm512_add_ps(_mm512_mul_ps(p, z), _mm512_set1_ps(QATTN_ERF_P5));
    p = _mm512_add_ps(_mm512_mul_ps(p, z), _mm512_set1_ps(QATTN_ERF_P4));
    p = _mm512_add_ps(_mm512_mul_ps(p, z), _mm512_set1_ps(QATTN_ERF_P3));
    p = _mm512_add_ps(_mm512_mul_ps(p, z), _mm512_set1_ps(QATTN_ERF_P2));
    p = _mm512_add_ps(_mm512_mul_ps(p, z), _mm512_set1_ps(QATTN_ERF_P1));
    p = _mm512_add_ps(_mm512_mul_ps(p, z), _mm512_set1_ps(QATTN_ERF_P0));
    __m512 q = _mm512_set1_ps(QATTN_ERF_Q4);
    q = _mm512_add_ps(_mm512_mul_ps(q, z), _mm512_set1_ps(QATTN_ERF_Q3));
    q = _mm512_add_ps(_mm512_mul_ps(q, z), _mm512_set1_ps(QATTN_ERF_Q2));
    q = _mm512_add_ps(_mm512_mul_ps(q, z), _mm512_set1_ps(QATTN_ERF_Q1));
    q = _mm512_add_ps(_mm512_mul_ps(q, z), one);
    /* The quotient without vdivps (a third of this function's time): a 14-bit reciprocal,
     * one Newton step, the product and one residual correction (Markstein's scheme: Cornea,
     * Harrison, Tang, "Scientific Computing on Itanium-based Systems", 2002). q is in
     * [1, 167] here; the result equals the IEEE quotient for every one of the 2^32 float
     * inputs (checked once by running both; test_float_ops sweeps 1 in 251 of them). */
    const __m512 a = _mm512_mul_ps(c, p);
    __m512 y = _mm512_rcp14_ps(q);
    y = _mm512_fmadd_ps(y, _mm512_fnmadd_ps(q, y, one), y);
    const __m512 q0 = _mm512_mul_ps(a, y);
    __m512 r = _mm512_fmadd_ps(_mm512_fnmadd_ps(q0, q, a), y, q0);
    r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(c, one_from, _CMP_GE_OQ), r, one);
    const __m512 minus_one_from = _mm512_sub_ps(_mm512_setzero_ps(), one_from);
    r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(c, minus_one_from, _CMP_LE_OQ), r,
                             _mm512_sub_ps(_mm512_setzero_ps(), one));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(one, r));
}

static void gelu(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, gelu16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 k = first_lanes(n - i);
        _mm512_mask_storeu_ps(x + i, k, gelu16(_mm512_maskz_loadu_ps(k, x + i)));
    }
}

static void gemm_epilogue(const int32_t *acc, size_t n, float sx, const float *scale,
                          const float *bias, float *y)
{
    const __m512 s = _mm512_set1_ps(sx);
    for (size_t j = 0; j < n; j += 16) {
        __mmask16 k = first_lanes(n - j);
        __m512 a = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(k, acc + j));
        __m512 v = _mm512_mul_ps(a, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(k, scale + j)));
        if (bias)
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, bias + j));
        _mm512_mask_storeu_ps(y + j, k, v);
    }
}

/* x[t .. t + 7] as doubles */
static inline __m512d widen8(const float *x)
{
    return _mm512_cvtps_pd(_mm256_loadu_ps(x));
}

static void layer_norm(const float *x, const float *gamma, const float *beta, float *y, int32_t d)
{
    const int32_t full = d - d % QATTN_NORM_LANES;
    double lane[QATTN_NORM_LANES];
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    for (int32_t t = 0; t < full; t += 16) {
        a0 = _mm512_add_pd(a0, widen8(x + t));
        a1 = _mm512_add_pd(a1, widen8(x + t + 8));
    }
    _mm512_storeu_pd(lane, a0), _mm512_storeu_pd(lane + 8, a1);
    double sum = qattn_norm_fold(lane);
    for (int32_t t = full; t < d; t++)
        sum += x[t];
    const double mean = sum / d;
    const __m512d mv = _mm512_set1_pd(mean);
    a0 = a1 = _mm512_setzero_pd();
    for (int32_t t = 0; t < full; t += 16) {
        __m512d d0 = _mm512_sub_pd(widen8(x + t), mv), d1 = _mm512_sub_pd(widen8(x + t + 8), mv);
        a0 = _mm512_add_pd(a0, _mm512_mul_pd(d0, d0));
        a1 = _mm512_add_pd(a1, _mm512_mul_pd(d1, d1));
    }
    _mm512_storeu_pd(lane, a0), _mm512_storeu_pd(lane + 8, a1);
    double squares = qattn_norm_fold(lane);
    for (int32_t t = full; t < d; t++) {
        double dev = x[t] - mean;
        squares += dev * dev;
    }
    const float inv = qattn_norm_inv_std(squares, d);
    const __m512 iv = _mm512_set1_ps(inv);
    int32_t t = 0;
    for (; t + 16 <= d; t += 16) {
        __m256 lo = _mm512_cvtpd_ps(_mm512_sub_pd(widen8(x + t), mv));
        __m256 hi = _mm512_cvtpd_ps(_mm512_sub_pd(widen8(x + t + 8), mv));
        __m512 dev = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)),
                                                         _mm256_castps_pd(hi), 1));
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(dev, iv), _mm512_loadu_ps(gamma + t));
        _mm512_storeu_ps(y + t, _mm512_add_ps(v, _mm512_loadu_ps(beta + t)));
    }
    for (; t < d; t++)
        y[t] = qattn_norm_output(x[t], mean, inv, gamma[t], beta[t]);
}

const qattn_float_ukernels qattn_float_ukernels_avx512 = {
    "avx512", max_abs, quantize, gelu, gemm_epilogue, layer_norm,
};
