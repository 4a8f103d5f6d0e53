/*
 * The float operations of a Whisper layer (ops/float_ops.h) against double-precision
 * references written here from their definitions with libm (erf, exp, sqrt): LayerNorm,
 * GELU, softmax, block quantization (the rule checked with lrint of the float32 quotient),
 * dequantization, and the search for a non-finite value. Bounds are a few float32 roundings of the result.
 *
 * Then every tier's float microkernels (ops/float_ukernels.h) against the reference table,
 * bit for bit, on every tier this machine runs: lengths around the vector widths and their
 * tails, ties of the rounding, saturation, NaN, infinities, signed zeros, GELU's clamp edges.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tiers.h"
#include "ops/float_ukernels.h"

#include "decode/logit_rules.h"
#include "ops/float_ops.h"
#include "testing.h"

static uint64_t rng = 88172645463325252ull;
static double uniform(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) * 0x1.0p-53;
}
static float normal(void) /* Box-Muller */
{
    return (float)(sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform()));
}

static void layer_norm(void)
{
    enum { M = 37, D = 384 };
    static float x[M * D], g[D], b[D], y[M * D];
    for (int i = 0; i < M * D; i++)
        x[i] = normal() * (i % D == 7 ? 40.0f : 1.0f) + 3.0f; /* an outlier channel, an offset */
    for (int t = 0; t < D; t++)
        g[t] = 1.0f + 0.1f * normal(), b[t] = 0.1f * normal();
    qattn_layer_norm(x, g, b, y, M, D, 2);
    double worst = 0;
    for (int i = 0; i < M; i++) {
        double mean = 0, var = 0;
        for (int t = 0; t < D; t++)
            mean += x[i * D + t];
        mean /= D;
        for (int t = 0; t < D; t++)
            var += (x[i * D + t] - mean) * (x[i * D + t] - mean);
        double inv = 1.0 / sqrt(var / D + 1e-5);
        for (int t = 0; t < D; t++) {
            double want = (x[i * D + t] - mean) * inv * g[t] + b[t];
            double err = fabs(y[i * D + t] - want) / (fabs(want) + 1.0);
            worst = err > worst ? err : worst;
        }
    }
    printf("layer_norm: worst error %.2e (relative to |y| + 1)\n", worst);
    CHECK(worst < 4e-6, "layer_norm error %.3e", worst);
}

static void gelu(void)
{
    enum { N = 200001 };
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++)
        x[i] = y[i] = -12.0f + 24.0f * (float)i / (N - 1); /* through erf's clamp at +-4 sqrt 2 */
    qattn_gelu(y, 1, N, 1);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double want = 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0)));
        /* an erf error e gives 0.5 |x| e: relative to 0.5 |x| + 1, it is at most e */
        double err = fabs(y[i] - want) / (0.5 * fabs(x[i]) + 1.0);
        worst = err > worst ? err : worst;
        if (x[i] <= -3.6f * 1.41421356f)
            CHECK(fabs(y[i]) < 1e-5 * fabs(x[i]) * 0.1, "gelu(%g) = %g, want ~0", (double)x[i], (double)y[i]);
    }
    printf("gelu: worst erf-equivalent error %.2e over [-12, 12]\n", worst);
    CHECK(worst < 1.5e-6, "gelu error %.3e", worst);
    free(x), free(y);
}

static void softmax(void)
{
    enum { M = 9, N = 1500, LD = 1504 };
    static float s[M * LD], x[M * LD];
    for (int i = 0; i < M * LD; i++)
        s[i] = x[i] = normal() * (float)(1 + i / LD * 3); /* from flat to very peaked rows */
    qattn_softmax_rows(s, M, N, LD, 2);
    double worst = 0;
    for (int i = 0; i < M; i++) {
        double mx = -INFINITY, sum = 0;
        for (int t = 0; t < N; t++)
            mx = fmax(mx, x[i * LD + t]);
        for (int t = 0; t < N; t++)
            sum += exp(x[i * LD + t] - mx);
        for (int t = 0; t < N; t++) {
            /* the float32 difference x - max is exact (Sterbenz) only near the max; far below
             * it rounds by up to half an ulp of |x - max|, which e^ turns into that relative
             * error: allowed on top of 1e-6 */
            double diff = fabs(x[i * LD + t] - mx);
            double allowed = 1e-6 + diff * 0x1.0p-24;
            double want = exp(x[i * LD + t] - mx) / sum;
            double err = fabs(s[i * LD + t] - want) / (want + 1e-37) / allowed;
            if (want > 1e-30)
                worst = err > worst ? err : worst;
        }
        for (int t = N; t < LD; t++)
            CHECK(s[i * LD + t] == x[i * LD + t], "softmax wrote past its row (%d, %d)", i, t);
    }
    printf("softmax: worst relative error %.2f of the allowed 1e-6 + |x - max| 2^-24\n", worst);
    CHECK(worst <= 1.0, "softmax error %.3f of its allowance", worst);
}

/* The search's log-softmax (decode/logit_rules.h) over a vocabulary row and short rows
 * (the lanes' tails), suppressed tokens (-inf) among them, against the same in double with
 * libm's exp: the normalizer within 3e-7 (e^ in float within 1e-7 of each term), each
 * output within that plus half an ulp of its float. */
static void log_softmax(void)
{
    static float x[51864], y[51864];
    const int32_t sizes[] = {51864, 5, 8 * 7 + 3, 1};
    for (size_t c = 0; c < sizeof sizes / sizeof *sizes; c++) {
        const int32_t n = sizes[c];
        for (int32_t i = 0; i < n; i++)
            x[i] = i % 97 == 13 ? -INFINITY : normal() * 3.0f + (i == n / 2 ? 12.0f : 0.0f);
        if (n == 1)
            x[0] = 2.5f;
        memcpy(y, x, (size_t)n * sizeof *y);
        const double norm = qattn_log_softmax(y, n);
        double mx = -INFINITY, sum = 0;
        for (int32_t i = 0; i < n; i++)
            mx = fmax(mx, x[i]);
        for (int32_t i = 0; i < n; i++)
            sum += exp((double)x[i] - mx);
        const double want_norm = mx + log(sum);
        CHECK(fabs(norm - want_norm) <= 3e-7, "n %d: normalizer %.9g, want %.9g", n, norm, want_norm);
        double worst = 0;
        for (int32_t i = 0; i < n; i++) {
            if (isinf(x[i])) {
                CHECK(isinf(y[i]) && y[i] < 0, "n %d: a suppressed token became %g", n, (double)y[i]);
                continue;
            }
            const double want = (double)x[i] - want_norm;
            const double err = fabs(y[i] - want) / (3e-7 + fabs(want) * 0x1.0p-24);
            worst = err > worst ? err : worst;
        }
        CHECK(worst <= 1.0, "n %d: log-softmax error %.3f of its allowance", n, worst);
    }
}

static void quantize(void)
{
    enum { R = 50, C = 64, LD = 100 };
    static float x[R * LD], back[R * LD];
    static int8_t q[R * C];
    for (int i = 0; i < R * LD; i++)
        x[i] = normal() * 3.0f;
    x[17 * LD + 5] = -41.0f; /* the block's max-abs */
    float scale = qattn_quantize_block(x, R, C, LD, q);
    CHECK(scale == 41.0f / 127.0f, "scale %.9g, want 41/127", (double)scale);
    int wrong = 0;
    for (int i = 0; i < R; i++)
        for (int t = 0; t < C; t++) {
            float quotient = x[i * LD + t] / scale; /* the rule: the float32 quotient, rint */
            long want = lrint(quotient);
            want = want > 127 ? 127 : want < -128 ? -128 : want;
            wrong += q[i * C + t] != want;
        }
    CHECK(wrong == 0, "%d quantized values differ from rint of the float32 quotient", wrong);
    CHECK(q[17 * C + 5] == -127, "the max-abs value quantizes to -127, got %d", q[17 * C + 5]);
    qattn_dequantize_block(q, R, C, scale, back, LD);
    double worst = 0;
    for (int i = 0; i < R; i++)
        for (int t = 0; t < C; t++)
            worst = fmax(worst, fabs(back[i * LD + t] - x[i * LD + t]) / scale);
    printf("quantize/dequantize: worst round trip %.4f LSB\n", worst);
    CHECK(worst <= 0.5 + 1e-6, "round trip %.4f LSB exceeds half a step", worst);
    static float zero[4 * 16];
    static int8_t qz[4 * 16];
    CHECK(qattn_quantize_block(zero, 4, 16, 16, qz) == 1.0f, "an all-zero block gets scale 1");
}

/* A float that is sometimes special: a tie of rounding at scale 0.5, a huge or tiny value,
 * +-0, +-inf, NaN, GELU's clamp edges (+-3.6 and +-4 times sqrt 2); else normal * spread. */
static float awkward(float spread)
{
    static const float special[] = {0.0f, -0.0f, 1e30f, -1e30f, 1e-40f, -1e-40f, INFINITY,
                                    -INFINITY, NAN, 5.0911688f, -5.0911688f, 5.6568542f,
                                    -5.6568542f, 63.75f, -64.25f, 63.5f, -64.0f, 0.25f, -0.25f};
    uint32_t pick = (uint32_t)(uniform() * 100);
    if (pick < sizeof special / sizeof *special)
        return special[pick];
    if (pick < 40) /* a multiple of a quarter: x / 0.5 is a tie or an integer */
        return (float)(int)(normal() * 300.0f) * 0.25f;
    return normal() * spread;
}

/*
 * Quantization where it is hardest: x at and a few ulps around (k + 1/2) s for every k from
 * -131 to 130 (quotients that are ties, or round to one, or just miss one), and around the
 * saturation edges, for scales with inexact reciprocals, and scales whose reciprocal is not a
 * normal float. A tier may compute the quotient another way; the integers must be the
 * reference's.
 */
static void rounding_boundaries(const qattn_float_ukernels *uk, const char *tier)
{
    const qattn_float_ukernels *ref = &qattn_float_ukernels_reference;
    enum { N = 262 * 9 };
    static float x[N];
    static int8_t q0[N], q1[N];
    float scales[40] = {1.0f, 0.1f, 1.0f / 3.0f, 7e-3f, 1e-39f, 3e38f, 2e-38f, 1e37f};
    for (int i = 8; i < 40; i++)
        scales[i] = (float)exp(uniform() * 20.0 - 14.0); /* 8e-7 .. 400 */
    int bad = 0, ties = 0;
    for (int si = 0; si < 40; si++) {
        const float sc = scales[si];
        int32_t n = 0;
        for (int32_t k = -131; k <= 130; k++) {
            const float mid = (float)(((double)k + 0.5) * sc);
            float up = mid, down = mid;
            x[n++] = mid;
            ties += mid / sc == (float)k + 0.5f;
            for (int u = 0; u < 4; u++) {
                up = nextafterf(up, INFINITY), down = nextafterf(down, -INFINITY);
                x[n++] = up, x[n++] = down;
            }
        }
        ref->quantize(x, (size_t)n, sc, q0);
        uk->quantize(x, (size_t)n, sc, q1);
        for (int32_t i = 0; i < n; i++)
            bad += q0[i] != q1[i];
    }
    CHECK(ties > 1000, "%s: only %d exact ties among the boundary quotients", tier, ties);
    CHECK(!bad, "%s quantize at rounding boundaries: %d of %d differ from the reference", tier,
          bad, 40 * N);
}

/* GELU on 1 in 251 of all 2^32 float bit patterns (every exponent and sign, NaNs and
 * infinities included), bit for bit against the reference. */
static void gelu_sweep(const qattn_float_ukernels *uk, const char *tier)
{
    const qattn_float_ukernels *ref = &qattn_float_ukernels_reference;
    enum { N = 4096 };
    static float x[N], y0[N], y1[N];
    long bad = 0, n = 0;
    uint64_t bits = 0;
    while (bits < ((uint64_t)1 << 32)) {
        int32_t m = 0;
        for (; m < N && bits < ((uint64_t)1 << 32); m++, bits += 251) {
            uint32_t b = (uint32_t)bits;
            memcpy(&x[m], &b, sizeof b);
        }
        memcpy(y0, x, (size_t)m * sizeof *x), memcpy(y1, x, (size_t)m * sizeof *x);
        ref->gelu(y0, (size_t)m), uk->gelu(y1, (size_t)m);
        for (int32_t i = 0; i < m; i++)
            bad += memcmp(&y0[i], &y1[i], sizeof *y0) != 0;
        n += m;
    }
    CHECK(!bad, "%s gelu: %ld of %ld swept floats differ from the reference", tier, bad, n);
}

static void tier_kernels(const qattn_float_ukernels *uk, const char *tier)
{
    const qattn_float_ukernels *ref = &qattn_float_ukernels_reference;
    enum { MAX = 2100 };
    static float x[MAX], y0[MAX], y1[MAX], g[MAX], b[MAX];
    static int8_t q0[MAX + 16], q1[MAX + 16];
    static const int32_t lengths[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65,
                                      100, 384, 512, 1280, 1283, 2048, 2051};
    int bad_max = 0, bad_q = 0, bad_gelu = 0, bad_epi = 0, bad_norm = 0, over = 0;
    for (size_t li = 0; li < sizeof lengths / sizeof *lengths; li++)
        for (int rep = 0; rep < 6; rep++) {
            const int32_t n = lengths[li];
            const float spread = rep == 0 ? 1e-3f : rep == 1 ? 8.0f : rep == 2 ? 1e4f : 2.0f;
            for (int32_t i = 0; i < n; i++)
                x[i] = rep < 4 ? normal() * spread + (rep == 3 ? 40.0f : 0.0f) : awkward(6.0f);
            for (int32_t i = 0; i < n; i++)
                g[i] = 1.0f + 0.3f * normal(), b[i] = 0.2f * normal();
            float m0 = ref->max_abs(x, (size_t)n), m1 = uk->max_abs(x, (size_t)n);
            bad_max += memcmp(&m0, &m1, sizeof m0) != 0;
            const float scales[] = {0.5f, rep < 4 ? qattn_scale_for_max_abs(m0) : 0.03f, 7e-3f};
            for (int si = 0; si < 3; si++) {
                memset(q0, 0x5A, sizeof q0), memset(q1, 0x5A, sizeof q1);
                ref->quantize(x, (size_t)n, scales[si], q0);
                uk->quantize(x, (size_t)n, scales[si], q1);
                bad_q += memcmp(q0, q1, (size_t)n) != 0;
                over += q1[n] != 0x5A;
            }
            memcpy(y0, x, (size_t)n * sizeof(float)), memcpy(y1, x, (size_t)n * sizeof(float));
            y1[n] = 12345.0f;
            ref->gelu(y0, (size_t)n), uk->gelu(y1, (size_t)n);
            bad_gelu += memcmp(y0, y1, (size_t)n * sizeof(float)) != 0;
            over += y1[n] != 12345.0f;
            static int32_t acc[MAX];
            for (int32_t i = 0; i < n; i++)
                acc[i] = (int32_t)(normal() * (rep == 2 ? 3e8f : 4e4f));
            const float sx = rep == 5 ? 0.0f : 0.013f * (float)(rep + 1);
            y1[n] = 12345.0f;
            ref->gemm_epilogue(acc, (size_t)n, sx, g, rep % 2 ? b : NULL, y0);
            uk->gemm_epilogue(acc, (size_t)n, sx, g, rep % 2 ? b : NULL, y1);
            bad_epi += memcmp(y0, y1, (size_t)n * sizeof(float)) != 0;
            over += y1[n] != 12345.0f;
            if (n == 0 || rep >= 4)
                continue; /* LayerNorm: d >= 1, finite rows */
            ref->layer_norm(x, g, b, y0, n), uk->layer_norm(x, g, b, y1, n);
            bad_norm += memcmp(y0, y1, (size_t)n * sizeof(float)) != 0;
            over += y1[n] != 12345.0f;
        }
    printf("float kernels %s: max_abs %d, quantize %d, gelu %d, gemm_epilogue %d, layer_norm %d "
           "cases differ from the reference\n", tier, bad_max, bad_q, bad_gelu, bad_epi, bad_norm);
    CHECK(!bad_max && !bad_q && !bad_gelu && !bad_epi && !bad_norm,
          "%s float kernels differ from the reference", tier);
    CHECK(!over, "%s float kernels wrote past n (%d)", tier, over);
}

static void every_tier(void)
{
    for (int ti = qattn_tier_count() - 1; ti >= 0; ti--) {
        const qattn_isa isa = qattn_tier_at(ti);
        const qattn_float_ukernels *uk = qattn_float_kernels_for(isa);
        if (!qattn_isa_supported(isa) || uk == &qattn_float_ukernels_reference) {
            printf("tier %-11s %s\n", qattn_isa_name(isa),
                   isa == QATTN_ISA_SCALAR ? "is the reference" : "skipped: not supported here");
            continue;
        }
        tier_kernels(uk, qattn_isa_name(isa));
        rounding_boundaries(uk, qattn_isa_name(isa));
        gelu_sweep(uk, qattn_isa_name(isa));
    }
}

/* The first NaN or infinity (libm's isfinite as the reference) at either edge of the
 * function's 1024-value blocks, a second one after it, none at all (the largest float, the
 * smallest subnormal and -0 are finite), an empty array. */
static void first_non_finite(void)
{
    enum { N = 3000 };
    float *x = malloc(N * sizeof(float));
    const float bad[] = {NAN, -NAN, INFINITY, -INFINITY};
    const size_t at[] = {0, 1, 1023, 1024, 2047, 2500, N - 1};
    int wrong = 0;
    for (size_t b = 0; b < sizeof bad / sizeof *bad; b++)
        for (size_t a = 0; a < sizeof at / sizeof *at; a++) {
            for (size_t i = 0; i < N; i++)
                x[i] = i % 3 == 0 ? FLT_MAX : i % 3 == 1 ? -0x1p-149f : normal();
            x[at[a]] = bad[b];
            if (at[a] + 700 < N)
                x[at[a] + 700] = NAN;
            size_t want = 0;
            while (want < N && isfinite(x[want]))
                want++;
            wrong += qattn_first_non_finite(x, N) != want;
        }
    for (size_t i = 0; i < N; i++)
        x[i] = i % 2 ? FLT_MAX : -0.0f;
    wrong += qattn_first_non_finite(x, N) != N || qattn_first_non_finite(x, 0) != 0;
    CHECK(!wrong, "first_non_finite: %d cases wrong", wrong);
    free(x);
}

int main(void)
{
    first_non_finite();
    every_tier();
    layer_norm();
    gelu();
    softmax();
    log_softmax();
    quantize();
    return testing_report("test_float_ops");
}
