/*
 * The tile kernel on its own: the documented working set, and exact answers that need no
 * reference implementation (uniform scores give the exact mean of V; one key gives V),
 * including the extremes of every accumulator up to QATTN_MAX_KEYS keys.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attn/tile_kernel.h"
#include "attn/tile_params.h"
#include "qattn.h"
#include "testing.h"

static void working_set(void)
{
    size_t ws = qattn_tile_working_set_bytes(QATTN_TILE_ROWS, 64);
    printf("working set at head_dim 64, %d rows: %zu bytes\n", QATTN_TILE_ROWS, ws);
    CHECK(ws == QATTN_TILE_WORKING_SET_D64, "documented %u, computed %zu",
          QATTN_TILE_WORKING_SET_D64, ws);
    CHECK(ws <= 65536, "%zu bytes exceed 64 KiB", ws);
    CHECK(qattn_tile_rows_for_head_dim(64) == 64, "head_dim 64 must use 64 rows");
    for (int32_t d = QATTN_MIN_HEAD_DIM; d <= QATTN_MAX_HEAD_DIM; d += 16) {
        int32_t rows = qattn_tile_rows_for_head_dim(d);
        CHECK(rows >= 1 && qattn_tile_working_set_bytes(rows, d) <= 65536,
              "head_dim %d: %d rows, %zu bytes", d, rows, qattn_tile_working_set_bytes(rows, d));
    }
}

/* round half away from zero of x, saturated to int8: the kernel's output rule. */
static int expected_output(double x)
{
    double r = x < 0 ? -floor(-x + 0.5) : floor(x + 0.5);
    return r > 127 ? 127 : r < -128 ? -128 : (int)r;
}

/* One head through the public entry point. */
static int8_t *run(int32_t lq, int32_t lk, int32_t d, const int8_t *q, const int8_t *k,
                   const int8_t *v, float sq, float sk, float sv, float so)
{
    int8_t *out = malloc((size_t)lq * d);
    qattn_attention_desc desc = qattn_attention_desc_default();
    desc.heads = 1, desc.len_q = lq, desc.len_k = lk, desc.head_dim = d;
    desc.scale_q = &sq, desc.scale_k = &sk, desc.scale_v = &sv, desc.scale_out = &so;
    qattn_status st = qattn_attention_s8(&desc, q, k, v, out);
    CHECK(st == QATTN_OK, "attention failed: %s", qattn_last_error());
    return out;
}

/* q = 0: every score is equal, every e is 65535, the output is exactly gain * mean(v). */
static void uniform_scores_give_the_mean(int32_t lk, int32_t d, int v_mode)
{
    size_t n = (size_t)lk * d;
    int8_t *q = calloc((size_t)3 * d, 1), *k = malloc(n), *v = malloc(n);
    long long *sum = calloc((size_t)d, sizeof *sum);
    for (size_t i = 0; i < n; i++) {
        k[i] = (int8_t)(i * 7919 % 256 - 128);
        v[i] = v_mode == 0 ? -128 : v_mode == 1 ? 127 : (int8_t)(i * 104729 % 256 - 128);
        sum[i % d] += v[i];
    }
    const float gains[] = {1.0f, 0.37f, 3.0f};
    for (int g = 0; g < 3; g++) {
        int8_t *out = run(3, lk, d, q, k, v, 0.01f, 0.02f, gains[g], 1.0f);
        for (int32_t t = 0; t < d; t++) {
            int want = expected_output((double)gains[g] * (double)sum[t] / lk);
            for (int r = 0; r < 3; r++)
                CHECK(out[r * d + t] == want, "lk=%d d=%d mode=%d gain=%g: out %d, want %d", lk,
                      d, v_mode, gains[g], out[r * d + t], want);
        }
        free(out);
    }
    free(q), free(k), free(v), free(sum);
}

/* A single key: the output is v itself (gain 1), whatever the score. */
static void one_key_gives_v(void)
{
    int8_t q[256], k[256], v[256];
    for (int t = 0; t < 256; t++) {
        q[t] = (int8_t)(t - 128), k[t] = -128, v[t] = (int8_t)(255 - t - 128);
    }
    int8_t *out = run(1, 1, 256, q, k, v, 5.0f, 5.0f, 0.25f, 0.25f);
    CHECK(memcmp(out, v, 256) == 0, "one key must reproduce v");
    free(out);
}

/* Extremes of the score accumulator: q = k = -128 at head_dim 256 (2^22 per score) next
 * to scores of the opposite sign; the softmax must pick the maximum keys exactly. */
static void extreme_scores(void)
{
    const int32_t d = 256, lk = 130;
    int8_t *q = malloc(d), *k = malloc((size_t)lk * d), *v = malloc((size_t)lk * d);
    memset(q, -128, d);
    for (int32_t j = 0; j < lk; j++) {
        int hit = j == 5 || j == 129; /* maxima in the first and the last (ragged) tile */
        memset(k + (size_t)j * d, hit ? -128 : 127, d);
        memset(v + (size_t)j * d, hit ? 100 : -100, d);
    }
    int8_t *out = run(1, lk, d, q, k, v, 1.0f, 1.0f, 1.0f, 1.0f);
    for (int32_t t = 0; t < d; t++)
        CHECK(out[t] == 100, "extreme scores: out[%d] = %d, want 100", t, out[t]);
    free(out), free(q), free(k), free(v);
}

/* A convex combination of identical values is that value, however the weights come out:
 * the row maximum rises in the last tile, so the largest accumulators of the longest
 * supported row are rescaled (rescale bound [Q5]). */
static void rescale_at_the_bound(int32_t lk, int8_t value)
{
    const int32_t d = 16;
    size_t n = (size_t)lk * d;
    int8_t q[16] = {1}, *k = malloc(n), *v = malloc(n);
    memset(v, value, n);
    for (size_t i = 0; i < n; i++)
        k[i] = (int8_t)(i / d >= (size_t)lk - 10 ? 127 : (int)(i % 97) - 128);
    int8_t *out = run(1, lk, d, q, k, v, 0.05f, 0.05f, 1.0f, 1.0f);
    for (int32_t t = 0; t < d; t++)
        CHECK(out[t] == value, "lk=%d: out[%d] = %d, want %d", lk, t, out[t], value);
    free(out), free(k), free(v);
}

int main(void)
{
    working_set();
    one_key_gives_v();
    extreme_scores();
    const int32_t lks[] = {1, 63, 64, 65, 1500, 4097};
    for (size_t i = 0; i < sizeof lks / sizeof *lks; i++)
        for (int mode = 0; mode < 3; mode++)
            uniform_scores_give_the_mean(lks[i], i % 2 ? 16 : 64, mode);
    /* The largest supported key length: the int64 accumulators at their proven bound. */
    for (int mode = 0; mode < 3; mode++)
        uniform_scores_give_the_mean(QATTN_MAX_KEYS, 16, mode);
    rescale_at_the_bound(QATTN_MAX_KEYS, -128);
    rescale_at_the_bound(QATTN_MAX_KEYS, 127);
    rescale_at_the_bound(4097, -128);
    return testing_report("test_tile");
}
