#include "encode/audio_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "encode/npy.h"
#include "qattn.h"

float *audio_log_mel_padded(const char *path, int32_t n_mels, int32_t threads, size_t *frames,
                            size_t *stride, char *err, size_t err_size)
{
    float *audio;
    size_t n;
    if (qattn_audio_load(path, &audio, &n) != QATTN_OK) {
        snprintf(err, err_size, "%s", qattn_last_error());
        return NULL;
    }
    *frames = qattn_log_mel_frames(n);
    *stride = qattn_log_mel_padded_frames(n);
    float *mel = NULL;
    if (*frames == 0)
        snprintf(err, err_size, "%s: holds %zu samples, less than one 10 ms mel frame", path, n);
    else if (!(mel = malloc((size_t)n_mels * *stride * sizeof(float))))
        snprintf(err, err_size, "%s: out of memory", path);
    else if (qattn_log_mel_padded(audio, n, n_mels, threads, mel) != QATTN_OK) {
        snprintf(err, err_size, "%s: %s", path, qattn_last_error());
        free(mel);
        mel = NULL;
    }
    qattn_audio_free(audio);
    return mel;
}

int mel_main(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    int n_mels = 80, threads = 0;
    const cli_option options[] = {
        CLI_THREADS(&threads),
        {"output", 0, CLI_STRING, &out, 0, 0, NULL, "out"},
        {"n-mels", 0, CLI_INT, &n_mels, 1, 512, NULL, NULL},
    };
    const char **files = calloc((size_t)argc, sizeof *files);
    cli_parsed args;
    const int bad = !files || cli_parse("mel", argc, argv, options, CLI_COUNT(options), files, &args);
    const int n_files = files && !bad ? args.n_positional : 0;
    in = n_files ? files[0] : NULL;
    free(files);
    if (bad)
        return 2;
    if (args.help) {
        printf("usage: qattn mel FILE --output MEL.npy [--n-mels 80|128] [-t N]\n"
               "Decodes FILE (WAV, FLAC, Ogg, Opus, MP3, ...), resamples it to 16 kHz mono\n"
               "and writes Whisper's log-mel spectrogram, float32 (n_mels, samples / 160).\n"
               "(-t/--threads: 0 = one per CPU; --out: an older name of --output)\n");
        return 0;
    }
    if (n_files != 1 || !out)
        return cli_usage_error("mel", "one FILE and --output are required");
    float *audio;
    size_t n;
    if (qattn_audio_load(in, &audio, &n) != QATTN_OK) {
        fprintf(stderr, "qattn mel: %s\n", qattn_last_error());
        return 1;
    }
    size_t frames = qattn_log_mel_frames(n);
    float *mel = malloc((size_t)n_mels * (frames ? frames : 1) * sizeof(float));
    char err[512];
    int status = 1;
    if (!mel)
        fprintf(stderr, "qattn mel: out of memory\n");
    else if (qattn_log_mel(audio, n, n_mels, threads, mel) != QATTN_OK)
        fprintf(stderr, "qattn mel: %s: %s\n", in, qattn_last_error());
    else if (!npy_write(out, mel, 2, (int64_t[]){n_mels, (int64_t)frames}, err, sizeof err))
        fprintf(stderr, "qattn mel: %s\n", err);
    else
        status = 0;
    free(mel);
    qattn_audio_free(audio);
    return status;
}
