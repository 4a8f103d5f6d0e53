/* Peak loops for AVX2 and FMA: compiled with -mavx2 -mfma, run only where supported. */
#include <immintrin.h>

#include "bench/peak.h"

/* The GEMM's step: vpmaddwd products of distinct operands (4 activation pairs x 2 weight
 * vectors, as the 6 x 16 kernel pairs them) each added into its own sum. One product of the
 * same two operands for every sum, as this loop had, is computed once by the compiler: it
 * timed the adds alone and put the peak at 47.8 GMAC/s on an AMD EPYC Zen 3 whose GEMM kernel
 * reaches 65. */
double bench_peak_avx2(long iterations)
{
    __m256i x0 = _mm256_set1_epi16(3), x1 = _mm256_set1_epi16(4), x2 = _mm256_set1_epi16(5),
            x3 = _mm256_set1_epi16(6), w0 = _mm256_set1_epi16(7), w1 = _mm256_set1_epi16(9);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
            a7 = a0;
    double t = bench_now();
    for (long i = 0; i < iterations; i++) {
        /* the operands look new each time: the products are not hoisted out of the loop */
        __asm__ volatile("" : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(w0), "+x"(w1));
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(x0, w0));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(x0, w1));
        a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(x1, w0));
        a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(x1, w1));
        a4 = _mm256_add_epi32(a4, _mm256_madd_epi16(x2, w0));
        a5 = _mm256_add_epi32(a5, _mm256_madd_epi16(x2, w1));
        a6 = _mm256_add_epi32(a6, _mm256_madd_epi16(x3, w0));
        a7 = _mm256_add_epi32(a7, _mm256_madd_epi16(x3, w1));
        /* the sums stay in registers (GCC 12 spills an array of them) */
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5),
                         "+x"(a6), "+x"(a7));
    }
    t = bench_now() - t;
    __m256i all = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3)),
                                   _mm256_add_epi32(_mm256_add_epi32(a4, a5), _mm256_add_epi32(a6, a7)));
    volatile unsigned sink = (unsigned)_mm256_extract_epi32(all, 0); /* unsigned: sums wrap by design */
    (void)sink;
    return (double)iterations * 8 * 16 / t;
}

double bench_peak_fma_f32(long iterations)
{
    __m256 acc[12], a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
    for (int j = 0; j < 12; j++)
        acc[j] = _mm256_setzero_ps();
    double t = bench_now();
    for (long i = 0; i < iterations; i++) {
        __asm__ volatile("" : "+x"(a), "+x"(b));
#pragma GCC unroll 12
        for (int j = 0; j < 12; j++)
            acc[j] = _mm256_fmadd_ps(acc[j], a, b);
    }
    t = bench_now() - t;
    volatile float sink = 0;
    for (int j = 0; j < 12; j++)
        sink += _mm256_cvtss_f32(acc[j]);
    (void)sink;
    return (double)iterations * 12 * 8 / t;
}
