/*
 * The int8 dot-product panel of the AVX-512 VNNI tier, shared by the GEMM and by attention's
 * QK^T (whose packed key tile is exactly one panel).
 *
 * A panel holds 64 columns over k inputs: [k/4][64][4] int8 (column j's inputs 4g..4g+3 at
 * [g][j]), then the 64 column sums as int32. vpdpbusd multiplies u8 by s8, so the rows go in
 * offset to u8 (x ^ 0x80 = x + 128) and 128 times each column sum is subtracted: exact.
 * For k <= 65536 every sum stays below 255 * 128 * k < 2^31.
 *
 * Include only from files compiled with -mavx512f -mavx512bw -mavx512vnni.
 */
#ifndef QATTN_ISA_AVX512VNNI_PANEL_S8_H
#define QATTN_ISA_AVX512VNNI_PANEL_S8_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Packs columns [first, end) of a panel (column j's k inputs at w + j * stride; columns from
 * `valid` on are zero) with their sums; the other columns are left as they are. */
static inline void panel_pack_columns(const int8_t *w, ptrdiff_t stride, int32_t first,
                                      int32_t end, int32_t valid, int32_t k, int8_t *panel)
{
    int32_t *colsum = (int32_t *)(panel + (size_t)64 * k);
    for (int32_t j = first; j < end; j++) {
        int32_t sum = 0;
        for (int32_t t = 0; t < k; t++) {
            int8_t v = j < valid ? w[j * stride + t] : 0;
            panel[((size_t)(t / 4) * 64 + j) * 4 + t % 4] = v;
            sum += v;
        }
        colsum[j] = sum;
    }
}

/* Packs columns 0..valid-1 of a panel (columns from `valid` to 63 are zero). */
static inline void panel_pack(const int8_t *w, ptrdiff_t stride, int32_t valid, int32_t k,
                              int8_t *panel)
{
    panel_pack_columns(w, stride, 0, 64, valid, k, panel);
}

static inline size_t panel_bytes(int32_t k)
{
    return (size_t)64 * k + 64 * sizeof(int32_t);
}

static inline __m512i broadcast_u8x4(const int8_t *x)
{
    int32_t v;
    memcpy(&v, x, 4);
    return _mm512_set1_epi32(v ^ (int32_t)0x80808080u);
}

/* acc[i * ldc + j] = sum_t x8[i * ldx + t] * column_j[t] for i < rows (1..4, a constant
 * after inlining) and j < ncols (1..64). */
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

#endif
