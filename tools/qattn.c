/* The qattn command-line tool: a thin layer over the library and its harnesses. */
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "check/check.h"
#include "encode/audio_input.h"
#include "encode/encode.h"
#include "qattn.h"
#include "serve/serve.h"
#include "transcribe/transcribe.h"
#include "vad/vad.h"

static void usage(FILE *to)
{
    fprintf(to, "usage: qattn [--version] [--help] COMMAND [ARGS]\n"
                "commands:\n"
                "  check   accuracy of the integer attention kernel against float64\n"
                "  bench   speed of every tier against a float32 OpenBLAS baseline\n"
                "  transcribe  speech to text and subtitle files (txt, srt, vtt, tsv, json)\n"
                "  encode  run the Whisper encoder on an audio file or a log-mel .npy\n"
                "  mel     Whisper's log-mel spectrogram of an audio file, as .npy\n"
                "  vad     the speech in an audio file (voice activity detection)\n"
                "  serve   OpenAI's speech-to-text API over HTTP (transcriptions, translations)\n"
                "  info    version and build facts\n"
                "Run 'qattn COMMAND --help' for a command's options.\n");
}

static int info_main(void)
{
    char report[1024];
    qattn_cpu_report(report, sizeof report);
    printf("qattn %s\n%s", qattn_version(), report);
    printf("head_dim: multiples of 16 in [%d, %d]; max keys: %d\n", QATTN_MIN_HEAD_DIM,
           QATTN_MAX_HEAD_DIM, QATTN_MAX_KEYS);
    return qattn_isa_active(NULL) == QATTN_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("qattn %s\n", qattn_version());
        return 0;
    }
    if (strcmp(cmd, "check") == 0)
        return check_main(argc - 1, argv + 1);
    if (strcmp(cmd, "mel") == 0)
        return mel_main(argc - 1, argv + 1);
    if (strcmp(cmd, "transcribe") == 0)
        return transcribe_main(argc - 1, argv + 1);
    if (strcmp(cmd, "vad") == 0)
        return vad_main(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return serve_main(argc - 1, argv + 1);
    if (strcmp(cmd, "encode") == 0)
        return encode_main(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return bench_main(argc - 1, argv + 1);
    if (strcmp(cmd, "info") == 0) {
        if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            printf("usage: qattn info\nPrints the version and what the kernel supports.\n");
            return 0;
        }
        return info_main();
    }
    fprintf(stderr, "qattn: unknown command '%s' (try 'qattn --help')\n", cmd);
    return 2;
}
