/*
 * Tier selection: the best tier the CPU and OS allow, unless QATTN_ISA forces a lower one.
 * Decided once per process (pthread_once); every call can still force a tier of its own.
 */
#include "core/tiers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/error.h"

/* Which tiers this build compiled kernels for (CMake adds an isa/<tier>/ directory's sources
 * and defines its macro on the architectures that have it). */
static const qattn_isa tiers[] = {
#ifdef QATTN_BUILD_AMX
    QATTN_ISA_AMX,
#endif
#ifdef QATTN_BUILD_AVX512VNNI
    QATTN_ISA_AVX512VNNI,
#endif
#ifdef QATTN_BUILD_AVX2
    QATTN_ISA_AVX2,
#endif
    QATTN_ISA_SCALAR,
};
enum { TIER_COUNT = sizeof tiers / sizeof *tiers };

static const char *const isa_names[] = {"auto", "scalar", "avx2", "avx512vnni", "amx"};

const char *qattn_isa_name(qattn_isa isa)
{
    return (unsigned)isa < sizeof isa_names / sizeof *isa_names ? isa_names[isa] : NULL;
}

int qattn_tier_count(void)
{
    return TIER_COUNT;
}

qattn_isa qattn_tier_at(int index)
{
    return index >= 0 && index < TIER_COUNT ? tiers[index] : QATTN_ISA_SCALAR;
}

static int tier_index(qattn_isa isa)
{
    for (int i = 0; i < TIER_COUNT; i++)
        if (tiers[i] == isa)
            return i;
    return -1;
}

qattn_isa qattn_tier_below(qattn_isa isa)
{
    int i = tier_index(isa);
    return i >= 0 && i + 1 < TIER_COUNT ? tiers[i + 1] : QATTN_ISA_SCALAR;
}

int qattn_tier_pick(qattn_isa tier, const void *table, size_t entry_size, int count)
{
    for (;;) {
        for (int i = 0; i < count; i++) {
            qattn_isa has;
            memcpy(&has, (const char *)table + (size_t)i * entry_size, sizeof has);
            if (has == tier)
                return i;
        }
        if (tier == QATTN_ISA_SCALAR)
            return -1;
        tier = qattn_tier_below(tier);
    }
}

int qattn_tier_runs_here(qattn_isa isa)
{
    const qattn_cpu *c = qattn_cpu_get();
    switch (isa) {
    case QATTN_ISA_SCALAR:
        return 1;
    case QATTN_ISA_AVX2:
        return c->avx2 && c->os_ymm;
    case QATTN_ISA_AVX512VNNI:
        return c->avx512f && c->avx512bw && c->avx512vl && c->avx512vnni && c->os_zmm;
    case QATTN_ISA_AMX:
        /* its families other than the GEMM run the AVX-512 VNNI tier's kernels */
        return c->amx_tile && c->amx_int8 && c->os_amx && c->avx512f && c->avx512bw &&
               c->avx512vl && c->avx512vnni && c->os_zmm;
    case QATTN_ISA_AUTO:
        return 0;
    }
    return 0;
}

int qattn_isa_supported(qattn_isa isa)
{
    return tier_index(isa) >= 0 && qattn_tier_runs_here(isa);
}

static qattn_isa active = QATTN_ISA_SCALAR;
static char active_error[160];
static pthread_once_t active_once = PTHREAD_ONCE_INIT;

static void choose_active(void)
{
    qattn_isa best = QATTN_ISA_SCALAR;
    for (int i = TIER_COUNT - 1; i >= 0; i--)
        if (qattn_tier_runs_here(tiers[i]))
            best = tiers[i];
    active = best;
    const char *env = getenv("QATTN_ISA");
    if (!env || !*env)
        return;
    for (qattn_isa t = QATTN_ISA_SCALAR; (size_t)t < sizeof isa_names / sizeof *isa_names; t++) {
        if (strcmp(env, isa_names[t]) == 0) {
            if (qattn_isa_supported(t))
                active = t;
            else
                snprintf(active_error, sizeof active_error,
                         "QATTN_ISA=%s: this CPU, OS or build does not support it (best: %s)",
                         env, isa_names[best]);
            return;
        }
    }
    snprintf(active_error, sizeof active_error,
             "QATTN_ISA=%.40s: unknown tier (scalar, avx2, avx512vnni or amx)", env);
}

qattn_status qattn_isa_active(qattn_isa *isa)
{
    pthread_once(&active_once, choose_active);
    if (active_error[0])
        return qattn_fail(QATTN_ERR_ISA, "%s", active_error);
    if (isa)
        *isa = active;
    return QATTN_OK;
}

qattn_status qattn_tier_resolve(int32_t requested, qattn_isa *isa)
{
    qattn_isa chosen = (qattn_isa)requested;
    if (requested == QATTN_ISA_AUTO) {
        qattn_status st = qattn_isa_active(&chosen);
        if (st != QATTN_OK)
            return st;
    } else if (!qattn_isa_name((qattn_isa)requested)) {
        return qattn_fail(QATTN_ERR_ISA, "isa = %d is not a tier", requested);
    } else if (!qattn_isa_supported(chosen)) {
        return qattn_fail(QATTN_ERR_ISA, "isa %s is not supported on this CPU, OS or build",
                          isa_names[chosen]);
    }
    /* AMX tile data enlarges every signal frame of the process: ask only once AMX is chosen */
    if (chosen == QATTN_ISA_AMX && !qattn_cpu_request_amx())
        return qattn_fail(QATTN_ERR_ISA, "isa amx: the OS refused the AMX tile data permission");
    *isa = chosen;
    return QATTN_OK;
}

size_t qattn_cpu_report(char *buf, size_t size)
{
    const qattn_cpu *c = qattn_cpu_get();
    qattn_isa chosen = QATTN_ISA_SCALAR;
    qattn_status st = qattn_isa_active(&chosen);
    if (st == QATTN_OK && chosen == QATTN_ISA_AMX) /* what a run would ask for, asked now */
        (void)qattn_cpu_request_amx();
    const char *env = getenv("QATTN_ISA");
    char built[96] = "";
    for (int i = 0; i < TIER_COUNT; i++)
        snprintf(built + strlen(built), sizeof built - strlen(built), "%s%s", i ? " " : "",
                 isa_names[tiers[i]]);
    int n = snprintf(
        buf, size,
        "cpu:     avx2=%d fma=%d avx512f=%d avx512bw=%d avx512vl=%d avx512vnni=%d "
        "avx512vbmi=%d amx-tile=%d amx-int8=%d\n"
        "os:      ymm=%d zmm=%d amx-state=%d amx-permission=%s\n"
        "built:   %s (best first)\n"
        "runs:    scalar=%d avx2=%d avx512vnni=%d amx=%d\n"
        "QATTN_ISA: %s\n"
        "chosen:  %s\n",
        c->avx2, c->fma, c->avx512f, c->avx512bw, c->avx512vl, c->avx512vnni, c->avx512vbmi,
        c->amx_tile, c->amx_int8, c->os_ymm, c->os_zmm, c->os_amx,
        qattn_cpu_amx_requested() ? "granted" : chosen == QATTN_ISA_AMX ? "refused" : "not requested (no AMX tier chosen)", built,
        qattn_isa_supported(QATTN_ISA_SCALAR), qattn_isa_supported(QATTN_ISA_AVX2),
        qattn_isa_supported(QATTN_ISA_AVX512VNNI), qattn_isa_supported(QATTN_ISA_AMX),
        env && *env ? env : "(unset)", st == QATTN_OK ? isa_names[chosen] : qattn_last_error());
    return n < 0 ? 0 : (size_t)n;
}
