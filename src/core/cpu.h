/* What the running CPU has and what the OS lets a process use (cpuid, XGETBV, arch_prctl). */
#ifndef QATTN_CORE_CPU_H
#define QATTN_CORE_CPU_H

typedef struct qattn_cpu {
    /* cpuid */
    int avx2, fma, avx512f, avx512bw, avx512vl, avx512vnni, avx512vbmi, amx_tile, amx_int8;
    /* XCR0: the OS saves the register state */
    int os_ymm, os_zmm, os_amx;
} qattn_cpu;

/* Detects once per process (thread-safe) and returns the result. Asks the OS for nothing. */
const qattn_cpu *qattn_cpu_get(void);

/* Asks Linux for the AMX tile data permission (ARCH_REQ_XCOMP_PERM), once per process; 1 if
 * granted. Only when an AMX tier is chosen: the permission enlarges every signal frame of the
 * whole program. */
int qattn_cpu_request_amx(void);

/* 1 if qattn_cpu_request_amx was called and the permission granted. */
int qattn_cpu_amx_requested(void);

#endif
