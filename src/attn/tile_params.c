/*
 * Fixed-point parameters of the tile kernel (docs/quantization.md [Q2], [Q7]). The only
 * floating point of the attention path lives here, once per head and call.
 */
#include "tile_params.h"

#include <math.h>

#include "core/error.h"

#define LOG2_E 1.4426950408889634074

/* value = mult / 2^shift with mult in [2^30, 2^31) where possible, shift in
 * [min_shift, 62]. Returns 0 when value needs shift < min_shift. */
static int fixed_point(double value, int min_shift, int32_t *mult, int32_t *shift)
{
    int exp2;
    double mant = frexp(value, &exp2); /* value = mant * 2^exp2, mant in [0.5, 1) */
    int s = 31 - exp2;
    int64_t m = (int64_t)llround(mant * 2147483648.0); /* in [2^30, 2^31] */
    if (m == ((int64_t)1 << 31)) {
        m >>= 1;
        s--;
    }
    if (s < min_shift)
        return 0;
    if (s > 62) {
        m = (int64_t)llround(ldexp(value, 62)); /* fewer significant bits; maybe 0 */
        s = 62;
    }
    *mult = (int32_t)m;
    *shift = s;
    return 1;
}

static int scale_ok(float s)
{
    return isfinite(s) && s > 0.0f;
}

/* Smallest d in [1, QATTN_SCORE_DIFF_MAX] with y(d) >= QATTN_EXP_Y_ZERO, else INT32_MAX.
 * y is monotone in d, so bisect. */
static int32_t find_d_zero(const qattn_tile_params *p)
{
    if (qattn_score_exponent(QATTN_SCORE_DIFF_MAX, p) < QATTN_EXP_Y_ZERO)
        return INT32_MAX;
    int32_t lo = 0, hi = QATTN_SCORE_DIFF_MAX; /* y(lo) < Y_ZERO <= y(hi) */
    while (hi - lo > 1) {
        int32_t mid = lo + (hi - lo) / 2;
        if (qattn_score_exponent(mid, p) >= QATTN_EXP_Y_ZERO)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

qattn_status qattn_tile_params_make(qattn_tile_params *p, int32_t head_dim, float scale_q,
                                    float scale_k, float scale_v, float scale_out)
{
    if (!scale_ok(scale_q) || !scale_ok(scale_k) || !scale_ok(scale_v) || !scale_ok(scale_out))
        return qattn_fail(QATTN_ERR_SCALE,
                          "scales must be finite and > 0 (got q=%g k=%g v=%g out=%g)",
                          (double)scale_q, (double)scale_k, (double)scale_v,
                          (double)scale_out);
    p->head_dim = head_dim;

    /* Q16 base-2 exponent per raw score unit. */
    double score = 65536.0 * LOG2_E * (double)scale_q * (double)scale_k / sqrt((double)head_dim);
    if (!fixed_point(score, 0, &p->score_mult, &p->score_shift)) {
        /* So steep that one raw unit already gives e = 0: a hard maximum, exactly. */
        p->score_mult = INT32_MAX;
        p->score_shift = 0;
    }
    p->d_zero = find_d_zero(p);

    double gain = (double)scale_v / (double)scale_out;
    if (!(gain <= QATTN_MAX_OUTPUT_GAIN))
        return qattn_fail(QATTN_ERR_SCALE,
                          "scale_v / scale_out = %g exceeds 2^24: every output would saturate",
                          gain);
    if (!fixed_point(gain, 1, &p->out_mult, &p->out_shift))
        return qattn_fail(QATTN_ERR_SCALE, "scale_v / scale_out = %g is out of range", gain);
    return QATTN_OK;
}
