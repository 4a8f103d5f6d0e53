/* Load a Whisper model and encode an audio file of any length, window by window, with
 * Whisper's windowing (qattn_log_mel_padded + qattn_encoder_windows).
 * Build: cc encode_wav.c $(pkg-config --cflags --libs qattn) */
#include <qattn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: encode_wav MODEL AUDIO\n");
        return 2;
    }
    qattn_encoder *enc = NULL;
    qattn_encoder_info info = {sizeof info, 0, 0, 0, 0, 0};
    float *audio = NULL, *mel = NULL, *window = NULL, *out = NULL;
    size_t n = 0;
    int ok = qattn_encoder_load(argv[1], NULL, &enc) == QATTN_OK &&
             qattn_encoder_get_info(enc, &info) == QATTN_OK &&
             qattn_audio_load(argv[2], &audio, &n) == QATTN_OK;
    const size_t frames = qattn_log_mel_frames(n), stride = qattn_log_mel_padded_frames(n);
    const size_t window_floats = (size_t)info.n_mels * 2 * info.n_ctx;
    if (ok) {
        mel = malloc((size_t)info.n_mels * stride * sizeof(float));
        window = malloc(window_floats * sizeof(float));
        out = malloc((size_t)info.n_ctx * info.n_state * sizeof(float));
        ok = mel && window && out && qattn_log_mel_padded(audio, n, info.n_mels, 0, mel) == QATTN_OK;
    }
    const size_t windows = ok ? qattn_encoder_window_count(enc, frames) : 0;
    for (size_t w = 0; ok && w < windows; w++) {
        ok = qattn_encoder_windows(enc, mel, info.n_mels, frames, stride, w * 2 * info.n_ctx, 1,
                                   window) == QATTN_OK &&
             qattn_encoder_run(enc, window, 1, out) == QATTN_OK;
        if (ok)
            printf("window %zu of %zu: (%d, %d), first value %.4f\n", w + 1, windows, info.n_ctx,
                   info.n_state, out[0]);
    }
    if (!ok)
        fprintf(stderr, "%s\n", (mel || !enc) ? qattn_last_error() : "out of memory");
    free(mel), free(window), free(out);
    qattn_audio_free(audio);
    qattn_encoder_free(enc);
    return ok ? 0 : 1;
}
