/* `qattn serve`: OpenAI's speech-to-text API over HTTP (docs/serve.md). The model is loaded
 * once and shared; the server answers until SIGTERM or SIGINT, then finishes what it admitted,
 * refusing new requests, and exits. */
#define _POSIX_C_SOURCE 200809L /* sigwait, pthread_sigmask */
#include "serve/serve.h"

#include <errno.h>
#include <libgen.h>
#include <malloc.h> /* mallopt: glibc's */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "qattn.h"
#include "serve/server.h"

static int usage(FILE *to, int status)
{
    fprintf(to,
            "usage: qattn serve --model DIR [options]\n"
            "OpenAI's audio API (POST /v1/audio/transcriptions and /v1/audio/translations,\n"
            "GET /v1/models, GET /health) over one model; docs/serve.md.\n"
            "options:\n"
            "  -m, --model DIR            the model (CTranslate2, Hugging Face or ggml)\n"
            "      --precision int8|f32   (int8)\n"
            "      --host HOST            the address to listen on (127.0.0.1: this machine only)\n"
            "      --port N               (8000; 0: a free port, printed)\n"
            "      --workers N            transcriptions at once (1)\n"
            "      --threads-per-worker N threads of each (0: one per CPU)\n"
            "      --queue N              requests admitted beyond the workers; more get 503 (8)\n"
            "      --max-upload-mb N      the largest request body; larger get 413 (25)\n"
            "      --max-audio-s S        the longest audio a request may hold; longer get 413\n"
            "                             (7200: compressed audio of 25 MB can be hours long)\n"
            "      --timeout-s S          from a request's arrival to its answer (600)\n"
            "      --api-key-file F       ask for 'Authorization: Bearer KEY', KEY the file's\n"
            "                             first line; others get 401\n"
            "  -h, --help\n");
    return status;
}

/* The key: the file's first line, without its end of line; 0 with a message when the file
 * cannot be read or the key is empty. */
static int read_key(const char *path, char *key, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f || !fgets(key, (int)size, f)) {
        fprintf(stderr, "qattn serve: --api-key-file %s: %s\n", path, f ? "empty" : strerror(errno));
        if (f)
            fclose(f);
        return 0;
    }
    fclose(f);
    key[strcspn(key, "\r\n")] = '\0';
    if (!key[0]) {
        fprintf(stderr, "qattn serve: --api-key-file %s: the first line is empty\n", path);
        return 0;
    }
    return 1;
}

int serve_main(int argc, char **argv)
{
    static const char *const precisions[] = {"int8", "f32", NULL}; /* = qattn_precision */
    const char *model = NULL, *host = "127.0.0.1", *key_file = NULL;
    int precision = 0, port = 8000, workers = 1, threads = 0, queue = 8, upload_mb = 25, help = 0;
    double timeout = 600, max_audio = 7200;
    const cli_option options[] = {
        CLI_MODEL(&model),
        {"precision", 0, CLI_CHOICE, &precision, 0, 0, precisions, NULL},
        {"host", 0, CLI_STRING, &host, 0, 0, NULL, NULL},
        {"port", 0, CLI_INT, &port, 0, 65535, NULL, NULL},
        {"workers", 0, CLI_INT, &workers, 1, 256, NULL, NULL},
        {"threads-per-worker", 0, CLI_INT, &threads, 0, 4096, NULL, NULL},
        {"queue", 0, CLI_INT, &queue, 0, 4096, NULL, NULL},
        {"max-upload-mb", 0, CLI_INT, &upload_mb, 1, 2047, NULL, NULL},
        {"max-audio-s", 0, CLI_DOUBLE, &max_audio, 1, 14400, NULL, NULL},
        {"timeout-s", 0, CLI_DOUBLE, &timeout, 1, 86400, NULL, NULL},
        {"api-key-file", 0, CLI_STRING, &key_file, 0, 0, NULL, NULL},
    };
    const int parsed = cli_parse_options("serve", argc, argv, options, CLI_COUNT(options), &help);
    if (parsed)
        return parsed;
    if (help)
        return usage(stdout, 0);
    if (!model)
        return cli_usage_error("serve", "--model DIR is needed");
    char key[4096];
    if (key_file && !read_key(key_file, key, sizeof key))
        return 2;
    /* SIGTERM and SIGINT wait for sigwait below: blocked before any thread starts, so no
     * thread of the server is interrupted by them */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM), sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up is an error of a write, not death */
    /* Buffers of 1 MiB and more get mappings of their own, returned to the system when freed.
     * By default glibc raises this threshold to the size of the largest block freed (up to
     * 32 MiB), after which a request's tens of MB of buffers come from the heap arena of
     * whichever connection thread allocated them; the encoder's kept working memory then
     * lands in one arena or another, and the server's resident memory after the same requests
     * differed by up to 24 MB from run to run (tiny.en, test_serve's bounded load; steady to
     * 0.1% with the threshold fixed, at the same speed). */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    qattn_encoder_params load = qattn_encoder_default_params();
    load.precision = (qattn_precision)precision, load.threads = threads;
    qattn_whisper *w = NULL;
    qattn_vad *vad = NULL;
    if (qattn_whisper_load(model, &load, &w) != QATTN_OK || qattn_vad_load(NULL, &vad) != QATTN_OK) {
        fprintf(stderr, "qattn serve: %s\n", qattn_last_error());
        qattn_whisper_free(w);
        return 1;
    }
    char name[4096];
    snprintf(name, sizeof name, "%s", model);
    const server_config config = {host, port, workers, queue, (size_t)upload_mb << 20, max_audio,
                                  timeout, key_file ? key : NULL, basename(name), vad};
    server *s = NULL;
    char err[512];
    if (!server_start(w, &config, &s, err, sizeof err)) {
        fprintf(stderr, "qattn serve: %s\n", err);
        qattn_vad_free(vad), qattn_whisper_free(w);
        return 1;
    }
    printf("qattn serve: listening on http://%s:%d (model %s)\n", host, server_port(s), model);
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "qattn serve: %s: finishing the requests in progress\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server_drain(s);
    server_stop(s);
    qattn_vad_free(vad), qattn_whisper_free(w);
    fprintf(stderr, "qattn serve: stopped\n");
    return 0;
}
