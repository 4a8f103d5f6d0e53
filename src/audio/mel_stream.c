/* Whisper's log-mel of audio that arrives in pieces (mel_stream.h). */
#include "audio/mel_stream.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio/mel.h"
#include "core/error.h"
#include "ops/float_ops.h"

enum { HOP = QATTN_MEL_HOP, HALF = QATTN_MEL_N_FFT / 2 };

/* The signal's length while it is open: larger than any index a computed frame reads, so no
 * frame is reflected at an end that is not there yet. */
#define OPEN_LENGTH ((size_t)1 << 40)

qattn_status qattn_mel_stream_init(qattn_mel_stream *ms, int32_t n_mels, int32_t threads)
{
    memset(ms, 0, sizeof *ms);
    if (n_mels < 1 || n_mels > 512 || threads < 0)
        return qattn_fail(QATTN_ERR_ARG, "mel stream: %d mel bands, %d threads", n_mels, threads);
    ms->n_mels = n_mels, ms->threads = threads, ms->max = -INFINITY;
    return QATTN_OK;
}

void qattn_mel_stream_free(qattn_mel_stream *ms)
{
    free(ms->audio), free(ms->raw);
    memset(ms, 0, sizeof *ms);
}

size_t qattn_mel_stream_content_frames(const qattn_mel_stream *ms)
{
    return ms->fed / HOP;
}

size_t qattn_mel_stream_ready_frames(const qattn_mel_stream *ms)
{
    return ms->raw_base + ms->raw_len;
}

/* Room for `more` frames after the ones held (each band's row raw_cap floats). */
static qattn_status reserve_frames(qattn_mel_stream *ms, size_t more)
{
    if (more > SIZE_MAX / 2 - ms->raw_len)
        return qattn_fail(QATTN_ERR_SIZE, "mel stream: %zu frames", more);
    const size_t need = ms->raw_len + more;
    if (need <= ms->raw_cap)
        return QATTN_OK;
    /* with room for the silence's frames too: audio fed at once and then finished grows once,
     * to its exact size (the whole-audio spectrogram's) */
    size_t cap = 2 * ms->raw_cap;
    cap = cap > need + QATTN_WINDOW_FRAMES ? cap : need + QATTN_WINDOW_FRAMES;
    if (cap > SIZE_MAX / sizeof(float) / (size_t)ms->n_mels)
        return qattn_fail(QATTN_ERR_SIZE, "mel stream: %zu frames", cap);
    float *grown = malloc((size_t)ms->n_mels * cap * sizeof(float));
    if (!grown)
        return qattn_fail(QATTN_ERR_NOMEM, "mel stream: out of memory for %zu frames", cap);
    for (int32_t m = 0; m < ms->n_mels && ms->raw_len; m++)
        memcpy(grown + (size_t)m * cap, ms->raw + (size_t)m * ms->raw_cap, ms->raw_len * sizeof(float));
    free(ms->raw);
    ms->raw = grown, ms->raw_cap = cap;
    return QATTN_OK;
}

/* Frames [next, upto) of the signal of n samples, of which audio holds those from `base` on
 * (as far as the frames read). */
static qattn_status compute(qattn_mel_stream *ms, const float *audio, size_t base, size_t n,
                            size_t upto)
{
    const size_t next = qattn_mel_stream_ready_frames(ms);
    if (upto <= next)
        return QATTN_OK;
    qattn_status st = reserve_frames(ms, upto - next);
    float max;
    if (st == QATTN_OK)
        st = qattn_log_mel_raw(audio, base, n, next, upto - next, ms->n_mels, ms->threads,
                               ms->raw + ms->raw_len, ms->raw_cap, &max);
    if (st != QATTN_OK)
        return st;
    ms->raw_len += upto - next;
    ms->max = max > ms->max ? max : ms->max;
    return QATTN_OK;
}

/* Room for `n` samples in the kept audio. */
static qattn_status reserve_audio(qattn_mel_stream *ms, size_t n)
{
    if (n <= ms->audio_cap)
        return QATTN_OK;
    float *grown = realloc(ms->audio, n * sizeof(float));
    if (!grown)
        return qattn_fail(QATTN_ERR_NOMEM, "session_feed: out of memory for %zu samples", n);
    ms->audio = grown, ms->audio_cap = n;
    return QATTN_OK;
}

qattn_status qattn_mel_stream_feed(qattn_mel_stream *ms, const float *samples, size_t n)
{
    if (ms->finished)
        return qattn_fail(QATTN_ERR_ARG, "session_feed: the audio was already finished");
    if (n == 0)
        return QATTN_OK;
    if (!samples)
        return qattn_fail(QATTN_ERR_NULL, "session_feed: samples is NULL");
    const size_t bad = qattn_first_non_finite(samples, n);
    if (bad < n)
        return qattn_fail(QATTN_ERR_VALUE, "session_feed: sample %zu of this piece is not finite", bad);
    if (n > OPEN_LENGTH - ms->fed - QATTN_WINDOW_SAMPLES)
        return qattn_fail(QATTN_ERR_SIZE, "session_feed: %zu samples in all is too long", ms->fed + n);
    const size_t before = ms->fed, after = before + n, raw_len = ms->raw_len;
    const float max = ms->max;
    /* frame t is final once samples up to t 160 + 199 are here (and, for the first two,
     * the 200 after the start that they reflect) */
    const size_t upto = after > HALF ? (after - HALF) / HOP + 1 : 0;
    /* Frames whose samples start before this piece (a few: 400 samples span under three
     * hops) read the kept tail joined to the piece's first samples; the others read the
     * piece where it is, so that nothing the size of the piece is copied. */
    const size_t in_piece = (before + HALF + HOP - 1) / HOP; /* the first with t 160 - 200 >= before */
    const size_t joined = n < QATTN_MEL_N_FFT ? n : QATTN_MEL_N_FFT;
    qattn_status st = reserve_audio(ms, ms->audio_len + joined);
    if (st == QATTN_OK) {
        memcpy(ms->audio + ms->audio_len, samples, joined * sizeof(float));
        st = compute(ms, ms->audio, ms->audio_base, OPEN_LENGTH, upto < in_piece ? upto : in_piece);
    }
    if (st == QATTN_OK)
        st = compute(ms, samples, before, OPEN_LENGTH, upto);
    /* the samples frames to come read: from the next one's first (next 160 - 200) on */
    const size_t keep = upto * HOP > HALF ? upto * HOP - HALF : 0;
    if (st == QATTN_OK && keep < before) { /* the kept tail, then the whole piece */
        const size_t drop = keep - ms->audio_base;
        st = reserve_audio(ms, ms->audio_len - drop + n);
        if (st == QATTN_OK) {
            memmove(ms->audio, ms->audio + drop, (ms->audio_len - drop) * sizeof(float));
            ms->audio_len -= drop, ms->audio_base = keep;
            memcpy(ms->audio + ms->audio_len, samples, n * sizeof(float));
            ms->audio_len += n;
        }
    } else if (st == QATTN_OK) { /* only the piece's last samples */
        st = reserve_audio(ms, after - keep);
        if (st == QATTN_OK) {
            memcpy(ms->audio, samples + (keep - before), (after - keep) * sizeof(float));
            ms->audio_base = keep, ms->audio_len = after - keep;
        }
    }
    if (st != QATTN_OK) { /* nothing kept: the caller may feed the piece again */
        ms->raw_len = raw_len, ms->max = max;
        return st;
    }
    ms->fed = after;
    return QATTN_OK;
}

qattn_status qattn_mel_stream_finish(qattn_mel_stream *ms)
{
    if (ms->finished)
        return QATTN_OK;
    /* qattn_log_mel_padded's signal: the audio, then 30 s of zeros, reflected at its end */
    const size_t total = ms->fed + QATTN_WINDOW_SAMPLES;
    float *tail = calloc(ms->audio_len + QATTN_WINDOW_SAMPLES, sizeof(float));
    if (!tail)
        return qattn_fail(QATTN_ERR_NOMEM, "session_finish: out of memory");
    if (ms->audio_len)
        memcpy(tail, ms->audio, ms->audio_len * sizeof(float));
    qattn_status st = compute(ms, tail, ms->audio_base, total, total / HOP);
    free(tail);
    if (st == QATTN_OK)
        ms->finished = 1;
    return st;
}

void qattn_mel_stream_window(const qattn_mel_stream *ms, size_t start, size_t size, size_t width,
                             float *out)
{
    for (int32_t m = 0; m < ms->n_mels; m++) {
        float *dst = out + (size_t)m * width;
        if (size)
            qattn_log_mel_normalize(ms->raw + (size_t)m * ms->raw_cap + (start - ms->raw_base),
                                    size, ms->max, dst);
        memset(dst + size, 0, (width - size) * sizeof(float));
    }
}

void qattn_mel_stream_forget(qattn_mel_stream *ms, size_t frame)
{
    if (frame <= ms->raw_base)
        return;
    const size_t drop = frame - ms->raw_base < ms->raw_len ? frame - ms->raw_base : ms->raw_len;
    for (int32_t m = 0; m < ms->n_mels; m++) {
        float *row = ms->raw + (size_t)m * ms->raw_cap;
        memmove(row, row + drop, (ms->raw_len - drop) * sizeof(float));
    }
    ms->raw_base += drop, ms->raw_len -= drop;
}
