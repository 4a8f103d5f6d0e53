/* The VAD's public entry points (qattn.h): loading the model, probabilities of whole audio as
 * faster-whisper computes them, and a stream for audio that arrives in pieces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "formats/onnx_file.h"
#include "ops/float_ops.h"
#include "vad/silero.h"

#define MODEL_FILE "silero_vad_v6.onnx"

/* The shipped model: QATTN_VAD_MODEL, the installed data directory's, this source tree's. */
static const char *default_model(char *buf, size_t size)
{
    const char *env = getenv("QATTN_VAD_MODEL");
    if (env && *env)
        return env;
    const char *dirs[] = {QATTN_INSTALL_DATA_DIR, QATTN_SOURCE_MODELS_DIR};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        struct stat st;
        snprintf(buf, size, "%s/%s", dirs[i], MODEL_FILE);
        if (stat(buf, &st) == 0)
            return buf;
    }
    snprintf(buf, size, "%s/%s", QATTN_INSTALL_DATA_DIR, MODEL_FILE);
    return buf; /* not there: loading it says so */
}

qattn_status qattn_vad_load(const char *path, qattn_vad **out)
{
    qattn_clear_error();
    if (!out)
        return qattn_fail(QATTN_ERR_NULL, "vad_load: vad is NULL");
    *out = NULL;
    char buf[4200];
    if (!path)
        path = default_model(buf, sizeof buf);
    qattn_onnx_model *m = NULL;
    qattn_status st = qattn_onnx_load(path, &m);
    if (st == QATTN_OK)
        st = qattn_vad_from_onnx(m, out);
    qattn_onnx_free(m);
    return st;
}

size_t qattn_vad_probability_count(size_t samples)
{
    return samples / QATTN_VAD_CHUNK + 1;
}

qattn_status qattn_vad_probabilities(const qattn_vad *vad, const float *samples, size_t n,
                                     float *probs)
{
    qattn_clear_error();
    if (!vad || (!samples && n) || !probs)
        return qattn_fail(QATTN_ERR_NULL, "vad_probabilities: NULL argument");
    if (n > ((size_t)1 << 40))
        return qattn_fail(QATTN_ERR_SIZE, "vad_probabilities: %zu samples", n);
    const size_t bad = qattn_first_non_finite(samples, n);
    if (bad < n)
        return qattn_fail(QATTN_ERR_VALUE, "vad_probabilities: sample %zu is not finite", bad);
    const size_t chunks = qattn_vad_probability_count(n);
    enum { BLOCK = 256 }; /* chunks whose state-free part is computed at once (8 s of audio) */
    float *rows = malloc((size_t)BLOCK * QATTN_VAD_ROW * sizeof(float));
    float *gates = malloc((size_t)BLOCK * 4 * QATTN_VAD_HIDDEN * sizeof(float));
    float *work = malloc(qattn_vad_block_floats(BLOCK) * sizeof(float));
    if (!rows || !gates || !work) {
        free(rows), free(gates), free(work);
        return qattn_fail(QATTN_ERR_NOMEM, "vad_probabilities: out of memory");
    }
    float h[QATTN_VAD_HIDDEN] = {0}, c[QATTN_VAD_HIDDEN] = {0};
    for (size_t k0 = 0; k0 < chunks; k0 += BLOCK) {
        const int m = chunks - k0 < BLOCK ? (int)(chunks - k0) : BLOCK;
        for (int r = 0; r < m; r++) {
            const size_t k = k0 + (size_t)r;
            float *row = rows + (size_t)r * QATTN_VAD_ROW;
            /* the row: the previous chunk's last 64 samples, then this chunk's 512, zeros
             * past the audio; the last chunk's last 64 zeroed (faster-whisper's view write) */
            for (int j = 0; j < QATTN_VAD_ROW; j++) {
                const int64_t at = (int64_t)(k * QATTN_VAD_CHUNK) - QATTN_VAD_CONTEXT + j;
                const int last_tail = k + 1 == chunks && j >= QATTN_VAD_ROW - QATTN_VAD_CONTEXT;
                row[j] = at >= 0 && (size_t)at < n && !last_tail ? samples[at] : 0.0f;
            }
        }
        qattn_vad_block_gates(vad, rows, m, work, gates);
        for (int r = 0; r < m; r++)
            probs[k0 + (size_t)r] = qattn_vad_recur(vad, gates + (size_t)r * 4 * QATTN_VAD_HIDDEN, h, c);
    }
    free(rows), free(gates), free(work);
    return QATTN_OK;
}

struct qattn_vad_stream {
    const qattn_vad *vad;
    float h[QATTN_VAD_HIDDEN], c[QATTN_VAD_HIDDEN];
    float row[QATTN_VAD_ROW]; /* the context, then the chunk being filled */
    int filled;               /* samples of the chunk so far */
    float gates[4 * QATTN_VAD_HIDDEN];
    float *work;              /* qattn_vad_block_floats(1) */
};

qattn_status qattn_vad_stream_create(const qattn_vad *vad, qattn_vad_stream **out)
{
    qattn_clear_error();
    if (!vad || !out)
        return qattn_fail(QATTN_ERR_NULL, "vad_stream_create: NULL argument");
    if (!(*out = calloc(1, sizeof **out)) ||
        !((*out)->work = malloc(qattn_vad_block_floats(1) * sizeof(float)))) {
        free(*out);
        *out = NULL;
        return qattn_fail(QATTN_ERR_NOMEM, "vad_stream_create: out of memory");
    }
    (*out)->vad = vad;
    return QATTN_OK;
}

void qattn_vad_stream_free(qattn_vad_stream *s)
{
    if (s)
        free(s->work);
    free(s);
}

qattn_status qattn_vad_stream_feed(qattn_vad_stream *s, const float *samples, size_t n,
                                   float *probs, size_t capacity, size_t *n_probs)
{
    qattn_clear_error();
    if (!s || (!samples && n) || (!probs && capacity) || !n_probs)
        return qattn_fail(QATTN_ERR_NULL, "vad_stream_feed: NULL argument");
    const size_t done = ((size_t)s->filled + n) / QATTN_VAD_CHUNK;
    if (capacity < done)
        return qattn_fail(QATTN_ERR_SIZE, "vad_stream_feed: room for %zu probabilities, %zu "
                          "chunks completed", capacity, done);
    const size_t bad = qattn_first_non_finite(samples, n);
    if (bad < n)
        return qattn_fail(QATTN_ERR_VALUE, "vad_stream_feed: sample %zu is not finite", bad);
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        const size_t take = (size_t)(QATTN_VAD_CHUNK - s->filled) < n - i
                                ? (size_t)(QATTN_VAD_CHUNK - s->filled) : n - i;
        memcpy(s->row + QATTN_VAD_CONTEXT + s->filled, samples + i, take * sizeof(float));
        s->filled += (int)take, i += take;
        if (s->filled == QATTN_VAD_CHUNK) {
            /* the whole audio's path, one chunk at a time: the same probabilities */
            qattn_vad_block_gates(s->vad, s->row, 1, s->work, s->gates);
            probs[k++] = qattn_vad_recur(s->vad, s->gates, s->h, s->c);
            memcpy(s->row, s->row + QATTN_VAD_CHUNK, QATTN_VAD_CONTEXT * sizeof(float));
            s->filled = 0;
        }
    }
    *n_probs = k;
    return QATTN_OK;
}
