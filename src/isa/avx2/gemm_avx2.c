/*
 * INT8 GEMM microkernel for AVX2: 4 rows x 32 columns per step, vpmaddwd on int16 pairs
 * (s16 x s16 -> s32, no saturation). vpmaddwd multiplies 16-bit values, so 16-bit activations
 * (gemm.h's x_bits) cost the same products as int8 ones: gemm_s16 takes them in one pass.
 *
 * Packed weights: panels of 32 columns, each [k/2][32][2] int16 (columns past n are zero).
 */
#include <immintrin.h>
#include <string.h>

#include "gemm/gemm_ukernels.h"

static size_t panel_bytes(int32_t k)
{
    return (size_t)32 * k * sizeof(int16_t);
}

static size_t packed_bytes(int32_t n, int32_t k)
{
    return (size_t)((n + 31) / 32) * panel_bytes(k);
}

static void pack(const int8_t *w8, int32_t n, int32_t k, void *packed)
{
    for (int32_t p = 0; p < (n + 31) / 32; p++) {
        int16_t *panel = (int16_t *)((uint8_t *)packed + (size_t)p * panel_bytes(k));
        for (int32_t j = 0; j < 32; j++) {
            int32_t col = p * 32 + j;
            for (int32_t t = 0; t < k; t++)
                panel[((size_t)(t / 2) * 32 + j) * 2 + t % 2] = col < n ? w8[(size_t)col * k + t] : 0;
        }
    }
}

static inline __m256i broadcast_pair(const int8_t *x)
{
    return _mm256_set1_epi32((int32_t)((uint32_t)(uint16_t)x[0] | (uint32_t)(uint16_t)x[1] << 16));
}

static inline __attribute__((always_inline)) void panel_rows(const int8_t *x8, ptrdiff_t ldx,
                                                             int rows, const int16_t *panel,
                                                             int32_t k, int32_t *acc,
                                                             ptrdiff_t ldc, int32_t ncols)
{
    __m256i c[4][4];
    for (int i = 0; i < rows; i++)
        for (int b = 0; b < 4; b++)
            c[i][b] = _mm256_setzero_si256();
    for (int32_t g = 0; g < k / 2; g++) {
        __m256i w[4];
        for (int b = 0; b < 4; b++)
            w[b] = _mm256_loadu_si256((const __m256i *)(panel + ((size_t)g * 32 + 8 * b) * 2));
        for (int i = 0; i < rows; i++) {
            __m256i xb = broadcast_pair(x8 + i * ldx + 2 * g);
            for (int b = 0; b < 4; b++)
                c[i][b] = _mm256_add_epi32(c[i][b], _mm256_madd_epi16(xb, w[b]));
        }
    }
    for (int i = 0; i < rows; i++)
        for (int b = 0; b < 4; b++) {
            int32_t left = ncols - 8 * b;
            if (left >= 8) {
                _mm256_storeu_si256((__m256i *)(acc + i * ldc + 8 * b), c[i][b]);
            } else if (left > 0) {
                int32_t tmp[8];
                _mm256_storeu_si256((__m256i *)tmp, c[i][b]);
                for (int32_t t = 0; t < left; t++)
                    acc[i * ldc + 8 * b + t] = tmp[t];
            }
        }
}

/* 16-bit rows: the int32 lanes of vpmaddwd's sums hold S16_PAIRS pairs at most (|x| <= 32639,
 * |w| <= 128: 256 * 2 * 32639 * 128 < 2^31), then fold into int64 sums. */
enum { S16_PAIRS = 256 };

static inline void add_epi32_to_epi64(int64_t *sum, __m256i v)
{
    __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(v));
    __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1));
    _mm256_storeu_si256((__m256i *)sum, _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)sum), lo));
    _mm256_storeu_si256((__m256i *)(sum + 4),
                        _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)(sum + 4)), hi));
}

static inline __attribute__((always_inline)) void panel_rows_s16(const int16_t *x16,
                                                                 ptrdiff_t ldx, int rows,
                                                                 const int16_t *panel, int32_t k,
                                                                 int64_t *acc, ptrdiff_t ldc,
                                                                 int32_t ncols)
{
    int64_t sums[4][32] = {{0}};
    for (int32_t g0 = 0; g0 < k / 2; g0 += S16_PAIRS) {
        const int32_t g1 = k / 2 - g0 < S16_PAIRS ? k / 2 : g0 + S16_PAIRS;
        __m256i c[4][4];
        for (int i = 0; i < rows; i++)
            for (int b = 0; b < 4; b++)
                c[i][b] = _mm256_setzero_si256();
        for (int32_t g = g0; g < g1; g++) {
            __m256i w[4];
            for (int b = 0; b < 4; b++)
                w[b] = _mm256_loadu_si256((const __m256i *)(panel + ((size_t)g * 32 + 8 * b) * 2));
            for (int i = 0; i < rows; i++) {
                int32_t pair;
                memcpy(&pair, x16 + i * ldx + 2 * g, sizeof pair);
                const __m256i xb = _mm256_set1_epi32(pair);
                for (int b = 0; b < 4; b++)
                    c[i][b] = _mm256_add_epi32(c[i][b], _mm256_madd_epi16(xb, w[b]));
            }
        }
        for (int i = 0; i < rows; i++)
            for (int b = 0; b < 4; b++)
                add_epi32_to_epi64(sums[i] + 8 * b, c[i][b]);
    }
    for (int i = 0; i < rows; i++)
        memcpy(acc + i * ldc, sums[i], (size_t)ncols * sizeof(int64_t));
}

static void gemm_s16(const int16_t *x16, ptrdiff_t ldx, int32_t m, const void *packed, int32_t n,
                     int32_t k, int32_t n0, int32_t nc, int64_t *acc, ptrdiff_t ldc)
{
    (void)n;
    for (int32_t j = 0; j < nc; j += 32) {
        const int16_t *panel =
            (const int16_t *)((const uint8_t *)packed + (size_t)((n0 + j) / 32) * panel_bytes(k));
        int32_t ncols = nc - j < 32 ? nc - j : 32;
        int32_t i = 0;
        for (; i + 4 <= m; i += 4)
            panel_rows_s16(x16 + i * ldx, ldx, 4, panel, k, acc + i * ldc + j, ldc, ncols);
        for (; i < m; i++)
            panel_rows_s16(x16 + i * ldx, ldx, 1, panel, k, acc + i * ldc + j, ldc, ncols);
    }
}

static void gemm(const int8_t *x8, ptrdiff_t ldx, int32_t m, const void *packed, int32_t n,
                 int32_t k, int32_t n0, int32_t nc, int32_t *acc, ptrdiff_t ldc)
{
    (void)n;
    for (int32_t j = 0; j < nc; j += 32) {
        const int16_t *panel =
            (const int16_t *)((const uint8_t *)packed + (size_t)((n0 + j) / 32) * panel_bytes(k));
        int32_t ncols = nc - j < 32 ? nc - j : 32;
        int32_t i = 0;
        for (; i + 4 <= m; i += 4)
            panel_rows(x8 + i * ldx, ldx, 4, panel, k, acc + i * ldc + j, ldc, ncols);
        for (; i < m; i++)
            panel_rows(x8 + i * ldx, ldx, 1, panel, k, acc + i * ldc + j, ldc, ncols);
    }
}

const struct qattn_gemm_ukernels qattn_gemm_ukernels_avx2 = {
    "avx2", 32, 64, 256, packed_bytes, pack, NULL, gemm, gemm_s16,
};
