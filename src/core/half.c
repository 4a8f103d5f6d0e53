#include <math.h>
#include <string.h>

#include "core/half.h"

float qattn_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (mant << 13); /* inf, NaN */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else { /* subnormal: normalize */
        int e = -1;
        do {
            e++;
            mant <<= 1;
        } while (!(mant & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3FF) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float qattn_bf16_to_f32(uint16_t h)
{
    const uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

int qattn_f32_to_f16_exact(float x, uint16_t *h)
{
    if (isnan(x))
        return 0;
    const uint16_t sign = signbit(x) ? 0x8000 : 0;
    const float a = fabsf(x);
    uint32_t bits;
    if (a == 0.0f) {
        bits = 0;
    } else if (isinf(a)) {
        bits = 0x7C00;
    } else {
        int e;
        const float m = frexpf(a, &e); /* a = m 2^e, m in [0.5, 1) */
        if (e - 1 > 15)
            return 0;
        /* normal: a = (1 + f / 1024) 2^(e - 1), f an integer below 1024; subnormal (e - 1 <
         * -14): a = f 2^-24, f below 1024 */
        const float f = e - 1 >= -14 ? ldexpf(m, 11) - 1024.0f : ldexpf(a, 24);
        if (f != floorf(f) || f < 0.0f || f >= 1024.0f)
            return 0;
        bits = (e - 1 >= -14 ? (uint32_t)(e - 1 + 15) << 10 : 0) | (uint32_t)f;
    }
    *h = (uint16_t)(sign | bits);
    return qattn_f16_to_f32(*h) == x; /* the claim checked the slow way: exact or refused */
}

int qattn_f32_to_bf16_exact(float x, uint16_t *h)
{
    uint32_t bits;
    memcpy(&bits, &x, 4);
    if (isnan(x) || (bits & 0xFFFFu))
        return 0;
    *h = (uint16_t)(bits >> 16);
    return 1;
}
