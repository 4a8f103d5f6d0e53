/*
 * Multi-head self-attention of a window, from the stacked q, k, v projections ([n][3 d]) to
 * the heads' outputs side by side ([n][d]): float (OpenBLAS products and a float softmax), or
 * the integer kernel (per-head max-abs int8 Q, K, V, the output at V's scale: an output row is
 * a convex combination of V rows, so it never saturates).
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attn/attention.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/float_ops.h"
#include "whisper/model.h"

void qattn_attention_heads_f32(int32_t heads, int32_t d, const float *q, int32_t ld_q,
                               const float *k, const float *v, int32_t ld_kv, int32_t n,
                               int32_t m, int causal, int32_t threads, float *scores, float *out)
{
    const int32_t hd = d / heads;
    for (int32_t h = 0; h < heads; h++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, m, hd, 1.0f / sqrtf((float)hd),
                    q + h * hd, ld_q, k + h * hd, ld_kv, 0.0f, scores, m);
        if (causal) { /* the softmax runs over the visible prefix: masked weights are exactly 0 */
            for (int32_t i = 0; i < n; i++) {
                const int32_t seen = i + m - n + 1;
                qattn_softmax_rows(scores + (size_t)i * m, 1, seen, m, 1);
                memset(scores + (size_t)i * m + seen, 0, (size_t)(m - seen) * sizeof(float));
            }
        } else {
            qattn_softmax_rows(scores, n, m, m, threads);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, m, 1.0f, scores, m,
                    v + h * hd, ld_kv, 0.0f, out + h * hd, d);
    }
}

void qattn_self_attention_f32(const struct qattn_encoder *enc, const float *qkv, int32_t n,
                              float *scores, float *out)
{
    const int32_t d = enc->cfg.n_state;
    qattn_attention_heads_f32(enc->cfg.n_heads, d, qkv, 3 * d, qkv + d, qkv + 2 * d, 3 * d, n, n,
                              0, enc->run.threads, scores, out);
}

/* Per-head quantization of Q, K, V: the scales from the projection's row maxima, then the
 * rows in blocks. */
typedef struct heads_job {
    const float *qkv;
    const float *head_max; /* [n][3 heads] per-row max-abs of q, k, v heads */
    int32_t heads;
    int8_t *q8, *k8, *v8, *o8;
    int32_t n, d, hd;
    float *sq, *sk, *sv; /* [heads] scales */
} heads_job;

/* Each head's scale for q, k and v: the max-abs of its block is the maximum of its rows'. */
static void head_scales(const heads_job *j)
{
    const int32_t groups = 3 * j->heads;
    float *scale[3] = {j->sq, j->sk, j->sv};
    for (int32_t g = 0; g < groups; g++) {
        float amax = 0.0f;
        for (int32_t i = 0; i < j->n; i++) {
            const float m = j->head_max[(size_t)i * groups + g];
            amax = m > amax ? m : amax;
        }
        scale[g / j->heads][g % j->heads] = qattn_scale_for_max_abs(amax);
    }
}

/* Rows [row0, row0 + rows) of every head's q, k and v: each qkv row is read once, in order.
 * A head at a time over all rows (the former order) read 256-byte pieces 3 d floats apart,
 * a new page each, and waited on memory row by row: 3 ms of a large-v3 layer's 26 ms of
 * attention; this order cut large-v3's attention stage by 9%. */
static void heads_rows(void *ctx, int32_t row0, int32_t rows)
{
    const heads_job *j = ctx;
    const int32_t n = j->n, d = j->d, hd = j->hd;
    const float *scale[3] = {j->sq, j->sk, j->sv};
    int8_t *to[3] = {j->q8, j->k8, j->v8};
    for (int32_t i = row0; i < row0 + rows; i++)
        for (int part = 0; part < 3; part++)
            for (int32_t h = 0; h < j->heads; h++)
                qattn_quantize_block_at(j->qkv + (size_t)i * 3 * d + part * d + h * hd, 1, hd, hd,
                                        scale[part][h], to[part] + ((size_t)h * n + i) * hd);
}

/* Row i of the heads' output side by side, dequantized as qattn_dequantize_block does: the
 * out projection's input, made one row at a time where it is quantized. */
static void output_row(void *ctx, int32_t i, float *row)
{
    const heads_job *j = ctx;
    for (int32_t h = 0; h < j->heads; h++) {
        const int8_t *o = j->o8 + ((size_t)h * j->n + i) * j->hd;
        for (int32_t t = 0; t < j->hd; t++)
            row[h * j->hd + t] = o[t] * j->sv[h];
    }
}

qattn_status qattn_self_attention_int8(const struct qattn_encoder *enc, const float *qkv,
                                       const float *head_max, int32_t n, int8_t *scratch,
                                       struct qattn_attention_scratch *attn,
                                       const qattn_gemm_weights *o, qattn_gemm_workspace *o_in)
{
    const int32_t d = enc->cfg.n_state, heads = enc->cfg.n_heads;
    const size_t nd = (size_t)n * d;
    float *scales = malloc(3 * (size_t)heads * sizeof(float));
    if (!scales)
        return qattn_fail(QATTN_ERR_NOMEM, "encoder: out of memory");
    heads_job j = {qkv, head_max, heads, scratch, scratch + nd, scratch + 2 * nd,
                   scratch + 3 * nd, n, d, d / heads, scales, scales + heads,
                   scales + 2 * heads};
    head_scales(&j);
    qattn_parallel_rows(enc->run.threads, n, heads_rows, &j);
    qattn_attention_desc desc = qattn_attention_desc_default();
    desc.heads = heads, desc.len_q = desc.len_k = n, desc.head_dim = j.hd;
    desc.scale_q = j.sq, desc.scale_k = j.sk, desc.scale_v = j.sv, desc.scale_out = j.sv;
    desc.threads = enc->run.threads, desc.isa = enc->run.isa;
    qattn_status st = qattn_attention_s8_in(&desc, j.q8, j.k8, j.v8, j.o8, attn);
    if (st == QATTN_OK)
        st = qattn_gemm_quantize_input_from(o, output_row, &j, n, enc->run.threads, o_in);
    free(scales);
    return st;
}
