/* Loading a whole Whisper model: encoder, decoder, vocabulary, special tokens (whisper.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/model_source.h"
#include "formats/tensors.h"
#include "text/vocabulary.h"
#include "transcribe/whisper.h"

void qattn_whisper_free(qattn_whisper *w)
{
    if (!w)
        return;
    qattn_encoder_free(w->encoder);
    qattn_decoder_free(w->decoder);
    qattn_vocabulary_free(w->vocabulary);
    qattn_tokenizer_free(w->tokenizer);
    free(w->suppress), free(w->suppress_begin), free(w->align_heads);
    free(w);
}

int qattn_whisper_is_multilingual(const qattn_whisper *w)
{
    return w ? w->multilingual : 0;
}

int32_t qattn_whisper_suppressed_tokens(const qattn_whisper *w, int at_begin, const int32_t **ids)
{
    if (ids)
        *ids = w ? (at_begin ? w->suppress_begin : w->suppress) : NULL;
    return w ? (at_begin ? w->n_suppress_begin : w->n_suppress) : 0;
}

int32_t qattn_whisper_language_token(const struct qattn_whisper *w, const char *code)
{
    char name[24];
    if (!code || strlen(code) < 2 || strlen(code) > 8)
        return -1;
    snprintf(name, sizeof name, "<|%s|>", code);
    const int32_t id = qattn_vocabulary_id(w->vocabulary, name);
    return id >= w->lang_first && id < w->lang_first + w->n_langs ? id : -1;
}

static qattn_status special_tokens(struct qattn_whisper *w, const char *path)
{
    const qattn_vocabulary *v = w->vocabulary;
    w->eot = qattn_vocabulary_id(v, "<|endoftext|>");
    w->sot = qattn_vocabulary_id(v, "<|startoftranscript|>");
    w->sot_prev = qattn_vocabulary_id(v, "<|startofprev|>");
    w->sot_lm = qattn_vocabulary_id(v, "<|startoflm|>");
    w->transcribe = qattn_vocabulary_id(v, "<|transcribe|>");
    w->translate = qattn_vocabulary_id(v, "<|translate|>");
    w->no_speech = qattn_vocabulary_id(v, "<|nospeech|>");
    if (w->no_speech < 0) /* the Hugging Face name */
        w->no_speech = qattn_vocabulary_id(v, "<|nocaptions|>");
    w->no_timestamps = qattn_vocabulary_id(v, "<|notimestamps|>");
    const int32_t n = qattn_vocabulary_size(v);
    if (w->eot < 0 || w->sot < 0 || w->sot_prev < 0 || w->transcribe < 0 || w->translate < 0 ||
        w->no_timestamps < 0 || w->no_speech < 0 || w->translate <= w->sot ||
        w->no_timestamps + 2 > n)
        return qattn_fail(QATTN_ERR_MODEL, "%s: the vocabulary lacks Whisper's special tokens "
                          "(<|endoftext|>, <|startoftranscript|>, <|transcribe|>, "
                          "<|notimestamps|>, ...)", path);
    if (w->enc.n_state != w->dec.n_state) /* the decoder reads the encoder's output rows */
        return qattn_fail(QATTN_ERR_MODEL, "%s: the encoder's width is %d, the decoder's %d", path,
                          w->enc.n_state, w->dec.n_state);
    if (n != w->dec.n_vocab)
        return qattn_fail(QATTN_ERR_MODEL, "%s: the vocabulary has %d tokens, the decoder %d", path,
                          n, w->dec.n_vocab);
    w->ts_begin = w->no_timestamps + 1, w->ts_end = n - 1;
    w->lang_first = w->sot + 1, w->n_langs = w->translate - w->sot - 1;
    /* multilingual vocabularies hold the language tokens and use them (CTranslate2 tells an
     * English-only one by <|endoftext|> at 50256, the GPT-2 vocabulary's end) */
    w->multilingual = w->eot != 50256 && w->n_langs > 0;
    return QATTN_OK;
}

/* Whether dir holds the optional file `name`; its path into path[size] either way. */
static int has_file(const char *dir, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

/* The suppressed tokens from the file the format keeps them in (CTranslate2's config.json,
 * Hugging Face's generation_config.json), else from the vocabulary (ggml files; directories
 * without that file). */
static qattn_status suppress_lists(struct qattn_whisper *w, qattn_model_format format,
                                   const char *dir)
{
    static const char *const ct2_keys[2] = {"suppress_ids", "suppress_ids_begin"};
    static const char *const hf_keys[2] = {"suppress_tokens", "begin_suppress_tokens"};
    char path[4200];
    if (format == QATTN_FORMAT_CT2 && has_file(dir, "config.json", path, sizeof path))
        return qattn_whisper_suppress_lists(w, path, ct2_keys);
    if (format == QATTN_FORMAT_HF && has_file(dir, "generation_config.json", path, sizeof path))
        return qattn_whisper_suppress_lists(w, path, hf_keys);
    return qattn_whisper_suppress_lists(w, NULL, NULL);
}

/* tokenizer.json if the directory has one (a malformed one is an error, not ignored), checked
 * against the vocabulary: " hello<|endoftext|>" must give the vocabulary's ids. */
static qattn_status optional_tokenizer(struct qattn_whisper *w, qattn_model_format format,
                                       const char *dir)
{
    char path[4200];
    if (format == QATTN_FORMAT_GGML || !has_file(dir, "tokenizer.json", path, sizeof path))
        return QATTN_OK;
    qattn_status st = qattn_tokenizer_load(dir, &w->tokenizer);
    int32_t ids[4], n = 0;
    if (st == QATTN_OK)
        st = qattn_tokenizer_encode(w->tokenizer, " hello<|endoftext|>", ids, 4, &n);
    if (st == QATTN_OK &&
        (n != 2 || ids[0] != qattn_vocabulary_id(w->vocabulary, "\xc4\xa0hello") || ids[1] != w->eot))
        st = qattn_fail(QATTN_ERR_MODEL, "%s: tokenizer.json does not match the vocabulary", path);
    return st;
}

qattn_status qattn_whisper_load(const char *path, const qattn_encoder_params *params,
                                qattn_whisper **out)
{
    qattn_clear_error();
    if (!path || !out)
        return qattn_fail(QATTN_ERR_NULL, "whisper_load: %s is NULL", !path ? "path" : "whisper");
    *out = NULL;
    qattn_encoder_params p = qattn_encoder_default_params(); /* NULL: int8 throughout */
    if (params && qattn_struct_read(&p, sizeof p, params, "whisper_load") != QATTN_OK)
        return QATTN_ERR_ARG;
    params = &p;
    struct qattn_whisper *w = calloc(1, sizeof *w);
    if (!w)
        return qattn_fail(QATTN_ERR_NOMEM, "whisper_load: out of memory");
    w->threads = p.threads;
    char dir[4096];
    qattn_model_dir(path, dir, sizeof dir);
    const qattn_model_format format = qattn_model_format_of(path);
    qattn_status st = qattn_encoder_load(path, params, &w->encoder);
    if (st == QATTN_OK)
        st = qattn_decoder_load(path, params, &w->decoder);
    if (st == QATTN_OK)
        st = qattn_vocabulary_load(path, &w->vocabulary);
    w->enc.struct_size = sizeof w->enc, w->dec.struct_size = sizeof w->dec;
    if (st == QATTN_OK)
        st = qattn_encoder_get_info(w->encoder, &w->enc);
    if (st == QATTN_OK)
        st = qattn_decoder_get_info(w->decoder, &w->dec);
    if (st == QATTN_OK)
        st = qattn_vocabulary_pad_timestamps(w->vocabulary, w->dec.n_vocab);
    if (st == QATTN_OK)
        st = special_tokens(w, path);
    if (st == QATTN_OK)
        st = suppress_lists(w, format, dir);
    if (st == QATTN_OK)
        st = qattn_whisper_alignment_heads(w, format, dir);
    if (st == QATTN_OK)
        st = optional_tokenizer(w, format, dir);
    if (st != QATTN_OK) {
        qattn_whisper_free(w);
        return st;
    }
    *out = w;
    return QATTN_OK;
}
