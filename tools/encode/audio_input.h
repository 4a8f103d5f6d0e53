/* Audio files to the encoder's windows, and `qattn mel`. */
#ifndef QATTN_TOOLS_AUDIO_INPUT_H
#define QATTN_TOOLS_AUDIO_INPUT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Whisper's windows of an audio file: the log-mel of the 16 kHz audio followed by 30 s of
 * zeros (as whisper's transcribe pads it), and the number of 30 s windows that hold audio
 * (ceil(samples / 480000)). Window w is columns [3000 w, 3000 w + 3000) of the returned
 * [n_mels][*frames] array (free it). NULL with a one-line reason in err on failure.
 */
float *audio_windows_mel(const char *path, int32_t n_mels, int32_t threads, size_t *windows,
                         size_t *frames, char *err, size_t err_size);

/* `qattn mel FILE --out mel.npy [--n-mels N] [--threads N]` */
int mel_main(int argc, char **argv);

#endif
