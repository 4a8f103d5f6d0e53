/* The INT8 GEMM microkernels of one tier: pack the weights once, then int32 tiles. */
#ifndef QATTN_GEMM_UKERNELS_H
#define QATTN_GEMM_UKERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "qattn.h"

struct qattn_gemm_ukernels {
    const char *name;
    int32_t nr; /* columns per packed panel; gemm's n0 and nc are multiples of it (nc may end
                   at n) */
    /* The driver's blocking for this tier: rows x columns of one task (its int32 tile stays
     * in L1/L2); col_block is a multiple of nr. */
    int32_t row_block, col_block;
    size_t (*packed_bytes)(int32_t n, int32_t k);
    /* Packs w8 ([n][k] int8) into the tier's layout. */
    void (*pack)(const int8_t *w8, int32_t n, int32_t k, void *packed);
    /* Optional (NULL: none): rewrites n quantized activations in place into the form gemm
     * reads (AVX-512 VNNI: x ^ 0x80, vpdpbusd's u8 operand, so each group of 4 is one
     * broadcast from memory). */
    void (*prepare_x)(int8_t *x8, size_t n);
    /* acc[i * ldc + j - n0] = sum_t x8[i * ldx + t] * w8[j][t], for i < m and
     * n0 <= j < n0 + nc (n0 a multiple of nr), x8's rows quantized and then prepared. */
    void (*gemm)(const int8_t *x8, ptrdiff_t ldx, int32_t m, const void *packed, int32_t n,
                 int32_t k, int32_t n0, int32_t nc, int32_t *acc, ptrdiff_t ldc);
    /* Optional (NULL: the driver runs gemm on the two bytes of each value): the same product
     * for 16-bit rows (gemm.h's x_bits = 16, |x16| <= 32639, not prepared), exact in int64:
     * acc[i * ldc + j - n0] = sum_t x16[i * ldx + t] * w8[j][t]. */
    void (*gemm_s16)(const int16_t *x16, ptrdiff_t ldx, int32_t m, const void *packed,
                     int32_t n, int32_t k, int32_t n0, int32_t nc, int64_t *acc, ptrdiff_t ldc);
};

extern const struct qattn_gemm_ukernels qattn_gemm_ukernels_avx2;
extern const struct qattn_gemm_ukernels qattn_gemm_ukernels_avx512vnni;
extern const struct qattn_gemm_ukernels qattn_gemm_ukernels_amx;

/* The family's kernels for a resolved tier: those of the best tier at or below it that has
 * GEMM kernels (gemm_kernels.c holds the table); NULL = the scalar reference. */
const struct qattn_gemm_ukernels *qattn_gemm_kernels_for(qattn_isa tier);

#endif
