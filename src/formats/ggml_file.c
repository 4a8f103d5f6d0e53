/*
 * The whisper.cpp model format (as its convert-pt-to-ggml.py writes it), little-endian:
 *   magic "ggml"; 11 int32 hyperparameters; mel filters (int32 n_mel, int32 n_fft, floats);
 *   vocabulary (int32 count, then int32 length + bytes each); then tensors until the end:
 *   int32 n_dims, int32 name length, int32 type, int32 ne[n_dims] (innermost first), name,
 *   data. Every count and size is checked against what is left of the file.
 */
#include "formats/ggml_file.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"

typedef struct cursor {
    const uint8_t *p;
    size_t left;
    const char *path;
} cursor;

static int read_i32(cursor *c, int32_t *v)
{
    if (c->left < 4)
        return 0;
    uint32_t u = (uint32_t)c->p[0] | (uint32_t)c->p[1] << 8 | (uint32_t)c->p[2] << 16 |
                 (uint32_t)c->p[3] << 24;
    memcpy(v, &u, 4);
    c->p += 4, c->left -= 4;
    return 1;
}

static int skip(cursor *c, uint64_t n)
{
    if (n > c->left)
        return 0;
    c->p += n, c->left -= n;
    return 1;
}

static const char *ggml_type_name(int32_t t)
{
    static const char *const names[] = {"f32",  "f16",  "q4_0", "q4_1", "q4_2", "q4_3",
                                        "q5_0", "q5_1", "q8_0", "q8_1", "q2_k", "q3_k",
                                        "q4_k", "q5_k", "q6_k", "q8_k"};
    return t >= 0 && t < (int32_t)(sizeof names / sizeof *names) ? names[t] : "unknown";
}

static qattn_status truncated(const cursor *c, const char *where)
{
    return qattn_fail(QATTN_ERR_MODEL, "%s: truncated or malformed in the %s", c->path, where);
}

static qattn_status read_tensor(wt_set *set, cursor *c)
{
    int32_t n_dims, name_len, type, ne[WT_MAX_DIMS];
    if (!read_i32(c, &n_dims) || !read_i32(c, &name_len) || !read_i32(c, &type))
        return truncated(c, "tensor header");
    if (n_dims < 1 || n_dims > WT_MAX_DIMS || name_len < 1 || name_len >= WT_MAX_NAME)
        return qattn_fail(QATTN_ERR_MODEL, "%s: tensor header with %d dimensions, name of %d bytes",
                          c->path, n_dims, name_len);
    uint64_t numel = 1;
    for (int i = 0; i < n_dims; i++)
        if (!read_i32(c, &ne[i]) || ne[i] < 1 || __builtin_mul_overflow(numel, (uint64_t)ne[i], &numel))
            return truncated(c, "tensor dimensions");
    wt_view v;
    memset(&v, 0, sizeof v);
    if ((size_t)name_len > c->left)
        return truncated(c, "tensor name");
    memcpy(v.name, c->p, (size_t)name_len);
    skip(c, (uint64_t)name_len);
    if (type != 0 && type != 1)
        return qattn_fail(QATTN_ERR_MODEL,
                          "%s: tensor '%s' has ggml type %s (%d); only f32 and f16 models are "
                          "supported, not quantized ones",
                          c->path, v.name, ggml_type_name(type), type);
    v.dtype = type == 0 ? WT_F32 : WT_F16;
    snprintf(v.dtype_name, sizeof v.dtype_name, "%s", ggml_type_name(type));
    v.ndim = n_dims;
    for (int i = 0; i < n_dims; i++)
        v.shape[i] = ne[n_dims - 1 - i];
    uint64_t bytes;
    if (__builtin_mul_overflow(numel, (uint64_t)qattn_tensor_dtype_size(v.dtype), &bytes) || bytes > c->left)
        return qattn_fail(QATTN_ERR_MODEL, "%s: truncated: tensor '%s' needs %llu bytes, %zu left",
                          c->path, v.name, (unsigned long long)bytes, c->left);
    v.data = c->p;
    skip(c, bytes);
    return qattn_tensors_add(set, &v);
}

qattn_status qattn_ggml_load_file(wt_set *set, const char *path, ggml_hparams *hp)
{
    const uint8_t *file;
    size_t size;
    qattn_status st = qattn_tensors_map_file(set, path, &file, &size);
    return st == QATTN_OK ? qattn_ggml_parse(set, path, file, size, hp) : st;
}

qattn_status qattn_ggml_parse(wt_set *set, const char *path, const uint8_t *file, size_t size,
                        ggml_hparams *hp)
{
    qattn_status st = QATTN_OK;
    cursor c = {file, size, path};
    int32_t magic;
    if (!read_i32(&c, &magic) || (uint32_t)magic != GGML_FILE_MAGIC)
        return qattn_fail(QATTN_ERR_MODEL, "%s: not a whisper.cpp ggml file (bad magic)", path);
    int32_t *fields[] = {&hp->n_vocab,      &hp->n_audio_ctx,  &hp->n_audio_state,
                         &hp->n_audio_head, &hp->n_audio_layer, &hp->n_text_ctx,
                         &hp->n_text_state, &hp->n_text_head,  &hp->n_text_layer,
                         &hp->n_mels,       &hp->ftype};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        if (!read_i32(&c, fields[i]))
            return truncated(&c, "hyperparameters");
    int32_t n_mel, n_fft, n_vocab;
    if (!read_i32(&c, &n_mel) || !read_i32(&c, &n_fft) || n_mel < 0 || n_fft < 0 ||
        !skip(&c, (uint64_t)n_mel * (uint64_t)n_fft * 4))
        return truncated(&c, "mel filters");
    if (!read_i32(&c, &n_vocab) || n_vocab < 0)
        return truncated(&c, "vocabulary");
    hp->tokens = c.p, hp->n_tokens = n_vocab;
    for (int32_t i = 0; i < n_vocab; i++) {
        int32_t len;
        if (!read_i32(&c, &len) || len < 0 || !skip(&c, (uint64_t)len))
            return truncated(&c, "vocabulary");
    }
    while (c.left > 0 && st == QATTN_OK)
        st = read_tensor(set, &c);
    return st;
}
