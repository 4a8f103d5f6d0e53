/*
 * INT8 GEMM with float in and out, as the encoder's linear layers and convolutions use it:
 *
 *   y[m][n] = (float)acc[m][n] * (sx[m] * sw[n]) + bias[n],  acc = sum_k x8[m][k] w8[n][k]
 *
 * Weights are quantized per output channel (sw[n] = max|w[n][:]| / 127, round to nearest
 * even) and packed once for a tier; activations per row (token) at run time, the same way.
 * acc is exact int32 for k <= QATTN_GEMM_MAX_K (|acc| <= k 2^14, and the u8 form of the VNNI
 * tier, sum (x + 128) w, stays below 255 * 128 * k < 2^31). The float epilogue is one shared
 * function, so every tier gives bit-identical floats.
 */
#ifndef QATTN_GEMM_GEMM_H
#define QATTN_GEMM_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "qattn.h"

#define QATTN_GEMM_MAX_K 65536

typedef struct qattn_gemm_ukernels qattn_gemm_ukernels;

typedef struct qattn_gemm_weights {
    int32_t n, k;                  /* output channels, inputs per channel (k % 4 == 0) */
    float *scale;                  /* [n] per-channel weight scales */
    float *bias;                   /* [n] or NULL */
    int8_t *w8;                    /* scalar tier: [n][k] quantized weights; else NULL */
    void *packed;                  /* the tier's layout; NULL for the scalar tier */
    const qattn_gemm_ukernels *uk; /* NULL for the scalar tier */
    /* Bits per activation: 8 (default) or 16. At 16, each row x is quantized at one scale,
     * sx = max|x| / 32639 (1 for a zero row), q = saturate(round_half_even(x / sx)) in
     * [-32639, 32639] (the float32 quotient, as at 8 bits); the products are summed exactly
     * (int64) and y = (float)acc * (sx * sw) + bias. 32639 = 127 * 256 + 127, so that
     * q = 256 hi + lo with hi = floor((q + 128) / 256) and lo = q - 256 hi both int8: a tier
     * whose products are int8 x int8 runs its GEMM on the two byte rows (twice the rows
     * against the same packed weights) and the driver sums 256 acc_hi + acc_lo; a tier that
     * multiplies 16-bit values anyway (AVX2's vpmaddwd) takes q in one pass (gemm_s16). The
     * same integers either way, so every tier gives the same bits. The decoder's steps run a
     * few rows each and are bound by reading the weights, so the second byte costs little
     * there; an int8 activation's rounding moved 1.1% of the words of tiny.en's transcripts of
     * recorded speech away from the float decoder's (docs/accuracy.md). Slicing an operand
     * into int8 pieces whose exact integer products are summed is the Ozaki scheme (Ozaki et
     * al., "Error-free transformations of matrix multiplication", Numer. Algorithms 59, 2012;
     * Ootomo, Ozaki and Yokota, "DGEMM on integer matrix multiplication unit", IJHPCA 2024),
     * here on the activations only. Only qattn_gemm_run and qattn_gemm_run_in take 16 (the
     * fused GEMMs' rows are 8 bits). */
    int32_t x_bits;
} qattn_gemm_weights;

/* Quantizes w ([n][k] floats) per channel and packs it for `isa` (QATTN_ISA_AUTO: the active
 * tier). bias may be NULL. k must be a positive multiple of 4 up to QATTN_GEMM_MAX_K. */
qattn_status qattn_gemm_weights_make(qattn_gemm_weights *w, const float *weights,
                                     const float *bias, int32_t n, int32_t k, int32_t isa);
/* Weights already quantized per output channel (a CTranslate2 int8 model's): w ~ scale[j] *
 * w8[j][t], used as they are (no dequantize-requantize). scale: n finite positive floats. */
qattn_status qattn_gemm_weights_from_s8(qattn_gemm_weights *w, const int8_t *w8,
                                        const float *scale, const float *bias, int32_t n,
                                        int32_t k, int32_t isa);
void qattn_gemm_weights_free(qattn_gemm_weights *w);

/* y[m][n] for m rows of x (ldx floats apart) into y (ldy floats apart), on `threads` threads
 * (0: one per CPU). Needs m * k bytes + m floats of scratch (twice the bytes at 16 bits),
 * allocated inside. x must be finite. */
qattn_status qattn_gemm_run(const qattn_gemm_weights *w, const float *x, int32_t m,
                            ptrdiff_t ldx, float *y, ptrdiff_t ldy, int32_t threads);

/* The scratch of a GEMM made once, for callers that run many small ones (the decoder, per
 * token): the quantized rows and their scales for up to max_m rows of up to max_k values, an
 * accumulator tile per worker for up to `threads` workers (0: one per CPU). One call at a
 * time uses a workspace. */
typedef struct qattn_gemm_workspace {
    int8_t *x8;
    float *sx;
    int32_t *acc;
    int32_t max_m, max_k, workers;
    /* The rows x8 holds: rows_m rows of rows_k values in the form of rows_tier's kernels
     * (what qattn_gemm_run_fused checks its weights against); rows_m = 0: none. */
    int32_t rows_m, rows_k;
    const qattn_gemm_ukernels *rows_tier;
    /* The fused GEMMs' float rows (qattn_gemm_run_fused with this workspace as its input),
     * grown when a call needs more and kept: fresh pages each call cost their faults. */
    float *fused_rows;
    size_t fused_bytes;
} qattn_gemm_workspace;

qattn_status qattn_gemm_workspace_init(qattn_gemm_workspace *ws, int32_t max_m, int32_t max_k,
                                       int32_t threads);
void qattn_gemm_workspace_free(qattn_gemm_workspace *ws);

/* qattn_gemm_run with the scratch in ws (m <= ws->max_m, or 2 m <= ws->max_m at 16 bits;
 * k <= ws->max_k): no allocation. The result is the same bits as qattn_gemm_run's. */
qattn_status qattn_gemm_run_in(const qattn_gemm_weights *w, const float *x, int32_t m,
                               ptrdiff_t ldx, float *y, ptrdiff_t ldy, int32_t threads,
                               qattn_gemm_workspace *ws);

/*
 * Fused GEMMs: the rows' chain after the epilogue (y = acc sx sw + b) runs inside the GEMM's
 * own tasks, each of which owns whole rows, so no float activation crosses memory between a
 * GEMM and the next one. In this order, each step optional:
 *
 *   gelu       y = GELU(y)
 *   residual   residual[i][:] += y (rows n floats apart), and the row goes on as that sum
 *   ln_gamma   row = LayerNorm(row; ln_gamma, ln_beta) (both [n])
 *   y          the row written as floats (ldy apart)
 *   group_max  group_max[i * (n / group) + g] = max |row[g group .. (g + 1) group)| (a
 *              consumer's per-block scales: the maximum of these over rows is the block's)
 *   next       the row quantized per token as the input of next_w (next_w->k == n) into
 *              the workspace `next`, ready for qattn_gemm_run_fused
 *
 * Each step is the float microkernel the separate pass uses (ops/float_ops.h, qattn_add,
 * qattn_quantize_rows), in the same order, so the result is the same bits as running them
 * one after the other (tests/c/test_gemm.c checks it on every tier).
 */
typedef struct qattn_gemm_fusion {
    int gelu;
    float *residual;
    const float *ln_gamma, *ln_beta;
    float *y;
    ptrdiff_t ldy;
    float *group_max;
    int32_t group; /* columns per group_max entry; divides n */
    qattn_gemm_workspace *next;
    const qattn_gemm_weights *next_w;
} qattn_gemm_fusion;

/* Quantizes m rows of x (ldx floats apart; ldx < k: the rows overlap, as a convolution's
 * frames do) as w's input into ws (m <= ws->max_m, w->k <= ws->max_k), for
 * qattn_gemm_run_fused. */
qattn_status qattn_gemm_quantize_input(const qattn_gemm_weights *w, const float *x, int32_t m,
                                       ptrdiff_t ldx, int32_t threads, qattn_gemm_workspace *ws);

/* qattn_gemm_quantize_input for rows made on the fly: row(ctx, i, out) writes row i's w->k
 * floats to out (the caller's floats never need to exist as a matrix: a consumer turns its
 * own output into rows here, e.g. the attention's int8 heads into the out projection's input).
 * row is called from the GEMM's threads, each i once. */
typedef void (*qattn_gemm_row_fn)(void *ctx, int32_t i, float *out);
qattn_status qattn_gemm_quantize_input_from(const qattn_gemm_weights *w, qattn_gemm_row_fn row,
                                            void *ctx, int32_t m, int32_t threads,
                                            qattn_gemm_workspace *ws);

/* The GEMM of w over the rows quantized in `in` (by qattn_gemm_quantize_input or a previous
 * fused GEMM's `next`, for these weights), then f's chain. `in` and f->next must differ. Its
 * scratch (whole rows per task) is allocated inside. */
qattn_status qattn_gemm_run_fused(const qattn_gemm_weights *w, qattn_gemm_workspace *in,
                                  const qattn_gemm_fusion *f, int32_t threads);

/* Per-row quantization of activations: sx[i] = max|x[i][:]| / 127 (1 for a zero row),
 * x8[i][t] = round_half_even(x * (1 / sx[i])), saturated. */
void qattn_quantize_rows(const float *x, int32_t m, int32_t k, ptrdiff_t ldx, int8_t *x8,
                         float *sx);

/* One row of k floats at 16 bits (qattn_gemm_weights.x_bits): returns sx, writes q[0..k). */
float qattn_quantize_row_s16(const float *x, int32_t k, int16_t *q);

/* The two int8 bytes of a 16-bit activation q in [-32639, 32639]: q = 256 hi + lo. */
static inline void qattn_s16_bytes(int32_t q, int8_t *hi, int8_t *lo)
{
    const int32_t h = (q + 128 + 32768) / 256 - 128; /* floor((q + 128) / 256), a positive division */
    *hi = (int8_t)h;
    *lo = (int8_t)(q - 256 * h);
}

#endif
