/* Internal entry points of the model loader that the fuzz targets drive from memory. */
#ifndef QATTN_WHISPER_MODEL_LOAD_H
#define QATTN_WHISPER_MODEL_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "whisper/model.h"

/* A Whisper config from config.json's text. */
qattn_status qattn_whisper_parse_hf_config(const char *text, const char *name, whisper_config *c);

/* An encoder from a model file in memory: a ggml file (ggml != 0), or a safetensors file with
 * config.json's text. The data must stay valid for the call only. */
qattn_status qattn_encoder_from_memory(int ggml, const uint8_t *data, size_t size,
                                         const char *config_json,
                                         const qattn_encoder_params *params,
                                         struct qattn_encoder **out);

#endif
