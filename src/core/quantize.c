/* float -> int8 quantization, the public entry of the library's one rule (core/quantize.h). */
#include <math.h>

#include "core/error.h"
#include "core/quantize.h"

qattn_status qattn_quantize_f32(const float *x, size_t n, float scale, int8_t *out)
{
    qattn_clear_error();
    if (n > 0 && (!x || !out))
        return qattn_fail(QATTN_ERR_NULL, "quantize: %s is NULL", !x ? "x" : "out");
    if (!isfinite(scale) || !(scale > 0.0f))
        return qattn_fail(QATTN_ERR_SCALE, "quantize: scale must be finite and > 0 (got %g)",
                          (double)scale);
    for (size_t i = 0; i < n; i++)
        out[i] = qattn_quantize_s8(x[i], scale);
    return QATTN_OK;
}
