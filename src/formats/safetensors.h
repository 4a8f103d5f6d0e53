/* Hugging Face safetensors files, single or sharded, and the config.json beside them. */
#ifndef QATTN_FORMATS_SAFETENSORS_H
#define QATTN_FORMATS_SAFETENSORS_H

#include "formats/tensors.h"

/* Lists every tensor of one .safetensors file (F32, F16 and BF16 ones; tensors of other
 * dtypes are listed by the error only if the model needs them: see `skipped`). */
qattn_status qattn_safetensors_load_file(wt_set *set, const char *path);

/* The same for a file already in memory (it must outlive the set); `path` names it in
 * messages. */
qattn_status qattn_safetensors_parse(wt_set *set, const char *path, const uint8_t *file, size_t size);

/* A sharded checkpoint: the index's weight_map names the shard files (relative to dir). */
qattn_status qattn_safetensors_load_index(wt_set *set, const char *dir, const char *index_path);

/* Largest JSON header accepted (a header beyond it is an error, not an allocation). */
#define ST_MAX_HEADER (100u << 20)

#endif
