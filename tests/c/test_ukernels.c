/*
 * Each tier's microkernels one by one against the scalar reference, tolerance zero, from one
 * shape list (rows, keys, head_dim, score gain): scores from packed K (pack + scores), the
 * softmax row (its weights read back through P.V with V the identity; the maximum, the sum;
 * rows whose exponents reach zero; allowed = 0), P.V with random V, the rescale, and P.V over
 * several key tiles with rescales between them (pv_tiles, where a tier has it). The
 * GEMM kernel at the largest K it supports with every operand at -128 or 127 (the int32
 * accumulator's edge). The references are the tile kernel's own functions (tile_kernel.h)
 * and plain int64 dot products written here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn/tile_kernel.h"
#include "attn/tile_params.h"
#include "attn/ukernels.h"
#include "core/tiers.h"
#include "gemm/gemm.h"
#include "gemm/gemm_ukernels.h"
#include "testing.h"

typedef struct shape {
    int32_t rows, keys, head_dim;
    float gain; /* scale_q = scale_k: how far apart the scores are */
} shape;

static const shape shapes[] = {
    {1, 1, 16, 0.02f},  {4, 64, 64, 0.02f},  {5, 63, 32, 0.05f},  {64, 64, 64, 0.03f},
    {3, 17, 128, 0.1f}, {7, 64, 256, 0.02f}, {64, 40, 48, 0.3f},  {2, 64, 64, 5.0f},
    {9, 33, 80, 1e-5f}, {1, 64, 208, 1.0f},  {33, 2, 16, 0.5f},   {64, 64, 144, 0.08f},
    {17, 64, 128, 0.04f}, {48, 50, 32, 0.2f}, {64, 64, 64, 6.0f},
};

static uint64_t state = 0x2545F4914F6CDD1Dull;
static uint32_t next_u32(void)
{
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return (uint32_t)(state >> 16);
}
static int8_t rnd8(void) { return (int8_t)next_u32(); }

/* The reference weight of a score s under a row maximum m ([Q2], [Q3]). */
static int32_t ref_e(int32_t m, int32_t s, const qattn_tile_params *p)
{
    uint32_t e = qattn_exp2_neg_q16(qattn_score_exponent(m - s, p));
    return (int32_t)(e > QATTN_E_MAX ? QATTN_E_MAX : e);
}

static void *alloc64(size_t n) { return aligned_alloc(64, (n + 63) / 64 * 64); }

/* exp_table against the reference entry by entry, then softmax_rows reading it against the
 * same call computing (prow, m_new and sums from it, checked against the reference above). */
static void table_weights(const qattn_attn_ukernels *uk, const char *tier,
                          const qattn_tile_params *p, const int32_t *s, int32_t rows,
                          const int32_t *allowed, const int32_t *m_old, const uint8_t *prow,
                          const int32_t *m_new, const int32_t *sums)
{
    const int32_t len = p->d_zero + 2;
    uint16_t *table = malloc((size_t)len * sizeof(uint16_t));
    uk->exp_table(p, table);
    int bad = 0;
    for (int32_t dd = 0; dd < len; dd++) {
        uint32_t e = qattn_exp2_neg_q16(qattn_score_exponent(dd, p));
        bad += table[dd] != (e > QATTN_E_MAX ? QATTN_E_MAX : e);
    }
    bad += table[p->d_zero] != 0 || table[p->d_zero + 1] != 0;
    CHECK(!bad, "%s exp_table, d_zero %d: %d entries wrong", tier, p->d_zero, bad);
    uint8_t *prow2 = malloc((size_t)64 * QATTN_P_ROW_BYTES);
    int32_t m2[64], sums2[64];
    uk->softmax_rows(s, rows, allowed, m_old, p, table, prow2, m2, sums2);
    bad = 0;
    for (int32_t r = 0; r < rows; r++) {
        bad += memcmp(prow2 + (size_t)r * QATTN_P_ROW_BYTES, prow + (size_t)r * QATTN_P_ROW_BYTES,
                      QATTN_P_ROW_BYTES) != 0;
        bad += sums2[r] != sums[r] || (allowed[r] > 0 && m2[r] != m_new[r]);
    }
    CHECK(!bad, "%s softmax rows from the table, d_zero %d: %d rows differ", tier, p->d_zero, bad);
    free(table), free(prow2);
}

static void attention_kernels(const qattn_attn_ukernels *uk, const char *tier, const shape *sh)
{
    const int32_t R = sh->rows, KEYS = sh->keys, D = sh->head_dim;
    int8_t *q = malloc((size_t)R * D), *k = malloc((size_t)64 * D), *v = malloc((size_t)64 * D);
    int8_t *eye = calloc((size_t)64 * 64, 1);
    uint8_t *packed = alloc64(uk->kv_tile_bytes(D)), *eye_packed = alloc64(uk->kv_tile_bytes(64));
    int32_t *s = alloc64((size_t)64 * 64 * 4);
    uint8_t *prow = alloc64((size_t)64 * QATTN_P_ROW_BYTES);
    int64_t *acc = calloc((size_t)64 * 256, 8), *eacc = calloc((size_t)64 * 64, 8);
    for (int32_t i = 0; i < R * D; i++)
        q[i] = rnd8();
    for (int32_t i = 0; i < 64 * D; i++)
        k[i] = rnd8(), v[i] = rnd8();
    if (sh->gain >= 5.0f) /* extremes: every operand at -128 or 127 */
        for (int32_t i = 0; i < 64 * D; i++)
            k[i] = (i % 3) ? -128 : 127, v[i] = (i % 5) ? 127 : -128;
    for (int32_t j = 0; j < 64; j++)
        eye[j * 64 + j] = 1;

    /* pack + scores: q_r . k_j for keys present, 0 for absent ones */
    uk->pack_kv(k, v, D, 0, KEYS, D, packed);
    if (KEYS > 1) { /* keys [0, a) then [a, KEYS) (a cache growing): the bytes of one pack */
        const size_t bytes = uk->kv_tile_bytes(D);
        uint8_t *split = alloc64(bytes);
        memset(split, 0xA5, bytes); /* the first pack must overwrite all of it */
        uk->pack_kv(k, v, D, 0, KEYS / 2, D, split);
        uk->pack_kv(k, v, D, KEYS / 2, KEYS, D, split);
        CHECK(!memcmp(split, packed, bytes), "%s: %d keys packed in two steps differ", tier, KEYS);
        free(split);
    }
    uk->scores(q, D, R, packed, D, s);
    int bad = 0;
    for (int32_t r = 0; r < R; r++)
        for (int32_t j = 0; j < 64; j++) {
            int64_t want = 0;
            for (int32_t t = 0; j < KEYS && t < D; t++)
                want += (int32_t)q[r * D + t] * k[j * D + t];
            bad += s[r * 64 + j] != want;
        }
    CHECK(!bad, "%s scores rows %d keys %d d %d: %d wrong", tier, R, KEYS, D, bad);

    /* softmax rows: allowed keys vary per row (0 included), a previous maximum above or
     * below the tile's; the weights come back through P.V with V = identity (d = 64) */
    qattn_tile_params p;
    qattn_tile_params_make(&p, D, sh->gain, sh->gain, 0.05f, 0.05f);
    uk->pack_kv(eye, eye, 64, 0, 64, 64, eye_packed);
    int32_t m_old[64], allowed[64], sums[64], m_new[64];
    for (int32_t r = 0; r < R; r++) {
        allowed[r] = r == 1 ? 0 : (int32_t)(next_u32() % (uint32_t)(KEYS + 1));
        m_old[r] = r % 3 == 0 ? INT32_MIN : s[r * 64] + (int32_t)(next_u32() % 2001) - 1000;
    }
    uk->softmax_rows(s, R, allowed, m_old, &p, NULL, prow, m_new, sums);
    memset(eacc, 0, (size_t)64 * 64 * 8);
    uk->pv(prow, R, eye_packed, 64, eacc);
    int zeros = 0;
    bad = 0;
    for (int32_t r = 0; r < R; r++) {
        int32_t m = m_old[r];
        for (int32_t j = 0; j < allowed[r]; j++)
            m = s[r * 64 + j] > m ? s[r * 64 + j] : m;
        int64_t sum = 0;
        for (int32_t j = 0; j < 64; j++) {
            int32_t want = j < allowed[r] ? ref_e(m, s[r * 64 + j], &p) : 0;
            zeros += j < allowed[r] && want == 0;
            sum += want;
            bad += eacc[r * 64 + j] != want;
        }
        if (allowed[r] > 0)
            bad += m_new[r] != m;
        bad += sums[r] != sum;
    }
    CHECK(!bad, "%s softmax rows %d keys %d gain %g: %d wrong", tier, R, KEYS, (double)sh->gain, bad);
    if (uk->exp_table && p.d_zero < (1 << 22)) /* the weights read from the head's table */
        table_weights(uk, tier, &p, s, R, allowed, m_old, prow, m_new, sums);

    /* P.V on random V with those weights: sum_j e_rj v_jt, exact */
    memset(acc, 0, (size_t)64 * 256 * 8);
    for (int32_t i = 0; i < R * D; i++)
        acc[i] = (int64_t)(next_u32() % 100000) - 50000; /* P.V adds into what is there */
    int64_t *before = malloc((size_t)R * D * 8);
    memcpy(before, acc, (size_t)R * D * 8);
    uk->pv(prow, R, packed, D, acc);
    bad = 0;
    for (int32_t r = 0; r < R; r++)
        for (int32_t t = 0; t < D; t++) {
            int64_t want = before[r * D + t];
            for (int32_t j = 0; j < KEYS; j++)
                want += eacc[r * 64 + j] * v[j * D + t];
            bad += acc[r * D + t] != want;
        }
    CHECK(!bad, "%s pv rows %d keys %d d %d: %d wrong", tier, R, KEYS, D, bad);

    /* rescale: the reference's floor((acc alpha + 2^15) / 2^16) */
    int64_t *mine = malloc((size_t)D * 8), *ref = malloc((size_t)D * 8);
    const uint32_t alphas[] = {0, 1, 32768, 65535, 65536, next_u32() % 65537};
    bad = 0;
    for (size_t a = 0; a < sizeof alphas / sizeof *alphas; a++) {
        for (int32_t t = 0; t < D; t++) {
            int64_t big = ((int64_t)next_u32() << 14) ^ next_u32(); /* up to ~2^46 */
            mine[t] = ref[t] = (t % 2 ? -big : big) >> (t % 7);
        }
        uk->rescale(mine, D, alphas[a]);
        qattn_tile_rescale_acc(ref, D, alphas[a]);
        bad += memcmp(mine, ref, (size_t)D * 8) != 0;
    }
    CHECK(!bad, "%s rescale d %d: %d alphas wrong", tier, D, bad);

    /* finish: the reference's output rows, from accumulators and sums of every magnitude
     * (sums from one weight to 2^46, accumulators up to 2^46 of either sign, saturating ones,
     * a row that saw no key), at gains from 1e-6 (shifts past 63) to 500 */
    if (uk->finish) {
        const uint64_t saved = state; /* its own draws: the shapes after it keep their data */
        int64_t *fin_acc = malloc((size_t)64 * D * 8), *fin_sum = malloc(64 * 8);
        int32_t *fin_max = malloc(64 * 4);
        int8_t *mine8 = malloc((size_t)64 * (D + 3)), *ref8 = malloc((size_t)64 * (D + 3));
        const float gains[] = {1e-6f, 0.01f, 1.0f, 37.0f, 500.0f};
        bad = 0;
        for (size_t gi = 0; gi < sizeof gains / sizeof *gains; gi++) {
            qattn_tile_params fp;
            qattn_tile_params_make(&fp, D, 0.05f, 0.05f, gains[gi], 1.0f);
            for (int32_t r = 0; r < 64; r++) {
                int bits = 16 + (int)(next_u32() % 31); /* the sum: 2^16 .. 2^46 */
                fin_sum[r] = r == 5 ? 0 : r == 6 ? 65535 : (int64_t)(((uint64_t)next_u32() << 32 | next_u32()) >> (64 - bits)) + 65535;
                for (int32_t t = 0; t < D; t++) {
                    int64_t mag = (int64_t)(((uint64_t)next_u32() << 32 | next_u32()) >> (64 - bits + (int)(next_u32() % 9)));
                    if (t % 11 == 3)
                        mag = fin_sum[r] * 130; /* saturates at most gains */
                    fin_acc[(size_t)r * D + t] = next_u32() % 2 ? -mag : mag;
                }
            }
            qattn_tile_state fs = {64, D, fin_max, fin_sum, fin_acc};
            memset(mine8, 0x5A, (size_t)64 * (D + 3)), memset(ref8, 0x5A, (size_t)64 * (D + 3));
            uk->finish(&fs, &fp, mine8, D + 3);
            qattn_tile_finish(&fs, &fp, ref8, D + 3);
            bad += memcmp(mine8, ref8, (size_t)64 * (D + 3)) != 0;
        }
        CHECK(!bad, "%s finish d %d: %d gains wrong", tier, D, bad);
        free(fin_acc), free(fin_sum), free(fin_max), free(mine8), free(ref8);
        state = saved;
    }
    if (sh->gain >= 1.0f)
        CHECK(zeros > 0, "%s: gain %g should reach exponents of zero", tier, (double)sh->gain);

    free(q), free(k), free(v), free(eye), free(packed), free(eye_packed), free(s), free(prow);
    free(acc), free(eacc), free(before), free(mine), free(ref);
}

/* P.V over several key tiles (pv_tiles) against the reference's order written here in int64:
 * per tile, rows whose alpha is not 65536 rescaled (qattn_tile_rescale_acc), then sum_j e v.
 * The weights are random P rows of the tier's layout (every u16 value possible), read back
 * through P.V with V = identity (checked above); V at random or at -128/127; rescales at a
 * few rows of a few tiles, at every row of one, at none of others; accumulators from 0 to
 * ~2^40 of either sign. */
static void pv_over_tiles(const qattn_attn_ukernels *uk, const char *tier, const shape *sh,
                          int32_t tiles)
{
    const int32_t R = sh->rows, KEYS = sh->keys, D = sh->head_dim;
    const size_t tile_bytes = (uk->kv_tile_bytes(D) + 63) / 64 * 64;
    const size_t p_tile = (size_t)64 * QATTN_P_ROW_BYTES;
    uint8_t *packed = alloc64(tile_bytes * tiles), *eye_packed = alloc64(uk->kv_tile_bytes(64));
    uint8_t *prow = alloc64(p_tile * tiles);
    int8_t *v = malloc((size_t)tiles * 64 * D), *eye = calloc((size_t)64 * 64, 1);
    int64_t *e = calloc((size_t)tiles * 64 * 64, 8), *acc = malloc((size_t)64 * D * 8);
    int64_t *want = malloc((size_t)64 * D * 8);
    uint32_t *alpha = malloc((size_t)tiles * 64 * 4);
    for (int32_t j = 0; j < 64; j++)
        eye[j * 64 + j] = 1;
    uk->pack_kv(eye, eye, 64, 0, 64, 64, eye_packed);
    for (int32_t kt = 0; kt < tiles; kt++) {
        int8_t *vt = v + (size_t)kt * 64 * D;
        for (int32_t i = 0; i < 64 * D; i++)
            vt[i] = sh->gain >= 5.0f ? ((i + kt) % 5 ? 127 : -128) : rnd8();
        uk->pack_kv(vt, vt, D, 0, KEYS, D, packed + kt * tile_bytes); /* K unused */
        for (size_t b = 0; b < p_tile; b++)
            prow[kt * p_tile + b] = (uint8_t)next_u32();
        uk->pv(prow + kt * p_tile, R, eye_packed, 64, e + (size_t)kt * 64 * 64);
        for (int32_t r = 0; r < 64; r++) {
            const uint32_t u = next_u32();
            const int rises = kt % 3 == 1 || (kt % 3 == 2 && u % 7 == 0);
            alpha[kt * 64 + r] = rises ? u % 65537 : 65536;
        }
    }
    for (int32_t i = 0; i < R * D; i++) {
        const int64_t big = (int64_t)(((uint64_t)next_u32() << 32 | next_u32()) >> (24 + i % 40));
        acc[i] = want[i] = i % 2 ? -big : big;
    }
    for (int32_t kt = 0; kt < tiles; kt++)
        for (int32_t r = 0; r < R; r++) {
            int64_t *row = want + (size_t)r * D;
            if (alpha[kt * 64 + r] != 65536)
                qattn_tile_rescale_acc(row, D, alpha[kt * 64 + r]);
            for (int32_t t = 0; t < D; t++)
                for (int32_t j = 0; j < KEYS; j++)
                    row[t] += e[((size_t)kt * 64 + r) * 64 + j] * v[((size_t)kt * 64 + j) * D + t];
        }
    uk->pv_tiles(prow, R, tiles, packed, tile_bytes, alpha, D, acc);
    int bad = 0;
    for (int32_t i = 0; i < R * D; i++)
        bad += acc[i] != want[i];
    CHECK(!bad, "%s pv_tiles rows %d keys %d d %d tiles %d: %d wrong", tier, R, KEYS, D, tiles,
          bad);
    free(packed), free(eye_packed), free(prow), free(v), free(eye), free(e), free(acc), free(want);
    free(alpha);
}

/* The GEMM kernel at K = QATTN_GEMM_MAX_K with every operand at -128 or 127. */
static void gemm_at_the_edge(const struct qattn_gemm_ukernels *uk, const char *tier)
{
    const int32_t M = 5, N = 2 * uk->nr + 3, K = QATTN_GEMM_MAX_K;
    int8_t *x = malloc((size_t)M * K), *w = malloc((size_t)N * K);
    for (int32_t i = 0; i < M; i++)
        for (int32_t t = 0; t < K; t++)
            x[(size_t)i * K + t] = i == 0 ? -128 : i == 1 ? 127 : (t + i) % 3 ? -128 : 127;
    for (int32_t j = 0; j < N; j++)
        for (int32_t t = 0; t < K; t++)
            w[(size_t)j * K + t] = j % 2 ? -128 : (t * 7 + j) % 4 ? 127 : -128;
    void *packed = alloc64(uk->packed_bytes(N, K));
    uk->pack(w, N, K, packed);
    int32_t *acc = malloc((size_t)M * N * 4);
    int8_t *xp = malloc((size_t)M * K); /* x in the tier's form */
    memcpy(xp, x, (size_t)M * K);
    if (uk->prepare_x)
        uk->prepare_x(xp, (size_t)M * K);
    int bad = 0;
    for (int32_t n0 = 0; n0 < N; n0 += uk->nr) { /* panel by panel, as the driver calls it */
        int32_t nc = N - n0 < uk->nr ? N - n0 : uk->nr;
        uk->gemm(xp, K, M, packed, N, K, n0, nc, acc, N);
        for (int32_t i = 0; i < M; i++)
            for (int32_t j = n0; j < n0 + nc; j++) {
                int64_t want = 0;
                for (int32_t t = 0; t < K; t++)
                    want += (int32_t)x[(size_t)i * K + t] * w[(size_t)j * K + t];
                bad += acc[i * N + j - n0] != want;
            }
    }
    CHECK(!bad, "%s gemm at K = %d with -128/127 operands: %d wrong", tier, K, bad);
    free(x), free(xp), free(w), free(packed), free(acc);
}

int main(void)
{
    for (int ti = qattn_tier_count() - 1; ti >= 0; ti--) {
        const qattn_isa isa = qattn_tier_at(ti);
        const qattn_attn_ukernels *a = qattn_attn_kernels_for(isa);
        const struct qattn_gemm_ukernels *g = qattn_gemm_kernels_for(isa);
        if (isa == QATTN_ISA_SCALAR || !qattn_isa_supported(isa)) {
            printf("tier %-11s %s\n", qattn_isa_name(isa), isa == QATTN_ISA_SCALAR ?
                   "is the reference" : "skipped: not supported here");
            continue;
        }
        printf("tier %-11s attention %s, gemm %s\n", qattn_isa_name(isa), a ? a->name : "-", g ? g->name : "-");
        for (size_t i = 0; a && i < sizeof shapes / sizeof *shapes; i++) {
            attention_kernels(a, qattn_isa_name(isa), &shapes[i]);
            if (a->pv_tiles) {
                pv_over_tiles(a, qattn_isa_name(isa), &shapes[i], 1 + (int32_t)i % 3);
                pv_over_tiles(a, qattn_isa_name(isa), &shapes[i], QATTN_PV_TILES_MAX);
            }
        }
        if (g)
            gemm_at_the_edge(g, qattn_isa_name(isa));
    }
    return testing_report("test_ukernels");
}
