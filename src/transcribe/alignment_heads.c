/*
 * The decoder's alignment heads, the cross-attention heads whose weights follow the words
 * (openai whisper __init__.py _ALIGNMENT_HEADS; whisper.cpp keeps the same tables as
 * g_aheads_*): CTranslate2's config.json and Hugging Face's generation_config.json state them
 * as "alignment_heads": [[layer, head], ...]; a ggml file does not, so its shape picks the
 * table (large-v1 and large-v2 share one shape: v2's is taken, "large-v1" asks for the other);
 * a model none of these covers takes openai whisper's default, every head of the last half of
 * the layers (model.py, Whisper.__init__).
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/tensors.h"
#include "transcribe/whisper.h"

typedef struct preset {
    const char *name;
    int32_t layers, heads, n_vocab; /* the decoder's shape that picks it in a ggml file */
    int32_t n;
    int32_t pairs[23][2];
} preset;

static const preset presets[] = {
    {"tiny.en", 4, 6, 51864, 8, {{1, 0}, {2, 0}, {2, 5}, {3, 0}, {3, 1}, {3, 2}, {3, 3}, {3, 4}}},
    {"tiny", 4, 6, 51865, 6, {{2, 2}, {3, 0}, {3, 2}, {3, 3}, {3, 4}, {3, 5}}},
    {"base.en", 6, 8, 51864, 5, {{3, 3}, {4, 7}, {5, 1}, {5, 5}, {5, 7}}},
    {"base", 6, 8, 51865, 8, {{3, 1}, {4, 2}, {4, 3}, {4, 7}, {5, 1}, {5, 2}, {5, 4}, {5, 6}}},
    {"small.en", 12, 12, 51864, 19,
     {{6, 6}, {7, 0}, {7, 3}, {7, 8}, {8, 2}, {8, 5}, {8, 7}, {9, 0}, {9, 4}, {9, 8},
      {9, 10}, {10, 0}, {10, 1}, {10, 2}, {10, 3}, {10, 6}, {10, 11}, {11, 2}, {11, 4}}},
    {"small", 12, 12, 51865, 10,
     {{5, 3}, {5, 9}, {8, 0}, {8, 4}, {8, 7}, {8, 8}, {9, 0}, {9, 7}, {9, 9}, {10, 5}}},
    {"medium.en", 24, 16, 51864, 18,
     {{11, 4}, {14, 1}, {14, 12}, {14, 14}, {15, 4}, {16, 0}, {16, 4}, {16, 9}, {17, 12},
      {17, 14}, {18, 7}, {18, 10}, {18, 15}, {20, 0}, {20, 3}, {20, 9}, {20, 14}, {21, 12}}},
    {"medium", 24, 16, 51865, 6, {{13, 15}, {15, 4}, {15, 15}, {16, 1}, {20, 0}, {23, 4}}},
    {"large-v2", 32, 20, 51865, 23,
     {{10, 12}, {13, 17}, {16, 11}, {16, 12}, {16, 13}, {17, 15}, {17, 16}, {18, 4},
      {18, 11}, {18, 19}, {19, 11}, {21, 2}, {21, 3}, {22, 3}, {22, 9}, {22, 12}, {23, 5},
      {23, 7}, {23, 13}, {25, 5}, {26, 1}, {26, 12}, {27, 15}}},
    {"large-v1", 32, 20, 51865, 9,
     {{9, 19}, {11, 2}, {11, 4}, {11, 17}, {22, 7}, {22, 11}, {22, 17}, {23, 2}, {23, 15}}},
    {"large-v3", 32, 20, 51866, 10,
     {{7, 0}, {10, 17}, {12, 18}, {13, 12}, {16, 1}, {17, 14}, {19, 11}, {21, 4}, {24, 1},
      {25, 6}}},
    {"large-v3-turbo", 4, 20, 51866, 6, {{2, 4}, {2, 11}, {3, 3}, {3, 6}, {3, 11}, {3, 14}}},
};

/* w->align_heads = n pairs (checked against the decoder's shape; `from` names the source). */
static qattn_status set_heads(struct qattn_whisper *w, const int32_t (*pairs)[2], int32_t n,
                              const char *from)
{
    if (n < 1 || n > w->dec.n_layers * w->dec.n_heads)
        return qattn_fail(QATTN_ERR_ARG, "%s: %d alignment heads", from, n);
    for (int32_t i = 0; i < n; i++)
        if (pairs[i][0] < 0 || pairs[i][0] >= w->dec.n_layers || pairs[i][1] < 0 ||
            pairs[i][1] >= w->dec.n_heads)
            return qattn_fail(QATTN_ERR_ARG, "%s: alignment head (%d, %d) is not one of the "
                              "decoder's %d layers of %d heads", from, pairs[i][0], pairs[i][1],
                              w->dec.n_layers, w->dec.n_heads);
    int32_t *heads = malloc((size_t)n * 2 * sizeof *heads);
    if (!heads)
        return qattn_fail(QATTN_ERR_NOMEM, "%s: out of memory", from);
    memcpy(heads, pairs, (size_t)n * 2 * sizeof *heads);
    free(w->align_heads);
    w->align_heads = heads, w->n_align_heads = n;
    return QATTN_OK;
}

/* Every head of the last half of the layers (openai whisper's default). */
static qattn_status default_heads(struct qattn_whisper *w)
{
    const int32_t first = w->dec.n_layers / 2, n = (w->dec.n_layers - first) * w->dec.n_heads;
    int32_t(*pairs)[2] = malloc((size_t)n * sizeof *pairs);
    if (!pairs)
        return qattn_fail(QATTN_ERR_NOMEM, "alignment heads: out of memory");
    for (int32_t i = 0; i < n; i++)
        pairs[i][0] = first + i / w->dec.n_heads, pairs[i][1] = i % w->dec.n_heads;
    qattn_status st = set_heads(w, (const int32_t(*)[2])pairs, n, "alignment heads");
    free(pairs);
    return st;
}

static const preset *preset_named(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++) {
        const char *p = presets[i].name, *q = name;
        while (*p && (*p == *q || (*p == '-' && *q == '.'))) /* whisper.cpp's "large.v2" too */
            p++, q++;
        if (!*p && !*q)
            return &presets[i];
    }
    return NULL;
}

/* "alignment_heads" of a JSON file; *found 0 when it has none. */
static qattn_status heads_of_json(struct qattn_whisper *w, const char *path, int *found)
{
    qattn_status st = QATTN_OK;
    char *text = qattn_read_text_file(path, (size_t)16 << 20, &st);
    if (!text)
        return st;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "alignment_heads");
    *found = a != NULL;
    const int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
    int32_t(*pairs)[2] = n > 0 ? malloc((size_t)n * sizeof *pairs) : NULL;
    if (a && (!cJSON_IsArray(a) || n == 0))
        st = qattn_fail(QATTN_ERR_MODEL, "%s: alignment_heads is not a list of [layer, head]", path);
    else if (n > 0 && !pairs)
        st = qattn_fail(QATTN_ERR_NOMEM, "%s: out of memory", path);
    int i = 0;
    const cJSON *e, *list = st == QATTN_OK ? a : NULL;
    cJSON_ArrayForEach(e, list) {
        const cJSON *l = cJSON_GetArrayItem(e, 0), *h = cJSON_GetArrayItem(e, 1);
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsNumber(l) ||
            !cJSON_IsNumber(h) || l->valuedouble != (int32_t)l->valuedouble ||
            h->valuedouble != (int32_t)h->valuedouble) {
            st = qattn_fail(QATTN_ERR_MODEL, "%s: alignment_heads[%d] is not [layer, head]", path, i);
            break;
        }
        pairs[i][0] = (int32_t)l->valuedouble, pairs[i][1] = (int32_t)h->valuedouble, i++;
    }
    if (st == QATTN_OK && n > 0) {
        st = set_heads(w, (const int32_t(*)[2])pairs, n, path);
        if (st == QATTN_ERR_ARG)
            st = QATTN_ERR_MODEL; /* the file's, not the caller's */
    }
    cJSON_Delete(root);
    free(pairs);
    return st;
}

qattn_status qattn_whisper_alignment_heads(struct qattn_whisper *w, qattn_model_format format,
                                           const char *dir)
{
    char path[4200];
    const char *file = format == QATTN_FORMAT_CT2 ? "config.json"
                       : format == QATTN_FORMAT_HF ? "generation_config.json" : NULL;
    if (file) {
        snprintf(path, sizeof path, "%s/%s", dir, file);
        FILE *f = fopen(path, "rb");
        int found = 0;
        if (f) {
            fclose(f);
            qattn_status st = heads_of_json(w, path, &found);
            if (st != QATTN_OK || found)
                return st;
        }
    }
    for (size_t i = 0; format == QATTN_FORMAT_GGML && i < sizeof presets / sizeof *presets; i++)
        if (presets[i].layers == w->dec.n_layers && presets[i].heads == w->dec.n_heads &&
            presets[i].n_vocab == w->dec.n_vocab)
            return set_heads(w, presets[i].pairs, presets[i].n, "alignment heads");
    return default_heads(w);
}

qattn_status qattn_alignment_heads_parse(const struct qattn_whisper *w, const char *spec,
                                         int32_t **heads, int32_t *n)
{
    struct qattn_whisper copy = *w; /* set_heads on a copy: the model stays as loaded */
    copy.align_heads = NULL, copy.n_align_heads = 0;
    *heads = NULL, *n = 0;
    const preset *p = preset_named(spec);
    qattn_status st;
    if (p) {
        st = set_heads(&copy, p->pairs, p->n, "alignment_heads");
    } else { /* "layer:head,layer:head,..." */
        int32_t pairs[512][2], count = 0;
        const char *s = spec;
        int whole = 0; /* the spec ends right after a pair */
        while (count < 512) {
            char *end;
            const long l = strtol(s, &end, 10);
            if (end == s || *end != ':' || l < 0 || l > 1000)
                break;
            s = end + 1;
            const long h = strtol(s, &end, 10);
            if (end == s || h < 0 || h > 1000)
                break;
            pairs[count][0] = (int32_t)l, pairs[count][1] = (int32_t)h, count++;
            s = end;
            whole = *s == '\0';
            if (*s != ',')
                break;
            s++;
        }
        if (!whole)
            return qattn_fail(QATTN_ERR_ARG, "alignment_heads \"%s\": a model name (tiny.en, tiny, "
                              "base.en, base, small.en, small, medium.en, medium, large-v1, "
                              "large-v2, large-v3, large-v3-turbo) or layer:head,layer:head,...", spec);
        st = set_heads(&copy, (const int32_t(*)[2])pairs, count, "alignment_heads");
    }
    *heads = copy.align_heads, *n = copy.n_align_heads;
    return st;
}
