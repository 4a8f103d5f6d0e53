/* Scratch grown on demand and kept: what a caller that runs the same work over and over (the
 * encoder, per layer) reuses instead of allocating, and faulting in fresh pages, each time. */
#ifndef QATTN_CORE_RESERVE_H
#define QATTN_CORE_RESERVE_H

#include <stddef.h>
#include <stdlib.h>

/* buf (of *bytes bytes, 64-byte aligned; NULL with 0) if it holds `need` bytes; else a new
 * 64-byte aligned buffer of `need` and buf freed (its contents are not kept), *bytes set; NULL
 * with *bytes = 0 if memory is short. */
static inline void *qattn_reserve(void *buf, size_t *bytes, size_t need)
{
    if (*bytes >= need)
        return buf;
    free(buf);
    *bytes = 0;
    if (need > SIZE_MAX - 63)
        return NULL;
    void *grown = aligned_alloc(64, (need + 63) / 64 * 64);
    if (grown)
        *bytes = need;
    return grown;
}

#endif
