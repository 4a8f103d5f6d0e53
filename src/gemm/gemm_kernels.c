/* The GEMM family's table: which tiers have INT8 GEMM microkernels, and their blocking. */
#include "core/tiers.h"
#include "gemm/gemm_ukernels.h"

static const struct {
    qattn_isa tier;
    const struct qattn_gemm_ukernels *kernels;
} table[] = {
#ifdef QATTN_BUILD_AMX
    {QATTN_ISA_AMX, &qattn_gemm_ukernels_amx},
#endif
#ifdef QATTN_BUILD_AVX512VNNI
    {QATTN_ISA_AVX512VNNI, &qattn_gemm_ukernels_avx512vnni},
#endif
#ifdef QATTN_BUILD_AVX2
    {QATTN_ISA_AVX2, &qattn_gemm_ukernels_avx2},
#endif
    {QATTN_ISA_SCALAR, NULL}, /* the reference: keeps the table non-empty on every arch */
};

const struct qattn_gemm_ukernels *qattn_gemm_kernels_for(qattn_isa tier)
{
    int i = qattn_tier_pick(tier, table, sizeof *table, (int)(sizeof table / sizeof *table));
    return i < 0 ? NULL : table[i].kernels;
}
