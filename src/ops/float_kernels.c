/* The float family's table: which tiers have float microkernels. Resolved once for the
 * process (the float operations take no tier argument: every tier gives the same bits). */
#include <pthread.h>

#include "core/tiers.h"
#include "ops/float_ukernels.h"

static const struct {
    qattn_isa tier;
    const qattn_float_ukernels *kernels;
} table[] = {
#ifdef QATTN_BUILD_AVX512VNNI
    {QATTN_ISA_AVX512VNNI, &qattn_float_ukernels_avx512},
#endif
#ifdef QATTN_BUILD_AVX2
    {QATTN_ISA_AVX2, &qattn_float_ukernels_avx2},
#endif
    {QATTN_ISA_SCALAR, &qattn_float_ukernels_reference},
};

const qattn_float_ukernels *qattn_float_kernels_for(qattn_isa tier)
{
    int i = qattn_tier_pick(tier, table, sizeof *table, (int)(sizeof table / sizeof *table));
    return i < 0 ? &qattn_float_ukernels_reference : table[i].kernels;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const qattn_float_ukernels *active;

static void resolve(void)
{
    qattn_isa tier;
    /* QATTN_ISA naming a tier this CPU lacks fails here as it does for every entry point;
     * the reference then serves (the failing entry point reports the error itself). */
    active = qattn_tier_resolve(QATTN_ISA_AUTO, &tier) == QATTN_OK
                 ? qattn_float_kernels_for(tier) : &qattn_float_ukernels_reference;
}

const qattn_float_ukernels *qattn_float_kernels(void)
{
    pthread_once(&once, resolve);
    return active;
}
