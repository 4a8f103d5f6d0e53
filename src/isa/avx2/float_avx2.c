/*
 * Float microkernels for AVX2 (no FMA: the reference rounds each product and each sum), 8
 * floats a vector, each the reference's operations in its order (ops/float_reference.h,
 * core/quantize.h): bit-identical results. Tails run the reference's scalar code.
 */
#include <immintrin.h>
#include <string.h>

#include "core/quantize.h"
#include "ops/float_reference.h"
#include "ops/float_ukernels.h"

static float max_abs(const float *x, size_t n)
{
    const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF);
    __m256i m0 = _mm256_setzero_si256(), m1 = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_epi32(m0, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + i)), magnitude));
        m1 = _mm256_max_epi32(m1, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + i + 8)), magnitude));
    }
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, _mm256_max_epi32(m0, m1));
    int32_t m = 0;
    for (int l = 0; l < 8; l++)
        m = lanes[l] > m ? lanes[l] : m;
    for (; i < n; i++) {
        int32_t b;
        memcpy(&b, x + i, sizeof b);
        b &= 0x7FFFFFFF;
        m = b > m ? b : m;
    }
    float r;
    memcpy(&r, &m, sizeof r);
    return r;
}

/* saturate(rint(x / s)) on 8 lanes as in the AVX-512 tier; NaN -> 0. */
static inline __m256i quantize8(__m256 x, __m256 s)
{
    __m256 r = _mm256_div_ps(x, s);
    __m256 number = _mm256_cmp_ps(r, r, _CMP_ORD_Q);
    __m256 c = _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-128.0f)), _mm256_set1_ps(127.0f));
    return _mm256_and_si256(_mm256_cvtps_epi32(c), _mm256_castps_si256(number));
}

static void quantize(const float *x, size_t n, float scale, int8_t *out)
{
    const __m256 s = _mm256_set1_ps(scale);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i q = quantize8(_mm256_loadu_ps(x + i), s);
        __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        _mm_storel_epi64((__m128i *)(out + i), _mm_packs_epi16(w, w));
    }
    for (; i < n; i++)
        out[i] = qattn_quantize_s8(x[i], scale);
}

/* qattn_gelu_ref on 8 lanes; the clamps and selects compare as the reference's ifs do. */
static inline __m256 gelu8(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f), clamp = _mm256_set1_ps(QATTN_ERF_CLAMP);
    const __m256 low = _mm256_set1_ps(-QATTN_ERF_CLAMP);
    __m256 c = _mm256_mul_ps(x, _mm256_set1_ps(QATTN_SQRT1_2));
    c = _mm256_blendv_ps(c, clamp, _mm256_cmp_ps(c, clamp, _CMP_GT_OQ));
    c = _mm256_blendv_ps(c, low, _mm256_cmp_ps(c, low, _CMP_LT_OQ));
    const __m256 z = _mm256_mul_ps(c, c);
    __m256 p = _mm256_set1_ps(QATTN_ERF_P6);
    p = _mm256_add_ps(_mm256_mul_ps(p, z), _mm256_set1_ps(QATTN_ERF_P5));
    p = _mm256_add_ps(_mm256_mul_ps(p, z), _mm256_set1_ps(QATTN_ERF_P4));
    p = _mm256_add_ps(_mm256_mul_ps(p, z), _mm256_set1_ps(QATTN_ERF_P3));
    p = _mm256_add_ps(_mm256_mul_ps(p, z), _mm256_set1_ps(QATTN_ERF_P2));
    p = _mm256_add_ps(_mm256_mul_ps(p, z), _mm256_set1_ps(QATTN_ERF_P1));
    p = _mm256_add_ps(_mm256_mul_ps(p, z), _mm256_set1_ps(QATTN_ERF_P0));
    __m256 q = _mm256_set1_ps(QATTN_ERF_Q4);
    q = _mm256_add_ps(_mm256_mul_ps(q, z), _mm256_set1_ps(QATTN_ERF_Q3));
    q = _mm256_add_ps(_mm256_mul_ps(q, z), _mm256_set1_ps(QATTN_ERF_Q2));
    q = _mm256_add_ps(_mm256_mul_ps(q, z), _mm256_set1_ps(QATTN_ERF_Q1));
    q = _mm256_add_ps(_mm256_mul_ps(q, z), one);
    __m256 r = _mm256_div_ps(_mm256_mul_ps(c, p), q);
    r = _mm256_blendv_ps(r, one, _mm256_cmp_ps(c, _mm256_set1_ps(QATTN_ERF_ONE_FROM), _CMP_GE_OQ));
    r = _mm256_blendv_ps(r, _mm256_set1_ps(-1.0f),
                         _mm256_cmp_ps(c, _mm256_set1_ps(-QATTN_ERF_ONE_FROM), _CMP_LE_OQ));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(one, r));
}

static void gelu(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++)
        x[i] = qattn_gelu_ref(x[i]);
}

static void gemm_epilogue(const int32_t *acc, size_t n, float sx, const float *scale,
                          const float *bias, float *y)
{
    const __m256 s = _mm256_set1_ps(sx);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 a = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(acc + j)));
        __m256 v = _mm256_mul_ps(a, _mm256_mul_ps(s, _mm256_loadu_ps(scale + j)));
        _mm256_storeu_ps(y + j, bias ? _mm256_add_ps(v, _mm256_loadu_ps(bias + j)) : v);
    }
    for (; j < n; j++)
        y[j] = qattn_gemm_output(acc[j], sx, scale[j], bias ? bias + j : NULL);
}

static inline __m256d widen4(const float *x)
{
    return _mm256_cvtps_pd(_mm_loadu_ps(x));
}

/* The 16 double lanes as four vectors of four: lanes 4k .. 4k + 3 in a[k]. */
static void layer_norm(const float *x, const float *gamma, const float *beta, float *y, int32_t d)
{
    const int32_t full = d - d % QATTN_NORM_LANES;
    double lane[QATTN_NORM_LANES];
    __m256d a[4];
    for (int k = 0; k < 4; k++)
        a[k] = _mm256_setzero_pd();
    for (int32_t t = 0; t < full; t += 16)
        for (int k = 0; k < 4; k++)
            a[k] = _mm256_add_pd(a[k], widen4(x + t + 4 * k));
    for (int k = 0; k < 4; k++)
        _mm256_storeu_pd(lane + 4 * k, a[k]);
    double sum = qattn_norm_fold(lane);
    for (int32_t t = full; t < d; t++)
        sum += x[t];
    const double mean = sum / d;
    const __m256d mv = _mm256_set1_pd(mean);
    for (int k = 0; k < 4; k++)
        a[k] = _mm256_setzero_pd();
    for (int32_t t = 0; t < full; t += 16)
        for (int k = 0; k < 4; k++) {
            __m256d dev = _mm256_sub_pd(widen4(x + t + 4 * k), mv);
            a[k] = _mm256_add_pd(a[k], _mm256_mul_pd(dev, dev));
        }
    for (int k = 0; k < 4; k++)
        _mm256_storeu_pd(lane + 4 * k, a[k]);
    double squares = qattn_norm_fold(lane);
    for (int32_t t = full; t < d; t++) {
        double dev = x[t] - mean;
        squares += dev * dev;
    }
    const float inv = qattn_norm_inv_std(squares, d);
    const __m256 iv = _mm256_set1_ps(inv);
    int32_t t = 0;
    for (; t + 8 <= d; t += 8) {
        __m128 lo = _mm256_cvtpd_ps(_mm256_sub_pd(widen4(x + t), mv));
        __m128 hi = _mm256_cvtpd_ps(_mm256_sub_pd(widen4(x + t + 4), mv));
        __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_set_m128(hi, lo), iv), _mm256_loadu_ps(gamma + t));
        _mm256_storeu_ps(y + t, _mm256_add_ps(v, _mm256_loadu_ps(beta + t)));
    }
    for (; t < d; t++)
        y[t] = qattn_norm_output(x[t], mean, inv, gamma[t], beta[t]);
}

const qattn_float_ukernels qattn_float_ukernels_avx2 = {
    "avx2", max_abs, quantize, gelu, gemm_epilogue, layer_norm,
};
