/*
 * faster-whisper's vad_filter (transcribe.py WhisperModel.transcribe with vad_filter=True):
 * the VAD's speech spans of the whole audio (get_speech_timestamps), their samples joined
 * (collect_chunks) and transcribed instead of the audio, and every segment's start and end
 * mapped back to the audio's times (restore_speech_timestamps through SpeechTimestampsMap:
 * the silence left out before the span a time falls in is added, then rounded to 10 ms).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/float_ops.h"
#include "transcribe/session.h"

qattn_status qattn_session_keep_audio(struct qattn_session *s, const float *samples, size_t n)
{
    if (n == 0)
        return QATTN_OK;
    if (!samples)
        return qattn_fail(QATTN_ERR_NULL, "session_feed: samples is NULL");
    const size_t bad = qattn_first_non_finite(samples, n);
    if (bad < n)
        return qattn_fail(QATTN_ERR_VALUE, "session_feed: sample %zu of this piece is not finite", bad);
    if (n > ((size_t)1 << 40) - s->vad_len)
        return qattn_fail(QATTN_ERR_SIZE, "session_feed: %zu samples in all is too long", s->vad_len + n);
    if (s->vad_len + n > s->vad_cap) {
        const size_t cap = 2 * s->vad_cap > s->vad_len + n ? 2 * s->vad_cap : s->vad_len + n;
        float *grown = realloc(s->vad_audio, cap * sizeof(float));
        if (!grown)
            return qattn_fail(QATTN_ERR_NOMEM, "session_feed: out of memory for %zu samples", cap);
        s->vad_audio = grown, s->vad_cap = cap;
    }
    memcpy(s->vad_audio + s->vad_len, samples, n * sizeof(float));
    s->vad_len += n;
    return QATTN_OK;
}

qattn_status qattn_session_vad_finish(struct qattn_session *s)
{
    const qattn_vad *vad = s->p.vad;
    qattn_status st = QATTN_OK;
    if (!vad && (st = qattn_vad_load(NULL, &s->own_vad)) == QATTN_OK)
        vad = s->own_vad;
    const size_t n = s->vad_len, n_probs = qattn_vad_probability_count(n);
    float *probs = st == QATTN_OK ? malloc(n_probs * sizeof *probs) : NULL;
    if (st == QATTN_OK && !probs)
        st = qattn_fail(QATTN_ERR_NOMEM, "session_finish: out of memory");
    if (st == QATTN_OK)
        st = qattn_vad_probabilities(vad, s->vad_audio, n, probs);
    size_t count = 0;
    qattn_speech_span *spans = NULL;
    if (st == QATTN_OK)
        st = qattn_vad_speech_spans(probs, n_probs, n, &s->p.vad_parameters, NULL, 0, &count);
    if (st == QATTN_OK) {
        spans = malloc((count ? count : 1) * sizeof *spans);
        s->vad_chunk_end = malloc((count ? count : 1) * sizeof *s->vad_chunk_end);
        s->vad_silence_before = malloc((count ? count : 1) * sizeof *s->vad_silence_before);
        if (!spans || !s->vad_chunk_end || !s->vad_silence_before)
            st = qattn_fail(QATTN_ERR_NOMEM, "session_finish: out of memory");
    }
    if (st == QATTN_OK)
        st = qattn_vad_speech_spans(probs, n_probs, n, &s->p.vad_parameters, spans, count, &count);
    int64_t previous_end = 0, silent = 0, joined = 0;
    for (size_t i = 0; st == QATTN_OK && i < count; i++) {
        silent += spans[i].start - previous_end;
        previous_end = spans[i].end;
        s->vad_chunk_end[i] = spans[i].end - silent;
        s->vad_silence_before[i] = (double)silent / QATTN_SAMPLE_RATE;
        if (!s->batch) /* batched: each chunk's log-mel on its own, below */
            st = qattn_mel_stream_feed(&s->mel, s->vad_audio + spans[i].start,
                                       (size_t)(spans[i].end - spans[i].start));
        joined += spans[i].end - spans[i].start;
    }
    if (st == QATTN_OK && s->batch)
        st = qattn_session_batch_chunks(s, spans, count, 0);
    s->n_vad_spans = st == QATTN_OK ? count : 0;
    s->info.duration_after_vad = (double)joined / QATTN_SAMPLE_RATE;
    free(probs), free(spans);
    free(s->vad_audio); /* the joined speech is in the log-mel now */
    s->vad_audio = NULL, s->vad_len = s->vad_cap = 0;
    return st;
}

/* Python's round(x, 2): the correctly rounded decimal (printf's), read back. */
static double round_to_10ms(double x)
{
    char text[64];
    snprintf(text, sizeof text, "%.2f", x);
    return strtod(text, NULL);
}

size_t qattn_session_vad_chunk(const struct qattn_session *s, double t)
{
    const int64_t sample = (int64_t)(t * QATTN_SAMPLE_RATE); /* int(): toward zero */
    size_t right = 0; /* bisect_right: the first end past the sample, at most the last span */
    while (right < s->n_vad_spans && s->vad_chunk_end[right] <= sample)
        right++;
    return s->n_vad_spans == 0 ? 0 : right < s->n_vad_spans - 1 ? right : s->n_vad_spans - 1;
}

double qattn_session_vad_restore_in(const struct qattn_session *s, double t, size_t chunk)
{
    return s->n_vad_spans == 0 ? t : round_to_10ms(s->vad_silence_before[chunk] + t);
}

double qattn_session_vad_restore(const struct qattn_session *s, double t, int is_end)
{
    if (s->n_vad_spans == 0) /* no speech kept: faster-whisper restores nothing */
        return t;
    const int64_t sample = (int64_t)(t * QATTN_SAMPLE_RATE); /* int(): toward zero */
    size_t index = s->n_vad_spans - 1, i;
    for (i = 0; is_end && i < s->n_vad_spans; i++)
        if (s->vad_chunk_end[i] == sample)
            break;
    if (is_end && i < s->n_vad_spans) {
        index = i;
    } else {
        size_t right = 0; /* bisect_right: the first end past the sample */
        while (right < s->n_vad_spans && s->vad_chunk_end[right] <= sample)
            right++;
        index = right < index ? right : index;
    }
    return round_to_10ms(s->vad_silence_before[index] + t);
}

void qattn_session_vad_free(struct qattn_session *s)
{
    free(s->vad_audio), free(s->vad_chunk_end), free(s->vad_silence_before);
    qattn_vad_free(s->own_vad);
    s->vad_audio = NULL, s->vad_chunk_end = NULL, s->vad_silence_before = NULL, s->own_vad = NULL;
}
