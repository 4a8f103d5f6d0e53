/* whisper.cpp's ggml model files (ggml-*.bin): hyperparameters and f32/f16 tensors. */
#ifndef QATTN_FORMATS_GGML_FILE_H
#define QATTN_FORMATS_GGML_FILE_H

#include "formats/tensors.h"

#define GGML_FILE_MAGIC 0x67676d6cu /* "ggml" */

typedef struct ggml_hparams {
    int32_t n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer;
    int32_t n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype;
    /* the vocabulary section, checked by the parser: n_tokens entries of an int32 length and
     * that many bytes, from `tokens` (inside the file, which must outlive their use) */
    const uint8_t *tokens;
    int32_t n_tokens;
} ggml_hparams;

/* Lists the file's tensors after checking the header, mel filters and vocabulary sections.
 * A quantized tensor (q4_0, q8_0, ...) is an error naming its type. */
qattn_status qattn_ggml_load_file(wt_set *set, const char *path, ggml_hparams *hp);

/* The same for a file already in memory (it must outlive the set). */
qattn_status qattn_ggml_parse(wt_set *set, const char *path, const uint8_t *file, size_t size,
                        ggml_hparams *hp);

#endif
