/*
 * The arithmetic of the float microkernels (ops/float_ukernels.h), one definition each, as
 * inline functions and constants every tier uses: a tier evaluates the same IEEE float
 * operations in the same order (no contraction: the library builds with -ffp-contract=off),
 * so its results are these bits exactly.
 */
#ifndef QATTN_OPS_FLOAT_REFERENCE_H
#define QATTN_OPS_FLOAT_REFERENCE_H

#include <math.h>
#include <stdint.h>

/*
 * erf(x) = x P(x^2) / Q(x^2) on |x| < 3.6, and +-1 beyond (erf(3.6) = 1 - 3.6e-7): a rational
 * fit made for this project (least squares with Loeb's reweighting), within 1.5e-6 of libm's
 * erf in float32 (test_float_ops measures it). The argument is first clamped to [-4, 4] (the
 * fit drifts to 1.9e-6 at 4; its value there, 1 - 1.7e-6, once made GELU(-12) = 1e-5).
 */
#define QATTN_ERF_CLAMP 4.0f
#define QATTN_ERF_ONE_FROM 3.6f
#define QATTN_ERF_P6 1.96679305e-08f
#define QATTN_ERF_P5 -1.97751571e-06f
#define QATTN_ERF_P4 1.48224583e-04f
#define QATTN_ERF_P3 3.96561788e-03f
#define QATTN_ERF_P2 5.13860058e-02f
#define QATTN_ERF_P1 2.06113619e-01f
#define QATTN_ERF_P0 1.12837882e+00f
#define QATTN_ERF_Q4 1.02047e-03f
#define QATTN_ERF_Q3 1.488066e-02f
#define QATTN_ERF_Q2 1.1755334e-01f
#define QATTN_ERF_Q1 5.159926e-01f
#define QATTN_SQRT1_2 0.70710678118654752f

static inline float qattn_erf_ref(float x)
{
    float c = x;
    if (c > QATTN_ERF_CLAMP)
        c = QATTN_ERF_CLAMP;
    if (c < -QATTN_ERF_CLAMP)
        c = -QATTN_ERF_CLAMP;
    float z = c * c;
    float p = QATTN_ERF_P6;
    p = p * z + QATTN_ERF_P5; /* each step a product, then a sum: two roundings */
    p = p * z + QATTN_ERF_P4;
    p = p * z + QATTN_ERF_P3;
    p = p * z + QATTN_ERF_P2;
    p = p * z + QATTN_ERF_P1;
    p = p * z + QATTN_ERF_P0;
    float q = QATTN_ERF_Q4;
    q = q * z + QATTN_ERF_Q3;
    q = q * z + QATTN_ERF_Q2;
    q = q * z + QATTN_ERF_Q1;
    q = q * z + 1.0f;
    float r = c * p / q;
    r = c >= QATTN_ERF_ONE_FROM ? 1.0f : r;
    return c <= -QATTN_ERF_ONE_FROM ? -1.0f : r;
}

/* GELU(x) = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (torch's exact GELU), as (0.5 x)(1 + erf). */
static inline float qattn_gelu_ref(float x)
{
    return 0.5f * x * (1.0f + qattn_erf_ref(x * QATTN_SQRT1_2));
}

/*
 * LayerNorm's sums run in double over 16 lanes (lane l takes x[16 i + l]), folded in halves
 * (l[i] += l[i + 8], then + 4, + 2, + 1), the d % 16 tail added after in order: a sum every
 * vector width up to 16 lanes computes in the same order. The epsilon is torch's default.
 */
#define QATTN_NORM_LANES 16
#define QATTN_NORM_EPS 1e-5

static inline double qattn_norm_fold(double lane[QATTN_NORM_LANES])
{
    for (int w = QATTN_NORM_LANES / 2; w >= 1; w /= 2)
        for (int i = 0; i < w; i++)
            lane[i] += lane[i + w];
    return lane[0];
}

/* 1 / sqrt(var + eps) rounded to float, from the folded sum of squared deviations. */
static inline float qattn_norm_inv_std(double squares, int32_t d)
{
    return (float)(1.0 / sqrt(squares / d + QATTN_NORM_EPS));
}

/* One LayerNorm output: (float)(x - mean) * inv * gamma + beta. */
static inline float qattn_norm_output(float x, double mean, float inv, float gamma, float beta)
{
    return (float)(x - mean) * inv * gamma + beta;
}

/* y[t] = qattn_norm_output(x[t], ...), mean and variance as above. */
static inline void qattn_layer_norm_row_ref(const float *x, const float *gamma, const float *beta,
                                            float *y, int32_t d)
{
    const int32_t full = d - d % QATTN_NORM_LANES;
    double lane[QATTN_NORM_LANES] = {0};
    for (int32_t t = 0; t < full; t += QATTN_NORM_LANES)
        for (int l = 0; l < QATTN_NORM_LANES; l++)
            lane[l] += x[t + l];
    double sum = qattn_norm_fold(lane);
    for (int32_t t = full; t < d; t++)
        sum += x[t];
    const double mean = sum / d;
    for (int l = 0; l < QATTN_NORM_LANES; l++)
        lane[l] = 0.0;
    for (int32_t t = 0; t < full; t += QATTN_NORM_LANES)
        for (int l = 0; l < QATTN_NORM_LANES; l++) {
            double dev = x[t + l] - mean;
            lane[l] += dev * dev;
        }
    double squares = qattn_norm_fold(lane);
    for (int32_t t = full; t < d; t++) {
        double dev = x[t] - mean;
        squares += dev * dev;
    }
    const float inv = qattn_norm_inv_std(squares, d);
    for (int32_t t = 0; t < d; t++)
        y[t] = qattn_norm_output(x[t], mean, inv, gamma[t], beta[t]);
}

/* One output of the INT8 GEMM's epilogue: (float)acc * (sx * scale), then + bias (bias may be
 * NULL): the product of the two scales, one product, one sum, each rounded to float. */
static inline float qattn_gemm_output(int32_t acc, float sx, float scale, const float *bias)
{
    float scaled = (float)acc * (sx * scale);
    return bias ? scaled + *bias : scaled;
}

#endif
