/* A linear layer y = x W^T + b in its encoder's precision: OpenBLAS sgemm on float weights
 * (f32), or the INT8 GEMM on weights quantized and packed once at load (int8). */
#include <cblas.h>
#include <stdlib.h>

#include "whisper/model.h"

qattn_status qattn_linear_run(const qattn_run *run, const whisper_linear *l, const float *x,
                              int32_t m, float *y)
{
    return qattn_linear_run_in(run, l, x, m, y, NULL);
}

qattn_status qattn_linear_run_in(const qattn_run *run, const whisper_linear *l, const float *x,
                                 int32_t m, float *y, qattn_gemm_workspace *ws)
{
    if (run->precision == QATTN_PRECISION_INT8)
        return ws ? qattn_gemm_run_in(&l->q, x, m, l->n_in, y, l->n_out, run->threads, ws)
                  : qattn_gemm_run(&l->q, x, m, l->n_in, y, l->n_out, run->threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, l->n_out, l->n_in, 1.0f, x, l->n_in,
                l->w, l->n_in, 0.0f, y, l->n_out);
    if (l->b)
        for (int32_t i = 0; i < m; i++)
            for (int32_t j = 0; j < l->n_out; j++)
                y[(size_t)i * l->n_out + j] += l->b[j];
    return QATTN_OK;
}

qattn_status qattn_linear_finish(const qattn_run *run, whisper_linear *l, int32_t x_bits)
{
    if (run->precision != QATTN_PRECISION_INT8)
        return QATTN_OK;
    qattn_status st = qattn_gemm_weights_make(&l->q, l->w, l->b, l->n_out, l->n_in, run->isa);
    free(l->w), free(l->b);
    l->w = l->b = NULL;
    if (st == QATTN_OK)
        l->q.x_bits = x_bits;
    return st;
}

void qattn_linear_free(whisper_linear *l)
{
    free(l->w), free(l->b);
    qattn_gemm_weights_free(&l->q);
}
