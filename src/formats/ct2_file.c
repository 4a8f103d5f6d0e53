/*
 * CTranslate2's model.bin, little-endian, no padding anywhere (tensor data starts at any
 * byte offset, so it is read with memcpy-style loads by the consumers):
 *   u32 binary_version (4..6 read here) · string spec_name ("WhisperSpec") · u32 spec_revision
 *   (<= 3) · u32 num_variables · per variable: string name · u8 rank · rank x u32 dims ·
 *   u8 dtype (0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16) · u32 num_bytes · the data
 *   · u32 num_aliases · pairs of strings (alias, target).
 * A string is u16 length (counting its trailing NUL) and the bytes. Versions below 4 stored
 * an item size instead of a dtype and are refused by name; every count, size and product is
 * checked against what is left of the file before it is used.
 */
#include "formats/ct2_file.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"

enum { CT2_MIN_VERSION = 4, CT2_MAX_VERSION = 6, CT2_MAX_REVISION = 3, CT2_MAX_RANK = WT_MAX_DIMS };

typedef struct cursor {
    const uint8_t *p;
    size_t left;
    const char *path;
} cursor;

static int read_bytes(cursor *c, void *out, size_t n)
{
    if (n > c->left)
        return 0;
    memcpy(out, c->p, n);
    c->p += n, c->left -= n;
    return 1;
}

static int read_u32(cursor *c, uint32_t *v)
{
    uint8_t b[4];
    if (!read_bytes(c, b, 4))
        return 0;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 1;
}

/* A string into out (NUL-terminated); 0 if truncated, empty, too long or not NUL-ended. */
static int read_string(cursor *c, char *out, size_t size)
{
    uint8_t b[2];
    if (!read_bytes(c, b, 2))
        return 0;
    size_t n = (size_t)b[0] | (size_t)b[1] << 8;
    if (n == 0 || n > size || n > c->left || c->p[n - 1] != '\0' || memchr(c->p, '\0', n) != c->p + n - 1)
        return 0;
    memcpy(out, c->p, n);
    c->p += n, c->left -= n;
    return 1;
}

int qattn_ct2_sniff(const uint8_t *data, size_t size)
{
    static const char spec[] = "WhisperSpec";
    if (size < 4 + 2 + sizeof spec)
        return 0;
    uint32_t version = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                       (uint32_t)data[3] << 24;
    size_t len = (size_t)data[4] | (size_t)data[5] << 8;
    return version >= 1 && version <= 255 && len == sizeof spec && memcmp(data + 6, spec, sizeof spec) == 0;
}

static qattn_status dtype_of(const cursor *c, const char *name, uint8_t code, wt_view *v)
{
    static const struct {
        wt_dtype dtype;
        const char *name;
    } codes[] = {{WT_F32, "float32"}, {WT_I8, "int8"},     {WT_I16, "int16"},
                 {WT_I32, "int32"},   {WT_F16, "float16"}, {WT_BF16, "bfloat16"}};
    if (code >= sizeof codes / sizeof *codes)
        return qattn_fail(QATTN_ERR_MODEL, "%s: variable '%s' has an unknown dtype code %u",
                          c->path, name, (unsigned)code);
    v->dtype = codes[code].dtype;
    snprintf(v->dtype_name, sizeof v->dtype_name, "%s", codes[code].name);
    return QATTN_OK;
}

static qattn_status read_variable(wt_set *set, cursor *c)
{
    wt_view v;
    memset(&v, 0, sizeof v);
    uint8_t rank, code;
    uint32_t num_bytes;
    if (!read_string(c, v.name, sizeof v.name))
        return qattn_fail(QATTN_ERR_MODEL, "%s: a variable name is truncated, empty or longer than "
                          "%d bytes", c->path, WT_MAX_NAME - 1);
    if (!read_bytes(c, &rank, 1))
        return qattn_fail(QATTN_ERR_MODEL, "%s: variable '%s' is truncated", c->path, v.name);
    if (rank > CT2_MAX_RANK)
        return qattn_fail(QATTN_ERR_MODEL, "%s: variable '%s' has rank %u (at most %d)", c->path,
                          v.name, (unsigned)rank, CT2_MAX_RANK);
    v.ndim = rank;
    uint64_t numel = 1;
    for (int i = 0; i < rank; i++) {
        uint32_t dim;
        if (!read_u32(c, &dim))
            return qattn_fail(QATTN_ERR_MODEL, "%s: variable '%s' is truncated", c->path, v.name);
        v.shape[i] = dim;
        if (dim != 0 && numel > UINT64_MAX / dim)
            return qattn_fail(QATTN_ERR_MODEL, "%s: variable '%s' has too many elements", c->path, v.name);
        numel *= dim;
    }
    if (!read_bytes(c, &code, 1) || !read_u32(c, &num_bytes))
        return qattn_fail(QATTN_ERR_MODEL, "%s: variable '%s' is truncated", c->path, v.name);
    qattn_status st = dtype_of(c, v.name, code, &v);
    if (st != QATTN_OK)
        return st;
    if (rank == 0) { /* a scalar: one element */
        v.ndim = 1;
        v.shape[0] = 1;
    }
    if (numel > UINT32_MAX || numel * qattn_tensor_dtype_size(v.dtype) != num_bytes)
        return qattn_fail(QATTN_ERR_MODEL, "%s: variable '%s' holds %u bytes, its shape and %s "
                          "need %llu", c->path, v.name, num_bytes, v.dtype_name,
                          (unsigned long long)(numel * qattn_tensor_dtype_size(v.dtype)));
    if (num_bytes > c->left)
        return qattn_fail(QATTN_ERR_MODEL, "%s: variable '%s' runs past the end of the file "
                          "(truncated?)", c->path, v.name);
    v.data = c->p;
    c->p += num_bytes, c->left -= num_bytes;
    if (qattn_tensors_find(set, v.name))
        return qattn_fail(QATTN_ERR_MODEL, "%s: variable '%s' appears twice", c->path, v.name);
    return qattn_tensors_add(set, &v);
}

/* An alias names another variable's data (CT2 writes the tied output projection so); its
 * _scale, if any, follows the target's. */
static qattn_status add_alias(wt_set *set, const cursor *c, const char *alias, const char *target)
{
    const char *suffixes[] = {"", "_scale"};
    for (int i = 0; i < 2; i++) {
        char a[WT_MAX_NAME + 8], t[WT_MAX_NAME + 8];
        snprintf(a, sizeof a, "%s%s", alias, suffixes[i]);
        snprintf(t, sizeof t, "%s%s", target, suffixes[i]);
        const wt_view *tv = qattn_tensors_find(set, t);
        if (!tv) {
            if (i == 0)
                return qattn_fail(QATTN_ERR_MODEL, "%s: alias '%s' names a missing variable '%s'",
                                  c->path, alias, target);
            continue;
        }
        if (strlen(a) >= WT_MAX_NAME || qattn_tensors_find(set, a))
            return qattn_fail(QATTN_ERR_MODEL, "%s: alias '%s' is too long or taken", c->path, a);
        wt_view v = *tv;
        snprintf(v.name, sizeof v.name, "%s", a);
        qattn_status st = qattn_tensors_add(set, &v);
        if (st != QATTN_OK)
            return st;
    }
    return QATTN_OK;
}

qattn_status qattn_ct2_parse(wt_set *set, const char *path, const uint8_t *data, size_t size)
{
    cursor c = {data, size, path};
    uint32_t version, revision, count, aliases;
    char spec[WT_MAX_NAME];
    if (!read_u32(&c, &version))
        return qattn_fail(QATTN_ERR_MODEL, "%s: too short for a CTranslate2 model", path);
    if (version < CT2_MIN_VERSION || version > CT2_MAX_VERSION)
        return qattn_fail(QATTN_ERR_MODEL, "%s: CTranslate2 binary version %u; versions %d to %d "
                          "are supported (convert the model again with a current ct2-transformers-converter)",
                          path, version, CT2_MIN_VERSION, CT2_MAX_VERSION);
    if (!read_string(&c, spec, sizeof spec) || !read_u32(&c, &revision) || !read_u32(&c, &count))
        return qattn_fail(QATTN_ERR_MODEL, "%s: truncated CTranslate2 header", path);
    if (strcmp(spec, "WhisperSpec") != 0)
        return qattn_fail(QATTN_ERR_MODEL, "%s: a CTranslate2 %.40s model, not Whisper", path, spec);
    if (revision > CT2_MAX_REVISION)
        return qattn_fail(QATTN_ERR_MODEL, "%s: Whisper spec revision %u (at most %d known)", path,
                          revision, CT2_MAX_REVISION);
    /* every variable takes at least 9 bytes: a count beyond that is a lie, not an allocation */
    if (count > c.left / 9)
        return qattn_fail(QATTN_ERR_MODEL, "%s: declares %u variables in %zu bytes", path, count, c.left);
    for (uint32_t i = 0; i < count; i++) {
        qattn_status st = read_variable(set, &c);
        if (st != QATTN_OK)
            return st;
    }
    if (!read_u32(&c, &aliases))
        return qattn_fail(QATTN_ERR_MODEL, "%s: truncated before its aliases", path);
    if (aliases > c.left / 4)
        return qattn_fail(QATTN_ERR_MODEL, "%s: declares %u aliases in %zu bytes", path, aliases, c.left);
    for (uint32_t i = 0; i < aliases; i++) {
        char alias[WT_MAX_NAME], target[WT_MAX_NAME];
        if (!read_string(&c, alias, sizeof alias) || !read_string(&c, target, sizeof target))
            return qattn_fail(QATTN_ERR_MODEL, "%s: alias %u is truncated or malformed", path, i);
        qattn_status st = add_alias(set, &c, alias, target);
        if (st != QATTN_OK)
            return st;
    }
    if (c.left != 0)
        return qattn_fail(QATTN_ERR_MODEL, "%s: %zu bytes after the last alias", path, c.left);
    return QATTN_OK;
}

qattn_status qattn_ct2_load_file(wt_set *set, const char *path)
{
    const uint8_t *data;
    size_t size;
    qattn_status st = qattn_tensors_map_file(set, path, &data, &size);
    return st == QATTN_OK ? qattn_ct2_parse(set, path, data, size) : st;
}
