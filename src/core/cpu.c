/* CPU feature detection: cpuid for what the silicon has, XGETBV for what the OS saves on a
 * context switch, and on Linux the AMX permission request. A feature counts only with both. */
#define _GNU_SOURCE /* syscall() */
#include "core/cpu.h"

#include <pthread.h>
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define QATTN_X86 1
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
#endif

static qattn_cpu detected;
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static _Atomic int amx_granted; /* read by qattn_cpu_report without the once */
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

#ifdef QATTN_X86
static unsigned long long xgetbv0(void)
{
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

static void detect(void)
{
#ifdef QATTN_X86
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    int osxsave = (c >> 27) & 1;
    detected.fma = (c >> 12) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    detected.os_ymm = (xcr0 & 0x6) == 0x6;            /* XMM and YMM state */
    detected.os_zmm = (xcr0 & 0xE6) == 0xE6;          /* + opmask, ZMM_Hi256, Hi16_ZMM */
    detected.os_amx = (xcr0 & 0x60000) == 0x60000;    /* XTILECFG and XTILEDATA */
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        detected.avx2 = (b >> 5) & 1;
        detected.avx512f = (b >> 16) & 1;
        detected.avx512bw = (b >> 30) & 1;
        detected.avx512vl = (b >> 31) & 1;
        detected.avx512vbmi = (c >> 1) & 1;
        detected.avx512vnni = (c >> 11) & 1;
        detected.amx_tile = (d >> 24) & 1;
        detected.amx_int8 = (d >> 25) & 1;
    }
#endif
}

static void request_amx(void)
{
#if defined(__linux__) && defined(__x86_64__)
    const qattn_cpu *c = qattn_cpu_get();
    if (c->amx_tile && c->os_amx)
        amx_granted = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#endif
}

int qattn_cpu_request_amx(void)
{
    pthread_once(&amx_once, request_amx);
    return amx_granted;
}

int qattn_cpu_amx_requested(void)
{
    return amx_granted;
}

const qattn_cpu *qattn_cpu_get(void)
{
    pthread_once(&detect_once, detect);
    return &detected;
}
