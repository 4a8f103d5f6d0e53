/*
 * Tier selection: the best tier the CPU and OS allow, unless QATTN_ISA forces a lower one.
 * Decided once per process (pthread_once); every call can still force a tier of its own.
 */
#include "core/dispatch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/error.h"

static const char *const isa_names[] = {"auto", "scalar", "avx2", "avx512vnni", "amx"};

const char *qattn_isa_name(qattn_isa isa)
{
    return (unsigned)isa < sizeof isa_names / sizeof *isa_names ? isa_names[isa] : NULL;
}

const qattn_attn_ukernels *qattn_attn_ukernels_of(qattn_isa isa)
{
#ifdef QATTN_HAVE_X86_KERNELS
    if (isa == QATTN_ISA_AVX2)
        return &qattn_attn_ukernels_avx2;
    if (isa == QATTN_ISA_AVX512VNNI)
        return &qattn_attn_ukernels_avx512vnni;
#endif
    (void)isa;
    return NULL;
}

const struct qattn_gemm_ukernels *qattn_gemm_ukernels_of(qattn_isa isa)
{
#ifdef QATTN_HAVE_X86_KERNELS
    if (isa == QATTN_ISA_AVX2)
        return &qattn_gemm_ukernels_avx2;
    if (isa == QATTN_ISA_AVX512VNNI)
        return &qattn_gemm_ukernels_avx512vnni;
#endif
    (void)isa;
    return NULL;
}

int qattn_isa_supported(qattn_isa isa)
{
    const qattn_cpu *c = qattn_cpu_get();
    switch (isa) {
    case QATTN_ISA_SCALAR:
        return 1;
    case QATTN_ISA_AVX2:
        return qattn_attn_ukernels_of(isa) && c->avx2 && c->os_ymm;
    case QATTN_ISA_AVX512VNNI:
        return qattn_attn_ukernels_of(isa) && c->avx512f && c->avx512bw && c->avx512vl && c->avx512vnni &&
               c->os_zmm;
    case QATTN_ISA_AMX: /* no AMX kernels yet */
    case QATTN_ISA_AUTO:
        return 0;
    }
    return 0;
}

static qattn_isa active = QATTN_ISA_SCALAR;
static char active_error[160];
static pthread_once_t active_once = PTHREAD_ONCE_INIT;

static void choose_active(void)
{
    qattn_isa best = QATTN_ISA_SCALAR;
    for (qattn_isa t = QATTN_ISA_SCALAR; t <= QATTN_ISA_AMX; t++)
        if (qattn_isa_supported(t))
            best = t;
    active = best;
    const char *env = getenv("QATTN_ISA");
    if (!env || !*env)
        return;
    for (qattn_isa t = QATTN_ISA_SCALAR; t <= QATTN_ISA_AMX; t++) {
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

qattn_status qattn_dispatch_attention(int32_t requested, qattn_isa *isa,
                                      const qattn_attn_ukernels **uk)
{
    qattn_status st = qattn_dispatch_resolve(requested, isa);
    if (st == QATTN_OK)
        *uk = qattn_attn_ukernels_of(*isa);
    return st;
}

qattn_status qattn_dispatch_resolve(int32_t requested, qattn_isa *isa)
{
    qattn_isa chosen = (qattn_isa)requested;
    if (requested == QATTN_ISA_AUTO) {
        qattn_status st = qattn_isa_active(&chosen);
        if (st != QATTN_OK)
            return st;
    } else if (requested < QATTN_ISA_SCALAR || requested > QATTN_ISA_AMX) {
        return qattn_fail(QATTN_ERR_ISA, "isa = %d is not a tier", requested);
    } else if (!qattn_isa_supported(chosen)) {
        return qattn_fail(QATTN_ERR_ISA, "isa %s is not supported on this CPU, OS or build",
                          isa_names[chosen]);
    }
    *isa = chosen;
    return QATTN_OK;
}

size_t qattn_cpu_report(char *buf, size_t size)
{
    const qattn_cpu *c = qattn_cpu_get();
    qattn_isa chosen = QATTN_ISA_SCALAR;
    qattn_status st = qattn_isa_active(&chosen);
    const char *env = getenv("QATTN_ISA");
    int n = snprintf(
        buf, size,
        "cpu:     avx2=%d fma=%d avx512f=%d avx512bw=%d avx512vl=%d avx512vnni=%d "
        "avx512vbmi=%d amx-tile=%d amx-int8=%d\n"
        "os:      ymm=%d zmm=%d amx-state=%d amx-permission=%d\n"
        "tiers:   scalar=%d avx2=%d avx512vnni=%d amx=%d (amx kernels not built yet)\n"
        "QATTN_ISA: %s\n"
        "chosen:  %s\n",
        c->avx2, c->fma, c->avx512f, c->avx512bw, c->avx512vl, c->avx512vnni, c->avx512vbmi,
        c->amx_tile, c->amx_int8, c->os_ymm, c->os_zmm, c->os_amx, c->amx_permitted,
        qattn_isa_supported(QATTN_ISA_SCALAR), qattn_isa_supported(QATTN_ISA_AVX2),
        qattn_isa_supported(QATTN_ISA_AVX512VNNI), qattn_isa_supported(QATTN_ISA_AMX),
        env && *env ? env : "(unset)", st == QATTN_OK ? isa_names[chosen] : qattn_last_error());
    return n < 0 ? 0 : (size_t)n;
}
