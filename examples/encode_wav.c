/* Load a Whisper model, compute the log-mel of an audio file's first 30 s, encode it.
 * Build: cc encode_wav.c $(pkg-config --cflags --libs qattn) */
#include <qattn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: encode_wav MODEL AUDIO\n");
        return 2;
    }
    qattn_encoder *enc;
    qattn_encoder_info info;
    if (qattn_encoder_load(argv[1], NULL, &enc) != QATTN_OK ||
        qattn_encoder_get_info(enc, &info) != QATTN_OK) {
        fprintf(stderr, "%s\n", qattn_last_error());
        return 1;
    }
    float *audio, *window = calloc(QATTN_WINDOW_SAMPLES, sizeof(float));
    size_t n;
    if (!window || qattn_audio_load(argv[2], &audio, &n) != QATTN_OK) {
        fprintf(stderr, "%s\n", qattn_last_error());
        qattn_encoder_free(enc);
        free(window);
        return 1;
    }
    /* the first 30 s, zero-padded, plus the 160 samples the last frame needs */
    float *padded = calloc(QATTN_WINDOW_SAMPLES + QATTN_MEL_HOP, sizeof(float));
    memcpy(padded, audio, (n < QATTN_WINDOW_SAMPLES ? n : QATTN_WINDOW_SAMPLES) * sizeof(float));
    float *mel = malloc((size_t)info.n_mels * (QATTN_WINDOW_FRAMES + 1) * sizeof(float));
    float *mel3000 = malloc((size_t)info.n_mels * QATTN_WINDOW_FRAMES * sizeof(float));
    float *out = malloc((size_t)info.n_ctx * info.n_state * sizeof(float));
    int ok = qattn_log_mel(padded, QATTN_WINDOW_SAMPLES + QATTN_MEL_HOP, info.n_mels, 0, mel) == QATTN_OK;
    for (int m = 0; ok && m < info.n_mels; m++)
        memcpy(mel3000 + (size_t)m * QATTN_WINDOW_FRAMES, mel + (size_t)m * (QATTN_WINDOW_FRAMES + 1),
               QATTN_WINDOW_FRAMES * sizeof(float));
    ok = ok && qattn_encoder_run(enc, mel3000, 1, out) == QATTN_OK;
    if (ok)
        printf("encoded %zu samples: (%d, %d), first value %.4f\n", n, info.n_ctx, info.n_state, out[0]);
    else
        fprintf(stderr, "%s\n", qattn_last_error());
    free(padded), free(mel), free(mel3000), free(out), free(window);
    qattn_audio_free(audio);
    qattn_encoder_free(enc);
    return ok ? 0 : 1;
}
