/*
 * INT8 GEMM driver: weight quantization and packing, per-row activation quantization, the
 * scalar reference kernel, tiling over threads, and the one float epilogue every tier shares.
 */
#include "gemm/gemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/tiers.h"
#include "core/error.h"
#include "core/quantize.h"
#include "core/parallel.h"
#include "core/reserve.h"
#include "gemm/gemm_ukernels.h"
#include "ops/float_ops.h"
#include "ops/float_ukernels.h"

/* The scalar reference's blocking; a fast tier's comes from its table (gemm_ukernels.h). */
enum { REFERENCE_ROW_BLOCK = 64, REFERENCE_COL_BLOCK = 256, QUANTIZE_ROWS = 64 };

/* The 16-bit activations' range (gemm.h, x_bits): 127 * 256 + 127, two int8 bytes. */
enum { S16_LIMIT = 32639 };

void qattn_quantize_rows(const float *x, int32_t m, int32_t k, ptrdiff_t ldx, int8_t *x8,
                         float *sx)
{
    const qattn_float_ukernels *uk = qattn_float_kernels();
    for (int32_t i = 0; i < m; i++) {
        const float *xi = x + i * ldx;
        const float s = qattn_scale_for_max_abs(uk->max_abs(xi, (size_t)k));
        sx[i] = s;
        uk->quantize(xi, (size_t)k, s, x8 + (size_t)i * k);
    }
}

static float s16_scale(const float *x, int32_t k)
{
    const float amax = qattn_float_kernels()->max_abs(x, (size_t)k);
    return amax > 0.0f ? amax / (float)S16_LIMIT : 1.0f;
}

float qattn_quantize_row_s16(const float *x, int32_t k, int16_t *q)
{
    const float s = s16_scale(x, k);
    for (int32_t t = 0; t < k; t++)
        q[t] = qattn_round_s16(x[t] / s, S16_LIMIT);
    return s;
}

/* qattn_quantize_row_s16 written as its two byte rows (qattn_s16_bytes), for a tier whose
 * products are int8 x int8. */
static float quantize_row_s16_bytes(const float *x, int32_t k, int8_t *hi, int8_t *lo)
{
    const float s = s16_scale(x, k);
    for (int32_t t = 0; t < k; t++)
        qattn_s16_bytes(qattn_round_s16(x[t] / s, S16_LIMIT), hi + t, lo + t);
    return s;
}

/* w's tier, kernels and the scale and bias arrays; the weights are the caller's to fill. */
static qattn_status weights_begin(qattn_gemm_weights *w, const float *bias, int32_t n, int32_t k,
                                  int32_t isa)
{
    memset(w, 0, sizeof *w);
    if (n < 1 || k < 4 || k % 4 != 0 || k > QATTN_GEMM_MAX_K)
        return qattn_fail(QATTN_ERR_SIZE,
                          "gemm: %d x %d weights; k must be a multiple of 4 in [4, %d]", n, k,
                          QATTN_GEMM_MAX_K);
    qattn_isa tier;
    qattn_status st = qattn_tier_resolve(isa, &tier);
    if (st != QATTN_OK)
        return st;
    w->n = n, w->k = k, w->x_bits = 8;
    w->uk = qattn_gemm_kernels_for(tier);
    w->scale = malloc((size_t)n * sizeof(float));
    w->w8 = malloc((size_t)n * k);
    w->bias = bias ? malloc((size_t)n * sizeof(float)) : NULL;
    if (!w->scale || !w->w8 || (bias && !w->bias)) {
        qattn_gemm_weights_free(w);
        return qattn_fail(QATTN_ERR_NOMEM, "gemm: out of memory for %d x %d weights", n, k);
    }
    if (bias)
        memcpy(w->bias, bias, (size_t)n * sizeof(float));
    return QATTN_OK;
}

/* Packs w->w8 for a fast tier (and drops it: only the scalar reference reads it). */
static qattn_status weights_finish(qattn_gemm_weights *w)
{
    if (!w->uk)
        return QATTN_OK;
    w->packed = aligned_alloc(64, (w->uk->packed_bytes(w->n, w->k) + 63) / 64 * 64);
    if (!w->packed) {
        int32_t n = w->n, k = w->k;
        qattn_gemm_weights_free(w);
        return qattn_fail(QATTN_ERR_NOMEM, "gemm: out of memory packing %d x %d", n, k);
    }
    w->uk->pack(w->w8, w->n, w->k, w->packed);
    free(w->w8);
    w->w8 = NULL;
    return QATTN_OK;
}

qattn_status qattn_gemm_weights_make(qattn_gemm_weights *w, const float *weights,
                                     const float *bias, int32_t n, int32_t k, int32_t isa)
{
    if (!weights) {
        memset(w, 0, sizeof *w);
        return qattn_fail(QATTN_ERR_NULL, "gemm: weights are NULL");
    }
    qattn_status st = weights_begin(w, bias, n, k, isa);
    if (st != QATTN_OK)
        return st;
    const size_t count = (size_t)n * k, bad = qattn_first_non_finite(weights, count);
    if (bad < count) {
        qattn_gemm_weights_free(w);
        return qattn_fail(QATTN_ERR_VALUE, "gemm: weight [%zu][%zu] is not finite",
                          bad / (size_t)k, bad % (size_t)k);
    }
    qattn_quantize_rows(weights, n, k, k, w->w8, w->scale);
    return weights_finish(w);
}

qattn_status qattn_gemm_weights_from_s8(qattn_gemm_weights *w, const int8_t *w8,
                                        const float *scale, const float *bias, int32_t n,
                                        int32_t k, int32_t isa)
{
    if (!w8 || !scale) {
        memset(w, 0, sizeof *w);
        return qattn_fail(QATTN_ERR_NULL, "gemm: weights or scales are NULL");
    }
    qattn_status st = weights_begin(w, bias, n, k, isa);
    if (st != QATTN_OK)
        return st;
    for (int32_t j = 0; j < n; j++)
        if (!isfinite(scale[j]) || !(scale[j] > 0.0f)) {
            qattn_gemm_weights_free(w);
            return qattn_fail(QATTN_ERR_VALUE, "gemm: scale of row %d is %g", j, (double)scale[j]);
        }
    memcpy(w->w8, w8, (size_t)n * k);
    memcpy(w->scale, scale, (size_t)n * sizeof(float));
    return weights_finish(w);
}

void qattn_gemm_weights_free(qattn_gemm_weights *w)
{
    free(w->scale), free(w->bias), free(w->w8), free(w->packed);
    memset(w, 0, sizeof *w);
}

/* The reference: plain dot products. */
static void gemm_reference(const int8_t *x8, int32_t m, const int8_t *w8, int32_t k, int32_t n0,
                           int32_t nc, int32_t *acc, ptrdiff_t ldc)
{
    for (int32_t i = 0; i < m; i++)
        for (int32_t j = 0; j < nc; j++) {
            const int8_t *xi = x8 + (size_t)i * k, *wj = w8 + (size_t)(n0 + j) * k;
            int32_t s = 0;
            for (int32_t t = 0; t < k; t++)
                s += (int32_t)xi[t] * wj[t];
            acc[i * ldc + j] = s;
        }
}

/* The reference at 16 bits: plain dot products, exact in int64. */
static void gemm_reference_s16(const int16_t *x16, int32_t m, const int8_t *w8, int32_t k,
                               int32_t n0, int32_t nc, int64_t *acc, ptrdiff_t ldc)
{
    for (int32_t i = 0; i < m; i++)
        for (int32_t j = 0; j < nc; j++) {
            const int16_t *xi = x16 + (size_t)i * k;
            const int8_t *wj = w8 + (size_t)(n0 + j) * k;
            int64_t s = 0;
            for (int32_t t = 0; t < k; t++)
                s += (int64_t)xi[t] * wj[t];
            acc[i * ldc + j] = s;
        }
}

/* The epilogue at 16 bits, every tier's: (float)acc * (sx * scale), then + bias, as
 * qattn_gemm_output does for int32 sums (the int64 sum converted to float once). */
static float output_s16(int64_t acc, float sx, float scale, const float *bias)
{
    const float scaled = (float)acc * (sx * scale);
    return bias ? scaled + *bias : scaled;
}

/* acc[i * ldc + j] for rows i < rows of x8 and columns n0 <= j < n0 + cols, by the tier's
 * kernel or the reference. */
static void product_tile(const qattn_gemm_weights *w, const int8_t *x8, int32_t rows, int32_t n0,
                         int32_t cols, int32_t *acc, ptrdiff_t ldc)
{
    if (w->uk)
        w->uk->gemm(x8, w->k, rows, w->packed, w->n, w->k, n0, cols, acc, ldc);
    else
        gemm_reference(x8, rows, w->w8, w->k, n0, cols, acc, ldc);
}

typedef struct run {
    const qattn_gemm_weights *w;
    const int8_t *x8; /* 16 bits: the int16 rows, or each row's two byte rows (bytes) */
    const float *sx;
    float *y;
    ptrdiff_t ldy;
    int32_t m, row_block, col_block, row_blocks, col_blocks; /* rows of y, of y per task */
    int32_t bits, bytes; /* 16 bits: bytes = 1 when the tier takes byte rows */
    int32_t **scratch;   /* per worker: an int32 tile of 2 row_block x col_block */
    const qattn_float_ukernels *float_kernels;
} run;

/* A task's tile at 16 bits: rows of y from i0, columns from n0. */
static void tile_s16(const run *r, int32_t i0, int32_t rows, int32_t n0, int32_t cols,
                     int32_t *scratch)
{
    const qattn_gemm_weights *w = r->w;
    const int32_t cb = r->col_block;
    if (r->bytes) { /* row 2i: the high bytes, 2i + 1: the low ones; q = 256 hi + lo */
        product_tile(w, r->x8 + (size_t)2 * i0 * w->k, 2 * rows, n0, cols, scratch, cb);
        for (int32_t i = 0; i < rows; i++) {
            const int32_t *hi = scratch + 2 * i * cb, *lo = hi + cb;
            float *y = r->y + (i0 + i) * r->ldy + n0;
            for (int32_t j = 0; j < cols; j++)
                y[j] = output_s16(256 * (int64_t)hi[j] + lo[j], r->sx[i0 + i], w->scale[n0 + j],
                                  w->bias ? w->bias + n0 + j : NULL);
        }
        return;
    }
    int64_t *acc = (int64_t *)scratch; /* rows x cb int64: the bytes of 2 rows x cb int32 */
    const int16_t *x16 = (const int16_t *)r->x8 + (size_t)i0 * w->k;
    if (w->uk)
        w->uk->gemm_s16(x16, w->k, rows, w->packed, w->n, w->k, n0, cols, acc, cb);
    else
        gemm_reference_s16(x16, rows, w->w8, w->k, n0, cols, acc, cb);
    for (int32_t i = 0; i < rows; i++) {
        float *y = r->y + (i0 + i) * r->ldy + n0;
        for (int32_t j = 0; j < cols; j++)
            y[j] = output_s16(acc[i * cb + j], r->sx[i0 + i], w->scale[n0 + j],
                              w->bias ? w->bias + n0 + j : NULL);
    }
}

static void tile_task(void *ctx, int64_t item, int worker)
{
    const run *r = ctx;
    const qattn_gemm_weights *w = r->w;
    const int32_t rb = r->row_block, cb = r->col_block;
    int32_t i0 = (int32_t)(item / r->col_blocks) * rb;
    int32_t n0 = (int32_t)(item % r->col_blocks) * cb;
    int32_t rows = r->m - i0 < rb ? r->m - i0 : rb;
    int32_t cols = w->n - n0 < cb ? w->n - n0 : cb;
    int32_t *acc = r->scratch[worker];
    if (r->bits == 16) {
        tile_s16(r, i0, rows, n0, cols, acc);
        return;
    }
    product_tile(w, r->x8 + (size_t)i0 * w->k, rows, n0, cols, acc, cb);
    /* The epilogue: one multiply by the combined scale, then the bias (no contraction), by
     * the float family's kernel (the same bits on every tier). */
    const qattn_float_ukernels *fk = r->float_kernels;
    for (int32_t i = 0; i < rows; i++)
        fk->gemm_epilogue(acc + i * cb, (size_t)cols, r->sx[i0 + i], w->scale + n0,
                          w->bias ? w->bias + n0 : NULL, r->y + (i0 + i) * r->ldy + n0);
}

typedef struct quantize_job {
    const float *x; /* the rows, ldx apart; or NULL: row() makes each one */
    qattn_gemm_row_fn row;
    void *row_ctx;
    float **row_buf; /* row(): per worker, k floats */
    int32_t m, k, bits, bytes; /* 16 bits: int16 rows, or two byte rows each (bytes) */
    ptrdiff_t ldx;
    int8_t *x8;
    float *sx;
    void (*prepare_x)(int8_t *x8, size_t n); /* the tier's, or NULL */
} quantize_job;

static void quantize_task(void *ctx, int64_t item, int worker)
{
    const quantize_job *q = ctx;
    int32_t i0 = (int32_t)item * QUANTIZE_ROWS;
    int32_t rows = q->m - i0 < QUANTIZE_ROWS ? q->m - i0 : QUANTIZE_ROWS;
    if (q->bits == 16) {
        for (int32_t i = i0; i < i0 + rows; i++) {
            int8_t *row = q->x8 + (size_t)2 * i * q->k; /* 2k bytes: k int16 or two byte rows */
            q->sx[i] = q->bytes ? quantize_row_s16_bytes(q->x + i * q->ldx, q->k, row, row + q->k)
                                : qattn_quantize_row_s16(q->x + i * q->ldx, q->k, (int16_t *)row);
        }
        if (q->bytes && q->prepare_x)
            q->prepare_x(q->x8 + (size_t)2 * i0 * q->k, (size_t)2 * rows * q->k);
        return;
    }
    if (q->x) {
        qattn_quantize_rows(q->x + i0 * q->ldx, rows, q->k, q->ldx, q->x8 + (size_t)i0 * q->k,
                            q->sx + i0);
    } else {
        float *buf = q->row_buf[worker];
        for (int32_t i = i0; i < i0 + rows; i++) {
            q->row(q->row_ctx, i, buf);
            qattn_quantize_rows(buf, 1, q->k, q->k, q->x8 + (size_t)i * q->k, q->sx + i);
        }
    }
    if (q->prepare_x)
        q->prepare_x(q->x8 + (size_t)i0 * q->k, (size_t)rows * q->k);
}

/* The largest accumulator tile of any tier (row_block x col_block int32). */
enum { ACC_TILE = REFERENCE_ROW_BLOCK * REFERENCE_COL_BLOCK };

void qattn_gemm_workspace_free(qattn_gemm_workspace *ws)
{
    if (!ws)
        return;
    free(ws->x8), free(ws->sx), free(ws->acc), free(ws->fused_rows);
    memset(ws, 0, sizeof *ws);
}

qattn_status qattn_gemm_workspace_init(qattn_gemm_workspace *ws, int32_t max_m, int32_t max_k,
                                       int32_t threads)
{
    memset(ws, 0, sizeof *ws);
    if (max_m < 1 || max_k < 1 || max_k > QATTN_GEMM_MAX_K || threads < 0)
        return qattn_fail(QATTN_ERR_SIZE, "gemm workspace: %d rows of %d, %d threads", max_m,
                          max_k, threads);
    ws->max_m = max_m, ws->max_k = max_k, ws->workers = qattn_workers_for(threads, 64);
    ws->x8 = malloc((size_t)max_m * (size_t)max_k);
    ws->sx = malloc((size_t)max_m * sizeof(float));
    ws->acc = malloc((size_t)ws->workers * ACC_TILE * sizeof(int32_t));
    if (!ws->x8 || !ws->sx || !ws->acc) {
        qattn_gemm_workspace_free(ws);
        return qattn_fail(QATTN_ERR_NOMEM, "gemm workspace: out of memory (%d rows of %d)", max_m,
                          max_k);
    }
    return QATTN_OK;
}

/* Whether w's tier runs 16-bit rows as their two byte rows (no gemm_s16 of its own). */
static int s16_as_bytes(const qattn_gemm_weights *w)
{
    return w->uk && !w->uk->gemm_s16;
}

/* m rows of x quantized as w's input into ws, the workspace's record of them set (none at
 * 16 bits: those rows are for qattn_gemm_run_in alone). */
static void quantize_into(const qattn_gemm_weights *w, const float *x, int32_t m, ptrdiff_t ldx,
                          int32_t threads, qattn_gemm_workspace *ws)
{
    quantize_job q = {x, NULL, NULL, NULL, m, w->k, w->x_bits, s16_as_bytes(w), ldx, ws->x8,
                      ws->sx, w->uk ? w->uk->prepare_x : NULL};
    const int64_t tasks = (m + QUANTIZE_ROWS - 1) / QUANTIZE_ROWS;
    qattn_parallel_for(qattn_workers_for(threads, tasks), tasks, quantize_task, &q);
    ws->rows_m = w->x_bits == 8 ? m : 0, ws->rows_k = w->k, ws->rows_tier = w->uk;
}

/* The activation bits a GEMM call can take: 8, or 16 outside the fused GEMMs. */
static qattn_status bits_check(const qattn_gemm_weights *w, int fused)
{
    if (w->x_bits == 8 || (w->x_bits == 16 && !fused))
        return QATTN_OK;
    return qattn_fail(QATTN_ERR_VALUE, "gemm: %d bits per activation (%s)", w->x_bits,
                      fused ? "the fused GEMMs take 8" : "8 or 16");
}

/* The workers a GEMM of `items` tasks uses: at most the workspace's (each has its tile). */
static int workers_within(const qattn_gemm_workspace *ws, int32_t threads, int64_t items)
{
    int workers = qattn_workers_for(threads, items);
    workers = workers < ws->workers ? workers : ws->workers;
    return workers < 64 ? workers : 64;
}

qattn_status qattn_gemm_run_in(const qattn_gemm_weights *w, const float *x, int32_t m,
                               ptrdiff_t ldx, float *y, ptrdiff_t ldy, int32_t threads,
                               qattn_gemm_workspace *ws)
{
    if (!w || !(w->w8 || w->packed) || !x || !y || !ws || !ws->acc)
        return qattn_fail(QATTN_ERR_NULL, "gemm: NULL argument");
    qattn_status st = bits_check(w, 0);
    if (st != QATTN_OK)
        return st;
    const int32_t per_row = w->x_bits / 8; /* workspace rows a row of x takes */
    if (m < 1 || ldx < w->k || ldy < w->n || m > ws->max_m / per_row || w->k > ws->max_k)
        return qattn_fail(QATTN_ERR_SIZE, "gemm: m = %d (%d bits), k = %d, ldx = %td, ldy = %td "
                          "(workspace %d x %d)", m, w->x_bits, w->k, ldx, ldy, ws->max_m,
                          ws->max_k);
    const int32_t rb = w->uk ? w->uk->row_block : REFERENCE_ROW_BLOCK;
    const int32_t cb = w->uk ? w->uk->col_block : REFERENCE_COL_BLOCK;
    /* at 16 bits a task takes rb / 2 rows: their two byte rows, or their int64 sums, fill the
     * same tile */
    if ((int64_t)rb * cb > ACC_TILE || rb % 2 != 0)
        return qattn_fail(QATTN_ERR_SIZE, "gemm: a %d x %d tile does not fit the driver", rb, cb);
    int32_t *scratch[64];
    const int32_t task_rows = rb / per_row;
    run r = {w, NULL, NULL, y, ldy, m, task_rows, cb, (m + task_rows - 1) / task_rows,
             (w->n + cb - 1) / cb, w->x_bits, s16_as_bytes(w), scratch, qattn_float_kernels()};
    const int64_t items = (int64_t)r.row_blocks * r.col_blocks;
    const int workers = workers_within(ws, threads, items);
    for (int i = 0; i < workers; i++)
        scratch[i] = ws->acc + (size_t)i * ACC_TILE;
    quantize_into(w, x, m, ldx, threads, ws);
    r.x8 = ws->x8, r.sx = ws->sx;
    qattn_parallel_for(workers, items, tile_task, &r);
    return QATTN_OK;
}

qattn_status qattn_gemm_quantize_input(const qattn_gemm_weights *w, const float *x, int32_t m,
                                       ptrdiff_t ldx, int32_t threads, qattn_gemm_workspace *ws)
{
    if (!w || !(w->w8 || w->packed) || !x || !ws || !ws->x8)
        return qattn_fail(QATTN_ERR_NULL, "gemm: NULL argument");
    qattn_status st = bits_check(w, 1);
    if (st != QATTN_OK)
        return st;
    if (m < 1 || ldx < 1 || m > ws->max_m || w->k > ws->max_k)
        return qattn_fail(QATTN_ERR_SIZE, "gemm: quantize m = %d rows of k = %d, ldx = %td "
                          "(workspace %d x %d)", m, w->k, ldx, ws->max_m, ws->max_k);
    quantize_into(w, x, m, ldx, threads, ws);
    return QATTN_OK;
}

qattn_status qattn_gemm_quantize_input_from(const qattn_gemm_weights *w, qattn_gemm_row_fn row,
                                            void *ctx, int32_t m, int32_t threads,
                                            qattn_gemm_workspace *ws)
{
    if (!w || !(w->w8 || w->packed) || !row || !ws || !ws->x8)
        return qattn_fail(QATTN_ERR_NULL, "gemm: NULL argument");
    qattn_status st = bits_check(w, 1);
    if (st != QATTN_OK)
        return st;
    if (m < 1 || m > ws->max_m || w->k > ws->max_k)
        return qattn_fail(QATTN_ERR_SIZE, "gemm: quantize m = %d rows of k = %d (workspace "
                          "%d x %d)", m, w->k, ws->max_m, ws->max_k);
    const int64_t tasks = (m + QUANTIZE_ROWS - 1) / QUANTIZE_ROWS;
    int workers = qattn_workers_for(threads, tasks);
    workers = workers < 64 ? workers : 64;
    float *bufs = malloc((size_t)workers * w->k * sizeof(float)), *buf[64];
    if (!bufs)
        return qattn_fail(QATTN_ERR_NOMEM, "gemm: out of memory for rows of %d", w->k);
    for (int i = 0; i < workers; i++)
        buf[i] = bufs + (size_t)i * w->k;
    quantize_job q = {NULL, row, ctx, buf, m, w->k, 8, 0, w->k, ws->x8, ws->sx,
                      w->uk ? w->uk->prepare_x : NULL};
    qattn_parallel_for(workers, tasks, quantize_task, &q);
    free(bufs);
    ws->rows_m = m, ws->rows_k = w->k, ws->rows_tier = w->uk;
    return QATTN_OK;
}

/* --- Fused GEMMs: tasks of whole rows ------------------------------------------------------ */

/* Rows per fused task. A task runs its rows against the whole weight matrix, so its rows are
 * the products per weight byte it reads: at 64 the weights of a large-v3 MLP (6.5 MB, from
 * L3) cost less than the products, where 24 rows (what keeping 512 KB of float rows gave at
 * n = 5120) left AMX's 32-row blocks unused and the weights' reads in front: large-v3's MLP
 * stage 998 -> 595 ms, 2 threads, AMX (VNNI 1467 -> 1356). The 65 float rows of n = 5120
 * (1.3 MB) still fit a 2 MB L2. A multiple of every tier's row block (4, 32). */
enum { FUSED_ROWS = 64 };

typedef struct fused_run {
    const qattn_gemm_weights *w;
    const int8_t *x8;
    const float *sx;
    int32_t m, rows, col_block; /* rows per task: a multiple of 4, at most 64 */
    int32_t **acc;              /* per worker: rows x col_block int32 */
    float **buf;                /* per worker: rows + 1 rows of n floats (the last a spare) */
    const qattn_gemm_fusion *f;
    const qattn_float_ukernels *fk;
    void (*next_prepare)(int8_t *x8, size_t n);
} fused_run;

/* Row i's max-abs per group of columns [c0, c0 + cols) (qattn_gemm_fusion's group_max), from
 * row[c0] on; c0 and cols multiples of the group. */
static void group_maxima(const fused_run *r, int32_t i, const float *row, int32_t c0,
                         int32_t cols)
{
    const int32_t group = r->f->group, groups = r->w->n / group;
    for (int32_t g = c0 / group; g < (c0 + cols) / group; g++)
        r->f->group_max[(size_t)i * groups + g] =
            r->fk->max_abs(row + (g * group - c0), (size_t)group);
}

/* The larger of two max_abs results, compared as max_abs compares (the bits as integers). */
static float larger_magnitude(float a, float b)
{
    uint32_t x, y;
    memcpy(&x, &a, sizeof x);
    memcpy(&y, &b, sizeof y);
    return y > x ? b : a;
}

/* The rest of the chain for one row whose slices are done (row: the residual's row, or the
 * worker's buffer): LayerNorm, y, the group maxima, the next GEMM's rows. row_max: the row's
 * max-abs taken from its slices, or NULL (LayerNorm comes first: taken here). */
static void finish_row(const fused_run *r, int32_t i, const float *row, float *spare,
                       const float *row_max, int groups_done)
{
    const qattn_gemm_fusion *f = r->f;
    const qattn_float_ukernels *fk = r->fk;
    const int32_t n = r->w->n;
    if (f->ln_gamma) {
        fk->layer_norm(row, f->ln_gamma, f->ln_beta, spare, n);
        row = spare;
    }
    if (f->y)
        memcpy(f->y + i * f->ldy, row, (size_t)n * sizeof(float));
    if (f->group_max && !groups_done)
        group_maxima(r, i, row, 0, n);
    if (f->next) {
        int8_t *x8 = f->next->x8 + (size_t)i * n;
        const float s = qattn_scale_for_max_abs(row_max ? *row_max : fk->max_abs(row, (size_t)n));
        f->next->sx[i] = s;
        fk->quantize(row, (size_t)n, s, x8);
        if (r->next_prepare)
            r->next_prepare(x8, (size_t)n);
    }
}

/*
 * Rows [i0, i0 + rows) against all columns, a column block at a time. The element-wise steps
 * (the epilogue, GELU, the residual sum) and the reductions that need no LayerNorm first (the
 * row's max-abs for the next GEMM, the group maxima) run on each row's slice of the block
 * while it is in L1; the row then finishes (LayerNorm, y, the quantization) once all its
 * slices are done. The same operations on the same values as the chain row by row.
 */
static void fused_task(void *ctx, int64_t item, int worker)
{
    const fused_run *r = ctx;
    const qattn_gemm_weights *w = r->w;
    const int32_t i0 = (int32_t)item * r->rows, n = w->n, cb = r->col_block;
    const int32_t rows = r->m - i0 < r->rows ? r->m - i0 : r->rows;
    int32_t *acc = r->acc[worker];
    float *buf = r->buf[worker];
    const qattn_gemm_fusion *f = r->f;
    const qattn_float_ukernels *fk = r->fk;
    /* floats only: the epilogue writes them in place, nothing follows */
    const int only_y = !f->gelu && !f->residual && !f->ln_gamma && !f->next;
    float *rows_out = only_y ? f->y + i0 * f->ldy : buf;
    const ptrdiff_t ld = only_y ? f->ldy : n;
    const int slice_max = f->next && !f->ln_gamma;
    const int slice_groups = f->group_max && !f->ln_gamma && cb % f->group == 0;
    float row_max[FUSED_ROWS];
    for (int32_t n0 = 0; n0 < n; n0 += cb) {
        const int32_t cols = n - n0 < cb ? n - n0 : cb;
        product_tile(w, r->x8 + (size_t)i0 * w->k, rows, n0, cols, acc, cb);
        for (int32_t i = 0; i < rows; i++) {
            float *slice = rows_out + i * ld + n0;
            fk->gemm_epilogue(acc + i * cb, (size_t)cols, r->sx[i0 + i], w->scale + n0,
                              w->bias ? w->bias + n0 : NULL, slice);
            if (f->gelu)
                fk->gelu(slice, (size_t)cols);
            if (f->residual) {
                float *res = f->residual + (size_t)(i0 + i) * n + n0;
                qattn_add(res, slice, (size_t)cols);
                slice = res;
            }
            if (slice_max) {
                const float m = fk->max_abs(slice, (size_t)cols);
                row_max[i] = n0 == 0 ? m : larger_magnitude(row_max[i], m);
            }
            if (slice_groups)
                group_maxima(r, i0 + i, slice, n0, cols);
        }
    }
    for (int32_t i = 0; !only_y && i < rows; i++) {
        const float *row = f->residual ? f->residual + (size_t)(i0 + i) * n : buf + (size_t)i * n;
        finish_row(r, i0 + i, row, buf + (size_t)r->rows * n, slice_max ? &row_max[i] : NULL,
                   slice_groups);
    }
    for (int32_t i = 0; only_y && f->group_max && !slice_groups && i < rows; i++)
        group_maxima(r, i0 + i, rows_out + i * ld, 0, n);
}

static qattn_status fusion_check(const qattn_gemm_weights *w, const qattn_gemm_workspace *in,
                                 const qattn_gemm_fusion *f)
{
    if (!w || !(w->w8 || w->packed) || !in || !in->acc || !f)
        return qattn_fail(QATTN_ERR_NULL, "gemm: NULL argument");
    qattn_status st = bits_check(w, 1);
    if (st == QATTN_OK && f->next && f->next_w)
        st = bits_check(f->next_w, 1);
    if (st != QATTN_OK)
        return st;
    if (in->rows_m < 1 || in->rows_k != w->k || in->rows_tier != w->uk)
        return qattn_fail(QATTN_ERR_VALUE, "gemm: the workspace holds %d rows of %d for another "
                          "tier or none; these weights take rows of %d", in->rows_m, in->rows_k,
                          w->k);
    if (!f->residual && !f->y && !f->next)
        return qattn_fail(QATTN_ERR_VALUE, "gemm: a fused GEMM with no output");
    if (!f->ln_gamma != !f->ln_beta)
        return qattn_fail(QATTN_ERR_NULL, "gemm: LayerNorm needs both gamma and beta");
    if (f->y && f->ldy < w->n)
        return qattn_fail(QATTN_ERR_SIZE, "gemm: ldy = %td < n = %d", f->ldy, w->n);
    if (f->group_max && (f->group < 1 || w->n % f->group != 0))
        return qattn_fail(QATTN_ERR_SIZE, "gemm: groups of %d columns do not divide n = %d",
                          f->group, w->n);
    if (f->next) {
        const qattn_gemm_workspace *nx = f->next;
        if (nx == in || !f->next_w || !nx->x8)
            return qattn_fail(QATTN_ERR_VALUE, "gemm: the next GEMM's workspace must be its own");
        if (f->next_w->k != w->n || nx->max_m < in->rows_m || nx->max_k < w->n)
            return qattn_fail(QATTN_ERR_SIZE, "gemm: %d outputs into the next GEMM's %d inputs "
                              "(its workspace %d x %d)", w->n, f->next_w->k, nx->max_m, nx->max_k);
    }
    return QATTN_OK;
}

qattn_status qattn_gemm_run_fused(const qattn_gemm_weights *w, qattn_gemm_workspace *in,
                                  const qattn_gemm_fusion *f, int32_t threads)
{
    qattn_status st = fusion_check(w, in, f);
    if (st != QATTN_OK)
        return st;
    const int32_t m = in->rows_m, n = w->n;
    const int32_t cb = w->uk ? w->uk->col_block : REFERENCE_COL_BLOCK;
    const int32_t rows = FUSED_ROWS;
    if ((int64_t)rows * cb > ACC_TILE)
        return qattn_fail(QATTN_ERR_SIZE, "gemm: a %d x %d tile is larger than the workspace's",
                          rows, cb);
    const int64_t items = (m + rows - 1) / rows;
    const int workers = workers_within(in, threads, items);
    const size_t buf_floats = (size_t)(rows + 1) * n;
    in->fused_rows = qattn_reserve(in->fused_rows, &in->fused_bytes,
                                   (size_t)workers * buf_floats * sizeof(float));
    if (!in->fused_rows)
        return qattn_fail(QATTN_ERR_NOMEM, "gemm: out of memory for %d rows of %d", rows, n);
    float *bufs = in->fused_rows;
    int32_t *acc[64];
    float *buf[64];
    for (int i = 0; i < workers; i++)
        acc[i] = in->acc + (size_t)i * ACC_TILE, buf[i] = bufs + (size_t)i * buf_floats;
    fused_run r = {w, in->x8, in->sx, m, rows, cb, acc, buf, f, qattn_float_kernels(),
                   f->next && f->next_w->uk ? f->next_w->uk->prepare_x : NULL};
    qattn_parallel_for(workers, items, fused_task, &r);
    if (f->next) {
        f->next->rows_m = m, f->next->rows_k = n;
        f->next->rows_tier = f->next_w->uk;
    }
    return QATTN_OK;
}

qattn_status qattn_gemm_run(const qattn_gemm_weights *w, const float *x, int32_t m,
                            ptrdiff_t ldx, float *y, ptrdiff_t ldy, int32_t threads)
{
    if (!w || !(w->w8 || w->packed) || !x || !y)
        return qattn_fail(QATTN_ERR_NULL, "gemm: NULL argument");
    if (m < 1 || ldx < w->k || ldy < w->n)
        return qattn_fail(QATTN_ERR_SIZE, "gemm: m = %d, ldx = %td, ldy = %td", m, ldx, ldy);
    qattn_status st = bits_check(w, 0);
    if (st != QATTN_OK)
        return st;
    const int32_t per_row = w->x_bits / 8;
    if (m > INT32_MAX / per_row)
        return qattn_fail(QATTN_ERR_SIZE, "gemm: m = %d rows of %d bits", m, w->x_bits);
    qattn_gemm_workspace ws;
    st = qattn_gemm_workspace_init(&ws, m * per_row, w->k, threads);
    if (st == QATTN_OK)
        st = qattn_gemm_run_in(w, x, m, ldx, y, ldy, threads, &ws);
    qattn_gemm_workspace_free(&ws);
    return st;
}
