/*
 * The 16-bit floats of model files (core/half.h) over every one of their 65536 bit patterns,
 * against values computed here in double from IEEE 754's definition of binary16 (sign,
 * 5-bit exponent biased by 15, 10-bit fraction, subnormals f 2^-24) and from bfloat16's
 * (a float's high 16 bits); then the exact conversions back: every value given back bit for
 * bit, and every float between two neighbours, past the largest or below the smallest
 * subnormal refused.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/half.h"
#include "testing.h"

/* binary16's value by its definition (NaN for a NaN pattern). */
static double f16_value(uint16_t h)
{
    const int sign = h >> 15, e = (h >> 10) & 0x1F, f = h & 0x3FF;
    double v;
    if (e == 0x1F)
        v = f ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp(f, -24);
    else
        v = ldexp(1024 + f, e - 25);
    return sign ? -v : v;
}

static void f16_every_pattern(void)
{
    for (uint32_t b = 0; b < 65536; b++) {
        const uint16_t h = (uint16_t)b;
        const double want = f16_value(h);
        const float got = qattn_f16_to_f32(h);
        if (isnan(want)) {
            uint16_t back;
            CHECK(isnan(got) && !qattn_f32_to_f16_exact(got, &back), "0x%04x: NaN", b);
            continue;
        }
        CHECK((double)got == want && !signbit(got) == !signbit(want), "0x%04x: %.9g, want %.9g", b,
              (double)got, want);
        uint16_t back = 0;
        CHECK(qattn_f32_to_f16_exact(got, &back) && back == h, "0x%04x: given back as 0x%04x", b,
              back);
        /* halfway to the next pattern up in magnitude: no binary16 (floats hold it: 11 bits
         * of binary16's fraction and one more) */
        const int e = (h >> 10) & 0x1F;
        if (e < 0x1E || (e == 0x1E && (h & 0x3FF) != 0x3FF)) {
            const float mid = (float)((want + f16_value((uint16_t)(h + 1))) / 2);
            CHECK(!qattn_f32_to_f16_exact(mid, &back), "0x%04x: %.9g taken", b, (double)mid);
        }
    }
    uint16_t h;
    CHECK(!qattn_f32_to_f16_exact(65520.0f, &h) && !qattn_f32_to_f16_exact(131072.0f, &h),
          "past the largest binary16 (65504) taken");
    CHECK(!qattn_f32_to_f16_exact(0x1p-25f, &h) && !qattn_f32_to_f16_exact(3 * 0x1p-26f, &h),
          "below the smallest subnormal taken");
    CHECK(qattn_f32_to_f16_exact(1.0f, &h) && h == 0x3C00, "1.0 is 0x%04x", h);
    CHECK(qattn_f32_to_f16_exact(-2.0f, &h) && h == 0xC000, "-2.0 is 0x%04x", h);
    CHECK(qattn_f32_to_f16_exact(65504.0f, &h) && h == 0x7BFF, "65504 is 0x%04x", h);
    CHECK(qattn_f32_to_f16_exact(0x1p-24f, &h) && h == 0x0001, "2^-24 is 0x%04x", h);
    CHECK(!qattn_f32_to_f16_exact(1.0f / 3.0f, &h), "1/3 taken");
}

static void bf16_every_pattern(void)
{
    for (uint32_t b = 0; b < 65536; b++) {
        const uint32_t bits = b << 16;
        float want;
        memcpy(&want, &bits, 4);
        const float got = qattn_bf16_to_f32((uint16_t)b);
        uint16_t back = 0;
        if (isnan(want)) {
            CHECK(isnan(got) && !qattn_f32_to_bf16_exact(got, &back), "0x%04x: NaN", b);
            continue;
        }
        CHECK(memcmp(&got, &want, 4) == 0, "0x%04x: %.9g", b, (double)got);
        CHECK(qattn_f32_to_bf16_exact(got, &back) && back == b, "0x%04x: given back as 0x%04x", b,
              back);
        const uint32_t next_bits = bits | 1u; /* one float ulp above: no bfloat16 */
        float next;
        memcpy(&next, &next_bits, 4);
        CHECK(!qattn_f32_to_bf16_exact(next, &back), "0x%04x + 1 ulp taken", b);
    }
}

int main(void)
{
    f16_every_pattern();
    bf16_every_pattern();
    return testing_report("test_half");
}
