/* `qattn encode --model M --mel X.npy --out Y.npy [--precision int8|f32] [--threads N]` */
#include "encode/encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode/npy.h"
#include "qattn.h"

static int usage(FILE *to, int status)
{
    fprintf(to, "usage: qattn encode --model PATH --mel MEL.npy --out OUT.npy "
                "[--precision int8|f32] [--threads N]\n"
                "Runs the Whisper encoder on a log-mel array (n_mels, 3000) or a batch\n"
                "(B, n_mels, 3000) and writes float32 (1500, n_state) or (B, 1500, n_state).\n"
                "PATH: a Hugging Face Whisper directory or model.safetensors (config.json\n"
                "beside it), or a whisper.cpp ggml-*.bin (f32/f16). Audio input (--wav) is\n"
                "not available yet.\n");
    return status;
}

static int die(const char *what)
{
    fprintf(stderr, "qattn encode: %s\n", what);
    return 1;
}

int encode_main(int argc, char **argv)
{
    const char *model = NULL, *mel_path = NULL, *out_path = NULL;
    qattn_encoder_params params = qattn_encoder_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return usage(stdout, 0);
        if (!v) {
            fprintf(stderr, "qattn encode: '%s' needs a value (try --help)\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--model") == 0)
            model = v;
        else if (strcmp(a, "--mel") == 0)
            mel_path = v;
        else if (strcmp(a, "--out") == 0)
            out_path = v;
        else if (strcmp(a, "--precision") == 0 && (strcmp(v, "int8") == 0 || strcmp(v, "f32") == 0))
            params.precision = strcmp(v, "int8") == 0 ? QATTN_PRECISION_INT8 : QATTN_PRECISION_F32;
        else if (strcmp(a, "--threads") == 0 && atoi(v) > 0)
            params.threads = atoi(v);
        else if (strcmp(a, "--wav") == 0)
            return die("--wav: audio input is not available yet; give a log-mel .npy with --mel");
        else {
            fprintf(stderr, "qattn encode: bad option '%s %s' (try --help)\n", a, v);
            return 2;
        }
    }
    if (!model || !mel_path || !out_path) {
        fprintf(stderr, "qattn encode: --model, --mel and --out are required (try --help)\n");
        return 2;
    }
    qattn_encoder *enc;
    if (qattn_encoder_load(model, &params, &enc) != QATTN_OK)
        return die(qattn_last_error());
    qattn_encoder_info info;
    qattn_encoder_get_info(enc, &info);
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
