/* Peak loops at the baseline ISA (SSE2) and the common clock. The asm barriers keep the
 * compiler from hoisting the loop-invariant products out of the loop, and the sums in
 * registers. */
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

/* As bench_peak_avx2: distinct operands per product, sums held in registers. */
double bench_peak_sse2(long iterations)
{
    __m128i x0 = _mm_set1_epi16(3), x1 = _mm_set1_epi16(4), x2 = _mm_set1_epi16(5),
            x3 = _mm_set1_epi16(6), w0 = _mm_set1_epi16(7), w1 = _mm_set1_epi16(9);
    __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
            a7 = a0;
    double t = bench_now();
    for (long i = 0; i < iterations; i++) {
        __asm__ volatile("" : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(w0), "+x"(w1));
        a0 = _mm_add_epi32(a0, _mm_madd_epi16(x0, w0));
        a1 = _mm_add_epi32(a1, _mm_madd_epi16(x0, w1));
        a2 = _mm_add_epi32(a2, _mm_madd_epi16(x1, w0));
        a3 = _mm_add_epi32(a3, _mm_madd_epi16(x1, w1));
        a4 = _mm_add_epi32(a4, _mm_madd_epi16(x2, w0));
        a5 = _mm_add_epi32(a5, _mm_madd_epi16(x2, w1));
        a6 = _mm_add_epi32(a6, _mm_madd_epi16(x3, w0));
        a7 = _mm_add_epi32(a7, _mm_madd_epi16(x3, w1));
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5),
                         "+x"(a6), "+x"(a7));
    }
    t = bench_now() - t;
    __m128i all = _mm_add_epi32(_mm_add_epi32(_mm_add_epi32(a0, a1), _mm_add_epi32(a2, a3)),
                                _mm_add_epi32(_mm_add_epi32(a4, a5), _mm_add_epi32(a6, a7)));
    volatile unsigned sink = (unsigned)_mm_cvtsi128_si32(all); /* unsigned: sums wrap by design */
    (void)sink;
    return (double)iterations * 8 * 8 / t;
}
