/* CTranslate2's model.bin (faster-whisper's models): the header and every variable listed as
 * a view, aliases included. Layout facts: docs/whisper-facts.md, "model.bin" (writer: CTranslate2's
 * python/ctranslate2/specs/model_spec.py _serialize; reader: src/models/model.cc). */
#ifndef QATTN_FORMATS_CT2_FILE_H
#define QATTN_FORMATS_CT2_FILE_H

#include "formats/tensors.h"

/* Does this memory start like a CTranslate2 Whisper model.bin (version, spec name)? */
int qattn_ct2_sniff(const uint8_t *data, size_t size);

/* Maps path (a model.bin) and lists its variables in set. */
qattn_status qattn_ct2_load_file(wt_set *set, const char *path);

/* The same for a file in memory (it must outlive the set). */
qattn_status qattn_ct2_parse(wt_set *set, const char *path, const uint8_t *data, size_t size);

#endif
