/* The rounding rule of float -> int8 quantization, shared by every caller in the library. */
#ifndef QATTN_CORE_QUANTIZE_H
#define QATTN_CORE_QUANTIZE_H

#include <stdint.h>

/* Round to nearest, ties to even, independent of the floating-point rounding mode. */
double qattn_round_half_even(double x);

/* saturate(round_half_even(x / scale)); NaN -> 0. */
int8_t qattn_quantize_one(double x, double scale);

#endif
