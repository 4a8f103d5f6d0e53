/*
 * INT8 GEMM: the scalar tier against the test's own recomputation (its own quantization,
 * exact int32 products and the documented epilogue), every supported tier and thread count bit-identical to it, and
 * the quantization error against float64 within its bound.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/tiers.h"
#include "gemm/gemm.h"
#include "gemm/gemm_ukernels.h"
#include "ops/float_ops.h"
#include "testing.h"

static uint64_t state = 0x9E3779B97F4A7C15ull;
static double normal(void)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        u[i] = ((double)(state >> 11) + 1.0) * 0x1.0p-53;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

typedef struct shape {
    int32_t m, n, k, bias;
} shape;

static const shape shapes[] = {
    {1, 1, 4, 0},     {5, 17, 12, 1},    {64, 64, 64, 1},   {65, 257, 516, 1},
    {130, 300, 1024, 0}, {3, 1000, 4, 1}, {200, 96, 384, 1}, {17, 65, 2048, 1},
    {96, 128, 240, 1}, /* Whisper conv1's k: AMX blocks of 32 rows with a 48-input tail */
};

/* The documented quantization, written here (not the library's): per row, scale = max|x| / 127
 * in float32 (1 for an all-zero row), q = the float32 quotient x / scale rounded to nearest
 * even (lrint in the default rounding mode), saturated. */
static void quantize_rows(const float *x, int32_t m, int32_t k, int32_t ld, int8_t *q, float *scale)
{
    for (int32_t i = 0; i < m; i++) {
        float amax = 0.0f;
        for (int32_t t = 0; t < k; t++)
            amax = fabsf(x[(size_t)i * ld + t]) > amax ? fabsf(x[(size_t)i * ld + t]) : amax;
        scale[i] = amax > 0.0f ? amax / 127.0f : 1.0f;
        for (int32_t t = 0; t < k; t++) {
            long r = lrintf(x[(size_t)i * ld + t] / scale[i]);
            q[(size_t)i * k + t] = (int8_t)(r > 127 ? 127 : r < -128 ? -128 : r);
        }
    }
}

/* When set, run() gives the weights these kernels instead of their tier's (the same packed
 * layout): the AVX2 kernels without their gemm_s16 run 16-bit rows as byte rows, the path
 * the VNNI and AMX tiers take, on a machine that has AVX2 alone. */
static const qattn_gemm_ukernels *kernels_override;

static float *run(const shape *s, const float *w, const float *b, const float *x, qattn_isa isa,
                  int32_t threads, int32_t bits)
{
    qattn_gemm_weights gw;
    float *y = malloc((size_t)s->m * (s->n + 3) * sizeof(float));
    CHECK(qattn_gemm_weights_make(&gw, w, b, s->n, s->k, isa) == QATTN_OK, "%s", qattn_last_error());
    gw.x_bits = bits;
    if (kernels_override && gw.uk)
        gw.uk = kernels_override;
    if (threads == 2) { /* a workspace made once, larger than this product (the decoder's use) */
        qattn_gemm_workspace ws;
        CHECK(qattn_gemm_workspace_init(&ws, bits / 8 * s->m + 7, s->k + 64, 3) == QATTN_OK, "%s",
              qattn_last_error());
        CHECK(qattn_gemm_run_in(&gw, x, s->m, s->k + 1, y, s->n + 3, threads, &ws) == QATTN_OK,
              "%s", qattn_last_error());
        qattn_gemm_workspace_free(&ws);
    } else {
        CHECK(qattn_gemm_run(&gw, x, s->m, s->k + 1, y, s->n + 3, threads) == QATTN_OK, "%s",
              qattn_last_error());
    }
    qattn_gemm_weights_free(&gw);
    return y;
}

/* A product's inputs: weights w [n][k], bias b [n] (NULL without), rows x [m][k + 1]. */
static void inputs(const shape *s, float **w, float **b, float **x)
{
    size_t nw = (size_t)s->n * s->k, nx = (size_t)s->m * (s->k + 1);
    *w = malloc(nw * sizeof(float)), *x = malloc(nx * sizeof(float));
    *b = s->bias ? malloc((size_t)s->n * sizeof(float)) : NULL;
    for (size_t i = 0; i < nw; i++)
        (*w)[i] = (float)(normal() * 0.02 * (1 + (i / s->k) % 7)); /* per-channel spread */
    for (size_t i = 0; i < nx; i++)
        (*x)[i] = (float)(normal() * ((i % (s->k + 1)) == 3 ? 20.0 : 1.0)); /* an outlier column */
    for (int32_t j = 0; *b && j < s->n; j++)
        (*b)[j] = (float)normal();
}

/* Every fast tier built, on 1 to 3 threads, gives ref's bits. */
static void tiers_match(const shape *s, const float *w, const float *b, const float *x,
                        const float *ref, int32_t bits)
{
    for (int ti = 0; ti < qattn_tier_count(); ti++) {
        const qattn_isa isa = qattn_tier_at(ti);
        if (isa == QATTN_ISA_SCALAR || !qattn_isa_supported(isa))
            continue;
        for (int32_t threads = 1; threads <= 3; threads++) {
            float *y = run(s, w, b, x, isa, threads, bits);
            int same = 1;
            for (int32_t i = 0; i < s->m; i++)
                same &= memcmp(y + (size_t)i * (s->n + 3), ref + (size_t)i * (s->n + 3),
                               (size_t)s->n * sizeof(float)) == 0;
            CHECK(same, "%s, %d threads, %d bits, m=%d n=%d k=%d differs from the reference",
                  qattn_isa_name(isa), threads, bits, s->m, s->n, s->k);
            free(y);
        }
    }
}

static void one_shape(const shape *s)
{
    size_t nw = (size_t)s->n * s->k;
    float *w, *b, *x;
    inputs(s, &w, &b, &x);
    float *ref = run(s, w, b, x, QATTN_ISA_SCALAR, 1, 8);

    /* The test's own recomputation of the documented arithmetic. */
    int8_t *w8 = malloc(nw), *x8 = malloc((size_t)s->m * s->k);
    float *sw = malloc((size_t)s->n * sizeof(float)), *sx = malloc((size_t)s->m * sizeof(float));
    quantize_rows(w, s->n, s->k, s->k, w8, sw);
    quantize_rows(x, s->m, s->k, s->k + 1, x8, sx);
    double err2 = 0, norm2 = 0;
    for (int32_t i = 0; i < s->m; i++)
        for (int32_t j = 0; j < s->n; j++) {
            int64_t acc = 0;
            double exact = b ? b[j] : 0.0, bound = 0.0;
            for (int32_t t = 0; t < s->k; t++) {
                double xv = x[(size_t)i * (s->k + 1) + t], wv = w[(size_t)j * s->k + t];
                acc += (int64_t)x8[(size_t)i * s->k + t] * w8[(size_t)j * s->k + t];
                exact += xv * wv;
                /* |xw - sx qx sw qw| <= sw|x|/2 + sx|w|/2 + sx sw/4 (round to nearest) */
                bound += 0.5 * sw[j] * fabs(xv) + 0.5 * sx[i] * fabs(wv) + 0.25 * sx[i] * sw[j];
            }
            float want = (float)acc * (sx[i] * sw[j]);
            if (b)
                want = want + b[j];
            float got = ref[(size_t)i * (s->n + 3) + j];
            CHECK(memcmp(&got, &want, sizeof got) == 0, "m=%d n=%d k=%d [%d][%d]: %.9g vs %.9g",
                  s->m, s->n, s->k, i, j, got, want);
            CHECK(fabs(got - exact) <= bound * 1.0001 + 1e-5 * fabs(exact) + 1e-6,
                  "[%d][%d]: error %.3g past the quantization bound %.3g", i, j,
                  fabs(got - exact), bound);
            err2 += (got - exact) * (got - exact), norm2 += exact * exact;
        }
    /* an activation outlier column (20x) widens every row's scale: the rows pay for it */
    printf("m=%d n=%d k=%d: relative error against float64 %.4f\n", s->m, s->n, s->k,
           sqrt(err2 / (norm2 > 0 ? norm2 : 1)));

    tiers_match(s, w, b, x, ref, 8);
    free(ref), free(w), free(x), free(b), free(w8), free(x8), free(sw), free(sx);
}

/* The byte rows' path of 16-bit activations on the AVX2 kernels (kernels_override). */
static void avx2_as_bytes_matches(const shape *s, const float *w, const float *b, const float *x,
                                  const float *ref)
{
    const qattn_gemm_ukernels *avx2 = qattn_gemm_kernels_for(QATTN_ISA_AVX2);
    if (!qattn_isa_supported(QATTN_ISA_AVX2) || !avx2 || !avx2->gemm_s16)
        return;
    qattn_gemm_ukernels bytes = *avx2;
    bytes.gemm_s16 = NULL;
    kernels_override = &bytes;
    for (int32_t threads = 1; threads <= 2; threads++) {
        float *y = run(s, w, b, x, QATTN_ISA_AVX2, threads, 16);
        int same = 1;
        for (int32_t i = 0; i < s->m; i++)
            same &= memcmp(y + (size_t)i * (s->n + 3), ref + (size_t)i * (s->n + 3),
                           (size_t)s->n * sizeof(float)) == 0;
        CHECK(same, "avx2 as byte rows, %d threads, m=%d n=%d k=%d differs from the reference",
              threads, s->m, s->n, s->k);
        free(y);
    }
    kernels_override = NULL;
}

/* 16-bit activations (qattn_gemm_weights.x_bits = 16), as documented in gemm.h: each row x
 * at sx = max|x| / 32639 (float32; 1 for a zero row), q = the float32 quotient x / sx rounded
 * to nearest even, the exact sum of q w8, y = (float)acc * (sx sw) + bias. Recomputed here
 * bit for bit, every tier equal to it, and the activations' error bounded: against float64
 * products of x with the dequantized weights, |error| <= sum_t |w_t| sx / 2 + the epilogue's
 * roundings. */
static void sixteen_bits(const shape *s)
{
    float *w, *b, *x;
    inputs(s, &w, &b, &x);
    float *ref = run(s, w, b, x, QATTN_ISA_SCALAR, 1, 16);
    size_t nw = (size_t)s->n * s->k;
    int8_t *w8 = malloc(nw);
    int16_t *q = malloc((size_t)s->k * sizeof(int16_t));
    float *sw = malloc((size_t)s->n * sizeof(float));
    quantize_rows(w, s->n, s->k, s->k, w8, sw);
    double worst = 0; /* the largest error / bound */
    for (int32_t i = 0; i < s->m; i++) {
        const float *xi = x + (size_t)i * (s->k + 1);
        float amax = 0.0f;
        for (int32_t t = 0; t < s->k; t++)
            amax = fabsf(xi[t]) > amax ? fabsf(xi[t]) : amax;
        const float sx = amax > 0.0f ? amax / 32639.0f : 1.0f;
        for (int32_t t = 0; t < s->k; t++) {
            long r = lrintf(xi[t] / sx);
            q[t] = (int16_t)(r > 32639 ? 32639 : r < -32639 ? -32639 : r);
        }
        for (int32_t j = 0; j < s->n; j++) {
            int64_t acc = 0;
            double exact = b ? b[j] : 0.0, bound = 0.0, mag = fabs(exact);
            for (int32_t t = 0; t < s->k; t++) {
                const double wv = (double)sw[j] * w8[(size_t)j * s->k + t];
                acc += (int64_t)q[t] * w8[(size_t)j * s->k + t];
                exact += xi[t] * wv;
                bound += fabs(wv) * 0.5 * sx;
                mag += fabs(xi[t] * wv);
            }
            float want = (float)acc * (sx * sw[j]);
            if (b)
                want = want + b[j];
            const float got = ref[(size_t)i * (s->n + 3) + j];
            CHECK(memcmp(&got, &want, sizeof got) == 0,
                  "16 bits, m=%d n=%d k=%d [%d][%d]: %.9g vs %.9g", s->m, s->n, s->k, i, j, got,
                  want);
            bound += 4 * 0x1.0p-24 * mag; /* acc to float, the scales' product, the sums */
            CHECK(fabs(got - exact) <= bound, "16 bits [%d][%d]: error %.3g past %.3g", i, j,
                  fabs(got - exact), bound);
            worst = fabs(got - exact) / bound > worst ? fabs(got - exact) / bound : worst;
        }
    }
    printf("16 bits m=%d n=%d k=%d: worst error %.2f of its bound\n", s->m, s->n, s->k, worst);
    tiers_match(s, w, b, x, ref, 16);
    avx2_as_bytes_matches(s, w, b, x, ref);
    free(ref), free(w), free(x), free(b), free(w8), free(q), free(sw);
}

/* 16-bit rows at the ends of their range against weights at theirs, over k long enough that
 * int32 sums of the products would wrap (AVX2's one pass folds them into int64 every 256
 * pairs; the byte rows' tiers sum 256 hi + lo): every tier gives the exact sums' floats. */
static void sixteen_bits_extremes(void)
{
    const shape s = {9, 40, 5120, 0};
    float *w = malloc((size_t)s.n * s.k * sizeof(float));
    float *x = malloc((size_t)s.m * (s.k + 1) * sizeof(float));
    for (int32_t j = 0; j < s.n; j++) /* rows of +-1 (w8 = +-127), one row of mixed signs */
        for (int32_t t = 0; t < s.k; t++)
            w[(size_t)j * s.k + t] = j == 7 ? (t % 3 ? 1.0f : -1.0f) : (j % 2 ? -1.0f : 1.0f);
    for (int32_t i = 0; i < s.m; i++) /* rows of +-3 (q = +-32639), one of other values */
        for (int32_t t = 0; t <= s.k; t++)
            x[(size_t)i * (s.k + 1) + t] = i == 4 ? (float)(t % 257) - 128.0f
                                                  : (i % 2 ? -1.0f : 1.0f) * (t % 5 ? 3.0f : -3.0f);
    float *ref = run(&s, w, NULL, x, QATTN_ISA_SCALAR, 1, 16);
    /* row 0 against row 0 of w: q = 32639 on 4 of 5 values, -32639 on the rest, w8 = 127 */
    const double want = 127.0 * 32639.0 * (s.k / 5 * 3) * (3.0 / 32639.0) * (1.0 / 127.0);
    CHECK(fabs(ref[0] - want) <= 1e-6 * fabs(want), "exact sum %.9g vs %.9g", ref[0], want);
    tiers_match(&s, w, NULL, x, ref, 16);
    avx2_as_bytes_matches(&s, w, NULL, x, ref);
    free(ref), free(w), free(x);
}

static void errors(void)
{
    float w[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    qattn_gemm_weights gw;
    CHECK(qattn_gemm_weights_make(&gw, w, NULL, 1, 6, 0) == QATTN_ERR_SIZE, "k not a multiple of 4");
    CHECK(qattn_gemm_weights_make(&gw, w, NULL, 0, 4, 0) == QATTN_ERR_SIZE, "n = 0");
    CHECK(qattn_gemm_weights_make(&gw, NULL, NULL, 1, 4, 0) == QATTN_ERR_NULL, "NULL");
    w[2] = NAN;
    CHECK(qattn_gemm_weights_make(&gw, w, NULL, 2, 4, 0) == QATTN_ERR_VALUE, "NaN weight");
    CHECK(gw.w8 == NULL && gw.packed == NULL, "nothing kept on failure");
    /* a workspace too small for the product is refused, not overrun */
    float x[16] = {0}, y[16];
    w[2] = 3;
    qattn_gemm_workspace ws;
    CHECK(qattn_gemm_weights_make(&gw, w, NULL, 2, 4, 0) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_gemm_workspace_init(&ws, 2, 4, 1) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_gemm_run_in(&gw, x, 3, 4, y, 2, 1, &ws) == QATTN_ERR_SIZE, "m past the workspace");
    CHECK(qattn_gemm_run_in(&gw, x, 2, 4, y, 2, 1, &ws) == QATTN_OK, "%s", qattn_last_error());
    qattn_gemm_workspace_free(&ws);
    CHECK(qattn_gemm_workspace_init(&ws, 2, 2, 1) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_gemm_run_in(&gw, x, 1, 4, y, 2, 1, &ws) == QATTN_ERR_SIZE, "k past the workspace");
    qattn_gemm_workspace_free(&ws);
    /* 16 bits take two of the workspace's rows per row; other widths and fused 16 are refused */
    CHECK(qattn_gemm_workspace_init(&ws, 3, 4, 1) == QATTN_OK, "%s", qattn_last_error());
    gw.x_bits = 16;
    CHECK(qattn_gemm_run_in(&gw, x, 2, 4, y, 2, 1, &ws) == QATTN_ERR_SIZE, "2 x 2 rows past 3");
    CHECK(qattn_gemm_run_in(&gw, x, 1, 4, y, 2, 1, &ws) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_gemm_quantize_input(&gw, x, 1, 4, 1, &ws) == QATTN_ERR_VALUE, "fused, 16 bits");
    gw.x_bits = 4;
    CHECK(qattn_gemm_run_in(&gw, x, 1, 4, y, 2, 1, &ws) == QATTN_ERR_VALUE, "4 bits");
    CHECK(qattn_gemm_run(&gw, x, 1, 4, y, 2, 1) == QATTN_ERR_VALUE, "4 bits");
    gw.x_bits = 8;
    qattn_gemm_workspace_free(&ws);
    CHECK(qattn_gemm_workspace_init(&ws, 0, 4, 1) == QATTN_ERR_SIZE, "no rows");
    qattn_gemm_weights_free(&gw);
}

static float *normals(size_t n, double scale)
{
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(normal() * scale);
    return x;
}

static int same_floats(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

typedef struct rows_of {
    const float *x;
    int32_t k;
} rows_of;

static void copy_row(void *ctx, int32_t i, float *out)
{
    const rows_of *r = ctx;
    memcpy(out, r->x + (size_t)i * r->k, (size_t)r->k * sizeof(float));
}

/*
 * A fused chain against the same steps run one after the other through the public passes:
 * MLP-like  h = GELU(x W1^T + b1) quantized for W2 inside the first GEMM, then
 *           res += h W2^T + b2, out = LayerNorm(res), quantized for W1 again and written;
 * the second chain's quantized rows are checked through one more GEMM. m is not a multiple
 * of a task's rows; n1 is wide enough (3000) that a task holds fewer than 64 rows.
 */
static void fused_chain(qattn_isa isa, int32_t m, int32_t k, int32_t n1, int32_t threads)
{
    const int32_t n2 = k;
    float *x = normals((size_t)m * k, 1.0), *w1 = normals((size_t)n1 * k, 0.1);
    float *w2 = normals((size_t)n2 * n1, 0.05), *b1 = normals((size_t)n1, 0.2);
    float *b2 = normals((size_t)n2, 0.2), *gamma = normals((size_t)k, 1.0);
    float *beta = normals((size_t)k, 0.3), *res0 = normals((size_t)m * k, 2.0);
    qattn_gemm_weights g1, g2;
    CHECK(qattn_gemm_weights_make(&g1, w1, b1, n1, k, isa) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_gemm_weights_make(&g2, w2, b2, n2, n1, isa) == QATTN_OK, "%s", qattn_last_error());

    /* one after the other */
    float *h = malloc((size_t)m * n1 * sizeof(float)), *y2 = malloc((size_t)m * k * sizeof(float));
    float *res = malloc((size_t)m * k * sizeof(float)), *out = malloc((size_t)m * k * sizeof(float));
    float *again = malloc((size_t)m * n1 * sizeof(float));
    memcpy(res, res0, (size_t)m * k * sizeof(float));
    CHECK(qattn_gemm_run(&g1, x, m, k, h, n1, threads) == QATTN_OK, "%s", qattn_last_error());
    qattn_gelu(h, m, n1, threads);
    CHECK(qattn_gemm_run(&g2, h, m, n1, y2, k, threads) == QATTN_OK, "%s", qattn_last_error());
    qattn_add(res, y2, (size_t)m * k);
    qattn_layer_norm(res, gamma, beta, out, m, k, threads);
    CHECK(qattn_gemm_run(&g1, out, m, k, again, n1, threads) == QATTN_OK, "%s", qattn_last_error());

    /* fused */
    qattn_gemm_workspace a, b;
    CHECK(qattn_gemm_workspace_init(&a, m, n1, threads) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_gemm_workspace_init(&b, m, n1, threads) == QATTN_OK, "%s", qattn_last_error());
    float *fres = malloc((size_t)m * k * sizeof(float)), *fout = malloc((size_t)m * k * sizeof(float));
    float *fagain = malloc((size_t)m * n1 * sizeof(float)), *fh = malloc((size_t)m * n1 * sizeof(float));
    memcpy(fres, res0, (size_t)m * k * sizeof(float));
    CHECK(qattn_gemm_quantize_input(&g1, x, m, k, threads, &a) == QATTN_OK, "%s", qattn_last_error());
    const int32_t group = n1 % 3 == 0 ? n1 / 3 : n1 / 4, groups = n1 / group; /* 1000 or 25 */
    float *gmax1 = malloc((size_t)m * groups * sizeof(float));
    float *gmax3 = malloc((size_t)m * groups * sizeof(float));
    qattn_gemm_fusion f1 = {.gelu = 1, .y = fh, .ldy = n1, .group_max = gmax1, .group = group,
                            .next = &b, .next_w = &g2};
    CHECK(qattn_gemm_run_fused(&g1, &a, &f1, threads) == QATTN_OK, "%s", qattn_last_error());
    qattn_gemm_fusion f2 = {.residual = fres, .ln_gamma = gamma, .ln_beta = beta, .y = fout,
                            .ldy = k, .next = &a, .next_w = &g1};
    CHECK(qattn_gemm_run_fused(&g2, &b, &f2, threads) == QATTN_OK, "%s", qattn_last_error());
    qattn_gemm_fusion f3 = {.y = fagain, .ldy = n1, .group_max = gmax3, .group = group};
    CHECK(qattn_gemm_run_fused(&g1, &a, &f3, threads) == QATTN_OK, "%s", qattn_last_error());

    const char *tier = qattn_isa_name(isa);
    CHECK(same_floats(fh, h, (size_t)m * n1), "%s m=%d: fused GELU rows differ", tier, m);
    CHECK(same_floats(fres, res, (size_t)m * k), "%s m=%d: fused residual differs", tier, m);
    CHECK(same_floats(fout, out, (size_t)m * k), "%s m=%d: fused LayerNorm differs", tier, m);
    CHECK(same_floats(fagain, again, (size_t)m * n1),
          "%s m=%d, %d threads: the rows quantized in the epilogue differ", tier, m, threads);
    int bad_max = 0; /* each group's max |.|, recomputed here on the separate passes' rows */
    for (int32_t i = 0; i < m; i++)
        for (int32_t g = 0; g < groups; g++) {
            float m1 = 0.0f, m3 = 0.0f;
            for (int32_t t = g * group; t < (g + 1) * group; t++) {
                m1 = fabsf(h[(size_t)i * n1 + t]) > m1 ? fabsf(h[(size_t)i * n1 + t]) : m1;
                m3 = fabsf(again[(size_t)i * n1 + t]) > m3 ? fabsf(again[(size_t)i * n1 + t]) : m3;
            }
            bad_max += gmax1[(size_t)i * groups + g] != m1 || gmax3[(size_t)i * groups + g] != m3;
        }
    CHECK(!bad_max, "%s m=%d: %d group maxima differ", tier, m, bad_max);

    qattn_gemm_fusion odd = {.y = fagain, .ldy = n1, .group_max = gmax3, .group = 7};
    CHECK(qattn_gemm_run_fused(&g1, &a, &odd, threads) == QATTN_ERR_SIZE, "groups of 7");

    /* misuse is refused, nothing run */
    qattn_gemm_fusion self = {.y = fh, .ldy = n1, .next = &a, .next_w = &g2};
    CHECK(qattn_gemm_run_fused(&g1, &a, &self, threads) == QATTN_ERR_VALUE, "next = input");
    CHECK(qattn_gemm_run_fused(&g2, &a, &f3, threads) == QATTN_ERR_VALUE,
          "rows of k = %d into weights of k = %d", k, n1);
    qattn_gemm_fusion wrong_next = {.next = &b, .next_w = &g1};
    CHECK(qattn_gemm_run_fused(&g1, &a, &wrong_next, threads) == QATTN_ERR_SIZE,
          "%d outputs into %d inputs", n1, k);
    qattn_gemm_fusion nothing = {.gelu = 1};
    CHECK(qattn_gemm_run_fused(&g1, &a, &nothing, threads) == QATTN_ERR_VALUE, "no output");
    qattn_gemm_fusion half_ln = {.residual = fres, .ln_gamma = gamma};
    CHECK(qattn_gemm_run_fused(&g2, &b, &half_ln, threads) == QATTN_ERR_NULL, "gamma alone");
    qattn_gemm_workspace empty;
    CHECK(qattn_gemm_workspace_init(&empty, m, n1, threads) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_gemm_run_fused(&g1, &empty, &f3, threads) == QATTN_ERR_VALUE, "no rows quantized");
    if (isa != QATTN_ISA_SCALAR) { /* rows quantized for the reference are not this tier's */
        qattn_gemm_weights ref;
        CHECK(qattn_gemm_weights_make(&ref, w1, b1, n1, k, QATTN_ISA_SCALAR) == QATTN_OK, "%s",
              qattn_last_error());
        CHECK(qattn_gemm_quantize_input(&ref, x, m, k, threads, &empty) == QATTN_OK, "%s",
              qattn_last_error());
        CHECK(qattn_gemm_run_fused(&g1, &empty, &f3, threads) == QATTN_ERR_VALUE,
              "rows of another tier");
        qattn_gemm_weights_free(&ref);
    }
    qattn_gemm_workspace_free(&empty);

    /* rows made on the fly quantize as the matrix of them does */
    float *plain = malloc((size_t)m * n1 * sizeof(float)), *from = malloc((size_t)m * n1 * sizeof(float));
    CHECK(qattn_gemm_run(&g1, x, m, k, plain, n1, threads) == QATTN_OK, "%s", qattn_last_error());
    rows_of src = {x, k};
    CHECK(qattn_gemm_quantize_input_from(&g1, copy_row, &src, m, threads, &b) == QATTN_OK, "%s",
          qattn_last_error());
    qattn_gemm_fusion only = {.y = from, .ldy = n1};
    CHECK(qattn_gemm_run_fused(&g1, &b, &only, threads) == QATTN_OK, "%s", qattn_last_error());
    CHECK(same_floats(from, plain, (size_t)m * n1), "%s m=%d: rows made by a function differ",
          tier, m);
    CHECK(qattn_gemm_quantize_input_from(&g1, copy_row, &src, m + 1000, threads, &b) ==
          QATTN_ERR_SIZE, "more rows than the workspace");
    free(plain), free(from);

    qattn_gemm_workspace_free(&a), qattn_gemm_workspace_free(&b);
    qattn_gemm_weights_free(&g1), qattn_gemm_weights_free(&g2);
    free(x), free(w1), free(w2), free(b1), free(b2), free(gamma), free(beta), free(res0);
    free(h), free(y2), free(res), free(out), free(again);
    free(fres), free(fout), free(fagain), free(fh), free(gmax1), free(gmax3);
}

int main(void)
{
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        one_shape(&shapes[i]), sixteen_bits(&shapes[i]);
    sixteen_bits_extremes();
    errors();
    for (int ti = 0; ti < qattn_tier_count(); ti++) {
        const qattn_isa isa = qattn_tier_at(ti);
        if (!qattn_isa_supported(isa))
            continue;
        for (int32_t threads = 1; threads <= 3; threads++) {
            fused_chain(isa, 131, 64, 100, threads);
            fused_chain(isa, 45, 68, 3000, threads);
        }
    }
    return testing_report("test_gemm");
}
