/* The float microkernels' reference table: the definitions of ops/float_reference.h and
 * core/quantize.h applied element by element, written to be read. */
#include "core/quantize.h"
#include "ops/float_reference.h"
#include "ops/float_ukernels.h"

static float max_abs(const float *x, size_t n)
{
    return qattn_max_abs(x, n);
}

static void quantize(const float *x, size_t n, float scale, int8_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = qattn_quantize_s8(x[i], scale);
}

static void gelu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = qattn_gelu_ref(x[i]);
}

static void gemm_epilogue(const int32_t *acc, size_t n, float sx, const float *scale,
                          const float *bias, float *y)
{
    for (size_t j = 0; j < n; j++)
        y[j] = qattn_gemm_output(acc[j], sx, scale[j], bias ? bias + j : NULL);
}

const qattn_float_ukernels qattn_float_ukernels_reference = {
    "reference", max_abs, quantize, gelu, gemm_epilogue, qattn_layer_norm_row_ref,
};
