/*
 * The float microkernels of a Whisper layer, one row at a time: the max-abs and the int8
 * quantization of a row (core/quantize.h's rule), GELU, LayerNorm. Each tier has a table;
 * the reference table (float_reference.c) is plain C written to be read, and every tier's
 * kernel returns its bits exactly (tests/c/test_float_ops.c compares them on every tier
 * the machine runs). The arithmetic every tier must reproduce is in ops/float_reference.h.
 *
 * Pure functions with explicit sizes: no threads, no allocation, no model knowledge.
 */
#ifndef QATTN_OPS_FLOAT_UKERNELS_H
#define QATTN_OPS_FLOAT_UKERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "qattn.h"

typedef struct qattn_float_ukernels {
    const char *name;
    /* max |x[i]| over n floats, compared as bit patterns with the sign cleared (for finite
     * x the float maximum; qattn_max_abs of core/quantize.h). */
    float (*max_abs)(const float *x, size_t n);
    /* out[i] = qattn_quantize_s8(x[i], scale): saturate(rint(x / scale)), NaN -> 0. */
    void (*quantize)(const float *x, size_t n, float scale, int8_t *out);
    /* x[i] = GELU(x[i]) in place (qattn_gelu_ref). */
    void (*gelu)(float *x, size_t n);
    /* The INT8 GEMM's epilogue for one row of n outputs: y[j] = (float)acc[j] * (sx *
     * scale[j]) (+ bias[j] when bias is not NULL): a product of the two scales, one product,
     * one sum, each rounded to float. */
    void (*gemm_epilogue)(const int32_t *acc, size_t n, float sx, const float *scale,
                          const float *bias, float *y);
    /* One LayerNorm row of d values (d >= 1): qattn_layer_norm_row_ref. */
    void (*layer_norm)(const float *x, const float *gamma, const float *beta, float *y,
                       int32_t d);
} qattn_float_ukernels;

extern const qattn_float_ukernels qattn_float_ukernels_reference;
extern const qattn_float_ukernels qattn_float_ukernels_avx2;
extern const qattn_float_ukernels qattn_float_ukernels_avx512;

/* The kernels of the best tier at or below `tier` that has float kernels; never NULL (the
 * reference serves every tier that has none). */
const qattn_float_ukernels *qattn_float_kernels_for(qattn_isa tier);

/* The kernels of the process's active tier (QATTN_ISA honoured), resolved once. */
const qattn_float_ukernels *qattn_float_kernels(void);

#endif
