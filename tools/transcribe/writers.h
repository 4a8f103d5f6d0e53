/* Transcript files as openai-whisper writes them (whisper/utils.py; docs/whisper-facts.md, "Output formats"):
 * txt, vtt, srt, tsv, json. Each is written to a temporary file beside the target and renamed
 * into place, so a failure leaves no half-written file. */
#ifndef QATTN_TOOLS_TRANSCRIBE_WRITERS_H
#define QATTN_TOOLS_TRANSCRIBE_WRITERS_H

#include <stddef.h>
#include <stdio.h>

#include "qattn.h"
#include "transcribe/subtitles.h"

enum { FORMAT_TXT = 1, FORMAT_VTT = 2, FORMAT_SRT = 4, FORMAT_TSV = 8, FORMAT_JSON = 16,
       FORMAT_ALL = 31 };

/* "txt", "srt", ..., "all" -> the FORMAT_ bits; 0 if unknown. */
int transcript_format(const char *name);

typedef struct transcript_options {
    int word_timestamps;          /* segments carry words: json lists them, srt and vtt cut cues by them */
    subtitle_options subtitles;
} transcript_options;

/* A segment as openai-whisper's JSON and OpenAI's verbose_json give it: {id (from 0), seek,
 * start, end, text, tokens, temperature, avg_logprob, compression_ratio, no_speech_prob};
 * NULL when memory is short. */
struct cJSON *segment_json(const qattn_segment *s, double end);

/* Writes one format (a FORMAT_ bit) of the transcript into f; 0 on failure. */
int write_transcript_to(FILE *f, const qattn_transcript *t, int format, const transcript_options *o);

/* Writes every format in `formats` as <dir>/<stem>.<ext>; 0 and a message in err on failure. */
int write_transcript(const qattn_transcript *t, int formats, const char *dir, const char *stem,
                     const transcript_options *o, char *err, size_t err_size);

/* "MM:SS.mmm" or "HH:MM:SS.mmm" (hours when asked or when >= 1 h), `sep` before the ms. */
void format_timestamp(double seconds, int always_hours, char sep, char *out, size_t size);

#endif
