/* libFuzzer target: an audio file's bytes through qattn_audio_load_memory (libsndfile's
 * virtual I/O, our decoding, downmix and resampling; at most 20 s declared, to keep each run
 * short), and the log-mel of what comes out. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "qattn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    float *samples;
    size_t n;
    if (qattn_audio_load_memory(data, size, 20.0, &samples, &n) == QATTN_OK) {
        size_t frames = qattn_log_mel_frames(n);
        float *mel = malloc(8 * (frames ? frames : 1) * sizeof(float));
        if (mel)
            qattn_log_mel(samples, n, 8, 1, mel);
        free(mel);
        qattn_audio_free(samples);
    }
    return 0;
}
