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

/* Words of s->pending (a window's segments, its tokens in s->tokens) into s->words, each
 * segment's first_word and n_words set (faster-whisper add_word_timestamps up to its
 * per-segment rules): aligned on `window` of `search` (its encoder output), the window
 * starting `offset` seconds into the audio its segments' times are in, with `size` frames of
 * audio; the window's median and longest word duration set. */
qattn_status qattn_session_word_timestamps(struct qattn_session *s, qattn_search *search,
                                           int32_t window, double offset, size_t size);

/* add_word_timestamps's per-segment rules over s->pending's words: a long first word after
 * the speech that ended at s->last_speech shortened; each segment's start and end preferred
 * over a first or last word that runs far past them, else taken from them. */
void qattn_session_fit_words(struct qattn_session *s);

/* Where the next window starts after one with words (faster-whisper: seek moves to the last
 * word's end unless the window ends on a single timestamp): the frame of
 * round(get_end * 100) into *frame, a frame of a timeline whose frame 0 is at 0 s when the
 * window at `offset` seconds is at frame `seek`; 0 (frame untouched) when the end is not past
 * the window's start. */
int qattn_session_words_next(const struct qattn_session *s, double offset, size_t seek,
                             size_t *frame);

/* faster-whisper get_end of s->pending: the last word's end, else the last segment's end;
 * 0 when there is no segment. */
int qattn_session_words_end(const struct qattn_session *s, double *end);

#endif
