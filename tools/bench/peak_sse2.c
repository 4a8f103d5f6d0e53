/* Peak loops at the baseline ISA (SSE2) and the common clock. The asm barriers keep the
 * compiler from hoisting the loop-invariant products out of the loop. */
#define _POSIX_C_SOURCE 200809L
#include <emmintrin.h>
#include <time.h>

#include "bench/peak.h"

double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

double bench_peak_sse2(long iterations)
{
    __m128i acc[12], a = _mm_set1_epi16(3), b = _mm_set1_epi16(5);
    for (int j = 0; j < 12; j++)
        acc[j] = _mm_setzero_si128();
    double t = bench_now();
    for (long i = 0; i < iterations; i++) {
        __asm__ volatile("" : "+x"(a), "+x"(b));
#pragma GCC unroll 12
        for (int j = 0; j < 12; j++)
            acc[j] = _mm_add_epi32(acc[j], _mm_madd_epi16(a, b));
    }
    t = bench_now() - t;
    volatile unsigned sink = 0; /* unsigned: the sums wrap by design */
    for (int j = 0; j < 12; j++)
        sink += (unsigned)_mm_cvtsi128_si32(acc[j]);
    (void)sink;
    return (double)iterations * 12 * 8 / t;
}
