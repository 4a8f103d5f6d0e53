/* OpenAI's response shapes (respond.h): platform.openai.com/docs/api-reference/audio, the
 * json, verbose_json (task, language, duration, text, segments, words) and streaming objects;
 * srt and vtt as the CLI's writers (openai-whisper's). */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/respond.h"
#include "transcribe/writers.h"

/* openai-whisper's tokenizer.py LANGUAGES, in its order: code, name. */
static const char *const LANGUAGES[][2] = {
    {"en", "english"}, {"zh", "chinese"}, {"de", "german"}, {"es", "spanish"}, {"ru", "russian"},
    {"ko", "korean"}, {"fr", "french"}, {"ja", "japanese"}, {"pt", "portuguese"}, {"tr", "turkish"},
    {"pl", "polish"}, {"ca", "catalan"}, {"nl", "dutch"}, {"ar", "arabic"}, {"sv", "swedish"},
    {"it", "italian"}, {"id", "indonesian"}, {"hi", "hindi"}, {"fi", "finnish"}, {"vi", "vietnamese"},
    {"he", "hebrew"}, {"uk", "ukrainian"}, {"el", "greek"}, {"ms", "malay"}, {"cs", "czech"},
    {"ro", "romanian"}, {"da", "danish"}, {"hu", "hungarian"}, {"ta", "tamil"}, {"no", "norwegian"},
    {"th", "thai"}, {"ur", "urdu"}, {"hr", "croatian"}, {"bg", "bulgarian"}, {"lt", "lithuanian"},
    {"la", "latin"}, {"mi", "maori"}, {"ml", "malayalam"}, {"cy", "welsh"}, {"sk", "slovak"},
    {"te", "telugu"}, {"fa", "persian"}, {"lv", "latvian"}, {"bn", "bengali"}, {"sr", "serbian"},
    {"az", "azerbaijani"}, {"sl", "slovenian"}, {"kn", "kannada"}, {"et", "estonian"},
    {"mk", "macedonian"}, {"br", "breton"}, {"eu", "basque"}, {"is", "icelandic"},
    {"hy", "armenian"}, {"ne", "nepali"}, {"mn", "mongolian"}, {"bs", "bosnian"}, {"kk", "kazakh"},
    {"sq", "albanian"}, {"sw", "swahili"}, {"gl", "galician"}, {"mr", "marathi"}, {"pa", "punjabi"},
    {"si", "sinhala"}, {"km", "khmer"}, {"sn", "shona"}, {"yo", "yoruba"}, {"so", "somali"},
    {"af", "afrikaans"}, {"oc", "occitan"}, {"ka", "georgian"}, {"be", "belarusian"}, {"tg", "tajik"},
    {"sd", "sindhi"}, {"gu", "gujarati"}, {"am", "amharic"}, {"yi", "yiddish"}, {"lo", "lao"},
    {"uz", "uzbek"}, {"fo", "faroese"}, {"ht", "haitian creole"}, {"ps", "pashto"},
    {"tk", "turkmen"}, {"nn", "nynorsk"}, {"mt", "maltese"}, {"sa", "sanskrit"},
    {"lb", "luxembourgish"}, {"my", "myanmar"}, {"bo", "tibetan"}, {"tl", "tagalog"},
    {"mg", "malagasy"}, {"as", "assamese"}, {"tt", "tatar"}, {"haw", "hawaiian"}, {"ln", "lingala"},
    {"ha", "hausa"}, {"ba", "bashkir"}, {"jw", "javanese"}, {"su", "sundanese"}, {"yue", "cantonese"},
};

const char *respond_language_name(const char *code)
{
    for (size_t i = 0; i < sizeof LANGUAGES / sizeof *LANGUAGES; i++)
        if (!strcmp(code, LANGUAGES[i][0]))
            return LANGUAGES[i][1];
    return code;
}

static char *printed(cJSON *root, size_t *len)
{
    char *out = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (out)
        *len = strlen(out);
    return out;
}

char *respond_trimmed(const char *text)
{
    size_t from = 0, n = strlen(text);
    while (from < n && (text[from] == ' ' || text[from] == '\n' || text[from] == '\t'))
        from++;
    while (n > from && (text[n - 1] == ' ' || text[n - 1] == '\n' || text[n - 1] == '\t'))
        n--;
    char *out = malloc(n - from + 1);
    if (out) {
        memcpy(out, text + from, n - from);
        out[n - from] = '\0';
    }
    return out;
}

char *respond_text(const qattn_transcript *t)
{
    qattn_transcript_info info = {.struct_size = sizeof info};
    qattn_transcript_get_info(t, &info);
    size_t total = 1;
    for (int32_t i = 0; i < info.n_segments; i++)
        total += strlen(qattn_transcript_segment(t, i)->text);
    char *joined = malloc(total), *at = joined;
    if (!joined)
        return NULL;
    for (int32_t i = 0; i < info.n_segments; i++) {
        const char *s = qattn_transcript_segment(t, i)->text;
        const size_t n = strlen(s);
        memcpy(at, s, n);
        at += n;
    }
    *at = '\0';
    char *text = respond_trimmed(joined);
    free(joined);
    return text;
}

static char *verbose_json(const qattn_transcript *t, const serve_request *r, const char *text,
                          size_t *len)
{
    qattn_transcript_info info = {.struct_size = sizeof info};
    qattn_transcript_get_info(t, &info);
    cJSON *root = cJSON_CreateObject();
    cJSON *segments = r->segments ? cJSON_CreateArray() : NULL, *words = r->words ? cJSON_CreateArray() : NULL;
    if (!root || (r->segments && !segments) || (r->words && !words)) {
        cJSON_Delete(root), cJSON_Delete(segments), cJSON_Delete(words);
        return NULL;
    }
    cJSON_AddStringToObject(root, "task", r->params.task == QATTN_TASK_TRANSLATE ? "translate" : "transcribe");
    cJSON_AddStringToObject(root, "language", respond_language_name(info.language));
    cJSON_AddNumberToObject(root, "duration", info.duration);
    cJSON_AddStringToObject(root, "text", text);
    for (int32_t i = 0; i < info.n_segments; i++) {
        const qattn_segment *s = qattn_transcript_segment(t, i);
        if (segments)
            cJSON_AddItemToArray(segments, segment_json(s, s->end));
        for (int32_t k = 0; words && k < s->n_words; k++) {
            cJSON *w = cJSON_CreateObject();
            cJSON_AddItemToArray(words, w);
            cJSON_AddStringToObject(w, "word", s->words[k].word);
            cJSON_AddNumberToObject(w, "start", s->words[k].start);
            cJSON_AddNumberToObject(w, "end", s->words[k].end);
        }
    }
    if (segments)
        cJSON_AddItemToObject(root, "segments", segments);
    if (words)
        cJSON_AddItemToObject(root, "words", words);
    return printed(root, len);
}

/* srt or vtt through the CLI's writers, into memory. */
static char *subtitles(const qattn_transcript *t, const serve_request *r, size_t *len)
{
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    if (!f)
        return NULL;
    const transcript_options o = {r->params.word_timestamps, {0, 0, 0, 0}};
    const int ok = write_transcript_to(f, t, r->format == RESPONSE_SRT ? FORMAT_SRT : FORMAT_VTT, &o);
    if (fclose(f) != 0 || !ok) {
        free(out);
        return NULL;
    }
    *len = size;
    return out;
}

char *respond_transcript(const qattn_transcript *t, const serve_request *r, size_t *len)
{
    if (r->format == RESPONSE_SRT || r->format == RESPONSE_VTT)
        return subtitles(t, r, len);
    char *text = respond_text(t), *out = NULL;
    if (!text)
        return NULL;
    if (r->format == RESPONSE_VERBOSE_JSON) {
        out = verbose_json(t, r, text, len);
    } else if (r->format == RESPONSE_TEXT) {
        const size_t n = strlen(text);
        if ((out = malloc(n + 2))) {
            memcpy(out, text, n);
            memcpy(out + n, "\n", 2);
            *len = n + 1;
        }
    } else {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "text", text);
        out = printed(root, len);
    }
    free(text);
    return out;
}

static cJSON *error_object(const char *message, const char *type, const char *param,
                           const char *code)
{
    cJSON *root = cJSON_CreateObject(), *e = cJSON_CreateObject();
    if (!root || !e) {
        cJSON_Delete(root), cJSON_Delete(e);
        return NULL;
    }
    cJSON_AddItemToObject(root, "error", e);
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddStringToObject(e, "type", type);
    if (param)
        cJSON_AddStringToObject(e, "param", param);
    else
        cJSON_AddNullToObject(e, "param");
    if (code)
        cJSON_AddStringToObject(e, "code", code);
    else
        cJSON_AddNullToObject(e, "code");
    return root;
}

char *respond_error(const char *message, const char *type, const char *param, const char *code,
                    size_t *len)
{
    return printed(error_object(message, type, param, code), len);
}

/* "data: " + the object + "\n\n" (root freed). */
static char *data_line(cJSON *root, size_t *len)
{
    size_t n = 0;
    char *json = printed(root, &n), *out = json ? malloc(n + 9) : NULL;
    if (out) {
        memcpy(out, "data: ", 6);
        memcpy(out + 6, json, n);
        memcpy(out + 6 + n, "\n\n", 3);
        *len = n + 8;
    }
    cJSON_free(json);
    return out;
}

static char *event(const char *type, const char *key, const char *text, size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "type", type);
    cJSON_AddStringToObject(root, key, text);
    return data_line(root, len);
}

char *respond_error_event(const char *message, const char *code, size_t *len)
{
    return data_line(error_object(message, "server_error", NULL, code), len);
}

char *respond_delta_event(const char *text, size_t *len)
{
    return event("transcript.text.delta", "delta", text, len);
}

char *respond_done_event(const char *text, size_t *len)
{
    return event("transcript.text.done", "text", text, len);
}

char *respond_models(const char *name, size_t *len)
{
    cJSON *root = cJSON_CreateObject(), *data = cJSON_CreateArray(), *m = cJSON_CreateObject();
    if (!root || !data || !m) {
        cJSON_Delete(root), cJSON_Delete(data), cJSON_Delete(m);
        return NULL;
    }
    cJSON_AddStringToObject(root, "object", "list");
    cJSON_AddItemToObject(root, "data", data);
    cJSON_AddItemToArray(data, m);
    cJSON_AddStringToObject(m, "id", name);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", 0);
    cJSON_AddStringToObject(m, "owned_by", "qattn");
    return printed(root, len);
}
