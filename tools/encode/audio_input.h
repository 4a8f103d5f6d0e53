/* Audio files to the encoder's windows, and `qattn mel`. */
#ifndef QATTN_TOOLS_AUDIO_INPUT_H
#define QATTN_TOOLS_AUDIO_INPUT_H

#include <stddef.h>
#include <stdint.h>

/*
 * An audio file's log-mel for Whisper's windowing (qattn_log_mel_padded): [n_mels][*stride]
 * floats (free it), of which the first *frames hold audio. NULL with a one-line reason in err
 * on failure, or when the file holds less than one mel frame.
 */
float *audio_log_mel_padded(const char *path, int32_t n_mels, int32_t threads, size_t *frames,
                            size_t *stride, char *err, size_t err_size);

/* `qattn mel FILE --out mel.npy [--n-mels N] [--threads N]` */
int mel_main(int argc, char **argv);

#endif
