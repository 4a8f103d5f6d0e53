/* The integer exponential and the fixed-point score scaling, against libm in float64. */
#include <math.h>
#include <stdlib.h>

#include "attn/tile_kernel.h"
#include "attn/tile_params.h"
#include "testing.h"

/* Every Q16 input: |2^-y - kernel| in Q16 units stays within the bound docs/quantization.md
 * states (0.5952: half a unit for the final rounding, the rest from the table and the
 * polynomial), and the kernel is non-increasing. */
static void exp2_exhaustive(void)
{
    double worst = 0.0;
    uint32_t prev = 65536;
    for (int32_t y = 0; y < QATTN_EXP_Y_ZERO; y++) {
        uint32_t e = qattn_exp2_neg_q16(y);
        double exact = 65536.0 * exp2(-(double)y / 65536.0);
        double err = fabs((double)e - exact);
        if (err > worst)
            worst = err;
        CHECK(e <= prev, "not monotone at y=%d: %u > %u", y, e, prev);
        prev = e;
    }
    printf("exp2: max error %.5f Q16 units over all %d inputs\n", worst, QATTN_EXP_Y_ZERO);
    CHECK(worst <= 0.5952, "max error %.5f Q16 units, documented 0.5952", worst);
    CHECK(qattn_exp2_neg_q16(0) == 65536, "2^0 must be exactly 65536");
    CHECK(qattn_exp2_neg_q16(65536) == 32768, "2^-1 must be exactly 32768");
    CHECK(qattn_exp2_neg_q16(QATTN_EXP_Y_ZERO) == 0, "underflow to 0");
    CHECK(qattn_exp2_neg_q16(INT32_MAX) == 0, "underflow to 0");
}

/* Relative error of the relative error of the fixed-point multipliers, and d_zero is exactly
 * the first d whose exponent reaches QATTN_EXP_Y_ZERO. */
static void params_accuracy(void)
{
    srand(1);
    const float scales[] = {1e-6f, 1e-4f, 3e-3f, 0.03f, 0.5f, 1.0f, 7.0f, 300.0f};
    const int dims[] = {16, 64, 80, 256};
    for (size_t a = 0; a < sizeof scales / sizeof *scales; a++)
        for (size_t b = 0; b < sizeof scales / sizeof *scales; b++)
            for (size_t c = 0; c < sizeof dims / sizeof *dims; c++) {
                qattn_tile_params p;
                float sv = scales[b], so = scales[a] * 2.0f;
                qattn_status st = qattn_tile_params_make(&p, dims[c], scales[a], scales[b], sv, so);
                if ((double)sv / so > QATTN_MAX_OUTPUT_GAIN) {
                    CHECK(st == QATTN_ERR_SCALE, "gain past 2^24 must be refused");
                    continue;
                }
                CHECK(st == QATTN_OK, "params for %g %g", scales[a], scales[b]);
                double want = 65536.0 * 1.4426950408889634 * scales[a] * scales[b] / sqrt(dims[c]);
                double got = ldexp(p.score_mult, -p.score_shift);
                if (p.score_shift > 0 && p.score_shift < 62)
                    CHECK(fabs(got / want - 1) < 1e-9, "score multiplier %g vs %g", got, want);
                double gain = ldexp(p.out_mult, -p.out_shift);
                if (p.out_shift < 62)
                    CHECK(fabs(gain / ((double)sv / so) - 1) < 1e-9, "gain %g", gain);
                if (p.d_zero != INT32_MAX) {
                    CHECK(qattn_score_exponent(p.d_zero, &p) == QATTN_EXP_Y_ZERO, "d_zero reaches");
                    CHECK(p.d_zero == 1 || qattn_score_exponent(p.d_zero - 1, &p) < QATTN_EXP_Y_ZERO,
                          "d_zero is the first");
                } else {
                    CHECK(qattn_score_exponent(QATTN_SCORE_DIFF_MAX, &p) < QATTN_EXP_Y_ZERO,
                          "INT32_MAX d_zero only when never reached");
                }
                /* Exponent rounding against float64 on random differences. */
                for (int i = 0; i < 200; i++) {
                    int32_t d = rand() % (QATTN_SCORE_DIFF_MAX + 1);
                    double exact = d * got;
                    int32_t y = qattn_score_exponent(d, &p);
                    if (exact < QATTN_EXP_Y_ZERO - 1)
                        CHECK(fabs(y - exact) <= 0.5 + 1e-6, "y(%d) = %d vs %f", d, y, exact);
                    else
                        CHECK(y >= QATTN_EXP_Y_ZERO - 1, "y(%d) = %d vs %f", d, y, exact);
                }
            }
}

int main(void)
{
    exp2_exhaustive();
    params_accuracy();
    return testing_report("test_exp2");
}
