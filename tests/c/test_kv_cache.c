/*
 * The packed key/value cache (attn/kv_cache.h) against the one-shot entry point, bit for
 * bit, on every tier the CPU runs: keys appended in ragged chunks (tiles filled across
 * appends), queries as a bottom-right block after the cache or with no mask, a truncation, a
 * copy (a beam taking over another's history). The public bottom-right mask itself is held to
 * the top-left one it must equal: the same queries as the last rows of a longer query block.
 * After the first call, attention on the cache allocates nothing and starts no thread.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn/kv_cache.h"
#include "core/tiers.h"
#include "qattn.h"
#include "testing.h"

/* Counting allocations: this binary's malloc family forwards to glibc's and counts calls
 * (not under the sanitizers, which bring their own). */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define COUNT_ALLOCATIONS 1
extern void *__libc_malloc(size_t), *__libc_calloc(size_t, size_t), *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static atomic_long allocations;
void *malloc(size_t n) { atomic_fetch_add(&allocations, 1); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { atomic_fetch_add(&allocations, 1); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { atomic_fetch_add(&allocations, 1); return __libc_realloc(p, n); }
void *aligned_alloc(size_t a, size_t n) { atomic_fetch_add(&allocations, 1); return __libc_memalign(a, n); }
#endif

static uint64_t state = 0x9E3779B97F4A7C15ull;
static int8_t rnd8(void)
{
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return (int8_t)(state >> 40);
}

enum { H = 3, D = 64, CAP = 300 };
static int8_t K[H * CAP * D], V[H * CAP * D];
static float sq[H] = {0.03f, 0.05f, 0.02f}, sk[H] = {0.04f, 0.03f, 0.06f};
static float sv[H] = {0.05f, 0.05f, 0.05f}, so[H] = {0.02f, 0.03f, 0.025f};

/* The one-shot public entry on the first `len` keys of K/V. */
static void one_shot(qattn_isa isa, const int8_t *q, int32_t len_q, int32_t len, int32_t causal,
                     int8_t *out)
{
    int8_t *k = malloc((size_t)H * len * D), *v = malloc((size_t)H * len * D);
    for (int h = 0; h < H; h++) {
        memcpy(k + (size_t)h * len * D, K + (size_t)h * CAP * D, (size_t)len * D);
        memcpy(v + (size_t)h * len * D, V + (size_t)h * CAP * D, (size_t)len * D);
    }
    qattn_attention_desc d = qattn_attention_desc_default();
    d.heads = H, d.len_q = len_q, d.len_k = len, d.head_dim = D, d.causal = causal;
    d.scale_q = sq, d.scale_k = sk, d.scale_v = sv, d.scale_out = so, d.isa = isa, d.threads = 2;
    CHECK(qattn_attention_s8(&d, q, k, v, out) == QATTN_OK, "one shot: %s", qattn_last_error());
    free(k), free(v);
}

/* The rows of K/V [from, from + rows) of every head, as append takes them. */
static void chunk(int32_t from, int32_t rows, int8_t *k, int8_t *v)
{
    for (int h = 0; h < H; h++) {
        memcpy(k + (size_t)h * rows * D, K + ((size_t)h * CAP + from) * D, (size_t)rows * D);
        memcpy(v + (size_t)h * rows * D, V + ((size_t)h * CAP + from) * D, (size_t)rows * D);
    }
}

static int same_as_one_shot(qattn_isa isa, qattn_kv_cache *c, int32_t len_q, int32_t causal)
{
    static int8_t q[H * CAP * D], got[H * CAP * D], want[H * CAP * D];
    for (size_t i = 0; i < (size_t)H * len_q * D; i++)
        q[i] = rnd8();
    CHECK(qattn_kv_cache_attention(c, q, len_q, sq, sk, sv, so, causal, 2, NULL, got) == QATTN_OK, "%s",
          qattn_last_error());
    one_shot(isa, q, len_q, c->len, causal, want);
    return memcmp(got, want, (size_t)H * len_q * D) == 0;
}

static void one_tier(qattn_isa isa)
{
    qattn_kv_cache c, other;
    CHECK(qattn_kv_cache_init(&c, H, D, CAP, isa) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_kv_cache_init(&other, H, D, CAP, isa) == QATTN_OK, "%s", qattn_last_error());
    static int8_t k[H * CAP * D], v[H * CAP * D];
    const int32_t chunks[] = {1, 1, 5, 57, 64, 70, 1, 37, 60};
    int32_t len = 0;
    for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++) {
        chunk(len, chunks[i], k, v);
        CHECK(qattn_kv_cache_append(&c, k, v, chunks[i], 2) == QATTN_OK, "%s", qattn_last_error());
        len += chunks[i];
        CHECK(same_as_one_shot(isa, &c, chunks[i], QATTN_CAUSAL_BOTTOM_RIGHT),
              "%s: %d keys, the last %d as bottom-right queries", qattn_isa_name(isa), len, chunks[i]);
        CHECK(same_as_one_shot(isa, &c, 7, QATTN_CAUSAL_NONE), "%s: %d keys, no mask",
              qattn_isa_name(isa), len);
    }
    CHECK(qattn_kv_cache_append(&c, k, v, CAP - len + 1, 1) == QATTN_ERR_SIZE, "past capacity");
    /* a beam takes over: copy, then both grow differently and each still matches */
    CHECK(qattn_kv_cache_copy(&other, &c) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_kv_cache_truncate(&c, 130) == QATTN_OK && c.len == 130, "truncate");
    CHECK(same_as_one_shot(isa, &c, 3, QATTN_CAUSAL_BOTTOM_RIGHT), "%s: truncated to 130",
          qattn_isa_name(isa));
    CHECK(same_as_one_shot(isa, &other, 4, QATTN_CAUSAL_BOTTOM_RIGHT), "%s: the copy",
          qattn_isa_name(isa));
    chunk(130, 9, k, v);
    CHECK(qattn_kv_cache_append(&c, k, v, 9, 1) == QATTN_OK, "append after truncate");
    CHECK(same_as_one_shot(isa, &c, 9, QATTN_CAUSAL_BOTTOM_RIGHT), "%s: regrown to 139",
          qattn_isa_name(isa));
    CHECK(qattn_kv_cache_attention(&c, k, 140, sq, sk, sv, so, QATTN_CAUSAL_BOTTOM_RIGHT, 1, NULL, v) ==
              QATTN_ERR_KV_LEN, "more bottom-right queries than keys");

#ifdef COUNT_ALLOCATIONS
    static int8_t q[H * D], out[H * D];
    qattn_kv_cache_attention(&c, q, 1, sq, sk, sv, so, QATTN_CAUSAL_BOTTOM_RIGHT, 2, NULL, out); /* warm */
    long before = atomic_load(&allocations);
    for (int i = 0; i < 100; i++)
        qattn_kv_cache_attention(&c, q, 1, sq, sk, sv, so, QATTN_CAUSAL_BOTTOM_RIGHT, 2, NULL, out);
    long made = atomic_load(&allocations) - before;
    CHECK(made == 0, "%s: 100 calls on a warm cache made %ld allocations", qattn_isa_name(isa), made);
#endif
    qattn_kv_cache_free(&c);
    qattn_kv_cache_free(&other);
}

/* Bottom-right on (len_q, len_k) = the last len_q rows of top-left on (len_k, len_k). */
static void bottom_right_is_top_left_shifted(qattn_isa isa)
{
    enum { LQ = 37, LK = 150 };
    static int8_t q[H * LK * D], qs[H * LQ * D], full[H * LK * D], br[H * LQ * D];
    for (size_t i = 0; i < sizeof q; i++)
        q[i] = rnd8();
    for (int h = 0; h < H; h++)
        memcpy(qs + (size_t)h * LQ * D, q + ((size_t)h * LK + LK - LQ) * D, (size_t)LQ * D);
    one_shot(isa, q, LK, LK, QATTN_CAUSAL_TOP_LEFT, full);
    one_shot(isa, qs, LQ, LK, QATTN_CAUSAL_BOTTOM_RIGHT, br);
    int same = 1;
    for (int h = 0; h < H; h++)
        same &= memcmp(br + (size_t)h * LQ * D, full + ((size_t)h * LK + LK - LQ) * D, (size_t)LQ * D) == 0;
    CHECK(same, "%s: bottom-right differs from the shifted top-left mask", qattn_isa_name(isa));
}

int main(void)
{
    for (size_t i = 0; i < sizeof K; i++)
        K[i] = rnd8(), V[i] = rnd8();
    for (int t = qattn_tier_count() - 1; t >= 0; t--) {
        qattn_isa isa = qattn_tier_at(t);
        if (!qattn_isa_supported(isa))
            continue;
        printf("tier %s\n", qattn_isa_name(isa));
        bottom_right_is_top_left_shifted(isa);
        one_tier(isa);
    }
    return testing_report("test_kv_cache");
}
