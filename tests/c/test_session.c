/*
 * The transcription session (qattn.h qattn_session_*) on a trained model (tiny.en from the
 * test cache) and a recording of a person from tests/data/speech, against the one-call
 * qattn_whisper_transcribe, and what 0.2.0 changed around it:
 *  - the log-mel fed in pieces of every size is the whole audio's qattn_log_mel_padded, value
 *    for value, keeping a few hundred samples between pieces;
 *  - fed in 0.37 s pieces, finished, then pulled: the one call's segments, field for field;
 *  - vad_filter's times mapped back as faster-whisper's SpeechTimestampsMap maps them;
 *  - cancelled from another thread while it decodes: QATTN_CANCELLED within one decoder step
 *    of the cancel (the search's step count), every later call too, nothing leaked (ASan);
 *  - on_segment returning nonzero: QATTN_CANCELLED with the segments so far (it was QATTN_OK);
 *  - two sessions on one model in two threads at once: each gives the segments of one alone;
 *  - a params struct of an older, shorter size works (its missing fields take defaults), an
 *    info struct of an older size is written no further than its size, struct_size 0 or too
 *    large is refused;
 *  - loading leaves OpenBLAS's process-wide thread count alone (it set it before 0.2.0);
 *  - NULL params load int8 everywhere (the decoder was f32), a missing file is
 *    QATTN_ERR_NOT_FOUND, distinct from other I/O errors.
 * usage: test_session SPEECH_DIR (tests/data/speech)
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/mel_stream.h"
#include "decode/search.h"
#include "qattn.h"
#include "testing.h"
#include "transcribe/session.h"

/* OpenBLAS's own API (cblas.h declares it; declared here to keep the test's includes few) */
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);

/* The log-mel computed piece by piece (audio/mel_stream.h) is, after finish, the whole audio's
 * qattn_log_mel_padded value for value, whatever the pieces' sizes (under a frame, across the
 * first frames' reflection, a frame's span exactly, long ones). */
static void mel_in_pieces_is_the_whole(const float *x, size_t n)
{
    const int32_t n_mels = 80;
    const size_t stride = qattn_log_mel_padded_frames(n), frames = qattn_log_mel_frames(n);
    float *whole = malloc((size_t)n_mels * stride * sizeof(float));
    CHECK(qattn_log_mel_padded(x, n, n_mels, 2, whole) == QATTN_OK, "%s", qattn_last_error());
    const size_t sizes[] = {1, 7, 160, 199, 200, 201, 399, 400, 401, 5000, 48000, 3};
    qattn_mel_stream ms;
    CHECK(qattn_mel_stream_init(&ms, n_mels, 2) == QATTN_OK, "%s", qattn_last_error());
    for (size_t at = 0, i = 0; at < n; i++) {
        const size_t piece = sizes[i % (sizeof sizes / sizeof *sizes)] < n - at
                                 ? sizes[i % (sizeof sizes / sizeof *sizes)] : n - at;
        /* each piece in a block of its own: a read outside it is garbage (and ASan's error) */
        float *own = malloc(piece * sizeof(float));
        memcpy(own, x + at, piece * sizeof(float));
        CHECK(qattn_mel_stream_feed(&ms, own, piece) == QATTN_OK, "%s", qattn_last_error());
        free(own);
        at += piece;
        CHECK(ms.audio_len <= 400 + piece, "%zu samples kept after a piece of %zu", ms.audio_len, piece);
    }
    CHECK(qattn_mel_stream_finish(&ms) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_mel_stream_ready_frames(&ms) == stride, "%zu frames, want %zu",
          qattn_mel_stream_ready_frames(&ms), stride);
    float *window = malloc((size_t)n_mels * frames * sizeof(float));
    qattn_mel_stream_window(&ms, 0, frames, frames, window);
    int same = 1;
    for (int32_t m = 0; m < n_mels; m++)
        same &= !memcmp(window + (size_t)m * frames, whole + (size_t)m * stride, frames * sizeof(float));
    CHECK(same, "the log-mel in pieces differs from the whole audio's");
    qattn_mel_stream_free(&ms);
    free(window), free(whole);
}

/* faster-whisper's SpeechTimestampsMap (vad.py) and restore_speech_timestamps, written out
 * here line for line from the Python: the original time of t seconds of the joined speech. */
static double python_restore(const int64_t (*chunks)[2], int n, double t, int is_end)
{
    int64_t chunk_end[8], previous_end = 0, silent = 0;
    double silence_before[8];
    for (int i = 0; i < n; i++) {
        silent += chunks[i][0] - previous_end;
        previous_end = chunks[i][1];
        chunk_end[i] = chunks[i][1] - silent;
        silence_before[i] = (double)silent / 16000;
    }
    const int64_t sample = (int64_t)(t * 16000);
    int index = -1;
    for (int i = 0; is_end && i < n && index < 0; i++) /* `sample in list and is_end` */
        if (chunk_end[i] == sample)
            index = i;
    if (index < 0) { /* min(bisect.bisect(chunk_end, sample), n - 1) */
        int lo = 0, hi = n;
        while (lo < hi) {
            const int mid = (lo + hi) / 2;
            if (sample < chunk_end[mid])
                hi = mid;
            else
                lo = mid + 1;
        }
        index = lo < n - 1 ? lo : n - 1;
    }
    char text[64]; /* round(x, 2) */
    snprintf(text, sizeof text, "%.2f", silence_before[index] + t);
    return strtod(text, NULL);
}

/* The session's map back from the joined speech (vad_filter) against faster-whisper's, on
 * every 10 ms and every span end, start and end alike. */
static void vad_times_map_back(void)
{
    static const int64_t chunks[4][2] = {{11008, 48000}, {80000, 96000}, {96000, 160320},
                                         {200000, 232000}};
    struct qattn_session s;
    memset(&s, 0, sizeof s);
    int64_t ends[4];
    double before[4];
    int64_t previous_end = 0, silent = 0;
    for (int i = 0; i < 4; i++) {
        silent += chunks[i][0] - previous_end, previous_end = chunks[i][1];
        ends[i] = chunks[i][1] - silent, before[i] = (double)silent / 16000;
    }
    s.n_vad_spans = 4, s.vad_chunk_end = ends, s.vad_silence_before = before;
    int checked = 0;
    for (int k = 0; k <= 1000; k++)
        for (int is_end = 0; is_end < 2; is_end++) {
            const double t = k * 0.01;
            const double got = qattn_session_vad_restore(&s, t, is_end);
            const double want = python_restore(chunks, 4, t, is_end);
            CHECK(got == want, "t %.2f, end %d: %.9g vs %.9g", t, is_end, got, want);
            checked++;
        }
    for (int i = 0; i < 4; i++) /* at a span's end exactly: the end belongs to that span */
        for (int is_end = 0; is_end < 2; is_end++) {
            const double t = (double)ends[i] / 16000;
            CHECK(qattn_session_vad_restore(&s, t, is_end) == python_restore(chunks, 4, t, is_end),
                  "span %d's end, end %d", i, is_end);
        }
    CHECK(checked == 2002, "%d", checked);
}

static float *tiled(const float *x, size_t n, int times)
{
    float *y = malloc(n * (size_t)times * sizeof(float));
    for (int i = 0; i < times; i++)
        memcpy(y + (size_t)i * n, x, n * sizeof(float));
    return y;
}

static int same_segment(const qattn_segment *a, const qattn_segment *b)
{
    return a->id == b->id && a->seek == b->seek && a->start == b->start && a->end == b->end &&
           !strcmp(a->text, b->text) && a->n_tokens == b->n_tokens &&
           !memcmp(a->tokens, b->tokens, (size_t)a->n_tokens * sizeof(int32_t)) &&
           a->temperature == b->temperature && a->avg_logprob == b->avg_logprob &&
           a->compression_ratio == b->compression_ratio && a->no_speech_prob == b->no_speech_prob;
}

static qattn_transcribe_params greedy(void)
{
    qattn_transcribe_params p = qattn_transcribe_default_params();
    p.beam_size = 1;
    return p;
}

/* The same segments fed in pieces as all at once; with clips too (the second goes back
 * before the first: the log-mel it needs must be kept while the first is decoded). */
static void pieces_equal_one_call(const qattn_whisper *w, const float *x, size_t n, int clipped)
{
    qattn_transcribe_params p = greedy();
    static const double clips[] = {40, 48.5, 5, 20};
    if (clipped)
        p.clip_timestamps = clips, p.n_clip_timestamps = 4;
    qattn_transcript *t = NULL;
    CHECK(qattn_whisper_transcribe(w, x, n, &p, &t) == QATTN_OK, "%s", qattn_last_error());
    qattn_transcript_info info = {.struct_size = sizeof info};
    CHECK(qattn_transcript_get_info(t, &info) == QATTN_OK, "%s", qattn_last_error());
    CHECK(info.n_segments >= 4, "%d segments", info.n_segments);
    if (clipped) { /* in the clips' order, each starting inside its clip (ending maybe after:
                   * the window after the clip is zeros, where the model may still put words) */
        const qattn_segment *a = qattn_transcript_segment(t, 0), *z = qattn_transcript_segment(t, info.n_segments - 1);
        CHECK(a && a->start >= 40 && z && z->start >= 5 && z->start < 20, "clips: %g..%g s first, "
              "%g..%g s last", a ? a->start : -1, a ? a->end : -1, z ? z->start : -1, z ? z->end : -1);
    }
    qattn_session *s = NULL;
    CHECK(qattn_session_create(w, &p, &s) == QATTN_OK, "%s", qattn_last_error());
    const size_t piece = (size_t)(0.37 * QATTN_SAMPLE_RATE);
    for (size_t i = 0; i < n; i += piece)
        CHECK(qattn_session_feed(s, x + i, n - i < piece ? n - i : piece) == QATTN_OK, "%s",
              qattn_last_error());
    CHECK(qattn_session_finish(s) == QATTN_OK, "%s", qattn_last_error());
    const qattn_segment *seg;
    int32_t i = 0;
    qattn_status st;
    while ((st = qattn_session_next(s, &seg)) == QATTN_OK) {
        const qattn_segment *want = qattn_transcript_segment(t, i++);
        CHECK(want && same_segment(seg, want), "segment %d differs from the one call's", i);
    }
    CHECK(st == QATTN_DONE && i == info.n_segments, "status %d after %d of %d segments", st, i,
          info.n_segments);
    CHECK(qattn_session_next(s, &seg) == QATTN_DONE, "DONE again after the end");
    CHECK(qattn_session_feed(s, x, 100) == QATTN_ERR_ARG, "feed after finish refused");
    qattn_session_free(s);
    qattn_transcript_free(t);
}

/* Batched (faster-whisper's BatchedInferencePipeline's VAD options): the items of a batch of 2
 * give the segments each gives alone (tests/python/test_batched.py holds them to
 * faster-whisper's pipeline); here under the sanitizers too. */
static int same_words(const qattn_segment *a, const qattn_segment *b)
{
    if (a->n_words != b->n_words)
        return 0;
    for (int32_t i = 0; i < a->n_words; i++)
        if (strcmp(a->words[i].word, b->words[i].word) || a->words[i].start != b->words[i].start ||
            a->words[i].end != b->words[i].end || a->words[i].probability != b->words[i].probability)
            return 0;
    return 1;
}

/* A batch's items decode as they do alone (batch_size 1): the same segments, and with
 * word_timestamps the same words (each aligned on its item's own encoder output, fitted in
 * the audio's order); clipped: the chunks are clips (one going back, one past 30 s). */
static void batched_items_as_alone(const qattn_whisper *w, const float *x, size_t n, int words,
                                   int clipped)
{
    static const double clips[] = {1, 12.5, 10, 45, 3, 9};
    qattn_transcript *t[2] = {NULL, NULL};
    qattn_transcript_info info[2] = {{.struct_size = sizeof info[0]}, {.struct_size = sizeof info[1]}};
    for (int i = 0; i < 2; i++) {
        qattn_transcribe_params p = greedy();
        p.vad_filter = 1, p.batch_size = i + 1, p.word_timestamps = words;
        p.vad_parameters.min_silence_duration_ms = 160, p.vad_parameters.max_speech_duration_s = 30;
        if (clipped)
            p.clip_timestamps = clips, p.n_clip_timestamps = 6;
        CHECK(qattn_whisper_transcribe(w, x, n, &p, &t[i]) == QATTN_OK, "%s", qattn_last_error());
        CHECK(qattn_transcript_get_info(t[i], &info[i]) == QATTN_OK, "%s", qattn_last_error());
    }
    CHECK(info[0].n_segments >= 2 && info[1].n_segments == info[0].n_segments,
          "%d and %d segments", info[0].n_segments, info[1].n_segments);
    int32_t n_words = 0;
    for (int32_t i = 0; i < info[0].n_segments && i < info[1].n_segments; i++) {
        const qattn_segment *a = qattn_transcript_segment(t[0], i), *b = qattn_transcript_segment(t[1], i);
        CHECK(same_segment(a, b) && same_words(a, b), "batched segment %d differs from the one "
              "decoded alone", i);
        n_words += a->n_words;
    }
    CHECK(!words || n_words >= 10, "%d words", n_words);
    double last_end = 0; /* a clip of 35 s is decoded to its end, no segment past it */
    for (int32_t i = 0; i < info[0].n_segments; i++)
        last_end = fmax(last_end, qattn_transcript_segment(t[0], i)->end);
    CHECK(!clipped || (last_end > 40 && last_end <= 45), "the clip past 30 s ends at %.2f s", last_end);
    qattn_transcript_free(t[0]), qattn_transcript_free(t[1]);
}

typedef struct canceller {
    qattn_session *s;
    long long at_least, steps_at_cancel;
    atomic_int finished; /* the pulls ended first: nothing to cancel */
} canceller;

/* Waits until the session's search has run at_least decoder steps, then cancels. */
static void *cancel_later(void *arg)
{
    canceller *c = arg;
    const qattn_search *search = c->s->search;
    while (qattn_search_steps(search) < c->at_least && !atomic_load(&c->finished))
        ;
    c->steps_at_cancel = qattn_search_steps(search);
    qattn_session_cancel(c->s);
    return NULL;
}

static void cancel_from_another_thread(const qattn_whisper *w, const float *x, size_t n)
{
    qattn_session *s = NULL;
    CHECK(qattn_session_create(w, NULL, &s) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_session_feed(s, x, n) == QATTN_OK && qattn_session_finish(s) == QATTN_OK, "%s",
          qattn_last_error());
    canceller c = {s, 30, 0, 0};
    pthread_t thread;
    pthread_create(&thread, NULL, cancel_later, &c);
    const qattn_segment *seg;
    qattn_status st;
    int given = 0;
    while ((st = qattn_session_next(s, &seg)) == QATTN_OK)
        given++;
    atomic_store(&c.finished, 1);
    pthread_join(thread, NULL);
    const long long after = qattn_search_steps(s->search) - c.steps_at_cancel;
    CHECK(st == QATTN_CANCELLED, "status %d (%s) after the cancel", st, qattn_status_string(st));
    CHECK(after <= 1, "%lld decoder steps ran after the cancel (one at most)", after);
    CHECK(qattn_session_next(s, &seg) == QATTN_CANCELLED && qattn_session_feed(s, x, 10) ==
          QATTN_CANCELLED && qattn_session_finish(s) == QATTN_CANCELLED, "later calls cancelled");
    printf("cancelled after %lld steps, %d segments given; %lld steps ran after it\n",
           c.steps_at_cancel, given, after);
    qattn_session_free(s);
}

typedef struct parallel_run {
    const qattn_whisper *w;
    const float *x;
    size_t n;
    qattn_transcript *t;
    qattn_status st;
} parallel_run;

static void *run_one(void *arg)
{
    parallel_run *r = arg;
    qattn_transcribe_params p = greedy();
    r->st = qattn_whisper_transcribe(r->w, r->x, r->n, &p, &r->t);
    return NULL;
}

/* Two sessions on one model at once, each in its thread: each gives the segments of a
 * session run alone (the model is shared and immutable; a session owns its memory). */
static void two_sessions_at_once(const qattn_whisper *w, const float *x, size_t n)
{
    parallel_run alone = {w, x, n, NULL, QATTN_OK}, a = alone, b = alone;
    run_one(&alone);
    pthread_t ta, tb;
    pthread_create(&ta, NULL, run_one, &a);
    pthread_create(&tb, NULL, run_one, &b);
    pthread_join(ta, NULL), pthread_join(tb, NULL);
    CHECK(alone.st == QATTN_OK && a.st == QATTN_OK && b.st == QATTN_OK, "statuses %d %d %d",
          alone.st, a.st, b.st);
    for (int32_t i = 0; alone.t && a.t && b.t && qattn_transcript_segment(alone.t, i); i++) {
        const qattn_segment *want = qattn_transcript_segment(alone.t, i);
        const qattn_segment *sa = qattn_transcript_segment(a.t, i), *sb = qattn_transcript_segment(b.t, i);
        CHECK(sa && sb && same_segment(sa, want) && same_segment(sb, want),
              "segment %d of two sessions at once differs from one alone", i);
    }
    qattn_transcript_free(alone.t), qattn_transcript_free(a.t), qattn_transcript_free(b.t);
}

static int stop_at_second(const qattn_segment *seg, void *user)
{
    ++*(int *)user;
    return seg->id == 2;
}

static void on_segment_stop_is_cancelled(const qattn_whisper *w, const float *x, size_t n)
{
    qattn_transcribe_params p = greedy();
    int calls = 0;
    p.on_segment = stop_at_second, p.on_segment_user = &calls;
    qattn_transcript *t = NULL;
    CHECK(qattn_whisper_transcribe(w, x, n, &p, &t) == QATTN_CANCELLED, "%s", qattn_last_error());
    qattn_transcript_info info = {.struct_size = sizeof info};
    CHECK(t && qattn_transcript_get_info(t, &info) == QATTN_OK && info.n_segments == 2 && calls == 2,
          "%d segments, %d calls", info.n_segments, calls);
    qattn_transcript_free(t);
}

static void struct_sizes(const qattn_whisper *w, const float *x, size_t n)
{
    /* a caller built against a header whose params ended before hotwords: its bytes past
     * that are not the library's to read (garbage here) and hotwords takes its default */
    qattn_transcribe_params full = greedy(), old = greedy();
    full.hotwords = NULL;
    memset(&old.hotwords, 0xAB, sizeof old.hotwords);
    old.struct_size = offsetof(qattn_transcribe_params, hotwords);
    qattn_transcript *a = NULL, *b = NULL;
    CHECK(qattn_whisper_transcribe(w, x, n, &full, &a) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_whisper_transcribe(w, x, n, &old, &b) == QATTN_OK, "%s", qattn_last_error());
    const qattn_segment *sa = qattn_transcript_segment(a, 0), *sb = qattn_transcript_segment(b, 0);
    CHECK(sa && sb && same_segment(sa, sb), "an older params struct gives another transcript");
    /* an info struct without n_segments: written no further than its size */
    qattn_transcript_info info;
    memset(&info, 0x5A, sizeof info);
    info.struct_size = offsetof(qattn_transcript_info, n_segments);
    CHECK(qattn_transcript_get_info(a, &info) == QATTN_OK, "%s", qattn_last_error());
    int32_t untouched;
    memset(&untouched, 0x5A, sizeof untouched);
    CHECK(info.n_segments == untouched && !strcmp(info.language, "en"), "n_segments written");
    qattn_transcript_free(a), qattn_transcript_free(b);
    qattn_transcribe_params zero;
    memset(&zero, 0, sizeof zero);
    qattn_session *s = NULL;
    CHECK(qattn_session_create(w, &zero, &s) == QATTN_ERR_ARG && !s, "struct_size 0 refused");
    CHECK(strstr(qattn_last_error(), "struct_size"), "%s", qattn_last_error());
    full.struct_size = sizeof full + 8;
    CHECK(qattn_session_create(w, &full, &s) == QATTN_ERR_ARG && !s, "a newer struct refused");
    qattn_encoder_info e = {0, 0, 0, 0, 0, 0};
    CHECK(qattn_encoder_get_info(NULL, &e) == QATTN_ERR_NULL, "NULL encoder");
}

static void loading(const char *model_dir, const char *speech_dir)
{
    /* OpenBLAS's thread count is the host program's: a load at f32 leaves it */
    openblas_set_num_threads(1);
    qattn_encoder_params p = qattn_encoder_default_params();
    p.precision = QATTN_PRECISION_F32, p.threads = 2;
    qattn_whisper *f32 = NULL;
    CHECK(qattn_whisper_load(model_dir, &p, &f32) == QATTN_OK, "%s", qattn_last_error());
    CHECK(openblas_get_num_threads() == 1, "OpenBLAS threads set to %d by a load",
          openblas_get_num_threads());
    qattn_whisper_free(f32);
    /* NULL params: int8 throughout; the decoder's logits are the int8 decoder's */
    qattn_decoder *d_null = NULL, *d_int8 = NULL, *d_f32 = NULL;
    p.precision = QATTN_PRECISION_INT8;
    CHECK(qattn_decoder_load(model_dir, NULL, &d_null) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_decoder_load(model_dir, &p, &d_int8) == QATTN_OK, "%s", qattn_last_error());
    p.precision = QATTN_PRECISION_F32;
    CHECK(qattn_decoder_load(model_dir, &p, &d_f32) == QATTN_OK, "%s", qattn_last_error());
    qattn_decoder_info info = {sizeof info, 0, 0, 0, 0, 0};
    qattn_decoder_get_info(d_null, &info);
    const size_t frames = 1500, v = (size_t)info.n_vocab;
    float *features = malloc(frames * (size_t)info.n_state * sizeof(float));
    float *a = malloc(3 * v * sizeof(float)), *b = malloc(3 * v * sizeof(float));
    float *c = malloc(3 * v * sizeof(float));
    for (size_t i = 0; i < frames * (size_t)info.n_state; i++)
        features[i] = (float)sin((double)i * 0.37);
    const int32_t tokens[3] = {50257, 50362, 314};
    qattn_decoder_logits(d_null, features, (int32_t)frames, tokens, 3, a);
    qattn_decoder_logits(d_int8, features, (int32_t)frames, tokens, 3, b);
    qattn_decoder_logits(d_f32, features, (int32_t)frames, tokens, 3, c);
    CHECK(!memcmp(a, b, 3 * v * sizeof(float)) && memcmp(a, c, 3 * v * sizeof(float)),
          "decoder_load(NULL) is not the int8 decoder");
    free(features), free(a), free(b), free(c);
    qattn_decoder_free(d_null), qattn_decoder_free(d_int8), qattn_decoder_free(d_f32);
    /* a missing file is NOT_FOUND; a file that is there but is no audio is IO */
    char path[4200];
    float *x = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/no-such-file.flac", speech_dir);
    CHECK(qattn_audio_load(path, &x, &n) == QATTN_ERR_NOT_FOUND, "%s", qattn_last_error());
    qattn_whisper *none = NULL;
    CHECK(qattn_whisper_load(path, NULL, &none) == QATTN_ERR_NOT_FOUND, "%s", qattn_last_error());
    snprintf(path, sizeof path, "%s/manifest.tsv", speech_dir);
    CHECK(qattn_audio_load(path, &x, &n) == QATTN_ERR_IO, "%s", qattn_last_error());
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_session SPEECH_DIR\n");
        return 2;
    }
    char dir[4096], audio_path[4200];
    if (!testing_model_dir("test_session", "tiny.en", dir, sizeof dir))
        return 1;
    qattn_encoder_params p = qattn_encoder_default_params();
    p.threads = 2;
    qattn_whisper *w = NULL;
    CHECK(qattn_whisper_load(dir, &p, &w) == QATTN_OK, "%s", qattn_last_error());
    /* a person speaking for 26.7 s (MFA's spontaneous monologue), twice over */
    snprintf(audio_path, sizeof audio_path, "%s/mfa-spontaneous/acoustic_corpus.wav", argv[1]);
    float *one = NULL;
    size_t n = 0;
    CHECK(qattn_audio_load(audio_path, &one, &n) == QATTN_OK, "%s", qattn_last_error());
    if (!w || !one)
        return testing_report("test_session");
    float *x = tiled(one, n, 2);
    mel_in_pieces_is_the_whole(one, n);
    vad_times_map_back();
    pieces_equal_one_call(w, x, 2 * n, 0);
    pieces_equal_one_call(w, x, 2 * n, 1);
    batched_items_as_alone(w, x, 2 * n, 0, 0);
    batched_items_as_alone(w, x, 2 * n, 1, 0);
    batched_items_as_alone(w, x, 2 * n, 0, 1);
    cancel_from_another_thread(w, x, 2 * n);
    on_segment_stop_is_cancelled(w, x, 2 * n);
    struct_sizes(w, one, n);
    two_sessions_at_once(w, one, n);
    loading(dir, argv[1]);
    free(x);
    qattn_audio_free(one);
    qattn_whisper_free(w);
    return testing_report("test_session");
}
