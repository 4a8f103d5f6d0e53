/* Transcript writers (writers.h). Segment ends are clamped to the audio's duration: the
 * decoder's last timestamp may point past the end (faster-whisper#1334). */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fchmod */
#include "transcribe/writers.h"
#include "transcribe/subtitles.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int transcript_format(const char *name)
{
    static const struct { const char *name; int bit; } names[] = {
        {"txt", FORMAT_TXT}, {"vtt", FORMAT_VTT}, {"srt", FORMAT_SRT}, {"tsv", FORMAT_TSV},
        {"json", FORMAT_JSON}, {"all", FORMAT_ALL}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(name, names[i].name))
            return names[i].bit;
    return 0;
}

void format_timestamp(double seconds, int always_hours, char sep, char *out, size_t size)
{
    long long ms = llround(seconds * 1000.0);
    ms = ms < 0 ? 0 : ms;
    const long long h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60;
    if (always_hours || h > 0)
        snprintf(out, size, "%02lld:%02lld:%02lld%c%03lld", h, m, s, sep, ms % 1000);
    else
        snprintf(out, size, "%02lld:%02lld%c%03lld", m, s, sep, ms % 1000);
}

/* The segment's text without its leading and trailing blanks; "-->" would end a cue, so
 * the subtitle writers turn it into "->" (as openai's do). */
static void segment_text(const char *text, int cue, FILE *f)
{
    while (*text == ' ' || *text == '\t' || *text == '\n')
        text++;
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\n'))
        n--;
    for (size_t i = 0; i < n; i++) {
        if (cue && i + 3 <= n && !strncmp(text + i, "-->", 3)) {
            fputs("->", f);
            i += 2;
            continue;
        }
        fputc(text[i], f);
    }
}

static double end_of(const qattn_segment *s, double duration)
{
    return s->end > duration && duration >= s->start ? duration : s->end;
}

static int write_plain(FILE *f, const qattn_transcript *t, int format, double duration)
{
    qattn_transcript_info info;
    info.struct_size = sizeof info;
    qattn_transcript_get_info(t, &info);
    char a[32], b[32];
    if (format == FORMAT_VTT)
        fputs("WEBVTT\n\n", f);
    if (format == FORMAT_TSV)
        fputs("start\tend\ttext\n", f);
    for (int32_t i = 0; i < info.n_segments; i++) {
        const qattn_segment *s = qattn_transcript_segment(t, i);
        const double end = end_of(s, duration);
        switch (format) {
        case FORMAT_TXT:
            break;
        case FORMAT_VTT:
            format_timestamp(s->start, 0, '.', a, sizeof a), format_timestamp(end, 0, '.', b, sizeof b);
            fprintf(f, "%s --> %s\n", a, b);
            break;
        case FORMAT_SRT:
            format_timestamp(s->start, 1, ',', a, sizeof a), format_timestamp(end, 1, ',', b, sizeof b);
            fprintf(f, "%d\n%s --> %s\n", i + 1, a, b);
            break;
        case FORMAT_TSV:
            fprintf(f, "%lld\t%lld\t", llround(s->start * 1000), llround(end * 1000));
            break;
        }
        segment_text(s->text, format == FORMAT_VTT || format == FORMAT_SRT, f);
        fputs(format == FORMAT_VTT || format == FORMAT_SRT ? "\n\n" : "\n", f);
    }
    return 1;
}

cJSON *segment_json(const qattn_segment *s, double end)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddNumberToObject(j, "id", s->id - 1); /* openai counts from 0 */
    cJSON_AddNumberToObject(j, "seek", s->seek);
    cJSON_AddNumberToObject(j, "start", s->start);
    cJSON_AddNumberToObject(j, "end", end);
    cJSON_AddStringToObject(j, "text", s->text);
    cJSON_AddItemToObject(j, "tokens", cJSON_CreateIntArray(s->tokens, s->n_tokens));
    cJSON_AddNumberToObject(j, "temperature", s->temperature);
    cJSON_AddNumberToObject(j, "avg_logprob", s->avg_logprob);
    cJSON_AddNumberToObject(j, "compression_ratio", s->compression_ratio);
    cJSON_AddNumberToObject(j, "no_speech_prob", s->no_speech_prob);
    return j;
}

/* openai's JSON: {text, segments: [{id, seek, start, end, text, tokens, temperature,
 * avg_logprob, compression_ratio, no_speech_prob, words (with word timestamps): [{word,
 * start, end, probability}]}], language}. */
static int write_json(FILE *f, const qattn_transcript *t, double duration, int words)
{
    qattn_transcript_info info;
    info.struct_size = sizeof info;
    qattn_transcript_get_info(t, &info);
    cJSON *root = cJSON_CreateObject(), *segs = cJSON_CreateArray();
    size_t total = 1;
    for (int32_t i = 0; i < info.n_segments; i++)
        total += strlen(qattn_transcript_segment(t, i)->text);
    char *text = malloc(total);
    if (!root || !segs || !text) {
        cJSON_Delete(root), cJSON_Delete(segs), free(text);
        return 0;
    }
    text[0] = '\0';
    for (int32_t i = 0; i < info.n_segments; i++) {
        const qattn_segment *s = qattn_transcript_segment(t, i);
        strcat(text, s->text);
        cJSON *j = segment_json(s, end_of(s, duration));
        cJSON_AddItemToArray(segs, j);
        if (words && j) { /* openai's word_timestamps output */
            cJSON *list = cJSON_CreateArray();
            cJSON_AddItemToObject(j, "words", list);
            for (int32_t k = 0; k < s->n_words; k++) {
                cJSON *x = cJSON_CreateObject();
                cJSON_AddItemToArray(list, x);
                cJSON_AddStringToObject(x, "word", s->words[k].word);
                cJSON_AddNumberToObject(x, "start", s->words[k].start);
                cJSON_AddNumberToObject(x, "end", s->words[k].end);
                cJSON_AddNumberToObject(x, "probability", s->words[k].probability);
            }
        }
    }
    cJSON_AddStringToObject(root, "text", text);
    cJSON_AddItemToObject(root, "segments", segs);
    cJSON_AddStringToObject(root, "language", info.language);
    free(text);
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!out)
        return 0;
    const int ok = fputs(out, f) >= 0 && fputc('\n', f) != EOF;
    cJSON_free(out);
    return ok;
}

static const char *extension(int format)
{
    switch (format) {
    case FORMAT_TXT: return "txt";
    case FORMAT_VTT: return "vtt";
    case FORMAT_SRT: return "srt";
    case FORMAT_TSV: return "tsv";
    default: return "json";
    }
}

int write_transcript_to(FILE *f, const qattn_transcript *t, int format, const transcript_options *o)
{
    qattn_transcript_info info;
    info.struct_size = sizeof info;
    qattn_transcript_get_info(t, &info);
    if (format == FORMAT_JSON)
        return write_json(f, t, info.duration, o->word_timestamps);
    if ((format == FORMAT_SRT || format == FORMAT_VTT) && o->word_timestamps && info.n_segments > 0)
        return (format == FORMAT_SRT || fputs("WEBVTT\n\n", f) >= 0) &&
               write_word_cues(f, t, format == FORMAT_SRT, &o->subtitles);
    return write_plain(f, t, format, info.duration);
}

int write_transcript(const qattn_transcript *t, int formats, const char *dir, const char *stem,
                     const transcript_options *o, char *err, size_t err_size)
{
    qattn_transcript_info info;
    info.struct_size = sizeof info;
    qattn_transcript_get_info(t, &info);
    for (int format = 1; format <= FORMAT_JSON; format <<= 1) {
        if (!(formats & format))
            continue;
        char path[4096], tmp[4112];
        snprintf(path, sizeof path, "%s/%s.%s", dir, stem, extension(format));
        snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
        const int fd = mkstemp(tmp);
        if (fd >= 0) { /* mkstemp makes 0600: give the file the usual permissions */
            const mode_t mask = umask(0);
            umask(mask);
            fchmod(fd, 0666 & ~mask);
        }
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f) {
            snprintf(err, err_size, "%s: %s", path, strerror(errno));
            if (fd >= 0)
                close(fd), unlink(tmp);
            return 0;
        }
        int ok = write_transcript_to(f, t, format, o);
        ok = !ferror(f) && ok;
        ok = fclose(f) == 0 && ok;
        if (!ok || rename(tmp, path) != 0) {
            snprintf(err, err_size, "%s: %s", path, errno ? strerror(errno) : "write failed");
            unlink(tmp);
            return 0;
        }
    }
    return 1;
}
