/*
 * The multi-head entry point against exact float64 attention on the same int8 inputs, over
 * a matrix of shapes (ragged Lq/Lk, D from 16 to 256, causal, padding, per-head scales), and
 * the structural identities that must hold bit for bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check/reference.h"
#include "qattn.h"
#include "testing.h"

typedef struct shape {
    int32_t heads, len_q, len_k, head_dim, causal, padded;
} shape;

static const shape shapes[] = {
    {1, 1, 1, 16, 0, 0},     {1, 64, 64, 64, 0, 0},   {3, 65, 63, 16, 0, 0},
    {2, 100, 129, 32, 0, 1}, {5, 37, 200, 48, 0, 0},  {2, 130, 130, 64, 1, 0},
    {2, 70, 150, 80, 1, 0},  {1, 150, 70, 64, 1, 0},  {2, 33, 257, 128, 0, 1},
    {1, 20, 300, 208, 1, 1}, {2, 17, 100, 256, 0, 0}, {4, 1, 1500, 64, 0, 1},
};

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint32_t next_u32(void)
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * (next_u32() / 4294967296.0);
}

typedef struct tensors {
    int8_t *q, *k, *v, *out;
    float *scales; /* q, k, v, out: heads each */
    int32_t *kv_len;
} tensors;

static void make(const shape *s, tensors *t)
{
    size_t nq = (size_t)s->heads * s->len_q * s->head_dim;
    size_t nkv = (size_t)s->heads * s->len_k * s->head_dim;
    t->q = malloc(nq), t->k = malloc(nkv), t->v = malloc(nkv), t->out = malloc(nq);
    t->scales = malloc(4 * (size_t)s->heads * sizeof(float));
    t->kv_len = malloc((size_t)s->heads * sizeof(int32_t));
    for (size_t i = 0; i < nq; i++)
        t->q[i] = (int8_t)(next_u32() % 256 - 128);
    for (size_t i = 0; i < nkv; i++) {
        t->k[i] = (int8_t)(next_u32() % 256 - 128);
        t->v[i] = (int8_t)(next_u32() % 256 - 128);
    }
    for (int32_t h = 0; h < s->heads; h++) {
        float *sc = t->scales;
        sc[h] = (float)uniform(0.004, 0.04);                      /* logits std ~0.5 to 5 */
        sc[s->heads + h] = (float)uniform(0.004, 0.04);
        sc[2 * s->heads + h] = (float)uniform(0.01, 2.0);
        sc[3 * s->heads + h] = sc[2 * s->heads + h] * (float)uniform(0.1, 1.2); /* some saturate */
        t->kv_len[h] = s->padded ? 1 + (int32_t)(next_u32() % (uint32_t)s->len_k) : s->len_k;
    }
}

static qattn_attention_desc desc_of(const shape *s, const tensors *t)
{
    qattn_attention_desc d = qattn_attention_desc_default();
    d.heads = s->heads, d.len_q = s->len_q, d.len_k = s->len_k, d.head_dim = s->head_dim;
    d.scale_q = t->scales, d.scale_k = t->scales + s->heads;
    d.scale_v = t->scales + 2 * s->heads, d.scale_out = t->scales + 3 * s->heads;
    d.causal = s->causal, d.kv_len = s->padded ? t->kv_len : NULL;
    return d;
}

static void release(tensors *t)
{
    free(t->q), free(t->k), free(t->v), free(t->out), free(t->scales), free(t->kv_len);
}

/* |kernel - exact| <= 0.5 + 0.02 LSB, exact = float64 attention on the dequantized int8
 * inputs divided by the output scale and saturated: only the exponential's and the
 * reciprocal's rounding (documented < 2^-15 relative) may move a result across a tie. */
static void against_float64(const shape *s)
{
    tensors t;
    make(s, &t);
    qattn_attention_desc d = desc_of(s, &t);
    CHECK(qattn_attention_s8(&d, t.q, t.k, t.v, t.out) == QATTN_OK, "%s", qattn_last_error());

    size_t per_q = (size_t)s->len_q * s->head_dim, per_kv = (size_t)s->len_k * s->head_dim;
    double *dq = malloc(per_q * sizeof(double)), *dk = malloc(per_kv * sizeof(double));
    double *dv = malloc(per_kv * sizeof(double)), *ref = malloc(per_q * sizeof(double));
    double worst = 0.0;
    long off_by_one = 0;
    for (int32_t h = 0; h < s->heads; h++) {
        for (size_t i = 0; i < per_q; i++)
            dq[i] = t.q[h * per_q + i] * (double)d.scale_q[h];
        for (size_t i = 0; i < per_kv; i++) {
            dk[i] = t.k[h * per_kv + i] * (double)d.scale_k[h];
            dv[i] = t.v[h * per_kv + i] * (double)d.scale_v[h];
        }
        check_attention_f64(dq, dk, dv, ref, 1, s->len_q, s->len_k, s->head_dim, s->causal,
                            t.kv_len[h]);
        for (size_t i = 0; i < per_q; i++) {
            double exact = fmin(127.0, fmax(-128.0, ref[i] / d.scale_out[h]));
            double err = fabs(t.out[h * per_q + i] - exact);
            worst = fmax(worst, err);
            off_by_one += err > 0.5;
        }
    }
    printf("H=%d Lq=%d Lk=%d D=%d causal=%d padded=%d: max |out - exact| = %.4f LSB, "
           "%ld not the nearest integer\n",
           s->heads, s->len_q, s->len_k, s->head_dim, s->causal, s->padded, worst, off_by_one);
    CHECK(worst <= 0.52, "max error %.4f LSB", worst);
    free(dq), free(dk), free(dv), free(ref);
    release(&t);
}

/* Rows are independent: each query row computed alone equals its row in the batch, and a
 * causal row i equals the same row without the mask but with kv_len = i + 1. */
static void rows_are_independent(void)
{
    const shape s = {2, 150, 140, 64, 1, 0};
    tensors t;
    make(&s, &t);
    qattn_attention_desc d = desc_of(&s, &t);
    CHECK(qattn_attention_s8(&d, t.q, t.k, t.v, t.out) == QATTN_OK, "%s", qattn_last_error());
    for (int32_t h = 0; h < s.heads; h++) {
        for (int32_t i = 0; i < s.len_q; i += 7) {
            int8_t row[64];
            int32_t kv = i + 1 < s.len_k ? i + 1 : s.len_k;
            float sc[4] = {d.scale_q[h], d.scale_k[h], d.scale_v[h], d.scale_out[h]};
            qattn_attention_desc one = qattn_attention_desc_default();
            one.heads = 1, one.len_q = 1, one.len_k = s.len_k, one.head_dim = 64;
            one.scale_q = &sc[0], one.scale_k = &sc[1], one.scale_v = &sc[2],
            one.scale_out = &sc[3], one.kv_len = &kv;
            size_t qoff = ((size_t)h * s.len_q + i) * 64, kvoff = (size_t)h * s.len_k * 64;
            CHECK(qattn_attention_s8(&one, t.q + qoff, t.k + kvoff, t.v + kvoff, row) == QATTN_OK,
                  "%s", qattn_last_error());
            CHECK(memcmp(row, t.out + qoff, 64) == 0, "head %d row %d differs", h, i);
        }
    }
    release(&t);
}

int main(void)
{
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        against_float64(&shapes[i]);
    rows_are_independent();
    return testing_report("test_attention");
}
