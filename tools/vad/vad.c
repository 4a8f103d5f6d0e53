/* `qattn vad FILE...`: one "start end" line per speech span in seconds, or faster-whisper's
 * get_speech_timestamps dicts (samples at 16 kHz) with --json. */
#include "vad/vad.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "qattn.h"

static int usage(FILE *to, int status)
{
    fprintf(to,
            "usage: qattn vad [options] FILE...\n"
            "The speech in each audio file (Silero VAD v6, faster-whisper's get_speech_timestamps):\n"
            "one 'start end' line a span, in seconds, or with --json a list of\n"
            "{\"start\": sample, \"end\": sample} at 16 kHz per file.\n"
            "options (faster-whisper's VadOptions, its defaults):\n"
            "      --vad-model PATH             another Silero VAD v6 ONNX file (default: the one\n"
            "                                   that ships with qattn)\n"
            "      --threshold P                speech at or above it (0.5)\n"
            "      --neg-threshold P            silence below it (threshold - 0.15)\n"
            "      --min-speech-duration-ms N   (0)\n"
            "      --max-speech-duration-s S    split longer spans (no limit)\n"
            "      --min-silence-duration-ms N  the silence that ends a span (2000)\n"
            "      --speech-pad-ms N            added on each side (400)\n"
            "      --json\n"
            "  -h, --help\n");
    return status;
}

/* One file's spans, printed; 0 on failure (its one line printed). */
static int one_file(const qattn_vad *vad, const char *path, const qattn_vad_options *o, int json,
                    int first)
{
    float *x = NULL, *probs = NULL;
    size_t n = 0, count = 0;
    qattn_speech_span *spans = NULL;
    qattn_status st = qattn_audio_load(path, &x, &n);
    const size_t n_probs = qattn_vad_probability_count(n);
    if (st == QATTN_OK && !(probs = malloc(n_probs * sizeof *probs)))
        st = QATTN_ERR_NOMEM;
    if (st == QATTN_OK)
        st = qattn_vad_probabilities(vad, x, n, probs);
    if (st == QATTN_OK)
        st = qattn_vad_speech_spans(probs, n_probs, n, o, NULL, 0, &count);
    if (st == QATTN_OK && !(spans = malloc((count ? count : 1) * sizeof *spans)))
        st = QATTN_ERR_NOMEM;
    if (st == QATTN_OK)
        st = qattn_vad_speech_spans(probs, n_probs, n, o, spans, count, &count);
    if (st != QATTN_OK) {
        fprintf(stderr, "qattn vad: %s\n", st == QATTN_ERR_NOMEM ? "out of memory" : qattn_last_error());
    } else if (json) { /* cJSON writes the path escaped */
        cJSON *file = cJSON_CreateObject(), *list = cJSON_CreateArray();
        cJSON_AddStringToObject(file, "file", path);
        for (size_t i = 0; i < count; i++) {
            cJSON *span = cJSON_CreateObject();
            cJSON_AddNumberToObject(span, "start", (double)spans[i].start);
            cJSON_AddNumberToObject(span, "end", (double)spans[i].end);
            cJSON_AddItemToArray(list, span);
        }
        cJSON_AddItemToObject(file, "speech_timestamps", list);
        char *text = cJSON_PrintUnformatted(file);
        printf("%s%s", first ? "" : ",\n", text ? text : "null");
        free(text);
        cJSON_Delete(file);
    } else {
        for (size_t i = 0; i < count; i++)
            printf("%.3f %.3f\n", (double)spans[i].start / QATTN_SAMPLE_RATE,
                   (double)spans[i].end / QATTN_SAMPLE_RATE);
    }
    qattn_audio_free(x);
    free(probs), free(spans);
    return st == QATTN_OK;
}

int vad_main(int argc, char **argv)
{
    qattn_vad_options o = qattn_vad_default_options();
    const char *model = NULL;
    int json = 0;
    double max_speech = INFINITY;
    const cli_option options[] = {
        CLI_JSON(&json),
        {"vad-model", 0, CLI_STRING, &model, 0, 0, NULL, NULL},
        {"threshold", 0, CLI_DOUBLE, &o.threshold, 0, 1, NULL, NULL},
        {"neg-threshold", 0, CLI_DOUBLE, &o.neg_threshold, 0, 1, NULL, NULL},
        {"min-speech-duration-ms", 0, CLI_INT, &o.min_speech_duration_ms, 0, 3600000, NULL, NULL},
        {"max-speech-duration-s", 0, CLI_DOUBLE, &max_speech, 0, 1 << 30, NULL, NULL},
        {"min-silence-duration-ms", 0, CLI_INT, &o.min_silence_duration_ms, 0, 3600000, NULL, NULL},
        {"speech-pad-ms", 0, CLI_INT, &o.speech_pad_ms, 0, 60000, NULL, NULL},
    };
    const char **files = calloc((size_t)argc, sizeof *files);
    cli_parsed args;
    const int bad = !files || cli_parse("vad", argc, argv, options, CLI_COUNT(options), files, &args);
    if (bad || args.help || !args.n_positional) {
        free(files);
        return bad ? 2 : args.help ? usage(stdout, 0) : cli_usage_error("vad", "no audio file");
    }
    o.max_speech_duration_s = max_speech;
    qattn_vad *vad = NULL;
    if (qattn_vad_load(model, &vad) != QATTN_OK) {
        fprintf(stderr, "qattn vad: %s\n", qattn_last_error());
        free(files);
        return 1;
    }
    int failures = 0;
    if (json)
        printf("[");
    for (int i = 0; i < args.n_positional; i++)
        failures += !one_file(vad, files[i], &o, json, i == 0);
    if (json)
        printf("]\n");
    qattn_vad_free(vad);
    free(files);
    return failures ? 1 : 0;
}
