/* Peak loop for AVX-512 VNNI: compiled with its flags, run only where supported. */
#include <immintrin.h>

#include "bench/peak.h"

double bench_peak_avx512vnni(long iterations)
{
    __m512i acc[12], a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(5);
    for (int j = 0; j < 12; j++)
        acc[j] = _mm512_setzero_si512();
    double t = bench_now();
    for (long i = 0; i < iterations; i++) {
        __asm__ volatile("" : "+v"(a), "+v"(b));
#pragma GCC unroll 12
        for (int j = 0; j < 12; j++)
            acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
    }
    t = bench_now() - t;
    volatile unsigned sink = 0; /* unsigned: the sums wrap by design */
    for (int j = 0; j < 12; j++)
        sink += (unsigned)_mm_cvtsi128_si32(_mm512_castsi512_si128(acc[j])); /* no reduce_add: its int sum overflows */
    (void)sink;
    return (double)iterations * 12 * 64 / t;
}
