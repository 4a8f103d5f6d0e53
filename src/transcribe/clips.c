/*
 * clip_timestamps (session.h): the parts of the audio a session decodes, as faster-whisper's
 * generate_segments walks its seek_clips (faster_whisper/transcribe.py): each time rounded to
 * a frame (Python's round: half to even), an odd count closed by the audio's end, each clip
 * decoded from its start in windows that never cross its end, a clip ending at or before the
 * window's seek skipped. Without clips: one clip of all the audio.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "transcribe/session.h"
#include "transcribe/whisper.h"

#define FRAMES_PER_SECOND 100 /* hop 160 at 16 kHz */
#define MAX_CLIP_SECONDS 1e8  /* three years: frame numbers stay exact in a double */

qattn_status qattn_session_clips_setup(struct qattn_session *s)
{
    const int32_t n = s->p.n_clip_timestamps;
    if (n < 0 || (n > 0 && !s->p.clip_timestamps))
        return qattn_fail(QATTN_ERR_ARG, "transcribe: clip_timestamps: %d times%s", n,
                          n < 0 ? "" : " and a NULL array");
    for (int32_t i = 0; i < n; i++)
        if (!(s->p.clip_timestamps[i] >= 0 && s->p.clip_timestamps[i] <= MAX_CLIP_SECONDS))
            return qattn_fail(QATTN_ERR_ARG, "transcribe: clip_timestamps[%d] = %g: times are "
                              "seconds in [0, %g]", i, s->p.clip_timestamps[i], MAX_CLIP_SECONDS);
    s->n_clips = n > 0 ? (n + 1) / 2 : 1;
    s->clips = malloc((size_t)s->n_clips * sizeof *s->clips);
    if (!s->clips)
        return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory for %d clips", s->n_clips);
    for (int32_t c = 0; c < s->n_clips; c++) {
        /* nearbyint rounds half to even in the default rounding mode, as Python's round */
        s->clips[c].start = n > 0 ? (size_t)nearbyint(s->p.clip_timestamps[2 * c] * FRAMES_PER_SECOND) : 0;
        s->clips[c].end = 2 * c + 1 < n
                              ? (size_t)nearbyint(s->p.clip_timestamps[2 * c + 1] * FRAMES_PER_SECOND)
                              : SIZE_MAX;
    }
    /* faster-whisper detects the language from int(first time x 100), not rounded */
    s->detect_from = n > 0 ? s->p.clip_timestamps[0] * FRAMES_PER_SECOND : 0;
    s->clip = 0;
    s->seek = s->clips[0].start;
    if (n > 0) /* faster-whisper runs its VAD only when no clips are given */
        s->p.vad_filter = 0;
    return QATTN_OK;
}

qattn_status qattn_session_clip_window(struct qattn_session *s, size_t *size)
{
    const size_t width = 2 * (size_t)s->w->enc.n_ctx;
    const int finished = s->mel.finished;
    const size_t frames = qattn_mel_stream_content_frames(&s->mel);
    size_t end;
    for (;;) {
        if (s->clip >= s->n_clips)
            return QATTN_DONE;
        const qattn_clip *c = &s->clips[s->clip];
        end = finished && c->end > frames ? frames : c->end;
        if (s->seek < c->start)
            s->seek = c->start;
        if (s->seek < end)
            break;
        if (++s->clip < s->n_clips) /* the next clip, which may start earlier */
            s->seek = s->clips[s->clip].start;
    }
    const size_t want = end - s->seek < width ? end - s->seek : width;
    if (finished) {
        *size = want;
        return QATTN_OK;
    }
    /* before finish: once the window's frames are final (there, they are in the audio too) */
    if (qattn_mel_stream_ready_frames(&s->mel) - s->seek < want ||
        qattn_mel_stream_ready_frames(&s->mel) < s->seek)
        return QATTN_AGAIN;
    *size = want;
    return QATTN_OK;
}

size_t qattn_session_clips_keep_from(const struct qattn_session *s)
{
    size_t from = s->seek;
    for (int32_t c = s->clip + 1; c < s->n_clips; c++)
        from = s->clips[c].start < from ? s->clips[c].start : from;
    return from;
}
