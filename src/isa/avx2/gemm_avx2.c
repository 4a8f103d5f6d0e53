/*
 * INT8 GEMM microkernel for AVX2: vpmaddwd on int16 pairs (s16 x s16 -> s32, exact: no
 * saturation), 6 rows x 16 columns per step.
 *
 * Why int16 products and not vpmaddubsw (u8 x s8 -> s16): vpmaddubsw saturates its pair sums
 * (2 * 255 * 128 > 32767), so a tier built on it would not give the reference's integers; made
 * exact (ggml's mul_sum_i8_pairs: |w| against x with w's sign, then vpmaddwd by ones) it costs
 * as many multiply instructions per product as vpmaddwd does. vpmaddwd multiplies 16-bit
 * values, so 16-bit activations (gemm.h's x_bits) cost the same products as int8 ones:
 * gemm_s16 takes them in one pass.
 *
 * Packed weights stay int8 (the same bytes as the VNNI tier's, half those of int16 panels: the
 * decoder's steps are bound by reading them): panels of 16 columns, each [k/2][16][2] int8
 * (columns past n are zero); a pair group of 8 columns is sign-extended to int16 as it is
 * loaded (vpmovsxbw), once for the 6 rows that use it.
 *
 * Registers: 6 rows x 2 vectors of 8 int32 sums = 12 accumulators, 2 weight vectors and one
 * broadcast activation pair: 15 of AVX2's 16 ymm registers (4 rows x 32 columns, the previous
 * tile, needed 21 and spilled). int8 rows are widened to int16 a chunk of k at a time into a
 * buffer on the stack, once per chunk for all the panels they meet, so each activation pair is
 * one broadcast from memory.
 */
#include <immintrin.h>
#include <string.h>

#include "gemm/gemm_ukernels.h"

enum {
    NR = 16,    /* columns per panel */
    MR = 6,     /* rows per step */
    KC = 512,   /* values of k per chunk (k's multiple of 4 may end a chunk early) */
    S16_PAIRS = 256, /* 16-bit rows: pairs summed in int32 before folding into int64 */
};
/* |x| <= 32639 and |w| <= 128: a lane's sum of S16_PAIRS pairs stays in int32, and so does
 * an int8 row's whole sum (|acc| <= k 2^14 <= 2^30, gemm.h). */
_Static_assert(2 * S16_PAIRS * 32639LL * 128 < 2147483648LL, "16-bit sums fit in int32");
_Static_assert(KC / 2 <= S16_PAIRS, "a chunk of 16-bit rows fits in one int32 run");

static size_t panel_bytes(int32_t k)
{
    return (size_t)NR * (size_t)k;
}

static size_t packed_bytes(int32_t n, int32_t k)
{
    return (size_t)((n + NR - 1) / NR) * panel_bytes(k);
}

static void pack(const int8_t *w8, int32_t n, int32_t k, void *packed)
{
    for (int32_t p = 0; p < (n + NR - 1) / NR; p++) {
        int8_t *panel = (int8_t *)packed + (size_t)p * panel_bytes(k);
        for (int32_t j = 0; j < NR; j++) {
            const int32_t col = p * NR + j;
            const int8_t *src = w8 + (size_t)col * k;
            for (int32_t g = 0; g < k / 2; g++) {
                int8_t *dst = panel + ((size_t)g * NR + j) * 2;
                dst[0] = col < n ? src[2 * g] : 0;
                dst[1] = col < n ? src[2 * g + 1] : 0;
            }
        }
    }
}

/* `groups` pair groups of a panel (from its group `panel`) against `rows` (1..6, a constant
 * where it is inlined) rows of int16 activations (pair g of row i at x16[i * ldx + 2 g]),
 * added into c. Each sum is a variable of its own, held in a register by an empty asm:
 * written as a loop over an array of sums, GCC 12 kept half of them on the stack (a load and
 * a store per product: the decoder's 5-row GEMMs ran at half speed), and it hoists later
 * rows' broadcasts when it can. Rows past `rows` are dead code. */
static inline __attribute__((always_inline)) void chunk_rows(const int16_t *x16, ptrdiff_t ldx,
                                                             int rows, const int8_t *panel,
                                                             int32_t groups, __m256i c[MR][2])
{
    __m256i c00 = c[0][0], c01 = c[0][1], c10 = c[1][0], c11 = c[1][1], c20 = c[2][0],
            c21 = c[2][1], c30 = c[3][0], c31 = c[3][1], c40 = c[4][0], c41 = c[4][1],
            c50 = c[5][0], c51 = c[5][1];
    const int16_t *x0 = x16, *x1 = x16 + ldx, *x2 = x16 + 2 * ldx, *x3 = x16 + 3 * ldx,
                  *x4 = x16 + 4 * ldx, *x5 = x16 + 5 * ldx;
    for (int32_t g = 0; g < groups; g++) {
        const int8_t *wg = panel + (size_t)g * NR * 2;
        const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wg));
        const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wg + 16)));
#define QATTN_AVX2_ROW(i)                                                                      \
    if (rows > i) {                                                                            \
        int32_t pair;                                                                          \
        memcpy(&pair, x##i + 2 * g, sizeof pair);                                              \
        const __m256i xb = _mm256_set1_epi32(pair);                                            \
        c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(xb, w0));                        \
        c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(xb, w1));                        \
        __asm__("" : "+x"(c##i##0), "+x"(c##i##1)); /* the sums stay in registers */          \
    }
        QATTN_AVX2_ROW(0)
        QATTN_AVX2_ROW(1)
        QATTN_AVX2_ROW(2)
        QATTN_AVX2_ROW(3)
        QATTN_AVX2_ROW(4)
        QATTN_AVX2_ROW(5)
#undef QATTN_AVX2_ROW
    }
    c[0][0] = c00, c[0][1] = c01, c[1][0] = c10, c[1][1] = c11, c[2][0] = c20, c[2][1] = c21;
    c[3][0] = c30, c[3][1] = c31, c[4][0] = c40, c[4][1] = c41, c[5][0] = c50, c[5][1] = c51;
}

/* The first `cols` (<= 16) int32 sums of a row's two vectors into out (int32, or int64 when
 * `wide`), added to what is there when `add`. */
static inline void store_sums(void *out, int wide, __m256i lo, __m256i hi, int32_t cols, int add)
{
    int32_t tmp[NR];
    _mm256_storeu_si256((__m256i *)tmp, lo);
    _mm256_storeu_si256((__m256i *)(tmp + 8), hi);
    for (int32_t j = 0; j < cols; j++) {
        if (wide) {
            int64_t *o = (int64_t *)out + j;
            *o = add ? *o + tmp[j] : tmp[j];
        } else {
            int32_t *o = (int32_t *)out + j;
            *o = add ? *o + tmp[j] : tmp[j];
        }
    }
}

/* Rows [0, rows) of x16 (int16, ldx apart: k values t0 .. t1 of each row from x16's start)
 * over those k values of every panel in [n0, n0 + nc): sums into acc (int32, or int64 when
 * `wide`), stored when `first`, else added. */
static inline __attribute__((always_inline)) void chunk_panels(
    const int16_t *x16, ptrdiff_t ldx, int rows, const void *packed, int32_t k, int32_t t0,
    int32_t t1, int32_t n0, int32_t nc, void *acc, ptrdiff_t ldc, int wide, int first)
{
    for (int32_t j = 0; j < nc; j += NR) {
        const int8_t *panel = (const int8_t *)packed + (size_t)((n0 + j) / NR) * panel_bytes(k);
        const int32_t cols = nc - j < NR ? nc - j : NR;
        __m256i c[MR][2];
        for (int i = 0; i < MR; i++)
            c[i][0] = c[i][1] = _mm256_setzero_si256();
        chunk_rows(x16, ldx, rows, panel + (size_t)t0 * NR, (t1 - t0) / 2, c);
        for (int i = 0; i < rows; i++)
            store_sums(wide ? (void *)((int64_t *)acc + i * ldc + j) : (void *)((int32_t *)acc + i * ldc + j),
                       wide, c[i][0], c[i][1], cols, !first);
    }
}

/* chunk_panels for a constant row count (so the accumulators stay in registers). */
static void chunk_panels_rows(const int16_t *x16, ptrdiff_t ldx, int rows, const void *packed,
                              int32_t k, int32_t t0, int32_t t1, int32_t n0, int32_t nc,
                              void *acc, ptrdiff_t ldc, int wide, int first)
{
    switch (rows) {
    case 6: chunk_panels(x16, ldx, 6, packed, k, t0, t1, n0, nc, acc, ldc, wide, first); break;
    case 5: chunk_panels(x16, ldx, 5, packed, k, t0, t1, n0, nc, acc, ldc, wide, first); break;
    case 4: chunk_panels(x16, ldx, 4, packed, k, t0, t1, n0, nc, acc, ldc, wide, first); break;
    case 3: chunk_panels(x16, ldx, 3, packed, k, t0, t1, n0, nc, acc, ldc, wide, first); break;
    case 2: chunk_panels(x16, ldx, 2, packed, k, t0, t1, n0, nc, acc, ldc, wide, first); break;
    default: chunk_panels(x16, ldx, 1, packed, k, t0, t1, n0, nc, acc, ldc, wide, first); break;
    }
}

static void gemm(const int8_t *x8, ptrdiff_t ldx, int32_t m, const void *packed, int32_t n,
                 int32_t k, int32_t n0, int32_t nc, int32_t *acc, ptrdiff_t ldc)
{
    (void)n;
    _Alignas(32) int16_t x16[MR][KC];
    for (int32_t i0 = 0; i0 < m; i0 += MR) {
        const int rows = m - i0 < MR ? m - i0 : MR;
        for (int32_t t0 = 0; t0 < k; t0 += KC) {
            const int32_t t1 = k - t0 < KC ? k : t0 + KC;
            for (int i = 0; i < rows; i++) { /* the chunk widened to int16, once */
                const int8_t *src = x8 + (i0 + i) * ldx + t0;
                int32_t t = 0;
                for (; t + 16 <= t1 - t0; t += 16)
                    _mm256_store_si256((__m256i *)(x16[i] + t),
                                       _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(src + t))));
                for (; t < t1 - t0; t++)
                    x16[i][t] = src[t];
            }
            chunk_panels_rows(x16[0], KC, rows, packed, k, t0, t1, n0, nc,
                              acc + i0 * ldc, ldc, 0, t0 == 0);
        }
    }
}

static void gemm_s16(const int16_t *x16, ptrdiff_t ldx, int32_t m, const void *packed, int32_t n,
                     int32_t k, int32_t n0, int32_t nc, int64_t *acc, ptrdiff_t ldc)
{
    (void)n;
    for (int32_t i0 = 0; i0 < m; i0 += MR) {
        const int rows = m - i0 < MR ? m - i0 : MR;
        for (int32_t t0 = 0; t0 < k; t0 += KC) {
            const int32_t t1 = k - t0 < KC ? k : t0 + KC;
            chunk_panels_rows(x16 + i0 * ldx + t0, ldx, rows, packed, k, t0, t1, n0, nc,
                              acc + i0 * ldc, ldc, 1, t0 == 0);
        }
    }
}

const struct qattn_gemm_ukernels qattn_gemm_ukernels_avx2 = {
    "avx2", NR, 60, 256, packed_bytes, pack, NULL, gemm, gemm_s16,
};
