#define _GNU_SOURCE /* syscall() */
/*
 * Every tier this CPU supports gives exactly the scalar reference's int8 output, on every
 * shape class (ragged Lq/Lk tails, D from 16 to 256, causal, padding, H = 1..20, peaked and
 * flat softmax, saturating gains), for any thread count. Tiers the CPU lacks are skipped by
 * detection and reported.
 */
#include <stdlib.h>
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#include <string.h>

#include "core/tiers.h"
#include "qattn.h"
#include "testing.h"

typedef struct shape {
    int32_t heads, len_q, len_k, head_dim, causal, padded;
    float logit_scale; /* scale_q = scale_k: sets how peaked the softmax is */
} shape;

static const shape shapes[] = {
    {1, 1, 1, 16, 0, 0, 0.02f},      {1, 64, 64, 64, 0, 0, 0.02f},   {2, 63, 65, 16, 0, 0, 0.02f},
    {3, 65, 127, 32, 1, 0, 0.02f},   {1, 130, 129, 48, 0, 1, 0.02f}, {2, 100, 200, 80, 1, 1, 0.02f},
    {1, 40, 300, 128, 0, 0, 0.02f},  {2, 17, 70, 144, 1, 0, 0.02f},  {1, 9, 130, 256, 0, 1, 0.02f},
    {20, 5, 66, 64, 0, 0, 0.02f},    {4, 150, 70, 64, 1, 0, 0.02f},  {2, 77, 333, 64, 0, 0, 0.2f},
    {2, 77, 333, 64, 0, 0, 0.001f},  {1, 64, 1500, 64, 0, 0, 0.05f}, {3, 31, 31, 208, 1, 1, 0.1f},
    {2, 200, 64, 64, 1, 0, 0.03f},   {2, 70, 200, 64, 0, 0, 1000.0f}, {2, 70, 200, 64, 1, 0, 3.0f},
    {2, 70, 200, 64, 0, 1, 1e-6f},
    /* bottom-right causal (causal = 2): the queries are the last len_q positions of the keys */
    {2, 5, 300, 64, 2, 0, 0.05f},    {3, 70, 200, 32, 2, 0, 0.02f},  {1, 1, 129, 64, 2, 0, 0.3f},
    {2, 64, 64, 64, 2, 0, 0.02f},    {2, 65, 1500, 64, 2, 0, 0.05f}, {2, 130, 131, 128, 2, 0, 0.1f},
    /* 256 query rows or more and steep scores: weight tables (exp_table) for some heads */
    {3, 300, 700, 64, 0, 1, 0.3f},   {2, 260, 600, 64, 1, 0, 1.0f},  {4, 256, 500, 32, 2, 0, 0.5f},
    {3, 400, 900, 64, 0, 0, 0.03f}, /* some heads' tables too large for their scores: none */
};

static uint64_t state = 88172645463325252ull;
static uint32_t next_u32(void)
{
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return (uint32_t)(state >> 16);
}

static int8_t *run(const shape *s, const int8_t *q, const int8_t *k, const int8_t *v,
                   const float *scales, const int32_t *kv_len, qattn_isa isa, int32_t threads)
{
    size_t n = (size_t)s->heads * s->len_q * s->head_dim;
    int8_t *out = malloc(n);
    memset(out, 0x77, n);
    qattn_attention_desc d = qattn_attention_desc_default();
    d.heads = s->heads, d.len_q = s->len_q, d.len_k = s->len_k, d.head_dim = s->head_dim;
    d.scale_q = scales, d.scale_k = scales + s->heads, d.scale_v = scales + 2 * s->heads;
    d.scale_out = scales + 3 * s->heads, d.causal = s->causal;
    d.kv_len = s->padded ? kv_len : NULL, d.isa = isa, d.threads = threads;
    qattn_status st = qattn_attention_s8(&d, q, k, v, out);
    CHECK(st == QATTN_OK, "%s: %s", qattn_isa_name(isa), qattn_last_error());
    return out;
}

static void one_shape(const shape *s)
{
    size_t nq = (size_t)s->heads * s->len_q * s->head_dim;
    size_t nkv = (size_t)s->heads * s->len_k * s->head_dim;
    int8_t *q = malloc(nq), *k = malloc(nkv), *v = malloc(nkv);
    float *scales = malloc(4 * (size_t)s->heads * sizeof(float));
    int32_t *kv_len = malloc((size_t)s->heads * sizeof(int32_t));
    for (size_t i = 0; i < nq; i++)
        q[i] = (int8_t)(next_u32() & 0xFF);
    for (size_t i = 0; i < nkv; i++)
        k[i] = (int8_t)(next_u32() & 0xFF), v[i] = (int8_t)(next_u32() & 0xFF);
    for (int32_t h = 0; h < s->heads; h++) {
        float jitter = 0.5f + (float)(next_u32() % 1000) / 1000.0f;
        scales[h] = scales[s->heads + h] = s->logit_scale * jitter;
        scales[2 * s->heads + h] = 0.05f;
        scales[3 * s->heads + h] = 0.05f * (0.2f + (float)(next_u32() % 1000) / 1000.0f);
        kv_len[h] = 1 + (int32_t)(next_u32() % (uint32_t)s->len_k);
    }
    int8_t *ref = run(s, q, k, v, scales, kv_len, QATTN_ISA_SCALAR, 1);
    for (int ti = qattn_tier_count() - 1; ti >= 0; ti--) { /* every tier built, lowest first */
        const qattn_isa isa = qattn_tier_at(ti);
        if (!qattn_isa_supported(isa))
            continue;
        const int32_t threads[] = {1, 2, 3};
        for (int t = 0; t < 3; t++) {
            int8_t *out = run(s, q, k, v, scales, kv_len, isa, threads[t]);
            size_t first = nq;
            for (size_t i = 0; i < nq && first == nq; i++)
                if (out[i] != ref[i])
                    first = i;
            CHECK(first == nq,
                  "%s, %d threads, H=%d Lq=%d Lk=%d D=%d causal=%d padded=%d: element %zu is "
                  "%d, reference %d",
                  qattn_isa_name(isa), threads[t], s->heads, s->len_q, s->len_k, s->head_dim,
                  s->causal, s->padded, first, first < nq ? out[first] : 0,
                  first < nq ? ref[first] : 0);
            free(out);
        }
    }
    free(ref), free(q), free(k), free(v), free(scales), free(kv_len);
}

int main(void)
{
    for (qattn_isa isa = QATTN_ISA_SCALAR; qattn_isa_name(isa); isa++)
        printf("tier %-11s %s\n", qattn_isa_name(isa),
               qattn_isa_supported(isa) ? "tested" : "skipped: not supported here");
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        one_shape(&shapes[i]);

    /* Forcing a tier the CPU lacks is an error, not a silent fallback. */
    for (qattn_isa isa = QATTN_ISA_SCALAR; qattn_isa_name(isa); isa++) {
        if (qattn_isa_supported(isa))
            continue;
        int8_t x[16] = {0}, o[16];
        float one = 1.0f;
        qattn_attention_desc d = qattn_attention_desc_default();
        d.heads = d.len_q = d.len_k = 1, d.head_dim = 16, d.isa = isa;
        d.scale_q = d.scale_k = d.scale_v = d.scale_out = &one;
        CHECK(qattn_attention_s8(&d, x, x, x, o) == QATTN_ERR_ISA, "unsupported %s accepted",
              qattn_isa_name(isa));
    }
    /* No AMX tier is built, so the process never asked for AMX tile data: the permission
     * enlarges every signal frame of the host program and is asked only when AMX is chosen. */
#if defined(__linux__) && defined(__x86_64__)
    {
        int8_t x[16] = {0}, o[16];
        float one = 1.0f;
        qattn_attention_desc d = qattn_attention_desc_default(); /* isa: auto, the best tier */
        d.heads = d.len_q = d.len_k = 1, d.head_dim = 16;
        d.scale_q = d.scale_k = d.scale_v = d.scale_out = &one;
        CHECK(qattn_attention_s8(&d, x, x, x, o) == QATTN_OK, "auto tier: %s", qattn_last_error());
    }
    unsigned long long permitted = 0;
    if (syscall(SYS_arch_prctl, 0x1022 /* ARCH_GET_XCOMP_PERM */, &permitted) == 0)
        CHECK(!(permitted & (1ull << 18)) || qattn_isa_supported(QATTN_ISA_AMX),
              "AMX tile data permission requested without an AMX tier (mask %#llx)", permitted);
#endif
    return testing_report("test_tiers");
}
