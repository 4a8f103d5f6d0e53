/* Peak int8 multiply-accumulate rate of one core for each tier's dot-product instruction,
 * measured by a loop of independent accumulations (a benchmark, not a test). */
#ifndef QATTN_BENCH_PEAK_H
#define QATTN_BENCH_PEAK_H

/* MACs per second; `iterations` of 12 independent instructions. */
double bench_peak_sse2(long iterations);       /* pmaddwd + paddd, 8 MACs each */
double bench_peak_avx2(long iterations);       /* vpmaddwd + vpaddd, 16 MACs each */
double bench_peak_avx512vnni(long iterations); /* vpdpbusd zmm, 64 MACs each */
double bench_peak_fma_f32(long iterations);    /* vfmadd ymm, 8 FMAs each (float baseline) */
double bench_peak_amx(long iterations);        /* tdpbusd, 16384 MACs each (built with AMX) */

double bench_now(void);

#include "qattn.h"

/* One core's peak for a tier's int8 instruction (the scalar tier: SSE2's), 0 for none;
 * measured now (bench.c). */
double bench_peak_of(qattn_isa isa);

#endif
