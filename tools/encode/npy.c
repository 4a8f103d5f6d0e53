/*
 * The .npy format (numpy.lib.format): magic "\x93NUMPY", version, a little-endian header
 * length (2 bytes in version 1, 4 in 2 and 3), a Python dict literal with 'descr',
 * 'fortran_order' and 'shape', padded; then the data.
 */
#include "encode/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t size, const char *path, const char *why)
{
    snprintf(err, size, "%s: %s", path, why);
    return 0;
}

/* The value text after 'key': in the header dict, or NULL. */
static const char *dict_value(const char *header, const char *key)
{
    char quoted[32];
    snprintf(quoted, sizeof quoted, "'%s'", key);
    const char *p = strstr(header, quoted);
    if (!p)
        return NULL;
    p = strchr(p + strlen(quoted), ':');
    if (!p)
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

static int parse_shape(const char *p, npy_array *a)
{
    if (!p || *p != '(')
        return 0;
    p++;
    a->ndim = 0;
    for (;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            return a->ndim > 0;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || v > (1LL << 40) || a->ndim == NPY_MAX_DIMS)
            return 0;
        a->shape[a->ndim++] = v;
        p = end;
    }
}

int npy_read(const char *path, npy_array *a, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        memset(a, 0, sizeof *a);
        return fail(err, err_size, path, "cannot open");
    }
    int ok = npy_read_stream(f, path, a, err, err_size);
    fclose(f);
    return ok;
}

int npy_read_stream(FILE *f, const char *path, npy_array *a, char *err, size_t err_size)
{
    memset(a, 0, sizeof *a);
    unsigned char pre[10];
    int ok = 0;
    char *header = NULL;
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        fail(err, err_size, path, "not a .npy file");
        goto done;
    }
    size_t hlen;
    if (pre[6] == 1) {
        if (fread(pre + 8, 1, 2, f) != 2)
            goto truncated;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        unsigned char b[4];
        if (fread(b, 1, 4, f) != 4)
            goto truncated;
        hlen = (size_t)b[0] | (size_t)b[1] << 8 | (size_t)b[2] << 16 | (size_t)b[3] << 24;
    } else {
        fail(err, err_size, path, "unsupported .npy version");
        goto done;
    }
    if (hlen > (1u << 20)) {
        fail(err, err_size, path, "header too large");
        goto done;
    }
    header = malloc(hlen + 1);
    if (!header || fread(header, 1, hlen, f) != hlen)
        goto truncated;
    header[hlen] = '\0';
    const char *descr = dict_value(header, "descr"), *order = dict_value(header, "fortran_order");
    int f4 = descr && strncmp(descr, "'<f4'", 5) == 0, f8 = descr && strncmp(descr, "'<f8'", 5) == 0;
    if (!f4 && !f8) {
        fail(err, err_size, path, "dtype must be float32 or float64 (little-endian)");
        goto done;
    }
    if (!order || strncmp(order, "False", 5) != 0) {
        fail(err, err_size, path, "Fortran-order arrays are not supported; save a C-order array");
        goto done;
    }
    if (!parse_shape(dict_value(header, "shape"), a)) {
        fail(err, err_size, path, "bad or unsupported shape (1 to 4 dimensions)");
        goto done;
    }
    size_t n = 1;
    for (int i = 0; i < a->ndim; i++)
        if (__builtin_mul_overflow(n, (size_t)a->shape[i], &n) || n > ((size_t)1 << 34)) {
            fail(err, err_size, path, "array too large");
            goto done;
        }
    size_t item = f4 ? 4 : 8;
    /* the declared array must be in the file before anything is allocated for it */
    long here = ftell(f);
    if (here < 0 || fseek(f, 0, SEEK_END) != 0) {
        fail(err, err_size, path, "cannot seek");
        goto done;
    }
    long end = ftell(f);
    if (end < here || (size_t)(end - here) < n * item || fseek(f, here, SEEK_SET) != 0)
        goto truncated;
    unsigned char *raw = malloc(n * item + 1);
    a->data = malloc(n * sizeof(float) + 1);
    if (!raw || !a->data) {
        free(raw);
        fail(err, err_size, path, "out of memory");
        goto done;
    }
    if (fread(raw, item, n, f) != n) {
        free(raw);
        goto truncated;
    }
    for (size_t i = 0; i < n; i++) {
        if (f4) {
            memcpy(&a->data[i], raw + 4 * i, 4);
        } else {
            double d;
            memcpy(&d, raw + 8 * i, 8);
            a->data[i] = (float)d;
        }
    }
    free(raw);
    ok = 1;
    goto done;
truncated:
    fail(err, err_size, path, "truncated");
done:
    free(header);
    if (!ok) {
        free(a->data);
        a->data = NULL;
    }
    return ok;
}

FILE *npy_create(const char *path, int ndim, const int64_t *shape, char *err, size_t err_size)
{
    char dict[256], shape_text[128] = "";
    for (int i = 0; i < ndim; i++)
        snprintf(shape_text + strlen(shape_text), sizeof shape_text - strlen(shape_text),
                 "%lld,%s", (long long)shape[i], i + 1 < ndim ? " " : "");
    int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }",
                       shape_text);
    /* pad so that magic + version + length + dict + newline is a multiple of 64 */
    int total = 10 + len + 1, pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) {
        fail(err, err_size, path, "cannot create");
        return NULL;
    }
    unsigned short hlen = (unsigned short)(len + pad + 1);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xFF),
                             (unsigned char)(hlen >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)len, f) == (size_t)len;
    for (int i = 0; ok && i < pad; i++)
        ok = fputc(' ', f) != EOF;
    if (!ok || fputc('\n', f) == EOF) {
        fclose(f);
        fail(err, err_size, path, "write failed");
        return NULL;
    }
    return f;
}

int npy_append(FILE *f, const float *data, size_t n)
{
    return fwrite(data, sizeof(float), n, f) == n;
}

int npy_close(FILE *f, const char *path, int ok, char *err, size_t err_size)
{
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        remove(path); /* no half-written array left behind */
        return fail(err, err_size, path, "write failed");
    }
    return 1;
}

int npy_write(const char *path, const float *data, int ndim, const int64_t *shape, char *err,
              size_t err_size)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    FILE *f = npy_create(path, ndim, shape, err, err_size);
    return f && npy_close(f, path, npy_append(f, data, n), err, err_size);
}
