/*
 * A Whisper model's files, whatever their format: each format's reader lists its tensors
 * (safetensors.c, ggml_file.c, ct2_file.c), tensor_names.c names each tensor in that
 * format, config.c reads and checks the configuration, model_files.c tells the formats apart
 * by content. The network's builders (whisper/model_load.h) read the weights from here.
 */
#ifndef QATTN_FORMATS_MODEL_SOURCE_H
#define QATTN_FORMATS_MODEL_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "formats/ggml_file.h"
#include "formats/model_config.h"
#include "formats/tensors.h"

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

/* model_files.c: the format of the model at path (told apart by content; a path that is not
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

#endif
