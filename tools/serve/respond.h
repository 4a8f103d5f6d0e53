/* Response bodies of the OpenAI audio API (docs/serve.md): a transcript as json, text, srt,
 * vtt or verbose_json; the server-sent events of a stream; OpenAI's error object. Each
 * returns a malloc'd body and its length, NULL when memory is short. */
#ifndef QATTN_TOOLS_SERVE_RESPOND_H
#define QATTN_TOOLS_SERVE_RESPOND_H

#include <stddef.h>

#include "qattn.h"
#include "serve/form.h"

char *respond_transcript(const qattn_transcript *t, const serve_request *r, size_t *len);

/* {"error": {"message", "type", "param", "code"}}; param and code may be NULL (null). */
char *respond_error(const char *message, const char *type, const char *param, const char *code,
                    size_t *len);

/* "data: {"type": "transcript.text.delta", "delta": text}\n\n", and the done event with the
 * whole text. */
char *respond_delta_event(const char *text, size_t *len);
char *respond_done_event(const char *text, size_t *len);
/* "data: {"error": {"message", "type": "server_error", "param": null, "code"}}\n\n": a
 * stream that fails after its 200 (the openai SDK raises it as an APIError). */
char *respond_error_event(const char *message, const char *code, size_t *len);

/* text without the blanks around it (malloc'd). */
char *respond_trimmed(const char *text);

/* The text of a transcript as OpenAI gives it: its segments' text joined, without the blanks
 * around it (malloc'd). */
char *respond_text(const qattn_transcript *t);

/* GET /v1/models: {"object": "list", "data": [{"id": name, "object": "model", ...}]}. */
char *respond_models(const char *name, size_t *len);

/* Whisper's name of a language code ("en" -> "english"), the code itself when unknown. */
const char *respond_language_name(const char *code);

#endif
