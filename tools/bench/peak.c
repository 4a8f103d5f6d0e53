/* Which peak loop measures a tier (peak.h): beside its declaration, so that bench.c and the
 * per-command benchmarks all depend on peak.h, and none on bench.c. */
#include "bench/peak.h"

double bench_peak_of(qattn_isa isa)
{
    const long iters = 20000000;
    switch (isa) {
    case QATTN_ISA_SCALAR: return bench_peak_sse2(iters);
    case QATTN_ISA_AVX2: return bench_peak_avx2(iters);
    case QATTN_ISA_AVX512VNNI: return bench_peak_avx512vnni(iters);
#ifdef QATTN_BENCH_AMX
    case QATTN_ISA_AMX: return bench_peak_amx(iters);
#endif
    default: return 0.0;
    }
}
