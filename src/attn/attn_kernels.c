/* The attention family's table: which tiers have attention microkernels. A tier that has
 * none runs the best one below it. */
#include "attn/ukernels.h"
#include "core/tiers.h"

static const struct {
    qattn_isa tier;
    const qattn_attn_ukernels *kernels;
} table[] = {
#ifdef QATTN_BUILD_AMX
    {QATTN_ISA_AMX, &qattn_attn_ukernels_amx},
#endif
#ifdef QATTN_BUILD_AVX512VNNI
    {QATTN_ISA_AVX512VNNI, &qattn_attn_ukernels_avx512vnni},
#endif
#ifdef QATTN_BUILD_AVX2
    {QATTN_ISA_AVX2, &qattn_attn_ukernels_avx2},
#endif
    {QATTN_ISA_SCALAR, NULL}, /* the reference: keeps the table non-empty on every arch */
};

const qattn_attn_ukernels *qattn_attn_kernels_for(qattn_isa tier)
{
    int i = qattn_tier_pick(tier, table, sizeof *table, (int)(sizeof table / sizeof *table));
    return i < 0 ? NULL : table[i].kernels;
}
