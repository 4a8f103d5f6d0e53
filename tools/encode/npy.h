/* NumPy .npy files: float arrays in C order, read as float32, written as '<f4'. */
#ifndef QATTN_TOOLS_NPY_H
#define QATTN_TOOLS_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NPY_MAX_DIMS 4

typedef struct npy_array {
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    float *data; /* malloc'd */
} npy_array;

/* Reads a little-endian float32 or float64 C-order array. On failure returns 0 and writes a
 * one-line reason into err. */
int npy_read(const char *path, npy_array *a, char *err, size_t err_size);

/* The same from an open stream (not closed); `path` names it in messages. */
int npy_read_stream(FILE *f, const char *path, npy_array *a, char *err, size_t err_size);

/* Streaming: the header of a '<f4' array of the given shape, then npy_append the data in
 * order, then npy_close (which removes the file if anything failed). NULL / 0 on failure,
 * with the reason in err. */
FILE *npy_create(const char *path, int ndim, const int64_t *shape, char *err, size_t err_size);
int npy_append(FILE *f, const float *data, size_t n);
int npy_close(FILE *f, const char *path, int ok, char *err, size_t err_size);

/* Writes data with the given shape as '<f4'. Returns 0 (reason in err) on failure. */
int npy_write(const char *path, const float *data, int ndim, const int64_t *shape, char *err,
              size_t err_size);

#endif
