/* A Whisper model's shape as its files state it (formats/config.c reads it from each format)
 * and the check of what qattn's network supports. */
#ifndef QATTN_FORMATS_MODEL_CONFIG_H
#define QATTN_FORMATS_MODEL_CONFIG_H

#include <stdint.h>

#include "qattn.h"

typedef struct whisper_config {
    int32_t n_mels;   /* 80 or 128 */
    int32_t n_ctx;    /* output frames per window: 1500 (input: 2 * n_ctx mel frames) */
    int32_t n_state;  /* d */
    int32_t n_heads;
    int32_t n_layers;
    int32_t n_ffn;    /* 4 d */
    int32_t n_text_heads; /* the decoder's heads (-1: the file does not say) */
} whisper_config;

/* Checks a configuration is one the encoder supports (message names `path`). */
qattn_status qattn_whisper_check_config(const char *path, const whisper_config *c);

#endif
