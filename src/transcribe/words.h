/*
 * Word timestamps of a window (faster-whisper transcribe.py add_word_timestamps and
 * find_alignment; openai whisper timing.py merge_punctuations; docs/transcribe.md, "Word
 * timestamps"): its segments' text tokens aligned to the encoder frames through the
 * alignment heads' cross-attention (decode/alignment.h), cut into words, punctuation merged,
 * each word with its start, end and probability; the segments' times and the next window's
 * start follow the words.
 */
#ifndef QATTN_TRANSCRIBE_WORDS_H
#define QATTN_TRANSCRIBE_WORDS_H

#include "transcribe/session.h"

/* Words of s->pending (the window at `seek` with `size` frames of audio; its tokens in
 * s->tokens) into s->words, each segment's first_word and n_words set, their start and end
 * moved as faster-whisper moves them; *next (the next window's start) moved to the last
 * word's end unless the window ends on a single timestamp. */
qattn_status qattn_session_word_timestamps(struct qattn_session *s, size_t seek, size_t size,
                                           int single_ending, size_t *next);

/* faster-whisper get_end of s->pending: the last word's end, else the last segment's end;
 * 0 when there is no segment. */
int qattn_session_words_end(const struct qattn_session *s, double *end);

#endif
