/*
 * The library's one rule for float -> int8 quantization, used by every caller (the public
 * qattn_quantize_f32, the float attention entry, the GEMM's activations and weights, the
 * encoder's attention inputs):
 *
 *   q = saturate(round_half_even(x / scale)), the quotient an IEEE float32 division,
 *
 * what numpy and torch compute for float32 `x / scale` followed by rint. (A multiply by a
 * rounded reciprocal, or a division in double, disagrees with it at a few inputs per million
 * that sit next to a tie.) Float division vectorizes at the baseline ISA.
 */
#ifndef QATTN_CORE_QUANTIZE_H
#define QATTN_CORE_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* saturate(round_half_even(r)) for an already divided float; NaN -> 0. Adding and
 * subtracting 1.5 * 2^23 rounds a float below 2^22 in magnitude to an integer in the default
 * rounding mode without a library call, so loops over it vectorize; the library assumes that
 * mode, as every C program starts in. */
static inline int8_t qattn_round_s8(float r)
{
    if (!(r < 127.0f))
        return r != r ? 0 : 127;
    if (r <= -128.0f)
        return -128;
    float t = r + 12582912.0f;
    return (int8_t)(int32_t)(t - 12582912.0f);
}

/* The same rounding for the 16-bit activations of the GEMM (gemm/gemm.h, x_bits), saturated
 * to [-limit, limit] (limit < 2^22); NaN -> 0. */
static inline int16_t qattn_round_s16(float r, int32_t limit)
{
    if (!(r < (float)limit))
        return r != r ? 0 : (int16_t)limit;
    if (r <= -(float)limit)
        return (int16_t)-limit;
    float t = r + 12582912.0f;
    return (int16_t)(int32_t)(t - 12582912.0f);
}

/* The rule: saturate(round_half_even(x / scale)); scale finite and > 0. */
static inline int8_t qattn_quantize_s8(float x, float scale)
{
    return qattn_round_s8(x / scale);
}

/* max |x[i]| over n finite floats. The magnitudes compare as their bit patterns (sign bit
 * cleared, as non-negative int32), which vectorizes at the baseline ISA; fmaxf is a call. */
static inline float qattn_max_abs(const float *x, size_t n)
{
    int32_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t b;
        memcpy(&b, &x[i], sizeof b);
        b &= 0x7FFFFFFF;
        m = b > m ? b : m;
    }
    float r;
    memcpy(&r, &m, sizeof r);
    return r;
}

#endif
