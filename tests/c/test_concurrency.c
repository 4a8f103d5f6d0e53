/*
 * One loaded encoder used by 4 threads at once, on different inputs, gives each the output
 * of a serial call; concurrent attention calls on different tiers agree with the reference.
 * Run under ThreadSanitizer by ./dev test; here it also checks the results.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "qattn.h"
#include "testing.h"
#include "testing/random_encoder.h"

enum { THREADS = 4 };

typedef struct work {
    const struct qattn_encoder *enc;
    const float *mel;
    float *out;
    qattn_status st;
} work;

static void *encode_thread(void *arg)
{
    work *w = arg;
    w->st = qattn_encoder_run(w->enc, w->mel, 1, w->out);
    return NULL;
}

static void shared_encoder(qattn_precision precision)
{
    /* a small encoder: few frames keep the sanitizer run short */
    const whisper_config cfg = {80, 100, 64, 4, 2, 256, 4};
    qattn_encoder_params p = {sizeof p, precision, 2, QATTN_ISA_AUTO};
    struct qattn_encoder *enc;
    CHECK(qattn_encoder_random(&cfg, &p, 7, &enc) == QATTN_OK, "%s", qattn_last_error());
    const size_t n_mel = 80 * 200, n_out = 100 * 64;
    float *mel = malloc(THREADS * n_mel * sizeof(float));
    float *serial = malloc(THREADS * n_out * sizeof(float));
    float *parallel = malloc(THREADS * n_out * sizeof(float));
    for (size_t i = 0; i < THREADS * n_mel; i++)
        mel[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
    for (int t = 0; t < THREADS; t++)
        CHECK(qattn_encoder_run(enc, mel + t * n_mel, 1, serial + t * n_out) == QATTN_OK, "%s",
              qattn_last_error());
    pthread_t th[THREADS];
    work w[THREADS];
    for (int t = 0; t < THREADS; t++) {
        w[t] = (work){enc, mel + t * n_mel, parallel + t * n_out, QATTN_ERR_NULL};
        pthread_create(&th[t], NULL, encode_thread, &w[t]);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        CHECK(w[t].st == QATTN_OK, "thread %d failed", t);
        CHECK(memcmp(serial + t * n_out, parallel + t * n_out, n_out * sizeof(float)) == 0,
              "%s thread %d differs from its serial run", precision ? "int8" : "f32", t);
    }
    free(mel), free(serial), free(parallel);
    qattn_encoder_free(enc);
}

/* The run entry point's own checks (the loaders' are in tests/python/test_model_files.py). */
static void run_errors(void)
{
    const whisper_config cfg = {80, 100, 64, 4, 1, 256, 4};
    qattn_encoder_params p = {sizeof p, QATTN_PRECISION_INT8, 1, QATTN_ISA_AUTO};
    struct qattn_encoder *enc;
    CHECK(qattn_encoder_random(&cfg, &p, 3, &enc) == QATTN_OK, "%s", qattn_last_error());
    float *mel = calloc(80 * 200, sizeof(float)), *out = malloc(100 * 64 * sizeof(float));
    CHECK(qattn_encoder_run(NULL, mel, 1, out) == QATTN_ERR_NULL, "NULL encoder");
    CHECK(qattn_encoder_run(enc, NULL, 1, out) == QATTN_ERR_NULL, "NULL mel");
    CHECK(qattn_encoder_run(enc, mel, 1, NULL) == QATTN_ERR_NULL, "NULL out");
    CHECK(qattn_encoder_run(enc, mel, 0, out) == QATTN_ERR_SIZE, "batch 0");
    CHECK(qattn_encoder_run(enc, mel, -3, out) == QATTN_ERR_SIZE, "batch < 0");
    mel[1234] = INFINITY;
    CHECK(qattn_encoder_run(enc, mel, 1, out) == QATTN_ERR_VALUE, "infinite mel");
    CHECK(qattn_encoder_load(NULL, NULL, &enc) == QATTN_ERR_NULL, "NULL path");
    qattn_encoder_params bad = {sizeof bad, (qattn_precision)7, 0, 0};
    struct qattn_encoder *none = NULL;
    CHECK(qattn_encoder_load("x", &bad, &none) == QATTN_ERR_ARG && !none, "bad precision");

    /* windows: the length is the model's (2 n_ctx = 200 frames here), zeros past the audio */
    float *win = malloc(2 * 80 * 200 * sizeof(float));
    for (int i = 0; i < 80 * 200; i++)
        mel[i] = (float)(i % 200) + 1.0f; /* frame t holds t + 1 in every band */
    CHECK(qattn_encoder_window_count(enc, 250) == 2 && qattn_encoder_window_count(enc, 200) == 1 &&
          qattn_encoder_window_count(enc, 0) == 0, "window count");
    CHECK(qattn_encoder_windows(enc, mel, 80, 150, 200, 100, 2, win) == QATTN_OK, "%s", qattn_last_error());
    CHECK(win[0] == 101.0f && win[49] == 150.0f && win[50] == 0.0f && win[199] == 0.0f &&
          win[80 * 200] == 0.0f, "window 0 starts at frame 100, zero from frame 150; window 1 empty");
    CHECK(qattn_encoder_windows(enc, mel, 81, 150, 200, 0, 1, win) == QATTN_ERR_ARG, "n_mels");
    CHECK(qattn_encoder_windows(enc, mel, 80, 201, 200, 0, 1, win) == QATTN_ERR_SIZE, "stride < frames");
    CHECK(qattn_encoder_windows(enc, mel, 80, 150, 200, 0, 0, win) == QATTN_ERR_SIZE, "count 0");
    CHECK(qattn_encoder_windows(enc, NULL, 80, 150, 200, 0, 1, win) == QATTN_ERR_NULL, "NULL mel");
    CHECK(qattn_encoder_windows(enc, mel, 80, 150, 200, (size_t)-1, 1, win) == QATTN_OK &&
          win[0] == 0.0f, "a start past SIZE_MAX's reach is silence, not an overflow");
    free(win);
    free(mel), free(out);
    qattn_encoder_free(enc);
}

int main(void)
{
    run_errors();
    /* f32 leans on OpenBLAS, whose own threads the sanitizer cannot see: int8 only there */
    shared_encoder(QATTN_PRECISION_INT8);
    if (!getenv("QATTN_UNDER_TSAN"))
        shared_encoder(QATTN_PRECISION_F32);
    return testing_report("test_concurrency");
}
