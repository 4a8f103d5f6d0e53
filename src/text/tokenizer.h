/* Internal: the tokenizer.json parser's in-memory entry (the fuzz target drives it). */
#ifndef QATTN_TEXT_TOKENIZER_H
#define QATTN_TEXT_TOKENIZER_H

#include "qattn.h"

/* A tokenizer from the NUL-terminated text of a tokenizer.json; `path` names it in errors. */
qattn_status qattn_tokenizer_parse(const char *text, const char *path, qattn_tokenizer **out);

#endif
