/*
 * safetensors: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor
 * name to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the byte after the
 * header), then the data. Every field is checked against the file before any view is made.
 */
#include "formats/safetensors.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static int parse_dtype(const char *s, wt_dtype *d)
{
    if (strcmp(s, "F32") == 0)
        *d = WT_F32;
    else if (strcmp(s, "F16") == 0)
        *d = WT_F16;
    else if (strcmp(s, "BF16") == 0)
        *d = WT_BF16;
    else
        return 0;
    return 1;
}

/* A JSON number that is a non-negative integer below 2^53. */
static int json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0 && j->valuedouble <= 9007199254740992.0) ||
        j->valuedouble != (double)(uint64_t)j->valuedouble)
        return 0;
    *out = (uint64_t)j->valuedouble;
    return 1;
}

static qattn_status add_tensor(wt_set *set, const char *path, const cJSON *t,
                               const uint8_t *data, uint64_t data_size)
{
    const char *name = t->string;
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    if (!cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs) ||
        cJSON_GetArraySize(offs) != 2)
        return qattn_fail(QATTN_ERR_MODEL, "%s: tensor '%.80s' lacks dtype, shape or data_offsets",
                          path, name);
    wt_view v;
    memset(&v, 0, sizeof v);
    if (strlen(name) >= WT_MAX_NAME)
        return qattn_fail(QATTN_ERR_MODEL, "%s: tensor name too long: '%.80s...'", path, name);
    strcpy(v.name, name);
    snprintf(v.dtype_name, sizeof v.dtype_name, "%s", dtype->valuestring);
    if (!parse_dtype(dtype->valuestring, &v.dtype)) {
        v.dtype = WT_UNSUPPORTED;
        return qattn_tensors_add(set, &v); /* listed without data: an error only if the model needs it */
    }
    v.ndim = cJSON_GetArraySize(shape);
    if (v.ndim > WT_MAX_DIMS)
        return qattn_fail(QATTN_ERR_MODEL, "%s: tensor '%s' has %d dimensions", path, name, v.ndim);
    uint64_t bytes = qattn_tensor_dtype_size(v.dtype), begin, end;
    for (int i = 0; i < v.ndim; i++) {
        uint64_t dim;
        if (!json_uint(cJSON_GetArrayItem(shape, i), &dim) ||
            __builtin_mul_overflow(bytes, dim, &bytes))
            return qattn_fail(QATTN_ERR_MODEL, "%s: tensor '%s' has a bad shape", path, name);
        v.shape[i] = (int64_t)dim;
    }
    if (!json_uint(cJSON_GetArrayItem(offs, 0), &begin) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), &end) || begin > end || end > data_size)
        return qattn_fail(QATTN_ERR_MODEL,
                          "%s: tensor '%s' has data offsets outside the file's %llu data bytes",
                          path, name, (unsigned long long)data_size);
    if (end - begin != bytes)
        return qattn_fail(QATTN_ERR_MODEL,
                          "%s: tensor '%s' holds %llu bytes, its dtype and shape need %llu", path,
                          name, (unsigned long long)(end - begin), (unsigned long long)bytes);
    v.data = data + begin;
    return qattn_tensors_add(set, &v);
}

qattn_status qattn_safetensors_load_file(wt_set *set, const char *path)
{
    const uint8_t *file;
    size_t size;
    qattn_status st = qattn_tensors_map_file(set, path, &file, &size);
    return st == QATTN_OK ? qattn_safetensors_parse(set, path, file, size) : st;
}

qattn_status qattn_safetensors_parse(wt_set *set, const char *path, const uint8_t *file, size_t size)
{
    qattn_status st = QATTN_OK;
    if (size < 8)
        return qattn_fail(QATTN_ERR_MODEL, "%s: truncated (%zu bytes, no header)", path, size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | file[i];
    if (n > ST_MAX_HEADER)
        return qattn_fail(QATTN_ERR_MODEL, "%s: header of %llu bytes exceeds the %u MiB limit",
                          path, (unsigned long long)n, ST_MAX_HEADER >> 20);
    if (n > size - 8)
        return qattn_fail(QATTN_ERR_MODEL, "%s: truncated: header of %llu bytes, file of %zu",
                          path, (unsigned long long)n, size);
    char *text = malloc(n + 1);
    if (!text)
        return qattn_fail(QATTN_ERR_NOMEM, "%s: out of memory for the header", path);
    memcpy(text, file + 8, n);
    text[n] = '\0';
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return qattn_fail(QATTN_ERR_MODEL, "%s: header is not a JSON object", path);
    }
    const uint8_t *data = file + 8 + n;
    uint64_t data_size = size - 8 - n;
    for (const cJSON *t = root->child; t && st == QATTN_OK; t = t->next) {
        if (strcmp(t->string, "__metadata__") == 0)
            continue;
        if (!cJSON_IsObject(t))
            st = qattn_fail(QATTN_ERR_MODEL, "%s: entry '%.80s' is not an object", path, t->string);
        else
            st = add_tensor(set, path, t, data, data_size);
    }
    cJSON_Delete(root);
    return st;
}

qattn_status qattn_safetensors_load_index(wt_set *set, const char *dir, const char *index_path)
{
    qattn_status st;
    char *text = qattn_read_text_file(index_path, ST_MAX_HEADER, &st);
    if (!text)
        return st;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(root);
        return qattn_fail(QATTN_ERR_MODEL, "%s: no weight_map object", index_path);
    }
    /* Each shard once, in order of first mention. */
    char loaded[WT_MAX_FILES][256];
    int n_loaded = 0;
    st = QATTN_OK;
    for (const cJSON *e = map->child; e && st == QATTN_OK; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || strlen(e->valuestring) >= 256) {
            st = qattn_fail(QATTN_ERR_MODEL, "%s: bad shard name for '%.80s'", index_path, e->string);
            break;
        }
        int seen = 0;
        for (int i = 0; i < n_loaded && !seen; i++)
            seen = strcmp(loaded[i], e->valuestring) == 0;
        if (seen)
            continue;
        if (n_loaded == WT_MAX_FILES) {
            st = qattn_fail(QATTN_ERR_MODEL, "%s: more than %d shards", index_path, WT_MAX_FILES);
            break;
        }
        strcpy(loaded[n_loaded++], e->valuestring);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->valuestring);
        st = qattn_safetensors_load_file(set, path);
    }
    cJSON_Delete(root);
    return st;
}
