/*
 * Building the network from a model's files (formats/model_source.h lists their tensors and
 * reads their configuration): model_build.c converts and packs the encoder's weights,
 * decoder_build.c the decoder's, and model_open.c opens a model and ties them together. The
 * fuzz targets drive the in-memory entry points below.
 */
#ifndef QATTN_WHISPER_MODEL_LOAD_H
#define QATTN_WHISPER_MODEL_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "formats/model_source.h"
#include "whisper/model.h"

/* model_build.c: the tensor `name` (full, as the file names it) as a new float array of the
 * wanted shape, checked like every encoder weight; NULL with the message set otherwise. */
float *qattn_model_load_named(const qattn_model_source *ld, const char *name, const int64_t *shape,
                              int ndim, qattn_status *st);
/* The same tensor's view, checked, for reading it a block of rows at a time: rows [first,
 * first + count) of `cols` values each as floats into out (checked finite). For weights too
 * large to hold as floats at once (the token embedding). */
const wt_view *qattn_model_view_named(const qattn_model_source *ld, const char *name,
                                      const int64_t *shape, int ndim, qattn_status *st);
qattn_status qattn_model_rows_f32(const qattn_model_source *ld, const wt_view *v, int64_t cols,
                                  int64_t first, int64_t count, float *out);

/* model_build.c: every encoder weight from the source, converted, checked and (int8) packed. */
qattn_status qattn_encoder_build(qattn_model_source *src, const char *name,
                                 const whisper_config *cfg, const qattn_encoder_params *p,
                                 struct qattn_encoder **out);

/* decoder_build.c: the decoder's weights from the source (any format; cfg gives its heads). */
qattn_status qattn_decoder_build(qattn_model_source *src, const whisper_config *cfg,
                                 const qattn_run *run, struct qattn_decoder **out);

/* model_open.c: an encoder from a model file in memory: a ggml file, a CTranslate2 model.bin,
 * or a safetensors file with config.json's text (QATTN_FORMAT_HF). The data must stay valid
 * for the call only. */
qattn_status qattn_encoder_from_memory(qattn_model_format format, const uint8_t *data,
                                       size_t size, const char *config_json,
                                       const qattn_encoder_params *params,
                                       struct qattn_encoder **out);
/* The same for the decoder (the Hugging Face config then needs decoder_attention_heads). */
qattn_status qattn_decoder_from_memory(qattn_model_format format, const uint8_t *data,
                                       size_t size, const char *config_json,
                                       const qattn_encoder_params *params,
                                       struct qattn_decoder **out);

#endif
