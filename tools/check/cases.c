/*
 * One accuracy case: random float Q, K, V; the stress transform; per-tensor max-abs
 * quantization by the case's protocol; the float64 reference on the float inputs,
 * quantized by its own max-abs; the kernel; and the quantization floor (exact float64
 * softmax on the dequantized int8 inputs, rounded with the same output scale).
 */
#include "check/cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check/reference.h"
#include "check/rng.h"
#include "qattn.h"

#define ROUNDING(name, h, lq, lk, d, seed) \
    {name, PROTOCOL_ROUNDING, TARGET_ROUNDING, h, lq, lk, d, 1.0, 0, 0.0, 0, 0, seed}
#define STRESS(name, h, lq, lk, d, gain, outl, off, causal, kvl, seed) \
    {name, PROTOCOL_ROUNDING, TARGET_STRESS, h, lq, lk, d, gain, outl, off, causal, kvl, seed}

const check_case check_cases[] = {
    {"seed_64x64", PROTOCOL_SEED, TARGET_SEED, 1, 64, 64, 64, 1.0, 0, 0.0, 0, 0, 42},
    ROUNDING("rounding_64x64", 1, 64, 64, 64, 42),
    ROUNDING("rounding_1500x64", 1, 1500, 1500, 64, 42),
    ROUNDING("rounding_whisper_base_8x1500x64", 8, 1500, 1500, 64, 42),
    STRESS("peaked_scores_x8", 2, 200, 333, 64, 8.0, 0, 0.0, 0, 0, 11),
    STRESS("flat_scores_x0.1", 2, 200, 333, 64, 0.1, 0, 0.0, 0, 0, 12),
    STRESS("v_outlier_channels_20x", 2, 200, 333, 64, 1.0, 3, 0.0, 0, 0, 13),
    STRESS("qk_common_offset_4", 2, 200, 333, 64, 1.0, 0, 4.0, 0, 0, 14),
    STRESS("causal_448", 2, 448, 448, 64, 1.0, 0, 0.0, 1, 0, 15),
    STRESS("causal_bottom_right_5_of_300", 3, 5, 300, 64, 1.0, 0, 0.0, 2, 0, 21),
    STRESS("causal_bottom_right_100_of_230", 2, 100, 230, 64, 1.0, 0, 0.0, 2, 0, 22),
    STRESS("padding_kv_len_150_of_256", 2, 128, 256, 64, 1.0, 0, 0.0, 0, 150, 16),
    STRESS("len_k_1", 2, 64, 1, 64, 1.0, 0, 0.0, 0, 0, 17),
    STRESS("len_k_4097", 1, 100, 4097, 64, 1.0, 0, 0.0, 0, 0, 18),
    STRESS("head_dim_32", 4, 256, 256, 32, 1.0, 0, 0.0, 0, 0, 19),
    STRESS("head_dim_128", 2, 200, 300, 128, 1.0, 0, 0.0, 0, 0, 20),
};
const int check_case_count = (int)(sizeof check_cases / sizeof check_cases[0]);

static double max_abs(const double *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(x[i]));
    return m;
}

/* The protocol's float -> int8: truncation toward zero (seed) or round to nearest, ties to
 * even (nearbyint in the default rounding mode), then saturation. */
static int8_t quantize(double x, double scale, check_protocol protocol)
{
    double t = protocol == PROTOCOL_SEED ? trunc(x / scale) : nearbyint(x / scale);
    return (int8_t)(t > 127 ? 127 : t < -128 ? -128 : t);
}

/* Max-abs scale of a whole tensor, its int8 image, and the dequantized values. */
static double quantize_tensor(const double *x, int8_t *q, double *deq, size_t n,
                              check_protocol protocol)
{
    double scale = max_abs(x, n) / 127.0;
    if (scale == 0.0)
        scale = 1.0;
    for (size_t i = 0; i < n; i++) {
        q[i] = quantize(x[i], scale, protocol);
        deq[i] = q[i] * scale;
    }
    return scale;
}

static void fill_inputs(const check_case *c, double *q, double *k, double *v, size_t nq,
                        size_t nkv)
{
    /* np.random.seed(seed); Q, K, V = (np.random.randn(*shape).astype(np.float32) ...) */
    check_rng rng;
    check_rng_seed(&rng, c->seed);
    for (size_t i = 0; i < nq; i++)
        q[i] = (float)check_rng_normal(&rng);
    for (size_t i = 0; i < nkv; i++)
        k[i] = (float)check_rng_normal(&rng);
    for (size_t i = 0; i < nkv; i++)
        v[i] = (float)check_rng_normal(&rng);
    /* the stress transforms */
    for (size_t i = 0; i < nq; i++)
        q[i] = q[i] * c->q_gain + c->qk_offset;
    for (size_t i = 0; i < nkv; i++) {
        k[i] += c->qk_offset;
        if ((int)(i % (size_t)c->head_dim) < c->v_outliers)
            v[i] *= 20.0;
    }
}

static void evaluate(const check_case *c, check_result *r)
{
    const check_stats *k = &r->kernel, *f = &r->floor;
    r->pass = 0;
    if (c->target == TARGET_SEED) {
        if (k->corr < 0.999)
            snprintf(r->why, sizeof r->why, "corr %.5f < 0.999", k->corr);
        else if (k->mae > 1.0)
            snprintf(r->why, sizeof r->why, "MAE %.3f > 1.0", k->mae);
        else if (k->within5 < 0.995)
            snprintf(r->why, sizeof r->why, "within5 %.4f < 0.995", k->within5);
        else if (abs(k->out_min - k->ref_min) > 6 || abs(k->out_max - k->ref_max) > 6)
            snprintf(r->why, sizeof r->why, "range [%d, %d] not within 6 of [%d, %d]",
                     k->out_min, k->out_max, k->ref_min, k->ref_max);
        else
            r->pass = 1;
    } else if (c->target == TARGET_ROUNDING) {
        if (k->mae > 1.05 * f->mae)
            snprintf(r->why, sizeof r->why, "MAE %.4f > 1.05 x floor %.4f", k->mae, f->mae);
        else if (k->corr < 0.9995)
            snprintf(r->why, sizeof r->why, "corr %.5f < 0.9995", k->corr);
        else if (k->within1 < 0.99)
            snprintf(r->why, sizeof r->why, "within1 %.4f < 0.99", k->within1);
        else if (k->max_err > 3)
            snprintf(r->why, sizeof r->why, "max error %d > 3", k->max_err);
        else
            r->pass = 1;
    } else {
        if (k->mae > 1.05 * f->mae + 0.01)
            snprintf(r->why, sizeof r->why, "MAE %.4f > 1.05 x floor %.4f + 0.01", k->mae,
                     f->mae);
        else if (k->max_err > f->max_err + 1)
            snprintf(r->why, sizeof r->why, "max error %d > floor %d + 1", k->max_err,
                     f->max_err);
        else if (r->wrong_saturations > 0)
            snprintf(r->why, sizeof r->why, "%ld wrongly saturated outputs",
                     r->wrong_saturations);
        else
            r->pass = 1;
    }
}

int check_run_case(const check_case *c, check_result *res)
{
    const size_t nq = (size_t)c->heads * c->len_q * c->head_dim;
    const size_t nkv = (size_t)c->heads * c->len_k * c->head_dim;
    const int kv_len = c->kv_len ? c->kv_len : c->len_k;
    double *fq = malloc(nq * sizeof(double)), *fk = malloc(nkv * sizeof(double));
    double *fv = malloc(nkv * sizeof(double)), *dq = malloc(nq * sizeof(double));
    double *dk = malloc(nkv * sizeof(double)), *dv = malloc(nkv * sizeof(double));
    double *ref = malloc(nq * sizeof(double)), *flo = malloc(nq * sizeof(double));
    int8_t *q8 = malloc(nq), *k8 = malloc(nkv), *v8 = malloc(nkv);
    int8_t *out8 = malloc(nq), *ref8 = malloc(nq), *floor8 = malloc(nq);
    float *scales = malloc(4 * (size_t)c->heads * sizeof(float));
    int32_t *kv_lens = malloc((size_t)c->heads * sizeof(int32_t));
    int ok = fq && fk && fv && dq && dk && dv && ref && flo && q8 && k8 && v8 && out8 &&
             ref8 && floor8 && scales && kv_lens;
    res->why[0] = '\0';
    if (!ok)
        snprintf(res->why, sizeof res->why, "out of memory");
    if (ok) {
        fill_inputs(c, fq, fk, fv, nq, nkv);
        double sq = quantize_tensor(fq, q8, dq, nq, c->protocol);
        double sk = quantize_tensor(fk, k8, dk, nkv, c->protocol);
        double sv = quantize_tensor(fv, v8, dv, nkv, c->protocol);
        ok = check_attention_f64(fq, fk, fv, ref, c->heads, c->len_q, c->len_k, c->head_dim,
                                 c->causal, kv_len) &&
             check_attention_f64(dq, dk, dv, flo, c->heads, c->len_q, c->len_k, c->head_dim,
                                 c->causal, kv_len);
        double so = max_abs(ref, nq) / 127.0;
        if (so == 0.0)
            so = 1.0;
        for (size_t i = 0; i < nq; i++) {
            ref8[i] = quantize(ref[i], so, c->protocol);
            floor8[i] = quantize(flo[i], so, PROTOCOL_ROUNDING);
        }
        for (int h = 0; h < c->heads; h++) {
            scales[h] = (float)sq;
            scales[c->heads + h] = (float)sk;
            scales[2 * c->heads + h] = (float)sv;
            scales[3 * c->heads + h] = (float)so;
            kv_lens[h] = kv_len;
        }
        qattn_attention_desc d = qattn_attention_desc_default();
        d.heads = c->heads;
        d.len_q = c->len_q;
        d.len_k = c->len_k;
        d.head_dim = c->head_dim;
        d.scale_q = scales;
        d.scale_k = scales + c->heads;
        d.scale_v = scales + 2 * c->heads;
        d.scale_out = scales + 3 * c->heads;
        d.causal = c->causal;
        d.kv_len = kv_lens;
        if (ok && qattn_attention_s8(&d, q8, k8, v8, out8) != QATTN_OK) {
            snprintf(res->why, sizeof res->why, "kernel failed: %s", qattn_last_error());
            ok = 0;
        }
    }
    if (ok) {
        res->kernel = check_compare(out8, ref8, nq);
        res->floor = check_compare(floor8, ref8, nq);
        res->wrong_saturations = 0;
        for (size_t i = 0; i < nq; i++)
            if ((out8[i] == 127 || out8[i] == -128) && abs(out8[i] - floor8[i]) > 1)
                res->wrong_saturations++;
        evaluate(c, res);
    }
    free(fq), free(fk), free(fv), free(dq), free(dk), free(dv), free(ref), free(flo);
    free(q8), free(k8), free(v8), free(out8), free(ref8), free(floor8), free(scales);
    free(kv_lens);
    return ok;
}
