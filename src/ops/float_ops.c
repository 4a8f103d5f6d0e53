/* The float operations of a Whisper layer (ops/float_ops.h): LayerNorm, GELU, max-abs and
 * quantization go row by row through the active tier's microkernels (ops/float_ukernels.h);
 * the softmax (the f32 path's) and the elementwise rest are written to vectorize at the
 * baseline ISA: no libm calls in the inner loops, lane-split reductions. */
#include "ops/float_ops.h"

#include <string.h>

#include "core/parallel.h"
#include "ops/float_ukernels.h"

/* --- LayerNorm, GELU: rows through the active tier's microkernels ------------------------ */

typedef struct norm_job {
    const qattn_float_ukernels *uk;
    const float *x, *w, *b;
    float *y;
    int32_t d;
} norm_job;

static void norm_rows(void *ctx, int32_t row0, int32_t rows)
{
    const norm_job *j = ctx;
    for (int32_t i = row0; i < row0 + rows; i++)
        j->uk->layer_norm(j->x + (size_t)i * j->d, j->w, j->b, j->y + (size_t)i * j->d, j->d);
}

void qattn_layer_norm(const float *x, const float *gamma, const float *beta, float *y, int32_t m,
                      int32_t d, int32_t threads)
{
    norm_job j = {qattn_float_kernels(), x, gamma, beta, y, d};
    qattn_parallel_rows(threads, m, norm_rows, &j);
}

typedef struct gelu_job {
    const qattn_float_ukernels *uk;
    float *x;
    int32_t n;
} gelu_job;

static void gelu_rows(void *ctx, int32_t row0, int32_t rows)
{
    const gelu_job *j = ctx;
    j->uk->gelu(j->x + (size_t)row0 * j->n, (size_t)rows * j->n);
}

void qattn_gelu(float *x, int32_t m, int32_t n, int32_t threads)
{
    gelu_job j = {qattn_float_kernels(), x, n};
    qattn_parallel_rows(threads, m, gelu_rows, &j);
}

/* --- Softmax ------------------------------------------------------------------------------- */

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
            r[t] = qattn_exp_nonpositive(r[t] - m);
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

/* Blocks of 1024 by a test without branches (exponent bits all ones), which the compiler
 * vectorizes: a 30 s mel window (240 k values) took 0.4 ms value by value with isfinite's
 * early exit, ~10% of the encoder's first stage. A block that has one is searched again. */
size_t qattn_first_non_finite(const float *x, size_t n)
{
    enum { BLOCK = 1024 };
    for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
        const size_t end = n - i0 < BLOCK ? n : i0 + BLOCK;
        uint32_t bad = 0;
        for (size_t i = i0; i < end; i++) {
            uint32_t bits;
            memcpy(&bits, x + i, sizeof bits);
            bad |= (bits & 0x7F800000u) == 0x7F800000u;
        }
        for (size_t i = i0; bad && i < end; i++) {
            uint32_t bits;
            memcpy(&bits, x + i, sizeof bits);
            if ((bits & 0x7F800000u) == 0x7F800000u)
                return i;
        }
    }
    return n;
}

void qattn_add(float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
}

float qattn_max_abs_block(const float *x, int32_t rows, int32_t cols, ptrdiff_t ld)
{
    const qattn_float_ukernels *uk = qattn_float_kernels();
    float amax = 0.0f;
    for (int32_t i = 0; i < rows; i++) {
        float a = uk->max_abs(x + i * ld, (size_t)cols);
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
    const qattn_float_ukernels *uk = qattn_float_kernels();
    for (int32_t i = 0; i < rows; i++)
        uk->quantize(x + i * ld, (size_t)cols, scale, out + (size_t)i * cols);
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
