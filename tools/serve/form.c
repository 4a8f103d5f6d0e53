/* OpenAI's audio request fields onto a transcription (form.h). The names and meanings are
 * OpenAI's (platform.openai.com/docs/api-reference/audio/createTranscription); qattn's own
 * fields are named as faster-whisper's transcribe arguments. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/form.h"

typedef enum field {
    FIELD_MODEL, FIELD_LANGUAGE, FIELD_PROMPT, FIELD_RESPONSE_FORMAT, FIELD_TEMPERATURE,
    FIELD_GRANULARITIES, FIELD_STREAM, FIELD_BEAM_SIZE, FIELD_BEST_OF, FIELD_VAD_FILTER,
    FIELD_WORD_TIMESTAMPS, FIELD_CONDITION, FIELD_HOTWORDS, FIELD_COUNT
} field;

/* Field names; "translations" takes all but language (OpenAI's translations have none). */
static const char *const NAMES[FIELD_COUNT] = {
    "model", "language", "prompt", "response_format", "temperature",
    "timestamp_granularities[]", "stream", "beam_size", "best_of", "vad_filter",
    "word_timestamps", "condition_on_previous_text", "hotwords",
};

static const char *const FORMATS[] = {"json", "text", "srt", "vtt", "verbose_json"};

void form_init(serve_request *r, qattn_task task)
{
    memset(r, 0, sizeof *r);
    r->params = qattn_transcribe_default_params();
    r->params.task = task;
    r->format = RESPONSE_JSON;
}

void form_free(serve_request *r)
{
    free(r->prompt), free(r->hotwords);
    r->prompt = r->hotwords = NULL;
}

static int fail(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return 0;
}

/* value (len bytes) as text: no NUL inside, at most max bytes; copied into out (max + 1). */
static int text_of(const char *value, size_t len, size_t max, char *out)
{
    if (len > max || memchr(value, '\0', len))
        return 0;
    memcpy(out, value, len);
    out[len] = '\0';
    return 1;
}

static int is(const char *value, size_t len, const char *word)
{
    return strlen(word) == len && !memcmp(value, word, len);
}

/* "true"/"false" (and 1/0, as form encoders write booleans). */
static int boolean_of(const char *value, size_t len, int *out)
{
    if (is(value, len, "true") || is(value, len, "1") || is(value, len, "True"))
        return *out = 1, 1;
    if (is(value, len, "false") || is(value, len, "0") || is(value, len, "False"))
        return *out = 0, 1;
    return 0;
}

static int number_of(const char *value, size_t len, double lo, double hi, double *out)
{
    char text[64], *end;
    if (!text_of(value, len, sizeof text - 1, text) || len == 0)
        return 0;
    errno = 0;
    const double v = strtod(text, &end);
    if (errno || *end || !(v >= lo && v <= hi))
        return 0;
    *out = v;
    return 1;
}

/* OpenAI's fields for its newer models that do not change what Whisper gives: taken and
 * ignored, so that a client written for those models still gets its transcript
 * (chunking_strategy, also as chunking_strategy[type] and its other keys; include[]:
 * logprobs are not given). */
static int ignored(const char *name)
{
    return !strcmp(name, "chunking_strategy") || !strncmp(name, "chunking_strategy[", 18) ||
           !strcmp(name, "include[]");
}

/* A whole number in [lo, hi] ("3"; "3.0" too, as some form encoders write numbers). */
static int integer_of(const char *value, size_t len, int32_t lo, int32_t hi, int32_t *out)
{
    double v;
    if (!number_of(value, len, lo, hi, &v) || v != (double)(int32_t)v)
        return 0;
    *out = (int32_t)v;
    return 1;
}

int form_set(serve_request *r, const char *name, const char *value, size_t len, char *err,
             size_t err_size)
{
    if (ignored(name))
        return 1;
    int f = 0;
    while (f < FIELD_COUNT && strcmp(name, NAMES[f]))
        f++;
    if (f == FIELD_COUNT || (f == FIELD_LANGUAGE && r->params.task == QATTN_TASK_TRANSLATE))
        return fail(err, err_size, "unknown field '%.64s'", name);
    if (f != FIELD_GRANULARITIES && (r->seen & (1u << f)))
        return fail(err, err_size, "'%s' is given more than once", name);
    r->seen |= 1u << f;
    double x;
    int b;
    switch ((field)f) {
    case FIELD_MODEL: /* any name: the server has one model (GET /v1/models) */
        if (!text_of(value, len, sizeof r->model - 1, r->model))
            return fail(err, err_size, "'model' must be text of at most %zu bytes", sizeof r->model - 1);
        return 1;
    case FIELD_LANGUAGE: /* checked against the model when the session is made */
        if (!text_of(value, len, sizeof r->language - 1, r->language))
            return fail(err, err_size, "'language' must be a language code such as 'en'");
        r->params.language = r->language[0] ? r->language : NULL;
        return 1;
    case FIELD_PROMPT:
    case FIELD_HOTWORDS: {
        char **to = f == FIELD_PROMPT ? &r->prompt : &r->hotwords;
        if (!(*to = malloc(len + 1)) || !text_of(value, len, FORM_MAX_TEXT, *to)) {
            free(*to), *to = NULL;
            return fail(err, err_size, "'%s' must be text of at most %d bytes", name, FORM_MAX_TEXT);
        }
        if (f == FIELD_PROMPT)
            r->params.initial_prompt = r->prompt;
        else
            r->params.hotwords = r->hotwords;
        return 1;
    }
    case FIELD_RESPONSE_FORMAT:
        for (int k = 0; k < (int)(sizeof FORMATS / sizeof *FORMATS); k++)
            if (is(value, len, FORMATS[k]))
                return r->format = (response_format)k, 1;
        return fail(err, err_size, "'response_format' must be one of json, text, srt, vtt, "
                    "verbose_json, not '%.*s'", (int)(len < 32 ? len : 32), value);
    case FIELD_TEMPERATURE: /* 0: the fallback from 0 (OpenAI: "increase the temperature
                             * until certain thresholds are hit"); above: that one alone */
        if (!number_of(value, len, 0, 1, &x))
            return fail(err, err_size, "'temperature' must be a number in [0, 1]");
        r->params.temperature = (float)x;
        if (x > 0)
            r->params.temperature_increment = 0;
        return 1;
    case FIELD_GRANULARITIES:
        r->granularities_given = 1;
        if (is(value, len, "segment"))
            return r->segments = 1, 1;
        if (is(value, len, "word"))
            return r->words = 1, r->params.word_timestamps = 1, 1;
        return fail(err, err_size, "'timestamp_granularities[]' must be 'segment' or 'word'");
    case FIELD_STREAM:
        if (!boolean_of(value, len, &r->stream))
            return fail(err, err_size, "'stream' must be true or false");
        return 1;
    case FIELD_BEAM_SIZE:
    case FIELD_BEST_OF:
        if (!integer_of(value, len, 1, 32, f == FIELD_BEAM_SIZE ? &r->params.beam_size : &r->params.best_of))
            return fail(err, err_size, "'%s' must be an integer in [1, 32]", name);
        return 1;
    case FIELD_VAD_FILTER:
    case FIELD_WORD_TIMESTAMPS:
    case FIELD_CONDITION:
        if (!boolean_of(value, len, &b))
            return fail(err, err_size, "'%s' must be true or false", name);
        if (f == FIELD_VAD_FILTER)
            r->params.vad_filter = b;
        else if (f == FIELD_WORD_TIMESTAMPS)
            r->params.word_timestamps = b || r->words;
        else
            r->params.condition_on_previous_text = b;
        return 1;
    case FIELD_COUNT:
        break;
    }
    return fail(err, err_size, "unknown field '%.64s'", name);
}

int form_finish(serve_request *r, char *err, size_t err_size)
{
    if (r->granularities_given && r->format != RESPONSE_VERBOSE_JSON)
        return fail(err, err_size, "'timestamp_granularities[]' needs response_format verbose_json");
    if (!r->granularities_given)
        r->segments = 1;
    if (r->stream && r->format != RESPONSE_JSON && r->format != RESPONSE_TEXT)
        return fail(err, err_size, "'stream' needs response_format json or text");
    return 1;
}

const char *form_format_name(response_format f)
{
    return (unsigned)f < sizeof FORMATS / sizeof *FORMATS ? FORMATS[f] : "json";
}

const char *form_content_type(response_format f)
{
    switch (f) {
    case RESPONSE_TEXT: return "text/plain; charset=utf-8";
    case RESPONSE_SRT: return "application/x-subrip; charset=utf-8";
    case RESPONSE_VTT: return "text/vtt; charset=utf-8";
    default: return "application/json";
    }
}
