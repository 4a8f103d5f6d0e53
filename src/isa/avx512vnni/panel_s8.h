/*
 * The int8 dot-product panel of the AVX-512 VNNI tier, shared by the GEMM and by attention's
 * QK^T (whose packed key tile is exactly one panel).
 *
 * A panel holds 64 columns over k inputs: [k/4][64][4] int8 (column j's inputs 4g..4g+3 at
 * [g][j]), then the 64 column sums as int32. vpdpbusd multiplies u8 by s8, so the rows go in
 * offset to u8 (x ^ 0x80 = x + 128) and 128 times each column sum is subtracted: exact.
 * For k <= 65536 every sum, partial or final, stays below 255 * 128 * k < 2^31 in magnitude.
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
    static const int8_t zeros[4];
    for (int32_t j = first; j < end; j++) {
        const int8_t *row = j < valid ? w + j * stride : NULL;
        int32_t sum = 0, t = 0;
        for (; t + 4 <= k; t += 4) /* a group of 4 inputs is 4 consecutive bytes of the panel */
            memcpy(panel + ((size_t)(t / 4) * 64 + j) * 4, row ? row + t : zeros, 4);
        for (; t < k; t++)
            panel[((size_t)(t / 4) * 64 + j) * 4 + t % 4] = row ? row[t] : 0;
        for (t = 0; row && t < k; t++)
            sum += row[t];
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

/* A weight matrix [n][k] as consecutive panels of 64 rows each (the GEMM tiers' layout). */
static inline size_t panels_bytes(int32_t n, int32_t k)
{
    return (size_t)((n + 63) / 64) * panel_bytes(k);
}

static inline void panels_pack(const int8_t *w8, int32_t n, int32_t k, void *packed)
{
    for (int32_t p = 0; p < (n + 63) / 64; p++)
        panel_pack(w8 + (size_t)p * 64 * k, k, n - p * 64 < 64 ? n - p * 64 : 64, k,
                   (int8_t *)packed + (size_t)p * panel_bytes(k));
}

/*
 * acc + u8 . s8 per 32-bit lane (vpdpbusd). Written as asm because GCC 12, given the
 * intrinsic, copies every accumulator through another register on each trip of a kernel's
 * loop (8-16 extra vector moves per 16 products; the GEMM kernel ran at 60% of the VNNI peak
 * instead of 87%, tools/bench microbenchmark); "+v" keeps each accumulator in its register and
 * "vm" lets the s8 operand come from memory.
 */
static inline __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "vm"(s8));
    return acc;
}

/* Rewrites n int8 values in place as the u8 operand vpdpbusd takes: x ^ 0x80 = x + 128. */
static inline void offset_to_u8(int8_t *x, size_t n)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        _mm512_storeu_si512(x + i, _mm512_xor_si512(_mm512_loadu_si512(x + i), flip));
    if (i < n) {
        __mmask64 m = ((__mmask64)1 << (n - i)) - 1;
        _mm512_mask_storeu_epi8(x + i, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, x + i), flip));
    }
}

/* Inputs per k block: the panel's slice (64 x 512 bytes) stays in L1 while every row of a
 * task passes over it. */
enum { PANEL_K_BLOCK = 256 };

/*
 * acc[i * ldc + j] = sum_t xu[i * ldx + t] * column_j[t] - 128 column_j sum, that is the s8
 * rows' dot products, for i < rows (1..4, a constant after inlining) and j < ncols (1..64),
 * over inputs [t0, t1) of the panel (multiples of 4): `first` starts the sums at zero, else
 * they continue from acc; `last` subtracts the offset (the sums are final). The rows xu are
 * in u8 form (offset_to_u8), so each group of 4 is one broadcast from memory.
 */
static inline __attribute__((always_inline)) void panel_rows(const uint8_t *xu, ptrdiff_t ldx,
                                                             int rows, const int8_t *panel,
                                                             int32_t k, int32_t t0, int32_t t1,
                                                             int first, int last, int32_t *acc,
                                                             ptrdiff_t ldc, int32_t ncols)
{
    __mmask16 mask[4];
    for (int b = 0; b < 4; b++) {
        int32_t left = ncols - 16 * b;
        mask[b] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
    }
    __m512i c[4][4];
    for (int i = 0; i < rows; i++)
        for (int b = 0; b < 4; b++)
            c[i][b] = first ? _mm512_setzero_si512()
                            : _mm512_maskz_loadu_epi32(mask[b], acc + i * ldc + 16 * b);
    for (int32_t g = t0 / 4; g < t1 / 4; g++) {
        __m512i w[4];
        for (int b = 0; b < 4; b++)
            w[b] = _mm512_loadu_si512(panel + ((size_t)g * 64 + 16 * b) * 4);
        for (int i = 0; i < rows; i++) {
            int32_t x4;
            memcpy(&x4, xu + i * ldx + 4 * g, 4);
            const __m512i xb = _mm512_set1_epi32(x4);
            for (int b = 0; b < 4; b++)
                c[i][b] = dpbusd(c[i][b], xb, w[b]);
        }
    }
    const int32_t *colsum = (const int32_t *)(panel + (size_t)64 * k);
    for (int b = 0; b < 4; b++) {
        if (!mask[b])
            break;
        const __m512i corr = last ? _mm512_slli_epi32(_mm512_loadu_si512(colsum + 16 * b), 7)
                                  : _mm512_setzero_si512();
        for (int i = 0; i < rows; i++)
            _mm512_mask_storeu_epi32(acc + i * ldc + 16 * b, mask[b], _mm512_sub_epi32(c[i][b], corr));
    }
}

#endif
