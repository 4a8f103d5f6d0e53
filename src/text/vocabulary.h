/* Internal: the vocabulary parser's in-memory entry (the fuzz target drives it). */
#ifndef QATTN_TEXT_VOCABULARY_H
#define QATTN_TEXT_VOCABULARY_H

#include "qattn.h"

typedef enum qattn_vocabulary_kind {
    QATTN_VOCAB_TXT,           /* CTranslate2's vocabulary.txt: one token per line */
    QATTN_VOCAB_JSON,          /* CTranslate2's vocabulary.json: an array of tokens */
    QATTN_VOCAB_TOKENIZER_JSON /* Hugging Face's tokenizer.json */
} qattn_vocabulary_kind;

/* A vocabulary from a NUL-terminated text of the given kind. */
qattn_status qattn_vocabulary_parse(const char *text, qattn_vocabulary_kind kind,
                                    const char *path, qattn_vocabulary **out);

/* A ggml file's vocabulary: its text tokens and the special tokens in whisper.cpp's layout
 * for hp->n_vocab ids (hp from qattn_ggml_parse, whose file must still be mapped). */
struct ggml_hparams;
qattn_status qattn_vocabulary_from_ggml(const struct ggml_hparams *hp, const char *path,
                                        qattn_vocabulary **out);

/* Hugging Face tokenizer.json files of older revisions end at <|notimestamps|>: the
 * timestamps <|0.00|>, <|0.02|>, ... up to n_vocab ids, as CTranslate2's converter adds them
 * (converters/transformers.py WhisperLoader). Nothing is done to any other vocabulary. */
qattn_status qattn_vocabulary_pad_timestamps(qattn_vocabulary *v, int32_t n_vocab);

/* Token id's bytes and their count; NULL outside the vocabulary. */
const uint8_t *qattn_vocabulary_bytes(const qattn_vocabulary *v, int32_t id, int32_t *length);

/* Token id's name as the file writes it ("<|en|>", "Ġthe"); NULL outside the vocabulary. */
const char *qattn_vocabulary_name(const qattn_vocabulary *v, int32_t id);

#endif
