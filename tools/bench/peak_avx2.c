/* Peak loops for AVX2 and FMA: compiled with -mavx2 -mfma, run only where supported. */
#include <immintrin.h>

#include "bench/peak.h"

double bench_peak_avx2(long iterations)
{
    __m256i acc[12], a = _mm256_set1_epi16(3), b = _mm256_set1_epi16(5);
    for (int j = 0; j < 12; j++)
        acc[j] = _mm256_setzero_si256();
    double t = bench_now();
    for (long i = 0; i < iterations; i++) {
        __asm__ volatile("" : "+x"(a), "+x"(b));
#pragma GCC unroll 12
        for (int j = 0; j < 12; j++)
            acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(a, b));
    }
    t = bench_now() - t;
    volatile unsigned sink = 0; /* unsigned: the sums wrap by design */
    for (int j = 0; j < 12; j++)
        sink += (unsigned)_mm256_extract_epi32(acc[j], 0);
    (void)sink;
    return (double)iterations * 12 * 16 / t;
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
