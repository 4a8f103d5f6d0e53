/*
 * Whisper's log-mel spectrogram of audio that arrives in pieces (a transcription session's),
 * frame by frame as soon as a frame's samples are all there, equal value for value to
 * qattn_log_mel_padded of the whole audio once it is finished:
 *
 *   feed     appends samples; computes every frame whose 400-sample transform lies within
 *            them (frame t reads samples t 160 - 200 to t 160 + 199; the first two reflect
 *            the start, as the whole-audio spectrogram does)
 *   finish   appends Whisper's 30 s of silence and computes the rest, the last frames
 *            reflected at the end of that silence, as qattn_log_mel_padded does
 *   window   the normalized frames of one window, Whisper's floor taken at the largest value
 *            computed so far (after finish: the whole audio's, so the same window as the
 *            whole-audio spectrogram's), zero past the audio
 *   forget   drops the frames before one (and the samples no frame still needs)
 *
 * It keeps only what later frames and windows need, so a long stream's memory stays bounded
 * by what its caller has not decoded yet.
 */
#ifndef QATTN_AUDIO_MEL_STREAM_H
#define QATTN_AUDIO_MEL_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "qattn.h"

typedef struct qattn_mel_stream {
    int32_t n_mels, threads;
    float *audio;                 /* samples [audio_base, audio_base + audio_len) */
    size_t audio_base, audio_len, audio_cap;
    size_t fed;                   /* samples fed in all */
    float *raw;                   /* [n_mels][raw_cap]: frames [raw_base, raw_base + raw_len) */
    size_t raw_base, raw_len, raw_cap;
    float max;                    /* the largest raw value computed (-inf: none yet) */
    int finished;
} qattn_mel_stream;

qattn_status qattn_mel_stream_init(qattn_mel_stream *ms, int32_t n_mels, int32_t threads);
void qattn_mel_stream_free(qattn_mel_stream *ms);

/* Non-finite samples are QATTN_ERR_VALUE (nothing appended); after finish QATTN_ERR_ARG. */
qattn_status qattn_mel_stream_feed(qattn_mel_stream *ms, const float *samples, size_t n);
qattn_status qattn_mel_stream_finish(qattn_mel_stream *ms);

/* Frames holding audio: fed / 160 (of the finished audio: the frames windows are cut from). */
size_t qattn_mel_stream_content_frames(const qattn_mel_stream *ms);
/* Frames computed so far: every one below it is final. */
size_t qattn_mel_stream_ready_frames(const qattn_mel_stream *ms);

/* out[n_mels][width]: frames [start, start + size) normalized (size <= width, all of them
 * computed and not forgotten), zeros after them (Whisper's pad_or_trim). */
void qattn_mel_stream_window(const qattn_mel_stream *ms, size_t start, size_t size, size_t width,
                             float *out);

/* Frames before `frame` will not be asked for again. */
void qattn_mel_stream_forget(qattn_mel_stream *ms, size_t frame);

#endif
