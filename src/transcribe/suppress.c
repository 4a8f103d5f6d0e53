/*
 * Which tokens the decoding suppresses (faster-whisper transcribe.py get_suppressed_tokens,
 * suppress_tokens=[-1]; docs/whisper-facts.md, "Logit filters"): the non-speech symbols and the special
 * tokens at every step, a blank and <|endoftext|> at the first. The symbols' ids come from the
 * model's files where it lists them (CTranslate2's config.json suppress_ids, Hugging Face's
 * generation_config.json suppress_tokens: both copies of openai/whisper's list), otherwise
 * (whisper.cpp ggml files) from the vocabulary, the way openai/whisper's tokenizer computes
 * them.
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/tensors.h"
#include "text/vocabulary.h"
#include "transcribe/whisper.h"

/* The ids of the array `key` of root into *ids, which has room for `extra` more (NULL and 0
 * when absent). */
static qattn_status id_list(const cJSON *root, const char *key, int32_t n_vocab, int32_t extra,
                            int32_t **ids, int32_t *n, const char *path)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, key);
    const int count = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
    *n = 0;
    if (!(*ids = malloc((size_t)(count + extra + 1) * sizeof **ids)))
        return qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    if (a && !cJSON_IsArray(a))
        return qattn_fail(QATTN_ERR_MODEL, "%s: %s is not an array", path, key);
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
        if (*n >= count) /* never past the array's own count */
            break;
        if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0 && e->valuedouble < n_vocab) ||
            e->valuedouble != (double)(int32_t)e->valuedouble)
            return qattn_fail(QATTN_ERR_MODEL, "%s: %s holds something other than a token id",
                              path, key);
        (*ids)[(*n)++] = (int32_t)e->valuedouble;
    }
    return QATTN_OK;
}

qattn_status qattn_suppress_ids_parse(const char *text, const char *path, int32_t n_vocab,
                                      const char *const keys[2], int32_t **suppress,
                                      int32_t *n_suppress, int32_t **begin, int32_t *n_begin)
{
    *suppress = *begin = NULL, *n_suppress = *n_begin = 0;
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    if (text && !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return qattn_fail(QATTN_ERR_MODEL, "%s: not a JSON object", path);
    }
    qattn_status st = id_list(root, keys[0], n_vocab, 6, suppress, n_suppress, path);
    if (st == QATTN_OK)
        st = id_list(root, keys[1], n_vocab, 2, begin, n_begin, path);
    cJSON_Delete(root);
    return st;
}

/* ---- the non-speech symbols from a vocabulary ---- */

typedef struct token_entry {
    const uint8_t *bytes;
    int32_t length, id;
} token_entry;

static int by_bytes(const void *a, const void *b)
{
    const token_entry *x = a, *y = b;
    const int32_t n = x->length < y->length ? x->length : y->length;
    const int c = memcmp(x->bytes, y->bytes, (size_t)n);
    return c ? c : (x->length > y->length) - (x->length < y->length);
}

/* The id of the text token holding exactly these bytes, -1 if none. */
static int32_t id_of(const token_entry *index, int32_t n, const uint8_t *s, int32_t length)
{
    const token_entry key = {s, length, 0};
    const token_entry *e = bsearch(&key, index, (size_t)n, sizeof *index, by_bytes);
    return e ? e->id : -1;
}

/* s split into tokens by byte-pair merging with ranks = ids (tiktoken's _byte_pair_merge,
 * which openai/whisper's tokenizer runs on the same ranks): the adjacent pair whose joined
 * bytes are the lowest-id token merges first, until no pair is a token. s is one pre-token of
 * GPT-2's pattern (every symbol below is: punctuation, optionally after one space) of at most
 * 32 bytes. Returns the count of ids written (at most 32), -1 if a byte has no token. */
static int bpe(const token_entry *index, int32_t n, const char *text, int32_t *ids)
{
    const uint8_t *s = (const uint8_t *)text;
    int parts = (int)strlen(text), start[33];
    for (int i = 0; i <= parts; i++)
        start[i] = i;
    for (;;) {
        int best = -1;
        int32_t best_id = INT32_MAX;
        for (int i = 0; i + 1 < parts; i++) {
            const int32_t id = id_of(index, n, s + start[i], start[i + 2] - start[i]);
            if (id >= 0 && id < best_id)
                best = i, best_id = id;
        }
        if (best < 0)
            break;
        memmove(start + best + 1, start + best + 2, (size_t)(parts - best - 1) * sizeof *start);
        parts--;
    }
    for (int i = 0; i < parts; i++)
        if ((ids[i] = id_of(index, n, s + start[i], start[i + 1] - start[i])) < 0)
            return -1;
    return parts;
}

/* openai/whisper tokenizer.py non_speech_tokens: the first token of " -" and " '", and of each
 * symbol with and without a leading space where it is one token (always, for the musical
 * signs). A new array in *out, with room for 6 more ids. */
static qattn_status non_speech_tokens(const qattn_vocabulary *v, int32_t eot, int32_t **out,
                                      int32_t *n_out)
{
    static const char *const symbols[] = {
        "\"", "#", "(", ")", "*", "+", "/", ":", ";", "<", "=", ">", "@", "[", "\\", "]", "^",
        "_", "`", "{", "|", "}", "~", "\u300c", "\u300d", "\u300e", "\u300f", "<<", ">>", "<<<",
        ">>>", "--", "---", "-(", "-[", "('", "(\"", "((", "))", "(((", ")))", "[[", "]]", "{{",
        "}}", "\u266a\u266a", "\u266a\u266a\u266a"};
    static const char *const music[] = {"\u2669", "\u266a", "\u266b", "\u266c", "\u266d",
                                        "\u266e", "\u266f"};
    enum { N_SYMBOLS = sizeof symbols / sizeof *symbols, N_MUSIC = sizeof music / sizeof *music,
           N_TEXTS = 2 + 2 * (N_SYMBOLS + N_MUSIC) };
    token_entry *index = malloc((size_t)eot * sizeof *index);
    *out = malloc((N_TEXTS + 6) * sizeof **out);
    *n_out = 0;
    if (!index || !*out) {
        free(index);
        return qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    }
    for (int32_t i = 0; i < eot; i++) {
        index[i].bytes = qattn_vocabulary_bytes(v, i, &index[i].length);
        index[i].id = i;
    }
    qsort(index, (size_t)eot, sizeof *index, by_bytes);
    int32_t ids[32];
    qattn_status st = QATTN_OK;
    for (int k = 0; k < N_TEXTS && st == QATTN_OK; k++) { /* " -", " '", then s and " " + s */
        const int j = (k - 2) / 2, spaced = k < 2 || k % 2;
        const char *symbol = k < 2 ? (k ? "'" : "-") : j < N_SYMBOLS ? symbols[j] : music[j - N_SYMBOLS];
        char text[40];
        snprintf(text, sizeof text, "%s%s", spaced ? " " : "", symbol);
        const int count = bpe(index, eot, text, ids);
        if (count < 1)
            st = qattn_fail(QATTN_ERR_MODEL, "vocabulary: no tokens for the bytes of \"%s\" (not "
                            "a byte-level vocabulary)", text);
        else if (k < 2 || count == 1 || j >= N_SYMBOLS)
            (*out)[(*n_out)++] = ids[0];
    }
    free(index);
    return st;
}

qattn_status qattn_whisper_suppress_lists(struct qattn_whisper *w, const char *file,
                                          const char *const keys[2])
{
    qattn_status st = QATTN_OK;
    char *text = NULL;
    if (file && !(text = qattn_read_text_file(file, 1 << 22, &st)))
        return st;
    if (file)
        st = qattn_suppress_ids_parse(text, file, w->dec.n_vocab, keys, &w->suppress,
                                      &w->n_suppress, &w->suppress_begin, &w->n_suppress_begin);
    else if (!(w->suppress_begin = malloc(2 * sizeof *w->suppress_begin)))
        st = qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    else
        st = non_speech_tokens(w->vocabulary, w->eot, &w->suppress, &w->n_suppress);
    free(text);
    if (st != QATTN_OK)
        return st;
    const int32_t specials[] = {w->transcribe, w->translate, w->sot, w->sot_prev, w->sot_lm,
                                w->no_speech};
    for (int i = 0; i < 6; i++)
        if (specials[i] >= 0)
            w->suppress[w->n_suppress++] = specials[i];
    if (w->n_suppress_begin == 0) {
        const int32_t space = qattn_vocabulary_id(w->vocabulary, "\xc4\xa0"); /* "Ġ" = " " */
        if (space >= 0)
            w->suppress_begin[w->n_suppress_begin++] = space;
        w->suppress_begin[w->n_suppress_begin++] = w->eot;
    }
    return QATTN_OK;
}
