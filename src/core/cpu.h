/* What the running CPU has and what the OS lets a process use (cpuid, XGETBV, arch_prctl). */
#ifndef QATTN_CORE_CPU_H
#define QATTN_CORE_CPU_H

typedef struct qattn_cpu {
    /* cpuid */
    int avx2, fma, avx512f, avx512bw, avx512vl, avx512vnni, avx512vbmi, amx_tile, amx_int8;
    /* XCR0: the OS saves the register state */
    int os_ymm, os_zmm, os_amx;
    /* Linux granted this process the AMX tile data (ARCH_REQ_XCOMP_PERM) */
    int amx_permitted;
} qattn_cpu;

/* Detects once per process (thread-safe) and returns the result. */
const qattn_cpu *qattn_cpu_get(void);

#endif
