/*
 * Opening a Whisper model: tell the format apart by content (CTranslate2, Hugging Face,
 * whisper.cpp ggml), read its configuration and list its tensors, then build the encoder
 * (model_build.c). The public loader and the in-memory entry the fuzzers drive.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "formats/ct2_file.h"
#include "whisper/model_load.h"
#include "formats/safetensors.h"

static int is_file(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && S_ISREG(s.st_mode);
}

static qattn_status open_ct2(qattn_model_source *ld, const char *model_bin, whisper_config *c)
{
    ld->format = QATTN_FORMAT_CT2;
    qattn_status st = qattn_ct2_load_file(&ld->set, model_bin);
    return st == QATTN_OK ? qattn_whisper_config_from_ct2(&ld->set, ld->path, c) : st;
}

/* Hugging Face: config.json in dir, then the one .safetensors file `file` (if not NULL), or
 * the directory's model.safetensors or sharded index. */
static qattn_status open_hf(qattn_model_source *ld, const char *dir, const char *file,
                            whisper_config *c)
{
    char buf[4200];
    ld->format = QATTN_FORMAT_HF;
    snprintf(buf, sizeof buf, "%s/config.json", dir);
    if (!is_file(buf))
        return qattn_fail(QATTN_ERR_IO, "%s: no config.json in %s", ld->path, dir);
    qattn_status st = qattn_whisper_read_hf_config(buf, c);
    if (st != QATTN_OK)
        return st;
    if (file)
        return qattn_safetensors_load_file(&ld->set, file);
    snprintf(buf, sizeof buf, "%s/model.safetensors", dir);
    if (is_file(buf))
        return qattn_safetensors_load_file(&ld->set, buf);
    snprintf(buf, sizeof buf, "%s/model.safetensors.index.json", dir);
    if (is_file(buf))
        return qattn_safetensors_load_index(&ld->set, dir, buf);
    return qattn_fail(QATTN_ERR_IO, "%s: no model.safetensors, model.safetensors.index.json or "
                      "CTranslate2 model.bin", ld->path);
}

/* Lists the tensors of the model at `path` in ld->set and fills *c. */
static qattn_status open_model(qattn_model_source *ld, const char *path, whisper_config *c)
{
    char dir[4096], buf[4200];
    const int is_dir = qattn_is_directory(path);
    ld->path = path;
    struct stat exists;
    if (stat(path, &exists) != 0)
        return qattn_fail_io(path, errno);
    if (!is_dir && !is_file(path))
        return qattn_fail(QATTN_ERR_IO, "%s: not a file or a directory", path);
    const qattn_model_format format = qattn_model_format_of(path);
    if (format == QATTN_FORMAT_CT2) {
        snprintf(buf, sizeof buf, "%s/model.bin", path);
        return open_ct2(ld, is_dir ? buf : path, c); /* its reader says what is wrong, if anything */
    }
    if (format == QATTN_FORMAT_HF) {
        qattn_model_dir(path, dir, sizeof dir);
        return open_hf(ld, dir, is_dir ? NULL : path, c);
    }
    ld->format = QATTN_FORMAT_GGML;
    ggml_hparams hp;
    memset(&hp, 0, sizeof hp);
    qattn_status st = qattn_ggml_load_file(&ld->set, path, &hp);
    if (st != QATTN_OK)
        return st;
    qattn_whisper_config_from_ggml(&hp, c);
    return QATTN_OK;
}

/* A model file in memory listed in ld->set, its config in *cfg (model_load.h). */
static qattn_status open_memory(qattn_model_source *ld, qattn_model_format format,
                                const uint8_t *data, size_t size, const char *config_json,
                                whisper_config *cfg)
{
    memset(ld, 0, sizeof *ld);
    memset(cfg, 0, sizeof *cfg);
    ld->path = "(memory)";
    ld->format = format;
    qattn_status st;
    if (format == QATTN_FORMAT_CT2) {
        st = qattn_ct2_parse(&ld->set, ld->path, data, size);
        if (st == QATTN_OK)
            st = qattn_whisper_config_from_ct2(&ld->set, ld->path, cfg);
    } else if (format == QATTN_FORMAT_GGML) {
        ggml_hparams hp;
        memset(&hp, 0, sizeof hp);
        st = qattn_ggml_parse(&ld->set, ld->path, data, size, &hp);
        qattn_whisper_config_from_ggml(&hp, cfg);
    } else {
        st = qattn_whisper_parse_hf_config(config_json, ld->path, cfg);
        if (st == QATTN_OK)
            st = qattn_safetensors_parse(&ld->set, ld->path, data, size);
    }
    return st;
}

qattn_status qattn_encoder_from_memory(qattn_model_format format, const uint8_t *data,
                                       size_t size, const char *config_json,
                                       const qattn_encoder_params *params,
                                       struct qattn_encoder **out)
{
    qattn_model_source ld;
    whisper_config cfg;
    qattn_status st = open_memory(&ld, format, data, size, config_json, &cfg);
    if (st == QATTN_OK)
        st = qattn_encoder_build(&ld, ld.path, &cfg, params, out);
    qattn_tensors_free(&ld.set);
    return st;
}

qattn_status qattn_decoder_from_memory(qattn_model_format format, const uint8_t *data,
                                       size_t size, const char *config_json,
                                       const qattn_encoder_params *params,
                                       struct qattn_decoder **out)
{
    qattn_model_source ld;
    whisper_config cfg;
    qattn_status st = open_memory(&ld, format, data, size, config_json, &cfg);
    const qattn_run run = {params->precision, params->threads, params->isa};
    if (st == QATTN_OK)
        st = qattn_decoder_build(&ld, &cfg, &run, out);
    qattn_tensors_free(&ld.set);
    return st;
}

qattn_encoder_params qattn_encoder_default_params(void)
{
    qattn_encoder_params p = {sizeof p, QATTN_PRECISION_INT8, 0, QATTN_ISA_AUTO};
    return p;
}

/* The loader's params: the caller's read over the defaults (NULL: the defaults), checked
 * (nothing is loaded yet). */
static qattn_status read_params(const qattn_encoder_params *params, qattn_encoder_params *p,
                                const char *who)
{
    *p = qattn_encoder_default_params();
    if (params && qattn_struct_read(p, sizeof *p, params, who) != QATTN_OK)
        return QATTN_ERR_ARG;
    if (p->precision != QATTN_PRECISION_F32 && p->precision != QATTN_PRECISION_INT8)
        return qattn_fail(QATTN_ERR_ARG, "%s: unknown precision %d (int8 = %d, f32 = %d)", who,
                          p->precision, QATTN_PRECISION_INT8, QATTN_PRECISION_F32);
    if (p->threads < 0)
        return qattn_fail(QATTN_ERR_ARG, "%s: threads = %d, must be >= 0 (0 = one per CPU)", who,
                          p->threads);
    return QATTN_OK;
}

qattn_status qattn_encoder_load(const char *path, const qattn_encoder_params *params,
                                qattn_encoder **encoder)
{
    qattn_clear_error();
    if (!path || !encoder)
        return qattn_fail(QATTN_ERR_NULL, "encoder_load: %s is NULL", !path ? "path" : "encoder");
    *encoder = NULL;
    qattn_encoder_params p;
    qattn_status st = read_params(params, &p, "encoder_load");
    if (st != QATTN_OK)
        return st;
    qattn_model_source ld;
    memset(&ld, 0, sizeof ld);
    whisper_config cfg;
    memset(&cfg, 0, sizeof cfg);
    st = open_model(&ld, path, &cfg);
    struct qattn_encoder *enc = NULL;
    st = st == QATTN_OK ? qattn_encoder_build(&ld, path, &cfg, &p, &enc) : st;
    qattn_tensors_free(&ld.set);
    if (st != QATTN_OK)
        return st;
    *encoder = enc;
    return QATTN_OK;
}

qattn_status qattn_decoder_load(const char *path, const qattn_encoder_params *params,
                                qattn_decoder **decoder)
{
    qattn_clear_error();
    if (!path || !decoder)
        return qattn_fail(QATTN_ERR_NULL, "decoder_load: %s is NULL", !path ? "path" : "decoder");
    *decoder = NULL;
    qattn_encoder_params p;
    qattn_status st = read_params(params, &p, "decoder_load");
    if (st != QATTN_OK)
        return st;
    qattn_run run = {p.precision, p.threads, p.isa};
    qattn_model_source ld;
    memset(&ld, 0, sizeof ld);
    whisper_config cfg;
    memset(&cfg, 0, sizeof cfg);
    st = open_model(&ld, path, &cfg);
    struct qattn_decoder *dec = NULL;
    if (st == QATTN_OK)
        st = qattn_decoder_build(&ld, &cfg, &run, &dec);
    qattn_tensors_free(&ld.set);
    if (st != QATTN_OK)
        return st;
    *decoder = dec;
    return QATTN_OK;
}
