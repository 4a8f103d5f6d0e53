/*
 * Tensors as model files hold them: named views into memory-mapped files, with their
 * dtype and shape, checked against the file's bounds when they are listed. The loaders
 * (safetensors.c, ggml_file.c) fill a set; the model builder looks tensors up by name.
 */
#ifndef QATTN_FORMATS_TENSORS_H
#define QATTN_FORMATS_TENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "qattn.h"

/* Float tensors, and the integer ones of quantized files (CTranslate2's int8 and int16
 * weights, its integer scalars). */
typedef enum wt_dtype { WT_F32, WT_F16, WT_BF16, WT_I8, WT_I16, WT_I32, WT_UNSUPPORTED } wt_dtype;

#define WT_MAX_DIMS 4
#define WT_MAX_NAME 160
#define WT_MAX_FILES 64

typedef struct wt_view {
    char name[WT_MAX_NAME];
    wt_dtype dtype;
    char dtype_name[16]; /* as the file names it (for messages about unsupported ones) */
    int ndim;
    int64_t shape[WT_MAX_DIMS]; /* outermost first, as numpy and safetensors write it */
    const uint8_t *data;        /* numel * dtype size bytes, inside a mapped file */
} wt_view;

typedef struct wt_set {
    wt_view *views;
    int count, capacity;
    void *maps[WT_MAX_FILES];
    size_t map_sizes[WT_MAX_FILES];
    int files;
} wt_set;

/* Maps a whole file read-only; the mapping belongs to the set. */
qattn_status qattn_tensors_map_file(wt_set *set, const char *path, const uint8_t **data, size_t *size);

/* Adds a view (name copied; too long a name is an error). */
qattn_status qattn_tensors_add(wt_set *set, const wt_view *view);

const wt_view *qattn_tensors_find(const wt_set *set, const char *name);
int64_t qattn_tensor_numel(const wt_view *v);
size_t qattn_tensor_dtype_size(wt_dtype d);

/* Converts a view to float32 (integers as their values); `out` holds its element count. */
void qattn_tensor_to_f32(const wt_view *v, float *out);

/* Drops the pages of [data, data + bytes) from the process's resident memory when they lie
 * in one of the set's own mappings (a weight read once and converted: a load then holds a
 * few of the file's pages at a time, not the whole file); a later read faults them back in
 * from the file. Memory the set did not map is left alone. */
void qattn_tensors_release(const wt_set *set, const uint8_t *data, size_t bytes);

void qattn_tensors_free(wt_set *set);

/* A whole small text file, NUL-terminated (free it); NULL with *st set on error or when it
 * exceeds `limit` bytes. */
char *qattn_read_text_file(const char *path, size_t limit, qattn_status *st);

#endif
