/* 16-bit floats as model files store them (IEEE 754 binary16 and bfloat16), to and from float:
 * to float always exact; from float only when exact (a value a 16-bit copy may stand for). */
#ifndef QATTN_CORE_HALF_H
#define QATTN_CORE_HALF_H

#include <stdint.h>

float qattn_f16_to_f32(uint16_t h);
float qattn_bf16_to_f32(uint16_t h);

/* 1 and *h the binary16 of x when x is one exactly (zeros, subnormals included; not NaN),
 * else 0. */
int qattn_f32_to_f16_exact(float x, uint16_t *h);
/* 1 and *h the bfloat16 of x when x is one exactly (its low 16 bits zero, not NaN), else 0. */
int qattn_f32_to_bf16_exact(float x, uint16_t *h);

#endif
