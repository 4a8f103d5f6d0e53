#define _POSIX_C_SOURCE 200809L /* mmap, open, fstat */
#define _DEFAULT_SOURCE         /* madvise, MADV_DONTNEED (posix_madvise's may do nothing) */
#include "formats/tensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/half.h"

qattn_status qattn_tensors_map_file(wt_set *set, const char *path, const uint8_t **data, size_t *size)
{
    if (set->files >= WT_MAX_FILES)
        return qattn_fail(QATTN_ERR_MODEL, "%s: more than %d model files", path, WT_MAX_FILES);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return qattn_fail_io(path, errno);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return qattn_fail(QATTN_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return qattn_fail(QATTN_ERR_MODEL, "%s: empty file", path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED)
        return qattn_fail(QATTN_ERR_IO, "%s: mmap: %s", path, strerror(err));
    set->maps[set->files] = map;
    set->map_sizes[set->files++] = (size_t)st.st_size;
    *data = map;
    *size = (size_t)st.st_size;
    return QATTN_OK;
}

qattn_status qattn_tensors_add(wt_set *set, const wt_view *view)
{
    if (strlen(view->name) >= WT_MAX_NAME)
        return qattn_fail(QATTN_ERR_MODEL, "tensor name too long");
    if (set->count == set->capacity) {
        int cap = set->capacity ? 2 * set->capacity : 256;
        wt_view *v = realloc(set->views, (size_t)cap * sizeof *v);
        if (!v)
            return qattn_fail(QATTN_ERR_NOMEM, "out of memory listing tensors");
        set->views = v, set->capacity = cap;
    }
    set->views[set->count++] = *view;
    return QATTN_OK;
}

const wt_view *qattn_tensors_find(const wt_set *set, const char *name)
{
    for (int i = 0; i < set->count; i++)
        if (strcmp(set->views[i].name, name) == 0)
            return &set->views[i];
    return NULL;
}

int64_t qattn_tensor_numel(const wt_view *v)
{
    int64_t n = 1;
    for (int i = 0; i < v->ndim; i++)
        n *= v->shape[i];
    return n;
}

size_t qattn_tensor_dtype_size(wt_dtype d)
{
    switch (d) {
    case WT_F32: case WT_I32: return 4;
    case WT_F16: case WT_BF16: case WT_I16: return 2;
    case WT_I8: return 1;
    case WT_UNSUPPORTED: return 0;
    }
    return 0;
}

/* Little-endian reads (files are little-endian, whatever the host). */
static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void qattn_tensor_to_f32(const wt_view *v, float *out)
{
    const size_t n = (size_t)qattn_tensor_numel(v);
    const uint8_t *p = v->data;
    /* one loop per dtype: a load converts every weight of a file through here */
    switch (v->dtype) {
    case WT_F32:
        for (size_t i = 0; i < n; i++) {
            const uint32_t bits = le32(p + 4 * i);
            memcpy(&out[i], &bits, 4);
        }
        break;
    case WT_F16:
        for (size_t i = 0; i < n; i++)
            out[i] = qattn_f16_to_f32(le16(p + 2 * i));
        break;
    case WT_BF16:
        for (size_t i = 0; i < n; i++)
            out[i] = qattn_bf16_to_f32(le16(p + 2 * i));
        break;
    case WT_I8:
        for (size_t i = 0; i < n; i++)
            out[i] = (float)(int8_t)p[i];
        break;
    case WT_I16:
        for (size_t i = 0; i < n; i++)
            out[i] = (float)(int16_t)le16(p + 2 * i);
        break;
    case WT_I32:
        for (size_t i = 0; i < n; i++)
            out[i] = (float)(int32_t)le32(p + 4 * i);
        break;
    case WT_UNSUPPORTED:
        break;
    }
}

char *qattn_read_text_file(const char *path, size_t limit, qattn_status *st)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *st = qattn_fail_io(path, errno);
        return NULL;
    }
    char *buf = malloc(limit + 1);
    size_t n = buf ? fread(buf, 1, limit + 1, f) : 0;
    fclose(f);
    if (!buf || n > limit) {
        free(buf);
        *st = buf ? qattn_fail(QATTN_ERR_MODEL, "%s: larger than %zu bytes", path, limit)
                  : qattn_fail(QATTN_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    buf[n] = '\0';
    *st = QATTN_OK;
    return buf;
}

void qattn_tensors_release(const wt_set *set, const uint8_t *data, size_t bytes)
{
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < set->files; i++) {
        const uintptr_t map = (uintptr_t)set->maps[i], end = map + set->map_sizes[i];
        const uintptr_t from = (uintptr_t)data, to = from + bytes;
        if (from < map || to > end || to < from)
            continue;
        const uintptr_t first = (from + page - 1) / page * page, last = to / page * page;
        if (first < last) /* the whole pages inside only: a neighbour's bytes stay */
            madvise((void *)first, last - first, MADV_DONTNEED); /* advice: its failure is harmless */
        return;
    }
}

void qattn_tensors_free(wt_set *set)
{
    for (int i = 0; i < set->files; i++)
        munmap(set->maps[i], set->map_sizes[i]);
    free(set->views);
    memset(set, 0, sizeof *set);
}
