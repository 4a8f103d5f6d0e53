/*
 * Whisper's windowing of long audio (openai/whisper transcribe.py; faster-whisper's
 * generate_segments does the same): the log-mel spectrogram of the audio followed by 30 s of
 * silence (so the last frames of speech see zeros after them, not a reflection), then
 * windows of the encoder's input length taken from it, each zero-filled (0.0 in the
 * normalized log-mel, Whisper's pad_or_trim) past the frames that hold audio.
 *
 * The window length is the model's, 2 n_ctx frames (3000 for every released Whisper): a
 * caller never assumes it, so a model with another n_ctx is windowed right, not over-read.
 */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "whisper/model.h"

size_t qattn_log_mel_padded_frames(size_t samples)
{
    return qattn_log_mel_frames(samples) + QATTN_WINDOW_FRAMES;
}

qattn_status qattn_log_mel_padded(const float *audio, size_t samples, int32_t n_mels,
                                  int32_t threads, float *out)
{
    qattn_clear_error();
    if ((samples > 0 && !audio) || !out)
        return qattn_fail(QATTN_ERR_NULL, "log_mel_padded: %s is NULL", !out ? "out" : "audio");
    if (n_mels < 1 || n_mels > 512)
        return qattn_fail(QATTN_ERR_ARG, "log_mel_padded: n_mels = %d, must be in [1, 512]", n_mels);
    if (samples > ((size_t)1 << 34))
        return qattn_fail(QATTN_ERR_SIZE, "log_mel_padded: %zu samples is too long", samples);
    const size_t total = samples + QATTN_WINDOW_SAMPLES;
    float *padded = calloc(total, sizeof(float));
    if (!padded)
        return qattn_fail(QATTN_ERR_NOMEM, "log_mel_padded: out of memory for %zu samples", samples);
    if (samples)
        memcpy(padded, audio, samples * sizeof(float));
    qattn_status st = qattn_log_mel(padded, total, n_mels, threads, out);
    free(padded);
    return st;
}

static int32_t window_frames(const struct qattn_encoder *enc)
{
    return 2 * enc->cfg.n_ctx;
}

size_t qattn_encoder_window_count(const qattn_encoder *enc, size_t frames)
{
    if (!enc)
        return 0;
    const size_t w = (size_t)window_frames(enc);
    return frames / w + (frames % w != 0);
}

qattn_status qattn_encoder_windows(const qattn_encoder *enc, const float *mel, int32_t n_mels,
                                   size_t frames, size_t stride, size_t start, int32_t count,
                                   float *out)
{
    qattn_clear_error();
    if (!enc || !out || (frames > 0 && !mel))
        return qattn_fail(QATTN_ERR_NULL, "encoder_windows: %s is NULL",
                          !enc ? "encoder" : !out ? "out" : "mel");
    if (n_mels != enc->cfg.n_mels)
        return qattn_fail(QATTN_ERR_ARG, "encoder_windows: the mel has %d bands, the model needs %d",
                          n_mels, enc->cfg.n_mels);
    if (stride < frames)
        return qattn_fail(QATTN_ERR_SIZE, "encoder_windows: stride %zu < frames %zu", stride, frames);
    const size_t w = (size_t)window_frames(enc);
    if (count < 1 || (size_t)count > SIZE_MAX / sizeof(float) / w / (size_t)n_mels)
        return qattn_fail(QATTN_ERR_SIZE, "encoder_windows: count = %d", count);
    for (int32_t i = 0; i < count; i++) {
        /* window i starts at frame start + i w; one that would start past SIZE_MAX holds no
         * audio either */
        size_t from;
        if (__builtin_add_overflow(start, (size_t)i * w, &from))
            from = SIZE_MAX;
        const size_t avail = from < frames ? frames - from : 0;
        const size_t take = avail < w ? avail : w;
        for (int32_t m = 0; m < n_mels; m++) {
            float *dst = out + ((size_t)i * n_mels + m) * w;
            if (take)
                memcpy(dst, mel + (size_t)m * stride + from, take * sizeof(float));
            memset(dst + take, 0, (w - take) * sizeof(float));
        }
    }
    return QATTN_OK;
}
