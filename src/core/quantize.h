/* The rounding rule of float -> int8 quantization, shared by every caller in the library. */
#ifndef QATTN_CORE_QUANTIZE_H
#define QATTN_CORE_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Round to nearest, ties to even, independent of the floating-point rounding mode. */
double qattn_round_half_even(double x);

/* saturate(round_half_even(x / scale)); NaN -> 0. */
int8_t qattn_quantize_one(double x, double scale);

/* saturate(round_half_even(r)) for an already scaled float; NaN -> 0. Adding and subtracting
 * 1.5 * 2^23 rounds a float below 2^22 in magnitude to an integer in the default rounding
 * mode without a library call, so loops over it vectorize; the library assumes that mode, as
 * every C program starts in. */
static inline int8_t qattn_round_s8(float r)
{
    if (!(r < 127.0f))
        return r != r ? 0 : 127;
    if (r <= -128.0f)
        return -128;
    float t = r + 12582912.0f;
    return (int8_t)(int32_t)(t - 12582912.0f);
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
