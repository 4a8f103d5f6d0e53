/* The HTTP side of `qattn serve` (docs/serve.md): libmicrohttpd, one thread per connection;
 * OpenAI's audio routes over one loaded model, each request in its own session, at most
 * `workers` transcribing at once and `queue` more admitted (503 beyond), uploads bounded
 * (413), an optional bearer key (401), the transcription cancelled when its client hangs up
 * or the timeout passes, one log line per request on stderr. */
#ifndef QATTN_TOOLS_SERVE_SERVER_H
#define QATTN_TOOLS_SERVE_SERVER_H

#include <stddef.h>

#include "qattn.h"

typedef struct server_config {
    const char *host;           /* a name or address to listen on */
    int port;                   /* 0: any free port (server_port tells) */
    int workers, queue;         /* transcribing at once; admitted beyond those */
    size_t max_upload_bytes;    /* of a request's body */
    double max_audio_s;         /* the longest audio a request may hold (decoded no further) */
    double timeout_s;           /* from a request's arrival to its answer */
    const char *api_key;        /* NULL: no key asked */
    const char *model_name;     /* the name GET /v1/models lists */
    const qattn_vad *vad;       /* the VAD of vad_filter requests */
} server_config;

typedef struct server server;

/* Listens and answers (threads of its own); 0 with a message in err when it cannot. */
int server_start(const qattn_whisper *whisper, const server_config *config, server **out,
                 char *err, size_t err_size);
int server_port(const server *s);
/* Refuses new requests (503) and waits until every admitted one is answered. */
void server_drain(server *s);
void server_stop(server *s);

#endif
