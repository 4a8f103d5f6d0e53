/* The float operations of a Whisper layer (ops/float_ops.h), written to vectorize at the
 * baseline ISA: no libm calls in the inner loops, lane-split reductions. */
#include "ops/float_ops.h"

#include <math.h>
#include <string.h>

#include "core/parallel.h"
#include "core/quantize.h"

/* --- LayerNorm ----------------------------------------------------------------------------- */

typedef struct norm_job {
    const float *x, *w, *b;
    float *y;
    int32_t d;
} norm_job;

static void norm_rows(void *ctx, int32_t row0, int32_t rows)
{
    const norm_job *j = ctx;
    for (int32_t i = row0; i < row0 + rows; i++) {
        const float *xi = j->x + (size_t)i * j->d;
        float *yi = j->y + (size_t)i * j->d;
        double mean = 0.0, var = 0.0;
        for (int32_t t = 0; t < j->d; t++)
            mean += xi[t];
        mean /= j->d;
        for (int32_t t = 0; t < j->d; t++)
            var += (xi[t] - mean) * (xi[t] - mean);
        float inv = (float)(1.0 / sqrt(var / j->d + 1e-5));
        for (int32_t t = 0; t < j->d; t++)
            yi[t] = (float)(xi[t] - mean) * inv * j->w[t] + j->b[t];
    }
}

void qattn_layer_norm(const float *x, const float *gamma, const float *beta, float *y, int32_t m,
                      int32_t d, int32_t threads)
{
    norm_job j = {x, gamma, beta, y, d};
    qattn_parallel_rows(threads, m, norm_rows, &j);
}

/* --- GELU ---------------------------------------------------------------------------------- */

/*
 * erf(x) = x P(x^2) / Q(x^2) on |x| < 3.6, and +-1 beyond (erf(3.6) = 1 - 3.6e-7): a rational
 * fit made for this project (least squares with Loeb's reweighting), within 1.5e-6 of libm's
 * erf in float32 (test_float_ops measures it). Pure arithmetic and selects, so the GELU loop
 * vectorizes; libm's erff is a call per element. (The fit itself drifts to 1.9e-6 at 4: its
 * value there, 1 - 1.7e-6, once made GELU(-12) = 1e-5 instead of 0.)
 */
static inline float erf_rational(float x)
{
    float c = x;
    if (c > 4.0f)
        c = 4.0f;
    if (c < -4.0f)
        c = -4.0f;
    float z = c * c;
    float p = 1.96679305e-08f;
    p = p * z - 1.97751571e-06f;
    p = p * z + 1.48224583e-04f;
    p = p * z + 3.96561788e-03f;
    p = p * z + 5.13860058e-02f;
    p = p * z + 2.06113619e-01f;
    p = p * z + 1.12837882e+00f;
    float q = 1.02047e-03f;
    q = q * z + 1.488066e-02f;
    q = q * z + 1.1755334e-01f;
    q = q * z + 5.159926e-01f;
    q = q * z + 1.0f;
    float r = c * p / q;
    r = c >= 3.6f ? 1.0f : r;
    return c <= -3.6f ? -1.0f : r;
}

typedef struct gelu_job {
    float *x;
    int32_t n;
} gelu_job;

static void gelu_rows(void *ctx, int32_t row0, int32_t rows)
{
    const gelu_job *j = ctx;
    for (size_t i = (size_t)row0 * j->n; i < (size_t)(row0 + rows) * j->n; i++)
        j->x[i] = 0.5f * j->x[i] * (1.0f + erf_rational(j->x[i] * 0.70710678118654752f));
}

void qattn_gelu(float *x, int32_t m, int32_t n, int32_t threads)
{
    gelu_job j = {x, n};
    qattn_parallel_rows(threads, m, gelu_rows, &j);
}

/* --- Softmax ------------------------------------------------------------------------------- */

/*
 * e^x for x <= 0 (softmax arguments), vectorizable: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite
 * split of ln2), e^r by a degree-6 polynomial fitted for this project (relative error 1e-7 in
 * float32), 2^n from the exponent bits. x below -87 is clamped (e^-87 ~ 1.6e-38, and the row
 * maximum contributes 1 to each sum).
 */
static inline float exp_nonpositive(float x)
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

typedef struct softmax_job {
    float *s;
    int32_t n;
    ptrdiff_t ld;
} softmax_job;

/* Eight running lanes for the max and the sum: a sequential float reduction does not
 * vectorize (its order is fixed), eight independent ones do. */
enum { LANES = 8 };

static void softmax_rows(void *ctx, int32_t row0, int32_t rows)
{
    const softmax_job *j = ctx;
    for (int32_t i = row0; i < row0 + rows; i++) {
        float *r = j->s + i * j->ld;
        float mx[LANES], sum[LANES] = {0};
        int32_t t = 0;
        for (int l = 0; l < LANES; l++)
            mx[l] = r[0];
        for (; t + LANES <= j->n; t += LANES)
            for (int l = 0; l < LANES; l++)
                mx[l] = r[t + l] > mx[l] ? r[t + l] : mx[l];
        float m = mx[0];
        for (int l = 1; l < LANES; l++)
            m = mx[l] > m ? mx[l] : m;
        for (; t < j->n; t++)
            m = r[t] > m ? r[t] : m;
        for (t = 0; t < j->n; t++)
            r[t] = exp_nonpositive(r[t] - m);
        for (t = 0; t + LANES <= j->n; t += LANES)
            for (int l = 0; l < LANES; l++)
                sum[l] += r[t + l];
        float total = 0.0f;
        for (int l = 0; l < LANES; l++)
            total += sum[l];
        for (; t < j->n; t++)
            total += r[t];
        float inv = 1.0f / total;
        for (t = 0; t < j->n; t++)
            r[t] *= inv;
    }
}

void qattn_softmax_rows(float *s, int32_t m, int32_t n, ptrdiff_t ld, int32_t threads)
{
    softmax_job j = {s, n, ld};
    qattn_parallel_rows(threads, m, softmax_rows, &j);
}

/* --- Elementwise, quantization ------------------------------------------------------------- */

void qattn_add(float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
}

float qattn_max_abs_block(const float *x, int32_t rows, int32_t cols, ptrdiff_t ld)
{
    float amax = 0.0f;
    for (int32_t i = 0; i < rows; i++) {
        float a = qattn_max_abs(x + i * ld, (size_t)cols);
        amax = a > amax ? a : amax;
    }
    return amax;
}

float qattn_scale_for_max_abs(float amax)
{
    return amax > 0.0f ? amax / 127.0f : 1.0f;
}

void qattn_quantize_block_at(const float *x, int32_t rows, int32_t cols, ptrdiff_t ld,
                             float scale, int8_t *out)
{
    for (int32_t i = 0; i < rows; i++)
        for (int32_t t = 0; t < cols; t++)
            out[(size_t)i * cols + t] = qattn_quantize_s8(x[i * ld + t], scale);
}

float qattn_quantize_block(const float *x, int32_t rows, int32_t cols, ptrdiff_t ld, int8_t *out)
{
    const float scale = qattn_scale_for_max_abs(qattn_max_abs_block(x, rows, cols, ld));
    qattn_quantize_block_at(x, rows, cols, ld, scale, out);
    return scale;
}

void qattn_dequantize_block(const int8_t *q, int32_t rows, int32_t cols, float scale, float *out,
                            ptrdiff_t ld)
{
    for (int32_t i = 0; i < rows; i++)
        for (int32_t t = 0; t < cols; t++)
            out[i * ld + t] = q[(size_t)i * cols + t] * scale;
}
