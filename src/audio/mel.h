/* Internal: the log-mel spectrogram in two steps, for callers that compute it piece by piece
 * (audio/mel_stream.h) or all at once (qattn_log_mel). */
#ifndef QATTN_AUDIO_MEL_H
#define QATTN_AUDIO_MEL_H

#include <stddef.h>
#include <stdint.h>

#include "qattn.h"

#define QATTN_MEL_N_FFT 400 /* samples per frame's transform, centred on frame t * hop */

/* The raw frames [f0, f0 + frames): log10 of the clamped mel power, before Whisper's floor
 * and scaling, into out[m * ld + (t - f0)]; *max gets their largest value (-inf for none).
 * The signal is n samples reflect-padded by N_FFT / 2 at both ends (n > N_FFT / 2); audio
 * holds its samples from `base` on, as far as the frames read (frame t reads samples
 * t hop - 200 to t hop + 199, reflected at the ends). A frame's values do not depend on
 * which call computes it. */
qattn_status qattn_log_mel_raw(const float *audio, size_t base, size_t n, size_t f0, size_t frames,
                               int32_t n_mels, int32_t threads, float *out, size_t ld, float *max);

/* Whisper's last steps: out[i] = (max(raw[i], max - 8) + 4) / 4 (out may be raw). */
void qattn_log_mel_normalize(const float *raw, size_t n, float max, float *out);

#endif
