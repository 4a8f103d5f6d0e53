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
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "qattn.h"
#include "transcribe/writers.h"

static int usage(FILE *to, int status)
{
    fprintf(to,
            "usage: qattn transcribe [-m MODEL] [options] FILE...\n"
            "Turns speech into text with timestamps, as faster-whisper does (same defaults).\n"
            "FILE: any audio libsndfile reads (WAV, FLAC, Ogg, Opus, MP3, ...), any length.\n"
            "MODEL: a CTranslate2 Whisper directory (model.bin, config.json, vocabulary.*), a\n"
            "Hugging Face directory or a whisper.cpp ggml file.\n"
            "options:\n"
            "  -m, --model PATH           the model (default: tiny.en once ./dev check has\n"
            "                             fetched it)\n"
            "  -l, --language xx|auto     spoken language (default auto: detected; English-only\n"
            "                             models are always en)\n"
            "      --task transcribe|translate   (translate: into English; multilingual models)\n"
            "      --beam-size N          beam search width (5; 1 = greedy)\n"
            "      --best-of N            samples per temperature above 0 (5)\n"
            "      --precision int8|f32   (int8)\n"
            "  -t, --threads N            (0 = one per CPU, the default)\n"
            "      --tier auto|scalar|avx2|avx512vnni|amx   the kernels' tier (auto)\n"
            "  -f, --output-format txt|srt|vtt|tsv|json|all|none   files to write (all)\n"
            "  -o, --output-dir DIR       where they go (.): DIR/<audio name>.<format>\n"
            "      --no-timestamps        one segment per 30 s window, no timestamp tokens\n"
            "      --no-previous-text     do not prompt each window with the text before it\n"
            "      --no-fallback          decode at temperature 0 only\n"
            "      --initial-prompt TEXT  text taken as what was said before the audio (names,\n"
            "                             spelling, style); needs the model's tokenizer.json\n"
            "      --prefix TEXT          the first words of the audio, forced (and written)\n"
            "      --hotwords TEXT        words to favour, put before every window's prompt\n"
            "      --vad                  transcribe only the speech the VAD finds (faster-whisper's\n"
            "                             vad_filter; times stay the audio's)\n"
            "      --vad-model PATH       another Silero VAD v6 ONNX file (default: qattn's)\n"
            "      --vad-threshold P, --vad-min-speech-duration-ms N, --vad-max-speech-duration-s S,\n"
            "      --vad-min-silence-duration-ms N, --vad-speech-pad-ms N   its VadOptions\n"
            "      --word-timestamps      each word's start, end and probability (json: \"words\";\n"
            "                             srt and vtt cues cut by the words)\n"
            "      --prepend-punctuations TEXT, --append-punctuations TEXT   marks merged into\n"
            "                             the next / previous word (faster-whisper's defaults)\n"
            "      --alignment-heads SPEC the decoder heads words follow: a model name (tiny.en ..\n"
            "                             large-v3-turbo) or layer:head,... (default: the model's)\n"
            "      --max-line-width N, --max-line-count N, --max-words-per-line N, --highlight-words\n"
            "                             subtitle layout from the words, as openai-whisper's\n"
            "      --hallucination-silence-threshold S   with --word-timestamps: drop segments\n"
            "                             that look invented in over S seconds of silence\n"
            "      --clip-timestamps T,T,...   only these parts: start,end,start,... seconds\n"
            "                             (an odd count: the last runs to the end; --vad ignored)\n"
            "      --repetition-penalty P  above 1: tokens already in the window less likely (1)\n"
            "      --no-repeat-ngram-size N   no N tokens in a row twice in a window (0: off)\n"
            "      --max-new-tokens N     at most N tokens per window (0: as the context allows)\n"
            "      --multilingual         detect the language again on every window\n"
            "      --language-detection-segments N, --language-detection-threshold P   detect\n"
            "                             on up to N windows, stopping at one above P (1, 0.5)\n"
            "      --batch-size N         decode N chunks of speech side by side (faster-whisper's\n"
            "                             BatchedInferencePipeline: --vad on, its VAD defaults of\n"
            "                             160 ms of silence and 30 s of speech unless given, or\n"
            "                             each --clip-timestamps clip a chunk; no previous text;\n"
            "                             temperature fallback kept per chunk)\n"
            "  -q, --quiet                no segments on stdout, no progress bar\n"
            "  -h, --help\n");
    return status;
}

typedef struct cli {
    const char *model, *out_dir;
    int formats, quiet;
    qattn_encoder_params load;
    qattn_transcribe_params p;
    transcript_options out;
} cli;

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

/* The default model: tiny.en where `./dev check` fetches it (tests/models/fetch.py --model
 * tiny.en: QATTN_TEST_CACHE, or ~/.cache/qattn-test, then models/tiny.en, complete once it
 * holds .complete). 0, with the directory where it was looked for in path, if it is not there. */
static int default_model(char *path, size_t size)
{
    const char *cache = getenv("QATTN_TEST_CACHE"), *home = getenv("HOME");
    char marker[4300];
    if (cache && *cache)
        snprintf(path, size, "%s/models/tiny.en", cache);
    else
        snprintf(path, size, "%s/.cache/qattn-test/models/tiny.en", home ? home : "");
    snprintf(marker, sizeof marker, "%s/.complete", path);
    struct stat st;
    return stat(marker, &st) == 0;
}

/* faster-whisper's clip_timestamps string: seconds separated by commas ("0" alone: all the
 * audio, no clip). The count, or -1 when it does not parse or passes max. */
static int parse_clip_timestamps(const char *text, double *out, int max)
{
    if (!strcmp(text, "0"))
        return 0;
    int n = 0;
    for (const char *p = text;; p++) {
        char *end;
        errno = 0;
        const double t = strtod(p, &end);
        if (end == p || errno || n == max || !isfinite(t))
            return -1;
        out[n++] = t;
        p = end;
        if (*p == '\0')
            return n;
        if (*p != ',')
            return -1;
    }
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

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int transcribe_file(const qattn_whisper *w, cli *c, const char *path)
{
    float *samples = NULL;
    size_t n = 0;
    qattn_transcript *t = NULL;
    const double start = now();
    if (qattn_audio_load(path, &samples, &n) != QATTN_OK ||
        qattn_whisper_transcribe(w, samples, n, &c->p, &t) != QATTN_OK) {
        fprintf(stderr, "qattn transcribe: %s\n", qattn_last_error());
        qattn_audio_free(samples);
        return 0;
    }
    qattn_audio_free(samples);
    const double seconds = now() - start, audio = (double)n / QATTN_SAMPLE_RATE;
    if (!c->quiet)
        fprintf(stderr, "qattn transcribe: %s: %.1f s of audio in %.2f s (%.1fx real time), "
                        "model %s, %s\n", path, audio, seconds, seconds > 0 ? audio / seconds : 0.0,
                c->model, c->load.precision == QATTN_PRECISION_F32 ? "f32" : "int8");
    char stem[1024], err[4200];
    stem_of(path, stem, sizeof stem);
    const int ok = !c->formats || write_transcript(t, c->formats, c->out_dir, stem, &c->out, err, sizeof err);
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
             qattn_transcribe_default_params(), {0, {0, 0, 0, 0}}};
    c.p.on_segment = on_segment, c.p.on_segment_user = &c;
    c.p.on_progress = on_progress, c.p.on_progress_user = &c;
    static const char *const tasks[] = {"transcribe", "translate", NULL};
    static const char *const precisions[] = {"int8", "f32", NULL}; /* = qattn_precision */
    const char *format = "all", *vad_model = NULL;
    int task = 0, precision = 0, tier = 0, beam = c.p.beam_size, best_of = c.p.best_of;
    int threads = 0, no_timestamps = 0, no_previous = 0, no_fallback = 0;
    double hallucination = NAN, repetition = c.p.repetition_penalty;
    double detection_threshold = c.p.language_detection_threshold;
    const char *clips = NULL;
    const cli_option options[] = {
        CLI_MODEL(&c.model), CLI_LANGUAGE(&c.p.language), CLI_THREADS(&threads), CLI_TIER(&tier),
        CLI_OUTPUT_DIR(&c.out_dir), CLI_OUTPUT_FORMAT(&format), CLI_QUIET(&c.quiet),
        {"task", 0, CLI_CHOICE, &task, 0, 0, tasks, NULL},
        {"beam-size", 0, CLI_INT, &beam, 1, 32, NULL, NULL},
        {"best-of", 0, CLI_INT, &best_of, 1, 32, NULL, NULL},
        {"precision", 0, CLI_CHOICE, &precision, 0, 0, precisions, NULL},
        {"no-timestamps", 0, CLI_FLAG, &no_timestamps, 0, 0, NULL, NULL},
        {"no-previous-text", 0, CLI_FLAG, &no_previous, 0, 0, NULL, NULL},
        {"no-fallback", 0, CLI_FLAG, &no_fallback, 0, 0, NULL, NULL},
        {"initial-prompt", 0, CLI_STRING, &c.p.initial_prompt, 0, 0, NULL, NULL},
        {"prefix", 0, CLI_STRING, &c.p.prefix, 0, 0, NULL, NULL},
        {"hotwords", 0, CLI_STRING, &c.p.hotwords, 0, 0, NULL, NULL},
        {"vad", 0, CLI_FLAG, &c.p.vad_filter, 0, 0, NULL, NULL},
        {"vad-model", 0, CLI_STRING, &vad_model, 0, 0, NULL, NULL},
        {"vad-threshold", 0, CLI_DOUBLE, &c.p.vad_parameters.threshold, 0, 1, NULL, NULL},
        {"vad-min-speech-duration-ms", 0, CLI_INT, &c.p.vad_parameters.min_speech_duration_ms, 0,
         3600000, NULL, NULL},
        {"vad-max-speech-duration-s", 0, CLI_DOUBLE, &c.p.vad_parameters.max_speech_duration_s, 0,
         1 << 30, NULL, NULL},
        {"vad-min-silence-duration-ms", 0, CLI_INT, &c.p.vad_parameters.min_silence_duration_ms, 0,
         3600000, NULL, NULL},
        {"vad-speech-pad-ms", 0, CLI_INT, &c.p.vad_parameters.speech_pad_ms, 0, 60000, NULL, NULL},
        {"word-timestamps", 0, CLI_FLAG, &c.p.word_timestamps, 0, 0, NULL, NULL},
        {"prepend-punctuations", 0, CLI_STRING, &c.p.prepend_punctuations, 0, 0, NULL, NULL},
        {"append-punctuations", 0, CLI_STRING, &c.p.append_punctuations, 0, 0, NULL, NULL},
        {"alignment-heads", 0, CLI_STRING, &c.p.alignment_heads, 0, 0, NULL, NULL},
        {"max-line-width", 0, CLI_INT, &c.out.subtitles.max_line_width, 1, 100000, NULL, NULL},
        {"max-line-count", 0, CLI_INT, &c.out.subtitles.max_line_count, 1, 100000, NULL, NULL},
        {"max-words-per-line", 0, CLI_INT, &c.out.subtitles.max_words_per_line, 1, 100000, NULL, NULL},
        {"highlight-words", 0, CLI_FLAG, &c.out.subtitles.highlight_words, 0, 0, NULL, NULL},
        {"hallucination-silence-threshold", 0, CLI_DOUBLE, &hallucination, 0, 3600, NULL, NULL},
        {"clip-timestamps", 0, CLI_STRING, &clips, 0, 0, NULL, NULL},
        {"repetition-penalty", 0, CLI_DOUBLE, &repetition, 0, 100, NULL, NULL},
        {"no-repeat-ngram-size", 0, CLI_INT, &c.p.no_repeat_ngram_size, 0, 1 << 20, NULL, NULL},
        {"max-new-tokens", 0, CLI_INT, &c.p.max_new_tokens, 0, 1 << 20, NULL, NULL},
        {"multilingual", 0, CLI_FLAG, &c.p.multilingual, 0, 0, NULL, NULL},
        {"language-detection-segments", 0, CLI_INT, &c.p.language_detection_segments, 1, 10000,
         NULL, NULL},
        {"language-detection-threshold", 0, CLI_DOUBLE, &detection_threshold, 0, 1, NULL, NULL},
        {"batch-size", 0, CLI_INT, &c.p.batch_size, 1, 64, NULL, NULL},
    };
    const char **files = calloc((size_t)argc, sizeof *files);
    if (!files)
        return 1;
    cli_parsed args;
    if (cli_parse("transcribe", argc, argv, options, CLI_COUNT(options), files, &args)) {
        free(files);
        return 2;
    }
    if (args.help) {
        free(files);
        return usage(stdout, 0);
    }
    c.formats = transcript_format(format);
    if (!c.formats && strcmp(format, "none")) {
        free(files);
        return cli_usage_error("transcribe", "--output-format: expected txt, srt, vtt, tsv, json, "
                                             "all or none");
    }
    const subtitle_options *so = &c.out.subtitles;
    if (!c.p.word_timestamps && (so->max_line_width || so->max_line_count || so->max_words_per_line ||
                                 so->highlight_words)) {
        free(files); /* as openai-whisper's CLI: they cut cues by the words */
        return cli_usage_error("transcribe", "--max-line-width, --max-line-count, "
                               "--max-words-per-line and --highlight-words need --word-timestamps");
    }
    if (!isnan(hallucination) && !c.p.word_timestamps) {
        free(files); /* faster-whisper reads the silence from the words */
        return cli_usage_error("transcribe", "--hallucination-silence-threshold needs "
                               "--word-timestamps");
    }
    c.p.hallucination_silence_threshold = (float)hallucination;
    if (c.p.batch_size > 0) { /* the pipeline's VAD defaults where none were given */
        const qattn_vad_options d = qattn_vad_default_options();
        c.p.vad_filter = 1;
        if (c.p.vad_parameters.min_silence_duration_ms == d.min_silence_duration_ms)
            c.p.vad_parameters.min_silence_duration_ms = 160;
        if (c.p.vad_parameters.max_speech_duration_s == d.max_speech_duration_s)
            c.p.vad_parameters.max_speech_duration_s = 30;
    }
    c.p.repetition_penalty = (float)repetition;
    c.p.language_detection_threshold = (float)detection_threshold;
    double clip_times[256];
    if (clips) {
        const int n = parse_clip_timestamps(clips, clip_times, 256);
        if (n < 0) {
            free(files);
            return cli_usage_error("transcribe", "--clip-timestamps: expected at most 256 "
                                   "seconds separated by commas, such as 0,5.5,10");
        }
        c.p.clip_timestamps = n > 0 ? clip_times : NULL, c.p.n_clip_timestamps = n;
    }
    c.out.word_timestamps = c.p.word_timestamps;
    c.p.task = task ? QATTN_TASK_TRANSLATE : QATTN_TASK_TRANSCRIBE;
    c.p.beam_size = beam, c.p.best_of = best_of;
    c.p.without_timestamps = no_timestamps, c.p.condition_on_previous_text = !no_previous;
    if (no_fallback)
        c.p.temperature_increment = 0;
    c.load.precision = (qattn_precision)precision, c.load.threads = threads, c.load.isa = tier;
    if (!args.n_positional) {
        free(files);
        return cli_usage_error("transcribe", "no audio file");
    }
    char fallback[4200];
    if (!c.model) { /* the default model, once ./dev check has fetched it */
        if (!default_model(fallback, sizeof fallback)) {
            free(files);
            fprintf(stderr, "qattn transcribe: no --model, and the default model (tiny.en) is "
                            "not in %s: ./dev check fetches it, or pass -m PATH\n", fallback);
            return 2;
        }
        c.model = fallback;
        fprintf(stderr, "qattn transcribe: no --model: using the default, tiny.en (%s)\n", c.model);
    }
    if (c.formats && !make_dirs(c.out_dir)) {
        fprintf(stderr, "qattn transcribe: --output-dir %s: %s\n", c.out_dir, strerror(errno));
        free(files);
        return 1;
    }
    qattn_whisper *w = NULL;
    qattn_vad *vad = NULL; /* loaded once for every file */
    if (qattn_whisper_load(c.model, &c.load, &w) != QATTN_OK ||
        (c.p.vad_filter && qattn_vad_load(vad_model, &vad) != QATTN_OK)) {
        fprintf(stderr, "qattn transcribe: %s\n", qattn_last_error());
        qattn_whisper_free(w);
        free(files);
        return 1;
    }
    c.p.vad = vad;
    int failures = 0;
    for (int i = 0; i < args.n_positional; i++)
        failures += !transcribe_file(w, &c, files[i]);
    qattn_whisper_free(w);
    qattn_vad_free(vad);
    free(files);
    return failures ? 1 : 0;
}
