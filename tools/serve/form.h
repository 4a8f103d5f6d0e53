/* The fields of an OpenAI audio request (multipart/form-data of POST
 * /v1/audio/transcriptions and /translations; docs/serve.md) mapped onto a transcription's
 * params and the response asked for. Pure: no I/O, every value checked (fuzz/fuzz_form.c). */
#ifndef QATTN_TOOLS_SERVE_FORM_H
#define QATTN_TOOLS_SERVE_FORM_H

#include <stddef.h>

#include "qattn.h"

typedef enum response_format {
    RESPONSE_JSON, RESPONSE_TEXT, RESPONSE_SRT, RESPONSE_VTT, RESPONSE_VERBOSE_JSON
} response_format;

#define FORM_MAX_TEXT 16384 /* prompt and hotwords, bytes */

typedef struct serve_request {
    qattn_transcribe_params params;  /* language, initial_prompt, hotwords point below */
    response_format format;
    int stream;                      /* server-sent events */
    int segments, words;             /* timestamp_granularities[] (verbose_json) */
    int granularities_given;
    char model[256];
    char language[16];
    char *prompt, *hotwords;         /* owned */
    unsigned seen;                   /* fields given, one bit each: each at most once */
} serve_request;

/* The defaults: faster-whisper's params (temperature 0 with fallback, as OpenAI documents
 * for 0), json, task from the endpoint (QATTN_TASK_TRANSCRIBE or _TRANSLATE). */
void form_init(serve_request *r, qattn_task task);

/* One field: name and its value (len bytes, not NUL-terminated, maybe not text). 0 with a
 * message in err (and the field's name in param) when the field is unknown, repeated, or its
 * value wrong. */
int form_set(serve_request *r, const char *name, const char *value, size_t len, char *err,
             size_t err_size);

/* The checks over all fields (granularities need verbose_json; stream needs json or text);
 * 0 with a message as form_set. */
int form_finish(serve_request *r, char *err, size_t err_size);

void form_free(serve_request *r);

/* The response format's name and HTTP content type. */
const char *form_format_name(response_format f);
const char *form_content_type(response_format f);

#endif
