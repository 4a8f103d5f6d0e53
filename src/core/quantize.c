/* float -> int8 quantization: the library's one rounding rule for real values. */
#include <math.h>

#include "core/error.h"
#include "core/quantize.h"

double qattn_round_half_even(double x)
{
    double f = floor(x);
    double diff = x - f;
    if (diff > 0.5)
        return f + 1.0;
    if (diff < 0.5)
        return f;
    return fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

int8_t qattn_quantize_one(double x, double scale)
{
    double r = x / scale;
    if (isnan(r))
        return 0;
    if (r >= 127.0)
        return 127;
    if (r <= -128.0)
        return -128;
    return (int8_t)qattn_round_half_even(r);
}

qattn_status qattn_quantize_f32(const float *x, size_t n, float scale, int8_t *out)
{
    qattn_clear_error();
    if (n > 0 && (!x || !out))
        return qattn_fail(QATTN_ERR_NULL, "quantize: %s is NULL", !x ? "x" : "out");
    if (!isfinite(scale) || !(scale > 0.0f))
        return qattn_fail(QATTN_ERR_SCALE, "quantize: scale must be finite and > 0 (got %g)",
                          (double)scale);
    for (size_t i = 0; i < n; i++)
        out[i] = qattn_quantize_one(x[i], scale);
    return QATTN_OK;
}
