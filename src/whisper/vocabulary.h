/* Internal: the vocabulary parser's in-memory entry (the fuzz target drives it). */
#ifndef QATTN_WHISPER_VOCABULARY_H
#define QATTN_WHISPER_VOCABULARY_H

#include "qattn.h"

/* A vocabulary from a NUL-terminated text: a JSON array (json != 0) or one token per line. */
qattn_status qattn_vocabulary_parse(const char *text, int json, const char *path,
                                    qattn_vocabulary **out);

/* Token id's name as the file writes it ("<|en|>", "Ġthe"); NULL outside the vocabulary. */
const char *qattn_vocabulary_name(const qattn_vocabulary *v, int32_t id);

#endif
