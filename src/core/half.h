/* 16-bit floats as model files store them (IEEE 754 binary16 and bfloat16), to and from float:
 * to float always exact; from float only when exact (a value a 16-bit copy may stand for).
 * Inline: a load converts every weight of a file through them. */
#ifndef QATTN_CORE_HALF_H
#define QATTN_CORE_HALF_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Branch-free, so that a loop over a tensor vectorizes: the normal numbers (and infinities,
 * NaNs) by moving the exponent and fraction into place and scaling by 2^-112, the
 * subnormals by adding them to 0.5 and subtracting it (Marat Dukhan's FP16 library,
 * fp16_ieee_to_fp32_value). */
static inline float qattn_f16_to_f32(uint16_t h)
{
    const uint32_t w = (uint32_t)h << 16, sign = w & 0x80000000u, two_w = w + w;
    const uint32_t normal_bits = (two_w >> 4) + (0xE0u << 23);
    float normal, subnormal;
    memcpy(&normal, &normal_bits, 4);
    normal *= 0x1.0p-112f;
    const uint32_t subnormal_bits = (two_w >> 17) | (126u << 23);
    memcpy(&subnormal, &subnormal_bits, 4);
    subnormal -= 0.5f;
    uint32_t bits;
    if (two_w < (1u << 27))
        memcpy(&bits, &subnormal, 4);
    else
        memcpy(&bits, &normal, 4);
    bits |= sign;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float qattn_bf16_to_f32(uint16_t h)
{
    const uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* qattn_f32_to_f16_exact: 1 and *h the binary16 of x when x is one exactly (zeros,
 * subnormals, infinities included; not NaN), else 0. qattn_f32_to_bf16_exact: 1 and *h the
 * bfloat16 of x when x is one exactly (its low 16 bits zero, not NaN), else 0. */
static inline int qattn_f32_to_f16_exact(float x, uint16_t *h)
{
    uint32_t bits;
    memcpy(&bits, &x, 4);
    const uint32_t sign = (bits >> 16) & 0x8000, exp = (bits >> 23) & 0xFF, mant = bits & 0x7FFFFF;
    if (exp == 0xFF) { /* infinity; NaN refused */
        *h = (uint16_t)(sign | 0x7C00);
        return mant == 0;
    }
    if (exp == 0) { /* zero; float's subnormals are far below binary16's smallest */
        *h = (uint16_t)sign;
        return mant == 0;
    }
    const int e = (int)exp - 127; /* x = 1.mant 2^e */
    if (e > 15)
        return 0;
    if (e >= -14) { /* normal: 10 of the 23 fraction bits, the other 13 zero */
        *h = (uint16_t)(sign | (uint32_t)(e + 15) << 10 | mant >> 13);
        return (mant & 0x1FFF) == 0;
    }
    /* subnormal: x = f 2^-24 with f = 1.mant 2^(e + 24) an integer (below 1024) */
    const uint32_t full = 0x800000 | mant;
    const int shift = -(e + 1); /* 1.mant 2^23 = full: f = full 2^(e + 1) */
    if (shift >= 24)
        return 0;
    *h = (uint16_t)(sign | full >> shift);
    return (full & ((1u << shift) - 1)) == 0;
}

static inline int qattn_f32_to_bf16_exact(float x, uint16_t *h)
{
    uint32_t bits;
    memcpy(&bits, &x, 4);
    if (isnan(x) || (bits & 0xFFFFu))
        return 0;
    *h = (uint16_t)(bits >> 16);
    return 1;
}

#endif
