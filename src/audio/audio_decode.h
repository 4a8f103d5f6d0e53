/* Internal: decoding an opened libsndfile stream (files, or memory for the fuzz target). */
#ifndef QATTN_AUDIO_DECODE_H
#define QATTN_AUDIO_DECODE_H

#include <sndfile.h>
#include <stddef.h>

#include "qattn.h"

/* Reads the whole stream, averages the channels, resamples to 16 kHz, and closes it. */
qattn_status qattn_audio_decode(SNDFILE *f, const SF_INFO *info, const char *path, float **samples,
                          size_t *count);

#endif
