/*
 * Loading a Whisper model, in four parts: a format's reader lists its tensors (safetensors.c,
 * ggml_file.c), tensor_names.c names each tensor the encoder needs in that format, config.c
 * reads and checks the configuration, model_build.c converts and packs the weights, and
 * model_open.c tells the formats apart and ties them together. The fuzz targets drive the
 * in-memory entry points below.
 */
#ifndef QATTN_WHISPER_MODEL_LOAD_H
#define QATTN_WHISPER_MODEL_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "whisper/ggml_file.h"
#include "whisper/model.h"
#include "whisper/tensors.h"

/* The column of each format in tensor_names.c. */
typedef enum qattn_model_format {
    QATTN_FORMAT_HF = 0,
    QATTN_FORMAT_GGML = 1,
    QATTN_FORMAT_CT2 = 2
} qattn_model_format;

/* A model file's tensors, under the names of its format. */
typedef struct qattn_model_source {
    qattn_model_format format;
    const char *path;      /* for messages */
    wt_set set;
    const char *hf_prefix; /* "model.encoder." or "encoder." (qattn_model_find_prefix) */
} qattn_model_source;

/* The tensors the encoder reads; a "%d" in a name is the layer. */
typedef enum qattn_tensor_id {
    QATTN_T_CONV1_W, QATTN_T_CONV1_B, QATTN_T_CONV2_W, QATTN_T_CONV2_B, QATTN_T_POS,
    QATTN_T_LN_POST_W, QATTN_T_LN_POST_B, QATTN_T_ATTN_LN_W, QATTN_T_ATTN_LN_B, QATTN_T_Q_W,
    QATTN_T_Q_B, QATTN_T_K_W, QATTN_T_V_W, QATTN_T_V_B, QATTN_T_O_W, QATTN_T_O_B,
    QATTN_T_MLP_LN_W, QATTN_T_MLP_LN_B, QATTN_T_FC1_W, QATTN_T_FC1_B, QATTN_T_FC2_W,
    QATTN_T_FC2_B, QATTN_T_QKV_W, QATTN_T_QKV_B, QATTN_T_COUNT
} qattn_tensor_id;

/* tensor_names.c: the tensor `id` of layer `layer` in the source's format; its full name is
 * written to `full`. NULL if the file lacks it. */
const wt_view *qattn_model_find(const qattn_model_source *src, qattn_tensor_id id, int layer,
                                char *full, size_t size);
/* Hugging Face files name the encoder "model.encoder." or "encoder.": picks the one present. */
void qattn_model_find_prefix(qattn_model_source *src);

/* model_open.c: the format of the model at path (told apart by content; a path that is not
 * a CTranslate2 or Hugging Face model is taken for ggml, whose reader checks the magic), and
 * whether path is a directory. */
qattn_model_format qattn_model_format_of(const char *path);
int qattn_is_directory(const char *path);
/* The directory holding a model's side files (config.json, tokenizer.json, vocabulary.*):
 * path itself if it is a directory, else the directory of the file. */
void qattn_model_dir(const char *path, char *dir, size_t size);

/* config.c */
qattn_status qattn_whisper_parse_hf_config(const char *text, const char *name, whisper_config *c);
qattn_status qattn_whisper_read_hf_config(const char *config_path, whisper_config *c);
void qattn_whisper_config_from_ggml(const ggml_hparams *hp, whisper_config *c);
/* A CTranslate2 model's shape, as CTranslate2 reads it (config.c): a variable's dimension
 * (-1 if absent or past INT32_MAX), the count of "<side>/layer_N" blocks (side "encoder" or
 * "decoder"), and "<side>/num_heads" (8 if absent; an error if not an integer scalar). */
int32_t qattn_ct2_dim(const wt_set *set, const char *name, int dim);
int32_t qattn_ct2_layers(const wt_set *set, const char *side);
qattn_status qattn_ct2_heads(const wt_set *set, const char *path, const char *side, int32_t *heads);
/* The encoder's config from a CTranslate2 model's variables. */
qattn_status qattn_whisper_config_from_ct2(const wt_set *set, const char *path, whisper_config *c);

/* model_build.c: the tensor `name` (full, as the file names it) as a new float array of the
 * wanted shape, checked like every encoder weight; NULL with the message set otherwise. */
float *qattn_model_load_named(const qattn_model_source *ld, const char *name, const int64_t *shape,
                              int ndim, qattn_status *st);

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
