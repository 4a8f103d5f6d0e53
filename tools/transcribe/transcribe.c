/* `qattn transcribe --model M FILE...`: speech to text and subtitle files, over
 * qattn_whisper_transcribe. */
#define _POSIX_C_SOURCE 200809L /* mkdir, isatty */
#include "transcribe/transcribe.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qattn.h"
#include "transcribe/writers.h"

static int usage(FILE *to, int status)
{
    fprintf(to,
            "usage: qattn transcribe --model DIR [options] FILE...\n"
            "Turns speech into text with timestamps, as faster-whisper does (same defaults).\n"
            "FILE: any audio libsndfile reads (WAV, FLAC, Ogg, Opus, MP3, ...), any length.\n"
            "DIR: a CTranslate2 Whisper directory (model.bin, config.json, vocabulary.*).\n"
            "options:\n"
            "  --language xx|auto     spoken language (default auto: detected; English-only\n"
            "                         models are always en)\n"
            "  --task transcribe|translate   (translate: into English; multilingual models)\n"
            "  --beam-size N          beam search width (5; 1 = greedy)\n"
            "  --best-of N            samples per temperature above 0 (5)\n"
            "  --precision int8|f32   (int8)\n"
            "  --threads N            (0 = one per CPU)\n"
            "  --output-format txt|srt|vtt|tsv|json|all   files to write (all), or 'none'\n"
            "  --output-dir D         where they go (.): D/<audio name>.<format>\n"
            "  --no-timestamps        one segment per 30 s window, no timestamp tokens\n"
            "  --no-previous-text     do not prompt each window with the text before it\n"
            "  --no-fallback          decode at temperature 0 only\n"
            "  --initial-prompt TEXT  text taken as what was said before the audio (names,\n"
            "                         spelling, style); needs the model's tokenizer.json\n"
            "  --prefix TEXT          the first words of the audio, forced (and written)\n"
            "  --hotwords TEXT        words to favour, put before every window's prompt\n"
            "  --quiet                no segments on stdout, no progress bar\n");
    return status;
}

typedef struct cli {
    const char *model, *out_dir;
    int formats, quiet;
    qattn_encoder_params load;
    qattn_transcribe_params p;
} cli;

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return 0;
    *out = (int)v;
    return 1;
}

static int on_segment(const qattn_segment *s, void *user)
{
    const cli *c = user;
    if (c->quiet)
        return 0;
    char a[32], b[32];
    format_timestamp(s->start, 0, '.', a, sizeof a), format_timestamp(s->end, 0, '.', b, sizeof b);
    if (isatty(STDERR_FILENO))
        fputs("\r\033[K", stderr); /* clear the progress bar first */
    printf("[%s --> %s] %s\n", a, b, s->text);
    fflush(stdout);
    return 0;
}

static void on_progress(double done, double total, void *user)
{
    const cli *c = user;
    if (c->quiet || !isatty(STDERR_FILENO) || !(total > 0))
        return;
    const int width = 30, filled = (int)(width * (done / total));
    fprintf(stderr, "\r%5.1f / %.1f s [%.*s%*s]", done, total, filled,
            "##############################", width - filled, "");
    if (done >= total)
        fputs("\r\033[K", stderr);
    fflush(stderr);
}

/* The audio file's name without directories and its last extension. */
static void stem_of(const char *path, char *out, size_t size)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, size, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out)
        *dot = '\0';
}

static int transcribe_file(const qattn_whisper *w, cli *c, const char *path)
{
    float *samples = NULL;
    size_t n = 0;
    qattn_transcript *t = NULL;
    if (qattn_audio_load(path, &samples, &n) != QATTN_OK ||
        qattn_whisper_transcribe(w, samples, n, &c->p, &t) != QATTN_OK) {
        fprintf(stderr, "qattn transcribe: %s\n", qattn_last_error());
        qattn_audio_free(samples);
        return 0;
    }
    qattn_audio_free(samples);
    char stem[1024], err[4200];
    stem_of(path, stem, sizeof stem);
    const int ok = !c->formats || write_transcript(t, c->formats, c->out_dir, stem, err, sizeof err);
    if (!ok)
        fprintf(stderr, "qattn transcribe: %s\n", err);
    qattn_transcript_free(t);
    return ok;
}

/* mkdir -p: the output directory and its parents (as openai-whisper's os.makedirs). */
static int make_dirs(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return 0;
    }
    for (char *p = path + 1;; p++) {
        const char c = *p;
        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return 0;
        *p = c;
        if (!c)
            break;
    }
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 1 : (errno = ENOTDIR, 0);
}

int transcribe_main(int argc, char **argv)
{
    cli c = {NULL, ".", FORMAT_ALL, 0, qattn_encoder_default_params(),
             qattn_transcribe_default_params()};
    c.p.on_segment = on_segment, c.p.on_segment_user = &c;
    c.p.on_progress = on_progress, c.p.on_progress_user = &c;
    const char **files = calloc((size_t)argc, sizeof *files);
    int n_files = 0, v;
    if (!files)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            free(files);
            return usage(stdout, 0);
        }
        if (a[0] != '-') {
            files[n_files++] = a;
            continue;
        }
        const int flag = !strcmp(a, "--no-timestamps") || !strcmp(a, "--no-previous-text") ||
                         !strcmp(a, "--no-fallback") || !strcmp(a, "--quiet");
        if (!flag && !next) {
            fprintf(stderr, "qattn transcribe: %s needs a value\n", a);
            free(files);
            return usage(stderr, 2);
        }
        if (!strcmp(a, "--model"))
            c.model = next;
        else if (!strcmp(a, "--language"))
            c.p.language = next;
        else if (!strcmp(a, "--task") && (!strcmp(next, "transcribe") || !strcmp(next, "translate")))
            c.p.task = !strcmp(next, "translate") ? QATTN_TASK_TRANSLATE : QATTN_TASK_TRANSCRIBE;
        else if (!strcmp(a, "--beam-size") && parse_int(next, 1, 32, &v))
            c.p.beam_size = v;
        else if (!strcmp(a, "--best-of") && parse_int(next, 1, 32, &v))
            c.p.best_of = v;
        else if (!strcmp(a, "--threads") && parse_int(next, 0, 1024, &v))
            c.load.threads = v;
        else if (!strcmp(a, "--precision") && (!strcmp(next, "int8") || !strcmp(next, "f32")))
            c.load.precision = !strcmp(next, "f32") ? QATTN_PRECISION_F32 : QATTN_PRECISION_INT8;
        else if (!strcmp(a, "--output-format") && (transcript_format(next) || !strcmp(next, "none")))
            c.formats = transcript_format(next);
        else if (!strcmp(a, "--output-dir"))
            c.out_dir = next;
        else if (!strcmp(a, "--initial-prompt"))
            c.p.initial_prompt = next;
        else if (!strcmp(a, "--prefix"))
            c.p.prefix = next;
        else if (!strcmp(a, "--hotwords"))
            c.p.hotwords = next;
        else if (!strcmp(a, "--no-timestamps"))
            c.p.without_timestamps = 1;
        else if (!strcmp(a, "--no-previous-text"))
            c.p.condition_on_previous_text = 0;
        else if (!strcmp(a, "--no-fallback"))
            c.p.temperature_increment = 0;
        else if (!strcmp(a, "--quiet"))
            c.quiet = 1;
        else {
            fprintf(stderr, "qattn transcribe: bad option %s%s%s\n", a, flag ? "" : " ",
                    flag ? "" : next);
            free(files);
            return usage(stderr, 2);
        }
        i += !flag; /* the value is not a file */
    }
    if (!c.model || !n_files) {
        fprintf(stderr, "qattn transcribe: %s\n", !c.model ? "--model is required" : "no audio file");
        free(files);
        return usage(stderr, 2);
    }
    if (c.formats && !make_dirs(c.out_dir)) {
        fprintf(stderr, "qattn transcribe: --output-dir %s: %s\n", c.out_dir, strerror(errno));
        free(files);
        return 1;
    }
    qattn_whisper *w = NULL;
    if (qattn_whisper_load(c.model, &c.load, &w) != QATTN_OK) {
        fprintf(stderr, "qattn transcribe: %s\n", qattn_last_error());
        free(files);
        return 1;
    }
    int failures = 0;
    for (int i = 0; i < n_files; i++)
        failures += !transcribe_file(w, &c, files[i]);
    qattn_whisper_free(w);
    free(files);
    return failures ? 1 : 0;
}
