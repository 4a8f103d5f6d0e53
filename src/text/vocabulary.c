/*
 * Whisper's vocabulary and ids -> text (docs/whisper-facts.md, "Vocabulary, tokenizer, ids to text").
 *
 * A CTranslate2 directory lists the tokens in id order in vocabulary.json (a JSON array of
 * strings) or vocabulary.txt (one per line; empty lines are tokens too, e.g. id 50256 of the
 * multilingual vocabulary); a Hugging Face directory maps them to ids in tokenizer.json
 * (model.vocab and added_tokens); a whisper.cpp ggml file holds the text tokens' bytes and
 * leaves the special tokens to their fixed layout (ggml_specials). Tokens are named in GPT-2's
 * byte-level form: each code point stands for
 * one byte (bytes_to_unicode: 0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF as themselves, the other 68
 * bytes, in order, as U+0100..U+0143); a code point outside that table (none in Whisper's
 * vocabularies) stands for its own UTF-8 bytes. Text is decoded from the bytes of all the
 * tokens at once, so a character split across tokens comes out whole; an invalid sequence
 * becomes U+FFFD per maximal subpart (Unicode 15 section 3.9, as Python's and Rust's lossy
 * decoders do).
 */
#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "formats/ggml_file.h"
#include "formats/model_source.h"
#include "formats/tensors.h"
#include "text/vocabulary.h"

enum { MAX_VOCAB = 1 << 20, MAX_VOCAB_FILE = 64 << 20 };

struct qattn_vocabulary {
    int32_t n;
    uint8_t **bytes;  /* [n]: token i's bytes */
    int32_t *length;  /* [n] */
    char **names;     /* [n]: token i as the file writes it (for lookups by name) */
    int32_t eot;      /* id of <|endoftext|>: ids from it on are not text */
};

/* GPT-2's bytes_to_unicode, inverted: code point -> byte, -1 outside the table. */
static int byte_of_code_point(uint32_t cp)
{
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
        return (int)cp;
    if (cp >= 0x100 && cp <= 0x143) {
        int k = (int)(cp - 0x100); /* the k-th byte not in the ranges above */
        for (int b = 0; b < 256; b++) {
            int direct = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            if (!direct && k-- == 0)
                return b;
        }
    }
    return -1;
}

/* GPT-2's bytes_to_unicode: byte -> its code point, UTF-8 encoded into out (1 or 2 bytes). */
static int byte_name(uint8_t b, char *out)
{
    uint32_t cp = b;
    if (byte_of_code_point(cp) != b) { /* not one of the bytes standing for themselves */
        cp = 0x100;
        for (int i = 0; i < b; i++)
            cp += byte_of_code_point((uint32_t)i) != i;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

/* The length of the UTF-8 sequence a lead byte starts (0: not a lead byte), and whether its
 * second byte is in the range that lead byte allows (Unicode Table 3-7). */
static int utf8_length(uint8_t b)
{
    return b < 0x80 ? 1 : b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
}

static int utf8_second_ok(uint8_t b, uint8_t next)
{
    uint8_t lo = b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80;
    uint8_t hi = b == 0xED ? 0x9F : b == 0xF4 ? 0x8F : 0xBF;
    return next >= lo && next <= hi;
}

/* One code point of well-formed UTF-8 at s (n bytes left): its length, or 0 if malformed. */
static int utf8_next(const uint8_t *s, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    uint8_t b = s[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    int len = utf8_length(b);
    if (!len || (size_t)len > n || !utf8_second_ok(b, s[1]))
        return 0;
    for (int i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    *cp = len == 2 ? (uint32_t)(b & 0x1F) << 6 | (s[1] & 0x3F)
          : len == 3 ? (uint32_t)(b & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F)
                     : (uint32_t)(b & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
                           (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
    return len;
}

/* A token string (UTF-8, byte-level form) -> its bytes (malloc'd). */
static uint8_t *token_bytes(const char *s, int32_t *length)
{
    size_t n = strlen(s);
    uint8_t *out = malloc(n + 1);
    if (!out)
        return NULL;
    int32_t k = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int len = utf8_next((const uint8_t *)s + i, n - i, &cp);
        int b = len ? byte_of_code_point(cp) : -1;
        if (b >= 0) {
            out[k++] = (uint8_t)b;
        } else { /* outside the table (or malformed): its own bytes */
            int own = len ? len : 1;
            memcpy(out + k, s + i, (size_t)own);
            k += own;
            len = own;
        }
        i += (size_t)len;
    }
    *length = k;
    return out;
}

void qattn_vocabulary_free(qattn_vocabulary *v)
{
    if (!v)
        return;
    for (int32_t i = 0; i < v->n; i++) {
        free(v->bytes ? v->bytes[i] : NULL);
        free(v->names ? v->names[i] : NULL);
    }
    free(v->bytes), free(v->length), free(v->names), free(v);
}

static qattn_status add_token(qattn_vocabulary *v, int32_t i, const char *name, size_t len)
{
    v->names[i] = malloc(len + 1);
    if (!v->names[i])
        return qattn_fail(QATTN_ERR_NOMEM, "vocabulary: out of memory");
    memcpy(v->names[i], name, len);
    v->names[i][len] = '\0';
    if (strlen(v->names[i]) != len)
        return qattn_fail(QATTN_ERR_MODEL, "vocabulary: token %d holds a NUL byte", i);
    if (!(v->bytes[i] = token_bytes(v->names[i], &v->length[i])))
        return qattn_fail(QATTN_ERR_NOMEM, "vocabulary: out of memory");
    return QATTN_OK;
}

static qattn_status alloc_tokens(qattn_vocabulary *v, int32_t n)
{
    v->n = n;
    v->bytes = calloc((size_t)n, sizeof *v->bytes);
    v->length = calloc((size_t)n, sizeof *v->length);
    v->names = calloc((size_t)n, sizeof *v->names);
    return v->bytes && v->length && v->names ? QATTN_OK
                                              : qattn_fail(QATTN_ERR_NOMEM, "vocabulary: out of memory");
}

static qattn_status parse_json(qattn_vocabulary *v, const char *path, const char *text)
{
    cJSON *root = cJSON_Parse(text);
    qattn_status st = QATTN_OK;
    if (!cJSON_IsArray(root) || cJSON_GetArraySize(root) < 1 || cJSON_GetArraySize(root) > MAX_VOCAB)
        st = qattn_fail(QATTN_ERR_MODEL, "%s: not a JSON array of 1 to %d token strings", path, MAX_VOCAB);
    else
        st = alloc_tokens(v, cJSON_GetArraySize(root));
    int32_t i = 0;
    for (const cJSON *t = root ? root->child : NULL; st == QATTN_OK && t; t = t->next, i++) {
        if (!cJSON_IsString(t))
            st = qattn_fail(QATTN_ERR_MODEL, "%s: entry %d is not a string", path, i);
        else
            st = add_token(v, i, t->valuestring, strlen(t->valuestring));
    }
    cJSON_Delete(root);
    return st;
}

static int is_token_id(const cJSON *id)
{
    return cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble < MAX_VOCAB &&
           id->valuedouble == (double)(int32_t)id->valuedouble;
}

/* Token `name` as id `id` of tokenizer.json; the same id again must name the same token (its
 * added tokens repeat vocabulary entries such as <|endoftext|>). */
static qattn_status put_token(qattn_vocabulary *v, const char *path, const cJSON *id,
                              const char *name)
{
    if (!is_token_id(id) || !name)
        return qattn_fail(QATTN_ERR_MODEL, "%s: a token without a valid id", path);
    const int32_t i = (int32_t)id->valuedouble;
    if (v->names[i])
        return strcmp(v->names[i], name) == 0
                   ? QATTN_OK
                   : qattn_fail(QATTN_ERR_MODEL, "%s: id %d names two tokens", path, i);
    return add_token(v, i, name, strlen(name));
}

/* The largest id of model.vocab and added_tokens; -1 if none. */
static double largest_id(const cJSON *vocab, const cJSON *added)
{
    double top = -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab)
        top = is_token_id(e) && e->valuedouble > top ? e->valuedouble : top;
    cJSON_ArrayForEach(e, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        top = is_token_id(id) && id->valuedouble > top ? id->valuedouble : top;
    }
    return top;
}

/* tokenizer.json's tokens by id: model.vocab, then added_tokens (which repeat some). */
static qattn_status put_tokens(qattn_vocabulary *v, const char *path, const cJSON *vocab,
                               const cJSON *added)
{
    qattn_status st;
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        if ((st = put_token(v, path, e, e->string)) != QATTN_OK)
            return st;
    }
    cJSON_ArrayForEach(e, added) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        if ((st = put_token(v, path, cJSON_GetObjectItemCaseSensitive(e, "id"),
                            cJSON_IsString(content) ? content->valuestring : NULL)) != QATTN_OK)
            return st;
    }
    for (int32_t i = 0; i < v->n; i++)
        if (!v->names[i])
            return qattn_fail(QATTN_ERR_MODEL, "%s: no token has id %d (ids must run 0 to %d)",
                              path, i, v->n - 1);
    return QATTN_OK;
}

/* tokenizer.json (Hugging Face): model.vocab {token: id} and added_tokens [{id, content}],
 * which together must number the tokens 0, 1, ... without a gap. */
static qattn_status parse_tokenizer_json(qattn_vocabulary *v, const char *path, const char *text)
{
    cJSON *root = cJSON_Parse(text);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    qattn_status st;
    double top;
    if (!cJSON_IsObject(vocab) || (added && !cJSON_IsArray(added)))
        st = qattn_fail(QATTN_ERR_MODEL, "%s: no model.vocab object (or added_tokens is not an "
                        "array): not a tokenizer.json", path);
    else if ((top = largest_id(vocab, added)) < 0)
        st = qattn_fail(QATTN_ERR_MODEL, "%s: no tokens", path);
    else if ((st = alloc_tokens(v, (int32_t)top + 1)) == QATTN_OK)
        st = put_tokens(v, path, vocab, added);
    cJSON_Delete(root);
    return st;
}

static qattn_status parse_txt(qattn_vocabulary *v, const char *path, const char *text, size_t size)
{
    /* one token per line; a final newline ends the last line rather than starting a token */
    int32_t lines = 0, crlf = 0;
    for (size_t i = 0; i < size; i++)
        if (text[i] == '\n') {
            lines++;
            crlf += i > 0 && text[i - 1] == '\r';
        }
    if (size > 0 && text[size - 1] != '\n')
        lines++;
    if (lines < 1 || lines > MAX_VOCAB)
        return qattn_fail(QATTN_ERR_MODEL, "%s: %d lines; a vocabulary has 1 to %d", path, lines, MAX_VOCAB);
    const int strip_cr = crlf == lines - (size > 0 && text[size - 1] != '\n'); /* every line */
    qattn_status st = alloc_tokens(v, lines);
    size_t start = 0;
    for (int32_t i = 0; st == QATTN_OK && i < lines; i++) {
        size_t end = start;
        while (end < size && text[end] != '\n')
            end++;
        size_t len = end - start;
        if (strip_cr && len > 0 && text[end - 1] == '\r')
            len--;
        st = add_token(v, i, text + start, len);
        start = end + 1;
    }
    return st;
}

/* The languages of Whisper's vocabularies in token order (openai/whisper tokenizer.py
 * LANGUAGES): 99, and "yue" from large-v3 on. */
static const char *const LANGUAGES[] = {
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv",
    "it", "id", "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no",
    "th", "ur", "hr", "bg", "lt", "la", "mi", "ml", "cy", "sk", "te", "fa", "lv", "bn", "sr",
    "az", "sl", "kn", "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw",
    "gl", "mr", "pa", "si", "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu",
    "am", "yi", "lo", "uz", "fo", "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl",
    "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su", "yue"};
enum { N_LANGUAGES = sizeof LANGUAGES / sizeof *LANGUAGES };

/* A name built with printf's format as token i. */
static qattn_status add_named(qattn_vocabulary *v, int32_t i, const char *format, const char *s,
                              double x)
{
    char name[32];
    int len = s ? snprintf(name, sizeof name, format, s) : snprintf(name, sizeof name, format, x);
    return add_token(v, i, name, (size_t)len);
}

/* The special tokens past a ggml file's text tokens, in the layout whisper.cpp gives them
 * (whisper.cpp's whisper_vocab and loader; openai/whisper tokenizer.py's order): from
 * <|endoftext|> at `eot`, <|startoftranscript|>, a token per language, <|translate|>,
 * <|transcribe|>, <|startoflm|>, <|startofprev|>, <|nocaptions|>, <|notimestamps|>, then the
 * timestamps <|0.00|>, <|0.02|>, ... to the last id. */
static qattn_status ggml_specials(qattn_vocabulary *v, int32_t eot, int32_t n_langs)
{
    static const char *const before[] = {"<|endoftext|>", "<|startoftranscript|>"};
    static const char *const after[] = {"<|translate|>", "<|transcribe|>", "<|startoflm|>",
                                        "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"};
    int32_t i = eot;
    qattn_status st = QATTN_OK;
    for (int k = 0; st == QATTN_OK && k < 2; k++)
        st = add_named(v, i++, "%s", before[k], 0);
    for (int k = 0; st == QATTN_OK && k < n_langs; k++)
        st = add_named(v, i++, "<|%s|>", LANGUAGES[k], 0);
    for (int k = 0; st == QATTN_OK && k < 6; k++)
        st = add_named(v, i++, "%s", after[k], 0);
    for (int k = 0; st == QATTN_OK && i < v->n; k++)
        st = add_named(v, i++, "<|%.2f|>", NULL, k * 0.02);
    return st;
}

qattn_status qattn_vocabulary_from_ggml(const ggml_hparams *hp, const char *path,
                                        qattn_vocabulary **out)
{
    /* whisper.cpp: multilingual from 51865 ids, <|endoftext|> after the text tokens, and
     * n_vocab - 51765 - multilingual languages */
    const int multilingual = hp->n_vocab >= 51865;
    const int32_t eot = 50256 + multilingual;
    const int64_t n_langs = (int64_t)hp->n_vocab - 51765 - multilingual;
    *out = NULL;
    if (hp->n_vocab > MAX_VOCAB || n_langs < 1 || n_langs > N_LANGUAGES || hp->n_tokens < eot ||
        hp->n_tokens > hp->n_vocab)
        return qattn_fail(QATTN_ERR_MODEL, "%s: %d ids with %d text tokens is not a layout of "
                          "Whisper's vocabularies (51864 ids English-only, 51865 or 51866 "
                          "multilingual)", path, hp->n_vocab, hp->n_tokens);
    qattn_vocabulary *v = calloc(1, sizeof *v);
    if (!v)
        return qattn_fail(QATTN_ERR_NOMEM, "vocabulary: out of memory");
    qattn_status st = alloc_tokens(v, hp->n_vocab);
    const uint8_t *p = hp->tokens; /* lengths and bytes already checked by the ggml parser */
    for (int32_t i = 0; st == QATTN_OK && i < eot; i++) {
        const uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24;
        char *name = malloc(2 * (size_t)len + 1);
        size_t k = 0;
        for (uint32_t j = 0; name && j < len; j++)
            k += (size_t)byte_name(p[4 + j], name + k);
        st = name ? add_token(v, i, name, k) : qattn_fail(QATTN_ERR_NOMEM, "vocabulary: out of memory");
        free(name);
        p += 4 + len;
    }
    if (st == QATTN_OK)
        st = ggml_specials(v, eot, (int32_t)n_langs);
    v->eot = eot;
    if (st != QATTN_OK) {
        qattn_vocabulary_free(v);
        return st;
    }
    *out = v;
    return QATTN_OK;
}

static int file_exists(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && S_ISREG(s.st_mode);
}

static qattn_status load_ggml(const char *path, qattn_vocabulary **out)
{
    wt_set set;
    memset(&set, 0, sizeof set);
    ggml_hparams hp;
    memset(&hp, 0, sizeof hp);
    qattn_status st = qattn_ggml_load_file(&set, path, &hp);
    if (st == QATTN_OK)
        st = qattn_vocabulary_from_ggml(&hp, path, out);
    qattn_tensors_free(&set);
    return st;
}

qattn_status qattn_vocabulary_load(const char *path, qattn_vocabulary **out)
{
    qattn_clear_error();
    if (!path || !out)
        return qattn_fail(QATTN_ERR_NULL, "vocabulary_load: %s is NULL", !path ? "path" : "out");
    *out = NULL;
    struct stat info;
    if (stat(path, &info) != 0)
        return qattn_fail_io(path, errno);
    /* formats told apart as the model loaders tell them (formats/model_files.c) */
    if (qattn_model_format_of(path) == QATTN_FORMAT_GGML)
        return load_ggml(path, out);
    char dir[4096];
    qattn_model_dir(path, dir, sizeof dir); /* a model.bin or .safetensors: the files beside it */
    /* CTranslate2's files first (it reads the JSON one first, too), then Hugging Face's */
    static const char *const files[] = {"vocabulary.json", "vocabulary.txt", "tokenizer.json"};
    static const qattn_vocabulary_kind kinds[] = {QATTN_VOCAB_JSON, QATTN_VOCAB_TXT,
                                                  QATTN_VOCAB_TOKENIZER_JSON};
    char file[4200];
    for (int k = 0; k < 3; k++) {
        snprintf(file, sizeof file, "%s/%s", dir, files[k]);
        if (!file_exists(file))
            continue;
        qattn_status st;
        char *text = qattn_read_text_file(file, MAX_VOCAB_FILE, &st);
        if (!text)
            return st;
        st = qattn_vocabulary_parse(text, kinds[k], file, out);
        free(text);
        return st;
    }
    return qattn_fail(QATTN_ERR_IO, "%s: no vocabulary.json, vocabulary.txt or tokenizer.json",
                      dir);
}

qattn_status qattn_vocabulary_pad_timestamps(qattn_vocabulary *v, int32_t n_vocab)
{
    if (v->n >= n_vocab || n_vocab > MAX_VOCAB || strcmp(v->names[v->n - 1], "<|notimestamps|>"))
        return QATTN_OK;
    uint8_t **bytes = realloc(v->bytes, (size_t)n_vocab * sizeof *bytes);
    if (bytes)
        v->bytes = bytes;
    int32_t *length = realloc(v->length, (size_t)n_vocab * sizeof *length);
    if (length)
        v->length = length;
    char **names = realloc(v->names, (size_t)n_vocab * sizeof *names);
    if (names)
        v->names = names;
    if (!bytes || !length || !names)
        return qattn_fail(QATTN_ERR_NOMEM, "vocabulary: out of memory");
    qattn_status st = QATTN_OK;
    for (int32_t k = 0; st == QATTN_OK && v->n < n_vocab; k++) {
        v->bytes[v->n] = NULL, v->names[v->n] = NULL;
        st = add_named(v, v->n++, "<|%.2f|>", NULL, k * 0.02);
    }
    return st;
}

const uint8_t *qattn_vocabulary_bytes(const qattn_vocabulary *v, int32_t id, int32_t *length)
{
    if (!v || id < 0 || id >= v->n)
        return NULL;
    *length = v->length[id];
    return v->bytes[id];
}

qattn_status qattn_vocabulary_parse(const char *text, qattn_vocabulary_kind kind,
                                    const char *path, qattn_vocabulary **out)
{
    qattn_vocabulary *v = calloc(1, sizeof *v);
    if (!v)
        return qattn_fail(QATTN_ERR_NOMEM, "vocabulary: out of memory");
    qattn_status st = kind == QATTN_VOCAB_JSON  ? parse_json(v, path, text)
                      : kind == QATTN_VOCAB_TXT ? parse_txt(v, path, text, strlen(text))
                                                : parse_tokenizer_json(v, path, text);
    if (st == QATTN_OK && (v->eot = qattn_vocabulary_id(v, "<|endoftext|>")) < 0)
        st = qattn_fail(QATTN_ERR_MODEL, "%s: no <|endoftext|> token: not a Whisper vocabulary", path);
    if (st != QATTN_OK) {
        qattn_vocabulary_free(v);
        return st;
    }
    *out = v;
    return QATTN_OK;
}

int32_t qattn_vocabulary_size(const qattn_vocabulary *v)
{
    return v ? v->n : 0;
}

const char *qattn_vocabulary_name(const qattn_vocabulary *v, int32_t id)
{
    return v && id >= 0 && id < v->n ? v->names[id] : NULL;
}

int32_t qattn_vocabulary_id(const qattn_vocabulary *v, const char *token)
{
    for (int32_t i = 0; v && token && i < v->n; i++)
        if (strcmp(v->names[i], token) == 0)
            return i;
    return -1;
}

qattn_status qattn_vocabulary_decode(const qattn_vocabulary *v, const int32_t *ids, int32_t n,
                                     char *text, size_t size, size_t *length)
{
    qattn_clear_error();
    if (!v || (n > 0 && !ids) || !length || (size > 0 && !text))
        return qattn_fail(QATTN_ERR_NULL, "vocabulary_decode: a pointer argument is NULL");
    if (n < 0)
        return qattn_fail(QATTN_ERR_SIZE, "vocabulary_decode: n = %d", n);
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= v->n)
            return qattn_fail(QATTN_ERR_ARG, "vocabulary_decode: id %d is %d, outside [0, %d)", i,
                              ids[i], v->n);
    size_t total = 0;
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < v->eot)
            total += (size_t)v->length[ids[i]];
    uint8_t *raw = malloc(total ? total : 1);
    if (!raw)
        return qattn_fail(QATTN_ERR_NOMEM, "vocabulary_decode: out of memory");
    size_t k = 0;
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < v->eot) {
            memcpy(raw + k, v->bytes[ids[i]], (size_t)v->length[ids[i]]);
            k += (size_t)v->length[ids[i]];
        }
    /* UTF-8 out: well-formed sequences as they are, each maximal invalid subpart as U+FFFD;
     * whole characters only, while they fit (copied == w until one does not) */
    size_t w = 0, copied = 0;
    for (size_t i = 0; i < total;) {
        uint32_t cp;
        int len = utf8_next(raw + i, total - i, &cp);
        const uint8_t *piece = raw + i;
        size_t piece_len = (size_t)len;
        if (!len) {
            static const uint8_t replacement[3] = {0xEF, 0xBF, 0xBD};
            /* the maximal subpart: the longest prefix of a well-formed sequence, at least 1 */
            size_t sub = 1;
            const int want = utf8_length(raw[i]);
            if (want > 1 && i + 1 < total && utf8_second_ok(raw[i], raw[i + 1])) {
                sub = 2;
                while ((int)sub < want && i + sub < total && raw[i + sub] >= 0x80 && raw[i + sub] <= 0xBF)
                    sub++;
            }
            piece = replacement, piece_len = 3;
            len = (int)sub;
        }
        if (copied == w && w + piece_len < size) {
            memcpy(text + w, piece, piece_len);
            copied += piece_len;
        }
        w += piece_len;
        i += (size_t)len;
    }
    free(raw);
    if (size > 0)
        text[copied] = '\0';
    *length = w;
    return QATTN_OK;
}
