/*
 * The transcription session (qattn.h): audio fed in pieces, segments pulled one at a time,
 * each window decoded when a pull needs it and its audio is there; and the one-call
 * transcription as a session fed everything at once.
 */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "transcribe/session.h"
#include "transcribe/transcript.h"
#include "transcribe/whisper.h"

#define TIME_PER_FRAME 0.01 /* hop 160 at 16 kHz */

qattn_status qattn_session_create(const qattn_whisper *w, const qattn_transcribe_params *params,
                                  qattn_session **out)
{
    qattn_clear_error();
    if (!w || !out)
        return qattn_fail(QATTN_ERR_NULL, "session_create: %s is NULL", !w ? "whisper" : "session");
    *out = NULL;
    struct qattn_session *s = calloc(1, sizeof *s);
    if (!s)
        return qattn_fail(QATTN_ERR_NOMEM, "session_create: out of memory");
    s->w = w;
    s->p = qattn_transcribe_default_params();
    s->info.struct_size = sizeof s->info;
    atomic_init(&s->cancel, 0);
    qattn_status st = params ? qattn_struct_read(&s->p, sizeof s->p, params, "session_create")
                             : QATTN_OK;
    if (st == QATTN_OK)
        st = qattn_session_setup(s);
    if (st != QATTN_OK) {
        qattn_session_free(s);
        return st;
    }
    *out = s;
    return QATTN_OK;
}

void qattn_session_free(qattn_session *s)
{
    if (!s)
        return;
    qattn_session_teardown(s);
    free(s);
}

void qattn_session_cancel(qattn_session *s)
{
    if (s)
        atomic_store(&s->cancel, 1);
}

/* The status a call returns once the session has failed or been cancelled. */
static qattn_status ended(const struct qattn_session *s)
{
    if (s->failed != QATTN_OK)
        return qattn_fail(s->failed, "session: an earlier call failed (%s)",
                          qattn_status_string(s->failed));
    if (atomic_load(&s->cancel))
        return qattn_fail(QATTN_CANCELLED, "session: cancelled");
    if (s->stopped)
        return qattn_fail(QATTN_CANCELLED, "session: stopped by on_segment");
    return QATTN_OK;
}

/* A failure that ends the session: the window's state is unknown, so what it queued goes. */
static qattn_status fail_session(struct qattn_session *s, qattn_status st)
{
    s->failed = st;
    qattn_segment_queue_clear(&s->queue);
    return st;
}

/* The audio is kept until finish (the VAD's spans, or a batch's clips, need all of it). */
static int keeps_audio(const qattn_session *s)
{
    return s->p.vad_filter || s->batch;
}

qattn_status qattn_session_feed(qattn_session *s, const float *samples, size_t n)
{
    qattn_clear_error();
    if (!s)
        return qattn_fail(QATTN_ERR_NULL, "session_feed: session is NULL");
    qattn_status st = ended(s);
    if (st == QATTN_OK && s->mel.finished)
        st = qattn_fail(QATTN_ERR_ARG, "session_feed: the audio was already finished");
    if (st == QATTN_OK) /* each fails keeping nothing: not sticky */
        st = keeps_audio(s) ? qattn_session_keep_audio(s, samples, n)
                            : qattn_mel_stream_feed(&s->mel, samples, n);
    if (st == QATTN_OK) {
        const size_t fed = keeps_audio(s) ? s->vad_len : s->mel.fed;
        s->info.duration = s->info.duration_after_vad = (double)fed / QATTN_SAMPLE_RATE;
    }
    return st;
}

qattn_status qattn_session_finish(qattn_session *s)
{
    qattn_clear_error();
    if (!s)
        return qattn_fail(QATTN_ERR_NULL, "session_finish: session is NULL");
    qattn_status st = ended(s);
    if (st == QATTN_OK && keeps_audio(s) && !s->mel.finished &&
        (st = s->p.vad_filter ? qattn_session_vad_finish(s) : qattn_session_batch_clips(s)) != QATTN_OK)
        return fail_session(s, st); /* the audio is gone with the VAD's memory */
    return st == QATTN_OK ? qattn_mel_stream_finish(&s->mel) : st;
}

qattn_status qattn_session_get_info(const qattn_session *s, qattn_transcript_info *info)
{
    qattn_clear_error();
    if (!s || !info)
        return qattn_fail(QATTN_ERR_NULL, "session_get_info: NULL argument");
    return qattn_struct_write(info, &s->info, sizeof s->info, "session_get_info");
}

qattn_status qattn_session_next(qattn_session *s, const qattn_segment **segment)
{
    qattn_clear_error();
    if (!s || !segment)
        return qattn_fail(QATTN_ERR_NULL, "session_next: %s is NULL", !s ? "session" : "segment");
    *segment = NULL;
    if (atomic_load(&s->cancel) || s->failed != QATTN_OK)
        return ended(s);
    /* the segment given last is the caller's until this call: now it may go (those decoded
     * before on_segment asked to stop are still given) */
    if (s->queue.head < s->queue.n) {
        *segment = &s->queue.items[s->queue.head++];
        s->info.n_segments++;
        return QATTN_OK;
    }
    qattn_segment_queue_clear(&s->queue);
    for (;;) {
        qattn_status st = ended(s);
        if (st != QATTN_OK)
            return st;
        if (s->w->multilingual && s->language == 0) { /* detected before the first window */
            st = qattn_session_detect_language(s);
            if (st == QATTN_AGAIN)
                return st;
            if (st != QATTN_OK)
                return fail_session(s, st);
        }
        if (s->batch) { /* the chunks are known at finish */
            if (!s->mel.finished)
                return QATTN_AGAIN;
            st = qattn_session_decode_batch(s);
            if (st == QATTN_DONE)
                return st;
        } else {
            size_t size = 0;
            st = qattn_session_clip_window(s, &size);
            if (st != QATTN_OK)
                return st; /* DONE or AGAIN */
            st = qattn_session_decode_window(s, size);
        }
        if (st == QATTN_CANCELLED)
            return qattn_fail(QATTN_CANCELLED, "session: cancelled");
        if (st != QATTN_OK)
            return fail_session(s, st);
        if (!s->batch)
            qattn_mel_stream_forget(&s->mel, qattn_session_clips_keep_from(s));
        if (s->p.on_progress && !s->batch) {
            const size_t frames = qattn_mel_stream_content_frames(&s->mel);
            s->p.on_progress((double)(s->seek < frames ? s->seek : frames) * TIME_PER_FRAME,
                             (double)frames * TIME_PER_FRAME, s->p.on_progress_user);
        }
        if (s->queue.n > 0) {
            *segment = &s->queue.items[s->queue.head++];
            s->info.n_segments++;
            return QATTN_OK;
        }
    }
}

qattn_status qattn_session_collect(qattn_session *s, qattn_transcript **out)
{
    qattn_clear_error();
    if (!s || !out)
        return qattn_fail(QATTN_ERR_NULL, "session_collect: %s is NULL", !s ? "session" : "transcript");
    *out = NULL;
    struct qattn_transcript *t = calloc(1, sizeof *t);
    if (!t)
        return qattn_fail(QATTN_ERR_NOMEM, "session_collect: out of memory");
    const qattn_segment *seg = NULL;
    qattn_status st;
    while ((st = qattn_session_next(s, &seg)) == QATTN_OK && (st = qattn_transcript_append(t, seg)) == QATTN_OK)
        ;
    if (st == QATTN_DONE || (st == QATTN_CANCELLED && s->stopped)) {
        const int32_t n = t->info.n_segments;
        t->info = s->info;
        t->info.n_segments = n;
        *out = t, t = NULL;
    }
    qattn_transcript_free(t);
    return st == QATTN_DONE ? QATTN_OK : st;
}

qattn_status qattn_whisper_transcribe(const qattn_whisper *w, const float *samples,
                                      size_t n_samples, const qattn_transcribe_params *params,
                                      qattn_transcript **out)
{
    qattn_clear_error();
    if (!w || !out || (n_samples > 0 && !samples))
        return qattn_fail(QATTN_ERR_NULL, "transcribe: %s is NULL",
                          !w ? "whisper" : !out ? "transcript" : "samples");
    *out = NULL;
    qattn_session *s = NULL;
    qattn_status st = qattn_session_create(w, params, &s);
    if (st == QATTN_OK)
        st = qattn_session_feed(s, samples, n_samples);
    if (st == QATTN_OK)
        st = qattn_session_finish(s);
    if (st == QATTN_OK)
        st = qattn_session_collect(s, out);
    qattn_session_free(s);
    return st;
}
