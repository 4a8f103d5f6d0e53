/*
 * Quantized caches that follow float keys (attn/quantized_cache.h), on every tier the CPU
 * runs, against what they promise: after every sync, the cache's bytes and scales are those
 * of quantizing each head's float rows so far at once (qattn_quantize_block), whether the
 * new rows kept the scales (most steps) or raised them (a row larger than any before, which
 * requantizes the head) or the cache was cut back; attending through the cache gives, bit
 * for bit, the same 16-bit outputs on every tier, each within half an int8 step of what the
 * public one-shot qattn_attention_s8 gives on the one-shot quantized queries, keys and
 * values (bottom-right causal or unmasked, the int8 output at the values' scale: the same
 * quotient rounded 8 bits earlier), dequantized at the values' scale / 256, and closer to
 * float64 attention than the int8 output; a copy attends as its source.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn/quantized_cache.h"
#include "core/tiers.h"
#include "ops/float_ops.h"
#include "qattn.h"
#include "testing.h"

enum { H = 4, D = 32, W = H * D, CAP = 200, Q = 3 };
static float K[CAP * W], V[CAP * W], Qf[Q * W];

static uint64_t state = 0x2545F4914F6CDD1Dull;
static float uniform(void) /* in (-1, 1) */
{
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return (float)((double)(state >> 11) / 4503599627370496.0 - 1.0);
}

/* Does c hold, for each head, exactly qattn_quantize_block of its first len float rows? */
static int matches_one_shot(const qattn_quantized_cache *c, int32_t len)
{
    static int8_t want[CAP * D];
    int same = c->kv.len == len;
    for (int h = 0; same && h < H; h++) {
        const float sk = qattn_quantize_block(K + h * D, len, D, W, want);
        same &= sk == c->scale_k[h] && !memcmp(want, c->kv.k + (size_t)h * CAP * D, (size_t)len * D);
        const float sv = qattn_quantize_block(V + h * D, len, D, W, want);
        same &= sv == c->scale_v[h] && !memcmp(want, c->kv.v + (size_t)h * CAP * D, (size_t)len * D);
    }
    return same;
}

/* The public one-shot entry point on the one-shot quantized inputs, int8 output at the
 * values' scale: o8 and its dequantized floats (single), and the scales in sv. */
static void reference_attention(qattn_isa isa, int32_t n, int32_t len, int32_t causal, int8_t *o8,
                                float *single, float *sv)
{
    static int8_t q8[H * Q * D], k8[H * CAP * D], v8[H * CAP * D];
    float sq[H], sk[H];
    for (int h = 0; h < H; h++) {
        sq[h] = qattn_quantize_block(Qf + h * D, n, D, W, q8 + h * n * D);
        sk[h] = qattn_quantize_block(K + h * D, len, D, W, k8 + (size_t)h * len * D);
        sv[h] = qattn_quantize_block(V + h * D, len, D, W, v8 + (size_t)h * len * D);
    }
    qattn_attention_desc d = qattn_attention_desc_default();
    d.heads = H, d.len_q = n, d.len_k = len, d.head_dim = D, d.causal = causal, d.isa = isa;
    d.scale_q = sq, d.scale_k = sk, d.scale_v = sv, d.scale_out = sv, d.threads = 1;
    CHECK(qattn_attention_s8(&d, q8, k8, v8, o8) == QATTN_OK, "%s", qattn_last_error());
    for (int h = 0; h < H; h++)
        qattn_dequantize_block(o8 + h * n * D, n, D, sv[h], single + h * D, W);
}

/* got against the int8 reference: a.o16 within 128 of 256 o8 (both round the same quotient,
 * 256 times finer and at the values' scale), and got = o16 * (s_v / 256). */
static int matches_int8(const qattn_quantized_attention *a, int32_t n, const float *got,
                        const int8_t *o8, const float *sv)
{
    int ok = 1;
    for (int h = 0; h < H; h++)
        for (int32_t i = 0; i < n; i++)
            for (int t = 0; t < D; t++) {
                const int32_t o16 = a->o16[(h * n + i) * D + t], b = o8[(h * n + i) * D + t];
                const float want = (float)o16 * (sv[h] / 256.0f);
                ok &= abs(o16 - 256 * b) <= 128 && got[i * W + h * D + t] == want;
            }
    return ok;
}

/* Squared error of out against float64 attention of the float queries over the first len
 * float keys and values (softmax(q k / sqrt(D)) v, the n queries the last of len if causal). */
static double error_against_float64(int32_t n, int32_t len, int32_t causal, const float *out)
{
    double err = 0, p[CAP];
    for (int h = 0; h < H; h++)
        for (int32_t i = 0; i < n; i++) {
            const int32_t keys = causal == QATTN_CAUSAL_BOTTOM_RIGHT ? len - n + i + 1 : len;
            double top = -INFINITY, sum = 0;
            for (int32_t j = 0; j < keys; j++) {
                double dot = 0;
                for (int t = 0; t < D; t++)
                    dot += (double)Qf[i * W + h * D + t] * K[j * W + h * D + t];
                p[j] = dot / sqrt((double)D), top = p[j] > top ? p[j] : top;
            }
            for (int32_t j = 0; j < keys; j++)
                p[j] = exp(p[j] - top), sum += p[j];
            for (int t = 0; t < D; t++) {
                double o = 0;
                for (int32_t j = 0; j < keys; j++)
                    o += p[j] / sum * V[j * W + h * D + t];
                err += (o - out[i * W + h * D + t]) * (o - out[i * W + h * D + t]);
            }
        }
    return err;
}

/* The scalar tier's outputs, step by step: every other tier must give their bits. */
static float first_tier[32][Q * W];

static void one_tier(qattn_isa isa)
{
    static int8_t scratch[2 * CAP * W], o8[H * Q * D];
    static float got[Q * W], single[Q * W];
    float sv[H];
    double err_wide = 0, err_int8 = 0;
    int step = 0;
    const char *tier = qattn_isa_name(isa);
    qattn_quantized_cache c, copy;
    qattn_quantized_attention a;
    CHECK(qattn_quantized_cache_init(&c, H, D, CAP, isa) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_quantized_cache_init(&copy, H, D, CAP, isa) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_quantized_attention_init(&a, H, D, Q, 2) == QATTN_OK, "%s", qattn_last_error());
    /* growth in ragged steps (a prompt, single tokens, a chunk over a tile boundary), then a
     * cut back to a shorter prefix and growth again */
    const int32_t lens[] = {5, 6, 7, 30, 31, 64, 65, 66, 100, 101, 130, 40, 41, 42, 150};
    int kept = 0, raised = 0;
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        const int32_t len = lens[i];
        float before = c.scale_k[1];
        CHECK(qattn_quantized_cache_sync(&c, K, V, W, len, scratch, 2) == QATTN_OK, "%s",
              qattn_last_error());
        CHECK(matches_one_shot(&c, len), "%s: after growing to %d keys the cache is not the "
              "one-shot quantization", tier, len);
        if (i > 0 && lens[i] > lens[i - 1])
            kept += before == c.scale_k[1], raised += before != c.scale_k[1];
        const int32_t n = len < Q ? len : Q;
        for (int causal = QATTN_CAUSAL_NONE; causal <= QATTN_CAUSAL_BOTTOM_RIGHT; causal += 2) {
            CHECK(qattn_quantized_attend(&a, &c, Qf, W, n, causal, got, W) == QATTN_OK, "%s",
                  qattn_last_error());
            reference_attention(isa, n, len, causal, o8, single, sv);
            CHECK(matches_int8(&a, n, got, o8, sv), "%s: %d keys, causal %d: the 16-bit output "
                  "is not the one-shot int8 reference's, 8 bits finer", tier, len, causal);
            if (isa == QATTN_ISA_SCALAR)
                memcpy(first_tier[step], got, sizeof got);
            CHECK(!memcmp(first_tier[step], got, (size_t)n * W * sizeof(float)),
                  "%s: %d keys, causal %d: differs from the scalar tier", tier, len, causal);
            step++;
            err_wide += error_against_float64(n, len, causal, got);
            err_int8 += error_against_float64(n, len, causal, single);
        }
    }
    /* the 16-bit output must buy accuracy: the outputs over 30-150 random keys are a fraction
     * of the largest value, and the rest of the error is the queries', keys' and values' own
     * rounding */
    printf("%s: error against float64, 16-bit output %.3g, int8 output %.3g\n", tier,
           sqrt(err_wide), sqrt(err_int8));
    CHECK(err_wide < 0.75 * err_int8, "%s: the 16-bit output's squared error is not below 3/4 "
          "of the int8 output's (%.3g and %.3g)", tier, sqrt(err_wide), sqrt(err_int8));
    CHECK(kept > 0 && raised > 0, "%s: steps that kept the scale %d, raised it %d (both must occur)",
          tier, kept, raised);
    CHECK(qattn_quantized_cache_copy(&copy, &c) == QATTN_OK, "%s", qattn_last_error());
    static float from_copy[Q * W];
    qattn_quantized_attend(&a, &c, Qf, W, Q, QATTN_CAUSAL_BOTTOM_RIGHT, got, W);
    qattn_quantized_attend(&a, &copy, Qf, W, Q, QATTN_CAUSAL_BOTTOM_RIGHT, from_copy, W);
    CHECK(!memcmp(got, from_copy, sizeof got) && matches_one_shot(&copy, 150),
          "%s: the copy differs from its source", tier);
    CHECK(qattn_quantized_cache_sync(&c, K, V, W, CAP + 1, scratch, 1) == QATTN_ERR_SIZE,
          "%s: past capacity accepted", tier);
    CHECK(qattn_quantized_attend(&a, &c, Qf, W, Q + 1, QATTN_CAUSAL_NONE, got, W) == QATTN_ERR_SIZE,
          "%s: more queries than the scratch holds accepted", tier);
    qattn_quantized_cache_free(&c);
    qattn_quantized_cache_free(&copy);
    qattn_quantized_attention_free(&a);
}

int main(void)
{
    for (int i = 0; i < CAP * W; i++)
        K[i] = 2.0f * uniform(), V[i] = uniform();
    for (int i = 0; i < Q * W; i++)
        Qf[i] = 3.0f * uniform();
    /* rows larger than any before them, as a decoder's keys have now and then: each raises
     * its head's scale when it joins (keys: row 7 of head 1 after the first steps, 65 in a
     * tile of its own, 120 inside a chunk; values: row 90 of head 2) */
    for (int h = 0; h < H; h++) /* every other row below these: only the spikes raise a scale */
        K[h * D] = 2.0f, V[h * D] = 1.0f;
    K[7 * W + 1 * D + 3] = 5.0f, K[65 * W + 1 * D + 9] = -9.0f, V[90 * W + 2 * D] = 4.0f;
    K[120 * W + 1 * D + 30] = 12.0f;
    for (int t = qattn_tier_count() - 1; t >= 0; t--) { /* the scalar tier first */
        qattn_isa isa = qattn_tier_at(t);
        if (!qattn_isa_supported(isa))
            continue;
        printf("tier %s\n", qattn_isa_name(isa));
        one_tier(isa);
    }
    return testing_report("test_quantized_cache");
}
