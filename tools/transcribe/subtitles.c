/* Subtitles cut from the words (subtitles.h). */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "transcribe/subtitles.h"

#include <stdlib.h>
#include <string.h>

#include "transcribe/writers.h"

typedef struct cue_word {
    double start, end;
    char *text; /* owned: the word, maybe stripped or after a line break */
} cue_word;

typedef struct cue_writer {
    FILE *f;
    int srt, number;
    const subtitle_options *o;
    cue_word *words;
    int n, cap;
} cue_writer;

/* Characters (code points) of UTF-8 text, as Python's len(). */
static int characters(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* A copy of s without the blanks around it; "\n" first when line_break. */
static char *stripped(const char *s, int line_break)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    char *out = malloc(n + 2);
    if (out) {
        if (line_break)
            out[0] = '\n';
        memcpy(out + !!line_break, s, n);
        out[n + !!line_break] = '\0';
    }
    return out;
}

static void print_cue(cue_writer *w, double start, double end, int underline)
{
    char a[32], b[32];
    format_timestamp(start, w->srt, w->srt ? ',' : '.', a, sizeof a);
    format_timestamp(end, w->srt, w->srt ? ',' : '.', b, sizeof b);
    if (w->srt)
        fprintf(w->f, "%d\n", ++w->number);
    fprintf(w->f, "%s --> %s\n", a, b);
    for (int i = 0; i < w->n; i++) {
        const char *t = w->words[i].text;
        if (i != underline) {
            fputs(t, w->f);
            continue;
        }
        const size_t blank = strspn(t, " \t\n\r"); /* re.sub(r"^(\s*)(.*)$", r"\1<u>\2</u>") */
        fprintf(w->f, "%.*s<u>%s</u>", (int)blank, t, t + blank);
    }
    fputs("\n\n", w->f);
}

/* Gives the cue(s) of the words gathered, then forgets them. */
static void flush(cue_writer *w)
{
    if (w->n == 0)
        return;
    if (!w->o->highlight_words) {
        print_cue(w, w->words[0].start, w->words[w->n - 1].end, -1);
    } else {
        char last[32], start[32];
        double last_t = w->words[0].start;
        for (int i = 0; i < w->n; i++) {
            format_timestamp(last_t, w->srt, ',', last, sizeof last);
            format_timestamp(w->words[i].start, w->srt, ',', start, sizeof start);
            if (strcmp(last, start)) /* the gap before the word: the cue plain */
                print_cue(w, last_t, w->words[i].start, -1);
            print_cue(w, w->words[i].start, w->words[i].end, i);
            last_t = w->words[i].end;
        }
    }
    for (int i = 0; i < w->n; i++)
        free(w->words[i].text);
    w->n = 0;
}

static int add(cue_writer *w, const qattn_word *word, char *text)
{
    if (!text)
        return 0;
    if (w->n == w->cap) {
        const int cap = w->cap ? 2 * w->cap : 32;
        cue_word *grown = realloc(w->words, (size_t)cap * sizeof *grown);
        if (!grown) {
            free(text);
            return 0;
        }
        w->words = grown, w->cap = cap;
    }
    w->words[w->n++] = (cue_word){word->start, word->end, text};
    return 1;
}

int write_word_cues(FILE *f, const qattn_transcript *t, int srt, const subtitle_options *o)
{
    qattn_transcript_info info;
    info.struct_size = sizeof info;
    qattn_transcript_get_info(t, &info);
    cue_writer w = {f, srt, 0, o, NULL, 0, 0};
    const int preserve = o->max_line_count <= 0 || o->max_line_width <= 0;
    const int width = o->max_line_width > 0 ? o->max_line_width : 1000;
    const int per_line = o->max_words_per_line > 0 ? o->max_words_per_line : 1000;
    int line_len = 0, line_count = 1, ok = 1;
    double last = info.n_segments > 0 ? qattn_transcript_segment(t, 0)->start : 0;
    for (int32_t s = info.n_segments - 1; s >= 0; s--) /* get_start: the first word's start */
        if (qattn_transcript_segment(t, s)->n_words > 0)
            last = qattn_transcript_segment(t, s)->words[0].start;
    for (int32_t s = 0; ok && s < info.n_segments; s++) {
        const qattn_segment *seg = qattn_transcript_segment(t, s);
        for (int32_t chunk = 0; ok && chunk < seg->n_words; chunk += per_line) {
            const int32_t count = seg->n_words - chunk < per_line ? seg->n_words - chunk : per_line;
            for (int32_t i = 0; ok && i < count; i++) {
                const qattn_word *word = &seg->words[chunk + i];
                const int len = characters(word->word);
                const int long_pause = !preserve && word->start - last > 3.0;
                const int has_room = line_len + len <= width;
                const int seg_break = i == 0 && w.n > 0 && preserve;
                if (line_len > 0 && has_room && !long_pause && !seg_break) {
                    line_len += len; /* the line goes on */
                    ok = add(&w, word, strdup(word->word));
                    last = word->start;
                    continue;
                }
                int line_break = 0;
                if ((w.n > 0 && o->max_line_count > 0 && (long_pause || line_count >= o->max_line_count)) ||
                    seg_break) {
                    flush(&w); /* a new cue */
                    line_count = 1;
                } else if (line_len > 0) {
                    line_count++, line_break = 1; /* a new line */
                }
                char *text = stripped(word->word, line_break);
                line_len = text ? characters(text) - line_break : 0;
                ok = add(&w, word, text);
                last = word->start;
            }
        }
    }
    if (ok)
        flush(&w);
    for (int i = 0; i < w.n; i++)
        free(w.words[i].text);
    free(w.words);
    return ok;
}
