/*
 * A whole Whisper model for transcription (whisper_model.c loads it, transcribe.c runs it):
 * the encoder, the decoder, the vocabulary and the special tokens found in it by name
 * (docs/whisper-facts.md, "Special tokens": their ids differ between English-only, multilingual and large-v3
 * vocabularies, so none is assumed).
 */
#ifndef QATTN_TRANSCRIBE_WHISPER_H
#define QATTN_TRANSCRIBE_WHISPER_H

#include "formats/model_source.h"
#include "qattn.h"

struct qattn_whisper {
    qattn_encoder *encoder;
    qattn_decoder *decoder;
    qattn_vocabulary *vocabulary;
    qattn_tokenizer *tokenizer;   /* tokenizer.json's, NULL without one: prompt text needs it */
    qattn_encoder_info enc;
    qattn_decoder_info dec;
    int32_t threads;              /* as loaded (0: one per CPU), for the log-mel too */
    int multilingual;
    int32_t eot, sot, sot_prev, sot_lm, transcribe, translate, no_speech, no_timestamps;
    int32_t ts_begin, ts_end;     /* <|0.00|> = <|notimestamps|> + 1; the vocabulary's last id */
    int32_t lang_first, n_langs;  /* the language tokens lie between sot and translate */
    int32_t *suppress, n_suppress;             /* the non-speech symbols + the specials */
    int32_t *suppress_begin, n_suppress_begin; /* at the first step */
    int32_t *align_heads, n_align_heads;       /* word timing's (layer, head) pairs */
};

/* The language token of a code ("en" -> <|en|>), -1 if the model has none. */
int32_t qattn_whisper_language_token(const struct qattn_whisper *w, const char *code);

/* suppress.c: the id arrays `keys` (suppress_ids and suppress_ids_begin of CTranslate2's
 * config.json, suppress_tokens and begin_suppress_tokens of Hugging Face's
 * generation_config.json) of a JSON text (NULL: both empty), each array with room for 6 and 2
 * more ids; ids outside [0, n_vocab) are QATTN_ERR_MODEL. The caller frees both arrays, also
 * on failure. */
qattn_status qattn_suppress_ids_parse(const char *text, const char *path, int32_t n_vocab,
                                      const char *const keys[2], int32_t **suppress,
                                      int32_t *n_suppress, int32_t **begin, int32_t *n_begin);

/* suppress.c: w->suppress and w->suppress_begin (the vocabulary, decoder and special tokens
 * already set) from the JSON file `file` under `keys`, or from the vocabulary if file is NULL;
 * the special tokens added, and " " and <|endoftext|> at the first step where the file names
 * none. */
qattn_status qattn_whisper_suppress_lists(struct qattn_whisper *w, const char *file,
                                          const char *const keys[2]);

/* alignment_heads.c: w->align_heads from the model's files (config.json, generation_config.json;
 * a ggml file's shape), else openai whisper's default; the decoder's info already set. */
qattn_status qattn_whisper_alignment_heads(struct qattn_whisper *w, qattn_model_format format,
                                           const char *dir);
/* alignment_heads.c: a preset name ("base.en", "large-v1", whisper.cpp's "large.v1" too) or
 * "layer:head,layer:head,..." into a new array of *n pairs (free it), checked against w's
 * decoder. */
qattn_status qattn_alignment_heads_parse(const struct qattn_whisper *w, const char *spec,
                                         int32_t **heads, int32_t *n);

#endif
