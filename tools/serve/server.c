/*
 * `qattn serve`'s HTTP side (server.h) on libmicrohttpd: its post processor parses the
 * multipart/form-data uploads, its thread per connection runs the transcription, so a slow
 * transcription never holds up another connection's answer (a 503 or a health check).
 *
 * A request's life: the first call of the access handler (headers only) routes it and
 * answers at once what needs no body: 404/405, 401 (bearer key, compared in constant time),
 * 413 (a Content-Length over the limit, before a client that sent `Expect: 100-continue`
 * sends its body), 503 (draining, or `workers + queue` requests already admitted); the next
 * calls feed the body to the post processor (the file kept in memory up to the limit, the
 * other fields mapped by form.c); the last call decodes the audio, waits for one of the
 * `workers` slots and transcribes in a session, which a watcher thread cancels when the
 * client hangs up (its socket reads as closed) or the timeout passes. Streams
 * (stream=true) send server-sent events as the session gives segments.
 */
#define _GNU_SOURCE /* POLLRDHUP: the peer closed its end */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h> /* malloc_trim: glibc's */
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve/form.h"
#include "serve/respond.h"
#include "serve/server.h"

#define POST_BUFFER 65536
#define MAX_FIELD_NAME 64
#define RETRY_AFTER_S "1"
#define DRAIN_SLACK (1u << 20) /* bytes read past the upload limit before the 413 */
#define IDLE_TIMEOUT_S ((unsigned)60) /* a connection that sends nothing is closed */

struct server {
    struct MHD_Daemon *daemon;
    const qattn_whisper *whisper;
    server_config config;
    char *api_key, *model_name;  /* the config's strings the requests read, copied */
    atomic_int admitted, draining;
    sem_t slots;                         /* workers free to transcribe */
    int port;
    MHD_socket listening;                /* after server_drain: to close once stopped */
};

typedef enum route { ROUTE_NONE, ROUTE_TRANSCRIBE, ROUTE_TRANSLATE } route;

typedef enum ending { ENDED_OK, ENDED_HUNG_UP, ENDED_TIMEOUT } ending;

/* One request, from its headers to its log line. */
typedef struct request {
    server *srv;
    struct MHD_Connection *connection;
    double arrived, deadline;            /* seconds, CLOCK_MONOTONIC */
    char method[16], path[96];
    route route;
    int admitted, has_slot, status;
    struct MHD_PostProcessor *post;
    size_t body_bytes;
    serve_request form;
    char *file;                          /* the upload's bytes */
    size_t file_len, file_cap;
    char field[MAX_FIELD_NAME + 1];      /* the field being received, and its value so far */
    char *value;
    size_t value_len;
    int error_status;                    /* a 4xx found while receiving, answered at the end */
    char error[512], error_param[MAX_FIELD_NAME + 1];
    double audio_seconds;
    qattn_session *session;              /* while transcribing or streaming */
    _Atomic(qattn_session *) live;       /* the session the watcher may cancel */
    pthread_t watcher;
    int watching, wake[2];               /* a byte on wake stops the watcher */
    atomic_int ended;                    /* why the request ended early (ENDED_OK: it did not) */
    char *text;                          /* a stream's text so far */
    size_t text_len;
    char *pending;                       /* a stream's event not yet all sent */
    size_t pending_len, pending_at;
    int stream_over;
} request;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ answers */

static enum MHD_Result send_body(request *r, int status, const char *type, char *body, size_t len,
                                 int retry_after)
{
    r->status = status;
    if (!body)
        return MHD_NO; /* out of memory: the connection is closed */
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (retry_after)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_S);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                r->route != ROUTE_NONE ? "POST" : "GET, HEAD");
    /* the openai SDK retries every 5xx unless told: a timeout or a failure would only repeat */
    if (status == MHD_HTTP_GATEWAY_TIMEOUT || status == MHD_HTTP_INTERNAL_SERVER_ERROR)
        MHD_add_response_header(resp, "x-should-retry", "false");
    const enum MHD_Result ok = MHD_queue_response(r->connection, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* OpenAI's error object with the status: invalid_request_error for the 4xx, server_error
 * for the 5xx. */
static enum MHD_Result send_error(request *r, int status, const char *param, const char *code,
                                  const char *fmt, ...)
{
    char message[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    size_t len = 0;
    char *body = respond_error(message, status >= 500 ? "server_error" : "invalid_request_error",
                               param, code, &len);
    return send_body(r, status, "application/json", body, len,
                     status == MHD_HTTP_SERVICE_UNAVAILABLE);
}

static enum MHD_Result send_json_text(request *r, int status, const char *json)
{
    const size_t n = strlen(json);
    char *body = malloc(n + 1);
    if (body)
        memcpy(body, json, n + 1);
    return send_body(r, status, "application/json", body, n, 0);
}

/* ------------------------------------------------------------------ uploads */

/* Bearer key in the Authorization header, compared in constant time over the key's length. */
static int authorized(const server *srv, struct MHD_Connection *c)
{
    if (!srv->api_key)
        return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) /* the scheme's name is case-insensitive */
        return 0;
    const char *given = h + 7, *key = srv->api_key;
    const size_t n = strlen(key), m = strlen(given);
    unsigned char diff = (unsigned char)(n != m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(key[i] ^ (i < m ? given[i] : 0));
    return diff == 0;
}

static void set_error(request *r, int status, const char *param, const char *fmt, ...)
{
    if (r->error_status)
        return; /* the first one is answered */
    r->error_status = status;
    snprintf(r->error_param, sizeof r->error_param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
}

/* The field received so far, to form.c. */
static void end_field(request *r)
{
    if (!r->field[0])
        return;
    char err[256];
    if (!form_set(&r->form, r->field, r->value ? r->value : "", r->value_len, err, sizeof err))
        set_error(r, MHD_HTTP_BAD_REQUEST, r->field, "%s", err);
    free(r->value);
    r->value = NULL, r->value_len = 0, r->field[0] = '\0';
}

static int append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (n == 0)
        return 1; /* data may be NULL then */
    if (*len + n > *cap) {
        size_t grown = *cap ? *cap : 65536;
        while (grown < *len + n)
            grown *= 2;
        char *p = realloc(*buf, grown);
        if (!p)
            return 0;
        *buf = p, *cap = grown;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    return 1;
}

static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *filename, const char *content_type,
                                const char *transfer_encoding, const char *data, uint64_t off,
                                size_t size)
{
    request *r = cls;
    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding;
    if (r->error_status)
        return MHD_YES; /* the rest is read and dropped */
    if (!key || !key[0]) { /* a part without name="..." */
        set_error(r, MHD_HTTP_BAD_REQUEST, NULL, "a part of the form has no name");
        return MHD_YES;
    }
    /* libmicrohttpd may give a value's start more than once with nothing in it (off 0, size
     * 0): a value starts again only at offset 0 after some of it came */
    if (!strcmp(key, "file")) {
        if (off == 0 && r->file_len > 0) {
            set_error(r, MHD_HTTP_BAD_REQUEST, "file", "more than one 'file' field");
            return MHD_YES;
        }
        if (r->file_len + size > r->srv->config.max_upload_bytes) {
            set_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "file", "the file is larger than the "
                      "server's limit of %zu bytes", r->srv->config.max_upload_bytes);
            return MHD_YES;
        }
        if (!append(&r->file, &r->file_len, &r->file_cap, data, size))
            set_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "file", "out of memory for the upload");
        return MHD_YES;
    }
    if (strcmp(key, r->field) || (off == 0 && r->value_len > 0)) {
        end_field(r);
        if (strlen(key) > MAX_FIELD_NAME) {
            set_error(r, MHD_HTTP_BAD_REQUEST, NULL, "unknown field '%.64s...'", key);
            return MHD_YES;
        }
        snprintf(r->field, sizeof r->field, "%s", key);
    }
    if (r->value_len + size > FORM_MAX_TEXT + 1) { /* form.c refuses it: keep no more */
        set_error(r, MHD_HTTP_BAD_REQUEST, r->field, "'%s' is longer than %d bytes", r->field,
                  FORM_MAX_TEXT);
        return MHD_YES;
    }
    size_t cap = r->value_len; /* grown on each piece: fields are small */
    if (!append(&r->value, &r->value_len, &cap, data, size))
        set_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "out of memory");
    return MHD_YES;
}

/* ------------------------------------------------------------------ transcription */

/* Until stop_watching: marks the request ended (and cancels its session, once there is one)
 * when the client's socket reads as closed or the deadline passes. */
static void *watch(void *arg)
{
    request *r = arg;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(r->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    const int fd = info ? info->connect_fd : -1;
    for (;;) {
        struct pollfd p[2] = {{r->wake[0], POLLIN, 0}, {fd, POLLRDHUP, 0}};
        const double left = r->deadline - now();
        const int ms = left <= 0 ? 0 : left >= 1 ? 1000 : (int)(left * 1000) + 1;
        const int n = poll(p, fd >= 0 ? 2 : 1, ms);
        if (n > 0 && p[0].revents)
            return NULL; /* stop_watching */
        ending why = ENDED_OK;
        if (n > 0 && (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
            why = ENDED_HUNG_UP;
        else if (now() > r->deadline)
            why = ENDED_TIMEOUT;
        if (why != ENDED_OK) {
            /* ended first, the session after: begin_session publishes the session, then
             * reads ended, so one of the two cancels it */
            atomic_store(&r->ended, why);
            qattn_session *s = atomic_load(&r->live);
            if (s)
                qattn_session_cancel(s);
            return NULL;
        }
    }
}

static int start_watching(request *r)
{
    if (pipe(r->wake) != 0)
        return 0;
    if (pthread_create(&r->watcher, NULL, watch, r) != 0) {
        close(r->wake[0]), close(r->wake[1]);
        return 0;
    }
    return r->watching = 1;
}

static void stop_watching(request *r)
{
    if (!r->watching)
        return;
    const char stop = 1;
    while (write(r->wake[1], &stop, 1) < 0 && errno == EINTR)
        ;
    pthread_join(r->watcher, NULL);
    close(r->wake[0]), close(r->wake[1]);
    r->watching = 0;
}

static void release_slot(request *r)
{
    if (r->has_slot)
        sem_post(&r->srv->slots);
    r->has_slot = 0;
}

/* A slot among the workers, waited for in slices of 100 ms; 0 when the request ended first
 * (the client left, or the deadline passed). */
static int take_slot(request *r)
{
    while (atomic_load(&r->ended) == ENDED_OK) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until); /* sem_timedwait's clock */
        until.tv_nsec += 100000000L;
        if (until.tv_nsec >= 1000000000L)
            until.tv_sec++, until.tv_nsec -= 1000000000L;
        if (sem_timedwait(&r->srv->slots, &until) == 0)
            return r->has_slot = 1;
        if (errno != ETIMEDOUT && errno != EINTR)
            return 0;
    }
    return 0;
}

/* The answer to a request that ended before its answer (the client left: none; the deadline:
 * 504, or 503 while still waiting for a worker). */
static enum MHD_Result ended_early(request *r, int waiting)
{
    if (atomic_load(&r->ended) == ENDED_HUNG_UP)
        return MHD_NO; /* nobody to answer: the connection is closed */
    if (waiting)
        return send_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "timeout",
                          "no worker was free before the server's timeout of %g s",
                          r->srv->config.timeout_s);
    return send_error(r, MHD_HTTP_GATEWAY_TIMEOUT, NULL, "timeout", "the transcription took "
                      "longer than the server's timeout of %g s", r->srv->config.timeout_s);
}

/* With a worker's slot: the upload decoded (at most workers decodes at once, each at most
 * --max-audio-s long), a session fed with it and finished, published to the watcher. An
 * answer queued (and 0) when it cannot be; the slot is then given back. */
static int begin_session(request *r, enum MHD_Result *answer)
{
    if (!take_slot(r)) {
        *answer = ended_early(r, 1);
        return 0;
    }
    float *samples = NULL;
    size_t n = 0;
    qattn_status st = qattn_audio_load_memory(r->file, r->file_len, r->srv->config.max_audio_s,
                                              &samples, &n);
    free(r->file), r->file = NULL, r->file_len = r->file_cap = 0;
    if (st != QATTN_OK) {
        release_slot(r);
        *answer = st == QATTN_ERR_SIZE
                      ? send_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "file", "audio_too_long", "%s",
                                   qattn_last_error())
                  : st == QATTN_ERR_NOMEM
                      ? send_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "file", NULL, "out of memory "
                                   "for the audio")
                      : send_error(r, MHD_HTTP_BAD_REQUEST, "file", "invalid_file", "the file "
                                   "could not be read as audio: %s", qattn_last_error());
        return 0;
    }
    r->audio_seconds = (double)n / QATTN_SAMPLE_RATE;
    st = atomic_load(&r->ended) == ENDED_OK
             ? qattn_session_create(r->srv->whisper, &r->form.params, &r->session)
             : QATTN_CANCELLED;
    if (st == QATTN_OK && (st = qattn_session_feed(r->session, samples, n)) == QATTN_OK)
        st = qattn_session_finish(r->session);
    qattn_audio_free(samples);
    if (st == QATTN_OK) {
        atomic_store(&r->live, r->session);
        if (atomic_load(&r->ended) != ENDED_OK) /* the watcher may have looked before */
            qattn_session_cancel(r->session);
        return 1;
    }
    release_slot(r);
    *answer = st == QATTN_CANCELLED ? ended_early(r, 0)
              : send_error(r, st == QATTN_ERR_ARG ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR,
                           NULL, NULL, "%s", qattn_last_error());
    return 0;
}

static enum MHD_Result transcribe(request *r)
{
    enum MHD_Result answer = MHD_NO;
    if (!begin_session(r, &answer))
        return answer;
    qattn_transcript *t = NULL;
    const qattn_status st = qattn_session_collect(r->session, &t);
    stop_watching(r);
    atomic_store(&r->live, NULL);
    qattn_session_free(r->session), r->session = NULL;
    release_slot(r);
    if (st != QATTN_OK) {
        qattn_transcript_free(t);
        return st == QATTN_CANCELLED && atomic_load(&r->ended) != ENDED_OK
                   ? ended_early(r, 0)
                   : send_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "%s", qattn_last_error());
    }
    size_t len = 0;
    char *body = respond_transcript(t, &r->form, &len);
    qattn_transcript_free(t);
    return send_body(r, MHD_HTTP_OK, form_content_type(r->form.format), body, len, 0);
}

/* A stream's next bytes: the event not yet sent, else the next segment's delta (decoding
 * it), then the done event with the whole text; a timeout or failure is an error event
 * (which the openai SDK raises as APIError), a client gone ends the stream. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    request *r = cls;
    (void)pos;
    while (r->pending_at >= r->pending_len) {
        free(r->pending), r->pending = NULL, r->pending_len = r->pending_at = 0;
        if (r->stream_over)
            return MHD_CONTENT_READER_END_OF_STREAM;
        const qattn_segment *seg = NULL;
        const qattn_status st = qattn_session_next(r->session, &seg);
        if (st == QATTN_OK) {
            size_t cap = r->text_len;
            const size_t n = strlen(seg->text);
            if (!append(&r->text, &r->text_len, &cap, seg->text, n + 1))
                return MHD_CONTENT_READER_END_WITH_ERROR;
            r->text_len--; /* the NUL stays after the text */
            r->pending = respond_delta_event(seg->text, &r->pending_len);
        } else if (st == QATTN_DONE) {
            char *text = respond_trimmed(r->text ? r->text : "");
            r->pending = text ? respond_done_event(text, &r->pending_len) : NULL;
            free(text);
            r->stream_over = 1;
        } else if (atomic_load(&r->ended) == ENDED_HUNG_UP) {
            return MHD_CONTENT_READER_END_WITH_ERROR;
        } else {
            const int timeout = st == QATTN_CANCELLED;
            r->status = timeout ? MHD_HTTP_GATEWAY_TIMEOUT : MHD_HTTP_INTERNAL_SERVER_ERROR;
            r->pending = respond_error_event(timeout ? "the transcription took longer than the "
                                                       "server's timeout" : qattn_last_error(),
                                             timeout ? "timeout" : NULL, &r->pending_len);
            r->stream_over = 1;
        }
        if (!r->pending)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    const size_t n = r->pending_len - r->pending_at < max ? r->pending_len - r->pending_at : max;
    memcpy(buf, r->pending + r->pending_at, n);
    r->pending_at += n;
    return (ssize_t)n;
}

static enum MHD_Result stream(request *r)
{
    enum MHD_Result answer = MHD_NO;
    if (!begin_session(r, &answer))
        return answer;
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
                                                                  stream_read, r, NULL);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    /* the idle timeout counts from the last byte sent, and a window can take longer to
     * decode than it: the watcher's deadline bounds the stream instead (on_completed puts
     * the idle timeout back for the connection's next request) */
    MHD_set_connection_option(r->connection, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)0);
    r->status = MHD_HTTP_OK;
    const enum MHD_Result ok = MHD_queue_response(r->connection, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* The body is all there: the fields checked, then the transcription. */
static enum MHD_Result answer_upload(request *r)
{
    if (MHD_destroy_post_processor(r->post) != MHD_YES)
        set_error(r, MHD_HTTP_BAD_REQUEST, NULL, "the multipart/form-data body is malformed");
    r->post = NULL;
    end_field(r);
    char err[256];
    if (!r->error_status && !form_finish(&r->form, err, sizeof err))
        set_error(r, MHD_HTTP_BAD_REQUEST, NULL, "%s", err);
    if (!r->error_status && r->file_len == 0)
        set_error(r, MHD_HTTP_BAD_REQUEST, "file", "the 'file' field is missing or empty");
    if (r->error_status)
        return send_error(r, r->error_status, r->error_param[0] ? r->error_param : NULL, NULL,
                          "%s", r->error);
    if (!start_watching(r)) /* from here a client that leaves, or the deadline, ends it */
        return send_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, NULL, "no thread to watch the client");
    return r->form.stream ? stream(r) : transcribe(r);
}

/* ------------------------------------------------------------------ routes */

static route route_of(const char *path)
{
    if (!strcmp(path, "/v1/audio/transcriptions"))
        return ROUTE_TRANSCRIBE;
    if (!strcmp(path, "/v1/audio/translations"))
        return ROUTE_TRANSLATE;
    return ROUTE_NONE;
}

static enum MHD_Result answer_get(request *r)
{
    if (!strcmp(r->path, "/health"))
        return send_json_text(r, MHD_HTTP_OK, "{\"status\":\"ok\"}");
    if (!strcmp(r->path, "/v1/models")) {
        if (!authorized(r->srv, r->connection))
            return send_error(r, MHD_HTTP_UNAUTHORIZED, NULL, "invalid_api_key",
                              "a valid API key is needed (Authorization: Bearer KEY)");
        size_t len = 0;
        char *body = respond_models(r->srv->model_name, &len);
        return send_body(r, MHD_HTTP_OK, "application/json", body, len, 0);
    }
    if (route_of(r->path) != ROUTE_NONE)
        return send_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, NULL, "%s takes POST", r->path);
    return send_error(r, MHD_HTTP_NOT_FOUND, NULL, "not_found", "no route %s %s", r->method, r->path);
}

/* A Content-Length (digits) above max; junk is left to libmicrohttpd, which refuses it. */
static int too_long(const char *length, size_t max)
{
    size_t n = 0;
    for (const char *p = length; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        if (n > (SIZE_MAX - 9) / 10)
            return 1;
        n = n * 10 + (size_t)(*p - '0');
    }
    return n > max;
}

/* The first call of a POST to an audio route: what can be answered before the body. */
static enum MHD_Result admit(request *r)
{
    server *srv = r->srv;
    struct MHD_Connection *c = r->connection;
    if (!authorized(srv, c))
        return send_error(r, MHD_HTTP_UNAUTHORIZED, NULL, "invalid_api_key",
                          "a valid API key is needed (Authorization: Bearer KEY)");
    const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
        length = NULL; /* libmicrohttpd reads the chunks then, not the length */
    if (length && too_long(length, srv->config.max_upload_bytes))
        return send_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "file", NULL, "the request body (%s "
                          "bytes) is larger than the server's limit of %zu bytes", length,
                          srv->config.max_upload_bytes);
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!type || strncasecmp(type, "multipart/form-data", 19) != 0)
        return send_error(r, MHD_HTTP_BAD_REQUEST, NULL, NULL, "the body must be "
                          "multipart/form-data (with a 'file' field)");
    /* counted first, draining read after: server_drain sets draining, then waits for the
     * count, so a request either sees draining or is waited for */
    const int limit = srv->config.workers + srv->config.queue;
    const int before = atomic_fetch_add(&srv->admitted, 1);
    r->admitted = 1;
    if (atomic_load(&srv->draining))
        return send_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "shutting_down",
                          "the server is shutting down");
    if (before >= limit)
        return send_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "overloaded", "the server is "
                          "busy (%d requests in progress or queued); retry later", limit);
    if (!(r->post = MHD_create_post_processor(c, POST_BUFFER, on_field, r)))
        return send_error(r, MHD_HTTP_BAD_REQUEST, NULL, NULL, "the multipart/form-data body "
                          "has no boundary");
    form_init(&r->form, r->route == ROUTE_TRANSLATE ? QATTN_TASK_TRANSLATE : QATTN_TASK_TRANSCRIBE);
    r->form.params.vad = srv->config.vad;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    server *srv = cls;
    request *r = *con_cls;
    (void)version;
    if (!r) { /* the headers */
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        *con_cls = r;
        r->srv = srv, r->connection = c, r->arrived = now();
        r->deadline = r->arrived + srv->config.timeout_s;
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        r->route = route_of(url);
        if (!strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD))
            return answer_get(r);
        if (strcmp(method, MHD_HTTP_METHOD_POST))
            return send_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, NULL, "%s is not served",
                              method);
        if (r->route == ROUTE_NONE && (!strcmp(url, "/health") || !strcmp(url, "/v1/models")))
            return send_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, NULL, "%s takes GET", url);
        if (r->route == ROUTE_NONE)
            return send_error(r, MHD_HTTP_NOT_FOUND, NULL, "not_found", "no route POST %s", url);
        return admit(r);
    }
    if (*upload_data_size > 0 && !r->post) { /* answered before the body: dropped */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) { /* a piece of the body */
        r->body_bytes += *upload_data_size;
        if (now() > r->deadline || r->body_bytes > srv->config.max_upload_bytes + DRAIN_SLACK)
            return MHD_NO; /* a slow upload past the timeout, or far past the limit: closed */
        if (r->body_bytes > srv->config.max_upload_bytes)
            set_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "file", "the request body is larger than "
                      "the server's limit of %zu bytes", srv->config.max_upload_bytes);
        if (!r->error_status && MHD_post_process(r->post, upload_data, *upload_data_size) != MHD_YES)
            set_error(r, MHD_HTTP_BAD_REQUEST, NULL, "the multipart/form-data body is malformed");
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->status) /* answered already */
        return MHD_YES;
    return answer_upload(r);
}

/* The request is over (answered, or its connection closed): the log line, then freed. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    server *srv = cls;
    request *r = *con_cls;
    if (!r)
        return;
    stop_watching(r);
    release_slot(r);
    const int streamed = r->session != NULL; /* a transcription frees its own before answering */
    const int cancelled = atomic_load(&r->ended) == ENDED_HUNG_UP ||
                          (streamed && why != MHD_REQUEST_TERMINATED_COMPLETED_OK);
    const double took = now() - r->arrived;
    qattn_session_free(r->session);
    if (streamed) /* the next request on this connection gets the idle timeout again */
        MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, IDLE_TIMEOUT_S);
    /* the session's buffers (tens of MB) go back to the system between requests, not into
     * the heap of a connection thread that may not come again (glibc keeps them otherwise) */
    if (r->audio_seconds > 0)
        malloc_trim(0);
    /* logged once its memory is back: a request's line says it is over, buffers and all */
    fprintf(stderr, "%s %s %d %.2f %.3f%s\n", r->method, r->path,
            r->status ? r->status : 499, r->audio_seconds, took, cancelled ? " cancelled" : "");
    if (r->post)
        MHD_destroy_post_processor(r->post);
    if (r->admitted)
        atomic_fetch_sub(&srv->admitted, 1);
    form_free(&r->form);
    free(r->file), free(r->value), free(r->text), free(r->pending);
    free(r);
    *con_cls = NULL;
}

/* ------------------------------------------------------------------ the daemon */

int server_start(const qattn_whisper *whisper, const server_config *config, server **out,
                 char *err, size_t err_size)
{
    *out = NULL;
    struct addrinfo hints = {0}, *addr = NULL;
    hints.ai_family = AF_UNSPEC, hints.ai_socktype = SOCK_STREAM, hints.ai_flags = AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof port, "%d", config->port);
    const int gai = getaddrinfo(config->host, port, &hints, &addr);
    if (gai != 0) {
        snprintf(err, err_size, "cannot listen on %s: %s", config->host, gai_strerror(gai));
        return 0;
    }
    server *s = calloc(1, sizeof *s);
    if (!s) {
        freeaddrinfo(addr);
        snprintf(err, err_size, "out of memory");
        return 0;
    }
    s->whisper = whisper, s->config = *config, s->listening = MHD_INVALID_SOCKET;
    s->api_key = config->api_key ? strdup(config->api_key) : NULL;
    s->model_name = strdup(config->model_name);
    sem_init(&s->slots, 0, (unsigned)config->workers);
    /* a connection each for the admitted requests, and as many more to answer 503s */
    const unsigned limit = 2 * (unsigned)(config->workers + config->queue) + 16;
    /* poll(), not select(): no FD_SETSIZE ceiling on the connections' descriptors */
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ITC | MHD_USE_POLL;
    if (addr->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                                 MHD_OPTION_SOCK_ADDR, addr->ai_addr,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_CONNECTION_LIMIT, limit,
                                 MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S,
                                 MHD_OPTION_END);
    freeaddrinfo(addr);
    if (!s->daemon) {
        snprintf(err, err_size, "cannot listen on %s:%d: %s", config->host, config->port,
                 errno ? strerror(errno) : "libmicrohttpd refused");
        server_stop(s);
        return 0;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : config->port;
    *out = s;
    return 1;
}

int server_port(const server *s)
{
    return s->port;
}

void server_drain(server *s)
{
    atomic_store(&s->draining, 1);
    /* no new connections: the socket shut (libmicrohttpd's thread may still poll it, so it
     * is closed only after the daemon stops) */
    s->listening = MHD_quiesce_daemon(s->daemon);
    if (s->listening != MHD_INVALID_SOCKET)
        shutdown(s->listening, SHUT_RDWR);
    while (atomic_load(&s->admitted) > 0)
        usleep(20000);
}

void server_stop(server *s)
{
    if (!s)
        return;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    if (s->listening != MHD_INVALID_SOCKET)
        close(s->listening);
    sem_destroy(&s->slots);
    free(s->api_key), free(s->model_name);
    free(s);
}
