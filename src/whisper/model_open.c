/*
 * Opening a Whisper model: tell the format apart (a directory or .safetensors: Hugging Face;
 * any other file: whisper.cpp ggml), read its configuration and list its tensors, then build
 * the encoder (model_build.c). The public loader and the in-memory entry the fuzzers drive.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "whisper/model_load.h"
#include "whisper/safetensors.h"

static int is_dir(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && S_ISDIR(s.st_mode);
}

static int is_file(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && S_ISREG(s.st_mode);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Which format `path` is, and its tensors listed in ld->set, config in *c. */
static qattn_status open_model(qattn_model_source *ld, const char *path, whisper_config *c)
{
    char dir[4096], buf[4200];
    ld->path = path;
    if (is_dir(path) || ends_with(path, ".safetensors")) {
        ld->format = QATTN_FORMAT_HF;
        if (is_dir(path)) {
            snprintf(dir, sizeof dir, "%s", path);
        } else {
            snprintf(dir, sizeof dir, "%s", path);
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = '\0';
            else
                snprintf(dir, sizeof dir, ".");
        }
        snprintf(buf, sizeof buf, "%s/config.json", dir);
        if (!is_file(buf))
            return qattn_fail(QATTN_ERR_IO, "%s: no config.json in %s", path, dir);
        qattn_status st = qattn_whisper_read_hf_config(buf, c);
        if (st != QATTN_OK)
            return st;
        if (!is_dir(path))
            return qattn_safetensors_load_file(&ld->set, path);
        snprintf(buf, sizeof buf, "%s/model.safetensors", dir);
        if (is_file(buf))
            return qattn_safetensors_load_file(&ld->set, buf);
        snprintf(buf, sizeof buf, "%s/model.safetensors.index.json", dir);
        if (is_file(buf))
            return qattn_safetensors_load_index(&ld->set, dir, buf);
        return qattn_fail(QATTN_ERR_IO,
                          "%s: neither model.safetensors nor model.safetensors.index.json", path);
    }
    if (!is_file(path))
        return qattn_fail(QATTN_ERR_IO, "%s: no such file or directory", path);
    ld->format = QATTN_FORMAT_GGML;
    ggml_hparams hp;
    memset(&hp, 0, sizeof hp);
    qattn_status st = qattn_ggml_load_file(&ld->set, path, &hp);
    if (st != QATTN_OK)
        return st;
    qattn_whisper_config_from_ggml(&hp, c);
    return QATTN_OK;
}

qattn_status qattn_encoder_from_memory(int ggml, const uint8_t *data, size_t size,
                                         const char *config_json,
                                         const qattn_encoder_params *params,
                                         struct qattn_encoder **out)
{
    qattn_model_source ld;
    memset(&ld, 0, sizeof ld);
    ld.path = "(memory)";
    ld.format = ggml ? QATTN_FORMAT_GGML : QATTN_FORMAT_HF;
    whisper_config cfg;
    memset(&cfg, 0, sizeof cfg);
    qattn_status st;
    if (ggml) {
        ggml_hparams hp;
        memset(&hp, 0, sizeof hp);
        st = qattn_ggml_parse(&ld.set, ld.path, data, size, &hp);
        qattn_whisper_config_from_ggml(&hp, &cfg);
    } else {
        st = qattn_whisper_parse_hf_config(config_json, ld.path, &cfg);
        if (st == QATTN_OK)
            st = qattn_safetensors_parse(&ld.set, ld.path, data, size);
    }
    if (st == QATTN_OK)
        st = qattn_encoder_build(&ld, ld.path, &cfg, params, out);
    qattn_tensors_free(&ld.set);
    return st;
}

qattn_encoder_params qattn_encoder_default_params(void)
{
    qattn_encoder_params p = {QATTN_PRECISION_INT8, 0, QATTN_ISA_AUTO};
    return p;
}

qattn_status qattn_encoder_load(const char *path, const qattn_encoder_params *params,
                                qattn_encoder **encoder)
{
    qattn_clear_error();
    if (!path || !encoder)
        return qattn_fail(QATTN_ERR_NULL, "encoder_load: %s is NULL", !path ? "path" : "encoder");
    *encoder = NULL;
    qattn_encoder_params p = params ? *params : qattn_encoder_default_params();
    if (p.precision != QATTN_PRECISION_F32 && p.precision != QATTN_PRECISION_INT8)
        return qattn_fail(QATTN_ERR_ARG, "encoder_load: unknown precision %d (int8 = %d, f32 = %d)",
                          p.precision, QATTN_PRECISION_INT8, QATTN_PRECISION_F32);
    if (p.threads < 0)
        return qattn_fail(QATTN_ERR_ARG, "encoder_load: threads = %d, must be >= 0 (0 = one per CPU)",
                          p.threads);
    qattn_model_source ld;
    memset(&ld, 0, sizeof ld);
    whisper_config cfg;
    memset(&cfg, 0, sizeof cfg);
    qattn_status st = open_model(&ld, path, &cfg);
    struct qattn_encoder *enc = NULL;
    st = st == QATTN_OK ? qattn_encoder_build(&ld, path, &cfg, &p, &enc) : st;
    qattn_tensors_free(&ld.set);
    if (st != QATTN_OK)
        return st;
    /* OpenBLAS's thread count is process-wide: set once here, never during a run. */
    if (enc->precision == QATTN_PRECISION_F32 && enc->threads > 0)
        openblas_set_num_threads(enc->threads);
    *encoder = enc;
    return QATTN_OK;
}
