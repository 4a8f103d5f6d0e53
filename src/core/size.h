/* Overflow-checked size arithmetic. */
#ifndef QATTN_CORE_SIZE_H
#define QATTN_CORE_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* *out = a * b * c; returns 0 (and leaves *out alone) if that exceeds PTRDIFF_MAX. */
static inline int qattn_mul3_size(size_t a, size_t b, size_t c, size_t *out)
{
    size_t ab;
    if (__builtin_mul_overflow(a, b, &ab) || __builtin_mul_overflow(ab, c, &ab) ||
        ab > (size_t)PTRDIFF_MAX)
        return 0;
    *out = ab;
    return 1;
}

#endif
