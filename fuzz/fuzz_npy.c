/* libFuzzer target: the .npy reader of `qattn encode --mel`. */
#define _POSIX_C_SOURCE 200809L /* fmemopen */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "encode/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f)
        return 0;
    npy_array a;
    char err[256];
    if (npy_read_stream(f, "fuzz", &a, err, sizeof err))
        free(a.data);
    fclose(f);
    return 0;
}
