/*
 * INT8 GEMM microkernel for AVX-512 VNNI: 4 rows x 64 columns per step, vpdpbusd with the
 * activations offset to u8 (x + 128) and 128 times each column's weight sum subtracted.
 *
 * Packed weights: panels of 64 columns, each [k/4][64][4] int8 (columns past n are zero)
 * followed by the 64 column sums (int32).
 */
#include <immintrin.h>
#include <string.h>

#include "gemm/gemm_ukernels.h"

static size_t panel_bytes(int32_t k)
{
    return (size_t)64 * k + 64 * sizeof(int32_t);
}

static size_t packed_bytes(int32_t n, int32_t k)
{
    return (size_t)((n + 63) / 64) * panel_bytes(k);
}

static void pack(const int8_t *w8, int32_t n, int32_t k, void *packed)
{
    for (int32_t p = 0; p < (n + 63) / 64; p++) {
        int8_t *panel = (int8_t *)packed + (size_t)p * panel_bytes(k);
        int32_t *colsum = (int32_t *)(panel + (size_t)64 * k);
        for (int32_t j = 0; j < 64; j++) {
            int32_t col = p * 64 + j, sum = 0;
            for (int32_t t = 0; t < k; t++) {
                int8_t v = col < n ? w8[(size_t)col * k + t] : 0;
                panel[((size_t)(t / 4) * 64 + j) * 4 + t % 4] = v;
                sum += v;
            }
            colsum[j] = sum;
        }
    }
}

static inline __m512i broadcast_u8x4(const int8_t *x)
{
    int32_t v;
    memcpy(&v, x, 4);
    return _mm512_set1_epi32(v ^ (int32_t)0x80808080u);
}

/* `rows` (1..4, a constant after inlining) rows against one panel; stores `ncols` columns. */
static inline __attribute__((always_inline)) void panel_rows(const int8_t *x8, ptrdiff_t ldx,
                                                             int rows, const int8_t *panel,
                                                             int32_t k, int32_t *acc,
                                                             ptrdiff_t ldc, int32_t ncols)
{
    __m512i c[4][4];
    for (int i = 0; i < rows; i++)
        for (int b = 0; b < 4; b++)
            c[i][b] = _mm512_setzero_si512();
    for (int32_t g = 0; g < k / 4; g++) {
        __m512i w[4];
        for (int b = 0; b < 4; b++)
            w[b] = _mm512_loadu_si512(panel + ((size_t)g * 64 + 16 * b) * 4);
        for (int i = 0; i < rows; i++) {
            __m512i xb = broadcast_u8x4(x8 + i * ldx + 4 * g);
            for (int b = 0; b < 4; b++)
                c[i][b] = _mm512_dpbusd_epi32(c[i][b], xb, w[b]);
        }
    }
    const int32_t *colsum = (const int32_t *)(panel + (size_t)64 * k);
    for (int b = 0; b < 4; b++) {
        int32_t left = ncols - 16 * b;
        if (left <= 0)
            break;
        __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        __m512i corr = _mm512_slli_epi32(_mm512_loadu_si512(colsum + 16 * b), 7);
        for (int i = 0; i < rows; i++)
            _mm512_mask_storeu_epi32(acc + i * ldc + 16 * b, mask, _mm512_sub_epi32(c[i][b], corr));
    }
}

static void gemm(const int8_t *x8, ptrdiff_t ldx, int32_t m, const void *packed, int32_t n,
                 int32_t k, int32_t n0, int32_t nc, int32_t *acc, ptrdiff_t ldc)
{
    (void)n;
    for (int32_t j = 0; j < nc; j += 64) {
        const int8_t *panel = (const int8_t *)packed + (size_t)((n0 + j) / 64) * panel_bytes(k);
        int32_t ncols = nc - j < 64 ? nc - j : 64;
        int32_t i = 0;
        for (; i + 4 <= m; i += 4)
            panel_rows(x8 + i * ldx, ldx, 4, panel, k, acc + i * ldc + j, ldc, ncols);
        for (; i < m; i++)
            panel_rows(x8 + i * ldx, ldx, 1, panel, k, acc + i * ldc + j, ldc, ncols);
    }
}

const struct qattn_gemm_ukernels qattn_gemm_ukernels_avx512vnni = {
    "avx512vnni", 64, packed_bytes, pack, gemm,
};
