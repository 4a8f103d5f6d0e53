/*
 * The float operations of a Whisper layer. LayerNorm, GELU, max-abs and quantization run row
 * by row on the active tier's float microkernels (ops/float_ukernels.h), every tier the bits
 * of one reference (ops/float_reference.h). Row loops run in parallel over `threads`
 * (0: one per CPU); rows are independent, so results do not depend on the thread count.
 */
#ifndef QATTN_OPS_FLOAT_OPS_H
#define QATTN_OPS_FLOAT_OPS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* y[i] = (x[i] - mean) / sqrt(var + 1e-5) * gamma + beta over each of m rows of d (the mean
 * and the biased variance in double over 16 lanes, as torch's LayerNorm in float32 is within
 * rounding of). */
void qattn_layer_norm(const float *x, const float *gamma, const float *beta, float *y, int32_t m,
                      int32_t d, int32_t threads);

/* x = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) in place over m rows of n (torch's exact GELU;
 * erf by a rational fit within 1.5e-6 of libm's, exactly +-1 past |x| = 3.6 sqrt 2). */
void qattn_gelu(float *x, int32_t m, int32_t n, int32_t threads);

/*
 * e^x for x <= 0 (softmax arguments), vectorizable: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite
 * split of ln2), e^r by a degree-6 polynomial fitted for this project (relative error 1e-7 in
 * float32), 2^n from the exponent bits. x below -87 (-inf too) is clamped (e^-87 ~ 1.6e-38,
 * and the row maximum contributes 1 to each sum). Plain C compiled once for every machine:
 * the same bits on every tier.
 */
static inline float qattn_exp_nonpositive(float x)
{
    if (x < -87.0f)
        x = -87.0f;
    float n = x * 1.44269504088896341f + 12582912.0f; /* round to nearest */
    n -= 12582912.0f;
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187e-06f;
    float p = 0.00138248f;
    p = p * r + 0.00837155f;
    p = p * r + 0.04166823f;
    p = p * r + 0.16666461f;
    p = p * r + 0.49999993f;
    p = p * r + 1.00000003f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* Each of m rows of n (ld floats apart) becomes its softmax, in place (e^x within 1e-7
 * relative of libm's). */
void qattn_softmax_rows(float *s, int32_t m, int32_t n, ptrdiff_t ld, int32_t threads);

/* x += y over n floats. */
void qattn_add(float *x, const float *y, size_t n);

/* The index of the first NaN or infinity in x[0, n), or n if there is none. */
size_t qattn_first_non_finite(const float *x, size_t n);

/* max |x| over a rows x cols block (rows ld floats apart). */
float qattn_max_abs_block(const float *x, int32_t rows, int32_t cols, ptrdiff_t ld);

/* The block scale for a max-abs: amax / 127, or 1 for an all-zero block. */
float qattn_scale_for_max_abs(float amax);

/* out[r][c] (cols apart) = the library's rounding of x / scale (core/quantize.h). */
void qattn_quantize_block_at(const float *x, int32_t rows, int32_t cols, ptrdiff_t ld,
                             float scale, int8_t *out);

/* One max-abs scale for a rows x cols block of x (rows ld floats apart): scale =
 * max|x| / 127 (1 for an all-zero block), out[r][c] (cols apart) = the library's rounding of
 * x / scale (core/quantize.h). Returns the scale. */
float qattn_quantize_block(const float *x, int32_t rows, int32_t cols, ptrdiff_t ld, int8_t *out);

/* out[r * ld + c] = q[r * cols + c] * scale. */
void qattn_dequantize_block(const int8_t *q, int32_t rows, int32_t cols, float scale, float *out,
                            ptrdiff_t ld);

#endif
