/* `qattn encode -m M (--mel X.npy | --wav FILE) --output Y.npy [--precision int8|f32]
 * [-t N] [--tier T] [-q]` */
#include "encode/encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "encode/audio_input.h"
#include "encode/npy.h"
#include "qattn.h"

/* Windows encoded per call: bounds the memory of long audio (mel inputs and outputs of one
 * group at a time; the output file is written as the groups finish). */
enum { GROUP = 4 };

static int usage(FILE *to, int status)
{
    fprintf(to, "usage: qattn encode -m PATH (--mel MEL.npy | --wav FILE) --output OUT.npy\n"
                "                    [--precision int8|f32] [-t N] [--tier T] [-q]\n"
                "(-m/--model, -t/--threads: 0 = one per CPU, --tier auto|scalar|avx2|avx512vnni|amx,\n"
                "-q/--quiet, --out: an older name of --output)\n"
                "Runs the Whisper encoder. --mel: a log-mel array (n_mels, 3000) or a batch\n"
                "(B, n_mels, 3000) -> float32 (1500, n_state) or (B, 1500, n_state).\n"
                "--wav: an audio file of any length (WAV, FLAC, Ogg, Opus, MP3, ...) cut into\n"
                "the model's windows (30 s; Whisper's windowing, the last one zero-filled past\n"
                "the audio) -> (windows, 1500, n_state); a progress bar on a terminal unless\n"
                "--quiet.\n"
                "PATH: a Hugging Face Whisper directory or model.safetensors (config.json\n"
                "beside it), or a whisper.cpp ggml-*.bin (f32/f16).\n");
    return status;
}

static int die(const char *what)
{
    fprintf(stderr, "qattn encode: %s\n", what);
    return 1;
}

static void progress(int quiet, size_t done, size_t total)
{
    if (quiet || total < 2 || !isatty(STDERR_FILENO))
        return;
    int width = 30, filled = (int)(width * done / total);
    fprintf(stderr, "\rencoding %zu/%zu windows [%.*s%*s]", done, total, filled,
            "##############################", width - filled, "");
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

/* --wav: all windows of the file, GROUP at a time, streamed into the .npy. */
static int encode_audio(qattn_encoder *enc, const qattn_encoder_info *info, const char *wav,
                        const char *out_path, int32_t threads, int quiet)
{
    char err[512];
    size_t frames, stride;
    float *mel = audio_log_mel_padded(wav, info->n_mels, threads, &frames, &stride, err, sizeof err);
    if (!mel)
        return die(err);
    /* the windows and their length are the model's (2 n_ctx frames), never assumed */
    const size_t window_frames = 2 * (size_t)info->n_ctx;
    const size_t windows = qattn_encoder_window_count(enc, frames);
    const size_t window_in = (size_t)info->n_mels * window_frames;
    const size_t window_out = (size_t)info->n_ctx * info->n_state;
    float *in = malloc(GROUP * window_in * sizeof(float));
    float *out = malloc(GROUP * window_out * sizeof(float));
    int64_t shape[3] = {(int64_t)windows, info->n_ctx, info->n_state};
    FILE *f = in && out ? npy_create(out_path, 3, shape, err, sizeof err) : NULL;
    int ok = f != NULL;
    if (!in || !out)
        snprintf(err, sizeof err, "out of memory");
    progress(quiet, 0, windows);
    for (size_t w0 = 0; ok && w0 < windows; w0 += GROUP) {
        size_t g = windows - w0 < GROUP ? windows - w0 : GROUP;
        if (qattn_encoder_windows(enc, mel, info->n_mels, frames, stride, w0 * window_frames,
                                  (int32_t)g, in) != QATTN_OK ||
            qattn_encoder_run(enc, in, (int32_t)g, out) != QATTN_OK) {
            snprintf(err, sizeof err, "%s", qattn_last_error());
            ok = 0;
        } else if (!npy_append(f, out, g * window_out)) {
            snprintf(err, sizeof err, "%s: write failed", out_path);
            ok = 0;
        }
        progress(quiet, ok ? w0 + g : windows, windows);
    }
    if (f) {
        char close_err[512];
        if (!npy_close(f, out_path, ok, close_err, sizeof close_err) && ok) {
            snprintf(err, sizeof err, "%s", close_err);
            ok = 0;
        }
    }
    free(mel), free(in), free(out);
    return ok ? 0 : die(err);
}

int encode_main(int argc, char **argv)
{
    const char *model = NULL, *mel_path = NULL, *out_path = NULL, *wav = NULL;
    int quiet = 0, precision = 0, threads = 0, tier = 0;
    static const char *const precisions[] = {"int8", "f32", NULL}; /* = qattn_precision */
    const cli_option options[] = {
        CLI_MODEL(&model), CLI_THREADS(&threads), CLI_TIER(&tier), CLI_QUIET(&quiet),
        {"mel", 0, CLI_STRING, &mel_path, 0, 0, NULL, NULL},
        {"wav", 0, CLI_STRING, &wav, 0, 0, NULL, NULL},
        {"output", 0, CLI_STRING, &out_path, 0, 0, NULL, "out"},
        {"precision", 0, CLI_CHOICE, &precision, 0, 0, precisions, NULL},
    };
    int help;
    if (cli_parse_options("encode", argc, argv, options, CLI_COUNT(options), &help))
        return 2;
    if (help)
        return usage(stdout, 0);
    if (!model || !out_path || !mel_path == !wav)
        return cli_usage_error("encode", "--model, --output and one of --mel or --wav are required");
    qattn_encoder_params params = qattn_encoder_default_params();
    params.precision = (qattn_precision)precision, params.threads = threads, params.isa = tier;
    qattn_encoder *enc;
    if (qattn_encoder_load(model, &params, &enc) != QATTN_OK)
        return die(qattn_last_error());
    qattn_encoder_info info;
    info.struct_size = sizeof info;
    qattn_encoder_get_info(enc, &info);
    if (wav) {
        int rc = encode_audio(enc, &info, wav, out_path, params.threads, quiet);
        qattn_encoder_free(enc);
        return rc;
    }
    npy_array mel;
    char err[512], msg[640];
    int status = 1;
    float *out = NULL;
    if (!npy_read(mel_path, &mel, err, sizeof err)) {
        die(err);
        goto done;
    }
    int64_t batch = mel.ndim == 3 ? mel.shape[0] : 1;
    if ((mel.ndim != 2 && mel.ndim != 3) || mel.shape[mel.ndim - 2] != info.n_mels ||
        mel.shape[mel.ndim - 1] != 2 * info.n_ctx || batch < 1 || batch > 1 << 20) {
        snprintf(msg, sizeof msg, "%s: shape must be (%d, %d) or (B, %d, %d) for this model",
                 mel_path, info.n_mels, 2 * info.n_ctx, info.n_mels, 2 * info.n_ctx);
        die(msg);
        goto done;
    }
    out = malloc((size_t)batch * info.n_ctx * info.n_state * sizeof(float));
    if (!out) {
        die("out of memory");
        goto done;
    }
    if (qattn_encoder_run(enc, mel.data, (int32_t)batch, out) != QATTN_OK) {
        die(qattn_last_error());
        goto done;
    }
    int64_t shape[3] = {batch, info.n_ctx, info.n_state};
    if (!npy_write(out_path, out, mel.ndim, mel.ndim == 3 ? shape : shape + 1, err, sizeof err)) {
        die(err);
        goto done;
    }
    status = 0;
done:
    free(out);
    free(mel.data);
    qattn_encoder_free(enc);
    return status;
}
