/*
 * Per-token decoding allocates nothing and starts no thread (issue 12): the allocator and
 * pthread_create are interposed here (glibc's __libc_* entry points underneath) and counted
 * while a trained decoder (tiny.en from the test cache, int8 and f32) decodes token by token
 * over beams, and while whole window searches run again on the same window (the temperature
 * fallback's case). Per-window setup (qattn_search_window) may allocate; it is outside the
 * counted stretches. Not built under the sanitizers, which own malloc themselves.
 * Allocations made by OpenBLAS itself (its threaded sgemm allocates job descriptors per call;
 * the f32 decoder's attention calls it per token) are counted apart, by the caller's shared
 * object, and reported: qattn's own code must make none.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qattn.h"
#include "testing.h"
#include "decode/search.h"
#include "whisper/decoder.h"
#include "transcribe/whisper.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static volatile int counting;
static volatile long allocations, openblas_allocations, threads_started;

/* Counts an allocation made by the code that returns to `caller`, OpenBLAS's apart. */
static void count(void *caller)
{
    static __thread int inside;
    if (!counting || inside)
        return;
    inside = 1;
    Dl_info info;
    if (dladdr(caller, &info) && info.dli_fname && strstr(info.dli_fname, "openblas"))
        openblas_allocations++;
    else
        allocations++;
    inside = 0;
}

void *malloc(size_t n)
{
    count(__builtin_return_address(0));
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    count(__builtin_return_address(0));
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    count(__builtin_return_address(0));
    return __libc_realloc(p, n);
}
void *aligned_alloc(size_t align, size_t n)
{
    count(__builtin_return_address(0));
    return __libc_memalign(align, n);
}
int posix_memalign(void **p, size_t align, size_t n)
{
    count(__builtin_return_address(0));
    *p = __libc_memalign(align, n);
    return *p ? 0 : 12; /* ENOMEM */
}
void free(void *p)
{
    __libc_free(p);
}
int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
    static int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "pthread_create");
    threads_started += counting;
    return real(t, a, fn, arg);
}

/* The stage observer (`qattn bench decoder --profile`): the stages each step reports. */
static int observed[4096], n_observed;

static void note_stage(void *ctx, qattn_decoder_stage stage)
{
    (void)ctx;
    if (n_observed < 4096)
        observed[n_observed] = stage;
    n_observed++;
}

/* Each step: the embeddings, each layer's seven stages in order, the logits. */
static void check_stages(int32_t steps, int32_t layers)
{
    const int32_t per_step = 2 + 7 * layers;
    CHECK(n_observed == steps * per_step, "%d stages observed over %d steps of %d layers",
          n_observed, steps, layers);
    int bad = 0;
    for (int32_t i = 0; i < n_observed && i < 4096; i++) {
        const int32_t at = i % per_step;
        const int want = at == 0 ? QATTN_DECODER_EMBED
                         : at == per_step - 1 ? QATTN_DECODER_LOGITS
                                              : QATTN_DECODER_SELF_QKV + (at - 1) % 7;
        bad += observed[i] != want;
    }
    CHECK(bad == 0, "%d stages out of order", bad);
}

static void run(const char *dir, qattn_precision precision)
{
    qattn_encoder_params params = qattn_encoder_default_params();
    params.precision = precision, params.threads = 2;
    qattn_whisper *w = NULL;
    if (qattn_whisper_load(dir, &params, &w) != QATTN_OK) {
        CHECK(0, "%s", qattn_last_error());
        return;
    }
    const int32_t n_audio = w->enc.n_ctx, d = w->enc.n_state, beams = 5, steps = 20;
    float *features = malloc((size_t)n_audio * d * sizeof *features);
    float *logits = malloc((size_t)beams * w->dec.n_vocab * sizeof *logits);
    for (int32_t i = 0; i < n_audio * d; i++) /* any features: the decoder's work is the same */
        features[i] = (float)((i * 7919 % 1000) - 500) / 500.0f;
    qattn_decoder_state *state = NULL;
    CHECK(qattn_decoder_begin_seqs(w->decoder, features, n_audio, beams, &state) == QATTN_OK, "%s",
          qattn_last_error());
    const int32_t prompt[] = {w->sot};
    qattn_decoder_step(state, prompt, 1, logits); /* the pool grows to its size here */
    int32_t parents[5] = {0, 0, 0, 0, 0}, tokens[5];
    const qattn_decoder_observer observer = {note_stage, NULL};
    qattn_decoder_observe(state, &observer);
    n_observed = 0;
    allocations = openblas_allocations = threads_started = 0, counting = 1;
    for (int32_t step = 0; step < steps; step++) {
        qattn_decoder_reorder(state, parents, beams);
        for (int32_t b = 0; b < beams; b++)
            tokens[b] = (step * 31 + b * 17) % w->eot, parents[b] = (step + b) % beams;
        if (qattn_decoder_step_seqs(state, tokens, beams, logits) != QATTN_OK)
            break;
    }
    counting = 0;
    check_stages(steps, w->dec.n_layers);
    CHECK(allocations == 0 && threads_started == 0, "%d tokens x %d beams: %ld allocations, %ld "
          "threads started", steps, beams, allocations, threads_started);
    printf("%s: %d tokens x %d beams: %ld allocations by qattn, %ld by OpenBLAS\n",
           precision == QATTN_PRECISION_INT8 ? "int8" : "f32", steps, beams, allocations,
           openblas_allocations);
    qattn_decoder_state_free(state);

    /* whole searches on one window: beam search twice (the second reuses the prompt's pass),
     * greedy and sampling: only the window's setup allocates */
    qattn_search *search = NULL;
    CHECK(qattn_search_create(w->decoder, beams, 24, &search) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_search_window(search, features, n_audio) == QATTN_OK, "%s", qattn_last_error());
    qattn_logit_rules rules = {w->dec.n_vocab, w->suppress, w->n_suppress, w->suppress_begin,
                               w->n_suppress_begin, 1, w->eot, w->no_timestamps, w->ts_begin,
                               w->ts_end, w->ts_begin + 50, 1, 0};
    int32_t out[24];
    qattn_search_result result = {out, 0, 0, 0, 0};
    const qattn_search_params beam = {beams, 5, 1, 1, 0, 24, 1, 0}, sample = {1, 5, 1, 1, 0.5f, 24, 1, 0};
    const int32_t sot[] = {w->sot};
    qattn_search_run(search, sot, 1, 0, w->no_speech, &rules, &beam, &result); /* warm-up */
    allocations = openblas_allocations = threads_started = 0, counting = 1;
    for (int rep = 0; rep < 2; rep++) {
        CHECK(qattn_search_run(search, sot, 1, 0, w->no_speech, &rules, &beam, &result) == QATTN_OK,
              "%s", qattn_last_error());
        CHECK(qattn_search_run(search, sot, 1, 0, w->no_speech, &rules, &sample, &result) == QATTN_OK,
              "%s", qattn_last_error());
    }
    counting = 0;
    CHECK(result.n_tokens > 0, "no tokens");
    CHECK(allocations == 0 && threads_started == 0, "four window searches: %ld allocations, %ld "
          "threads started", allocations, threads_started);
    printf("%s: four window searches: %ld allocations by qattn, %ld by OpenBLAS\n",
           precision == QATTN_PRECISION_INT8 ? "int8" : "f32", allocations, openblas_allocations);
    qattn_search_free(search);
    free(features), free(logits);
    qattn_whisper_free(w);
}

int main(void)
{
    char dir[4096];
    if (!testing_model_dir("test_decoder_alloc", "tiny.en", dir, sizeof dir))
        return 1;
    run(dir, QATTN_PRECISION_INT8);
    run(dir, QATTN_PRECISION_F32);
    return testing_report("test_decoder_alloc");
}
