/* Subtitles cut from the words (word timestamps) as openai-whisper's SubtitlesWriter
 * (whisper/utils.py iterate_result): lines up to max_line_width characters, cues up to
 * max_line_count lines, at most max_words_per_line words a line, each word underlined in
 * turn with highlight_words. */
#ifndef QATTN_TOOLS_TRANSCRIBE_SUBTITLES_H
#define QATTN_TOOLS_TRANSCRIBE_SUBTITLES_H

#include <stdio.h>

#include "qattn.h"

typedef struct subtitle_options {
    int max_line_width;     /* 0: none (cues follow the segments unless both limits are set) */
    int max_line_count;     /* 0: none */
    int max_words_per_line; /* 0: none */
    int highlight_words;
} subtitle_options;

/* The cues of the transcript's words into f as srt (1-based numbers, "HH:MM:SS,mmm") or vtt
 * (after the header); 0 on failure. */
int write_word_cues(FILE *f, const qattn_transcript *t, int srt, const subtitle_options *o);

#endif
