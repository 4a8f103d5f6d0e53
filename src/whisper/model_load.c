/*
 * Loading the Whisper encoder: find the format, read the configuration, look up every
 * encoder tensor by its name in that format, check its shape, convert it to float, and, for
 * the int8 precision, quantize and pack the linear layers once.
 */
#include <cJSON.h>
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/tiers.h"
#include "core/error.h"
#include "whisper/ggml_file.h"
#include "whisper/model_load.h"
#include "whisper/model.h"
#include "whisper/safetensors.h"

typedef enum model_format { FORMAT_HF, FORMAT_GGML } model_format;

/* A tensor's names: the Hugging Face one (after "model.encoder." or "encoder.") and the
 * whisper.cpp one (after "encoder."); "%d" is the layer. */
typedef struct tensor_names {
    const char *hf, *ggml;
} tensor_names;

static const tensor_names CONV1_W = {"conv1.weight", "conv1.weight"};
static const tensor_names CONV1_B = {"conv1.bias", "conv1.bias"};
static const tensor_names CONV2_W = {"conv2.weight", "conv2.weight"};
static const tensor_names CONV2_B = {"conv2.bias", "conv2.bias"};
static const tensor_names POS = {"embed_positions.weight", "positional_embedding"};
static const tensor_names LN_POST_W = {"layer_norm.weight", "ln_post.weight"};
static const tensor_names LN_POST_B = {"layer_norm.bias", "ln_post.bias"};
static const tensor_names ATTN_LN_W = {"layers.%d.self_attn_layer_norm.weight", "blocks.%d.attn_ln.weight"};
static const tensor_names ATTN_LN_B = {"layers.%d.self_attn_layer_norm.bias", "blocks.%d.attn_ln.bias"};
static const tensor_names Q_W = {"layers.%d.self_attn.q_proj.weight", "blocks.%d.attn.query.weight"};
static const tensor_names Q_B = {"layers.%d.self_attn.q_proj.bias", "blocks.%d.attn.query.bias"};
static const tensor_names K_W = {"layers.%d.self_attn.k_proj.weight", "blocks.%d.attn.key.weight"};
static const tensor_names V_W = {"layers.%d.self_attn.v_proj.weight", "blocks.%d.attn.value.weight"};
static const tensor_names V_B = {"layers.%d.self_attn.v_proj.bias", "blocks.%d.attn.value.bias"};
static const tensor_names O_W = {"layers.%d.self_attn.out_proj.weight", "blocks.%d.attn.out.weight"};
static const tensor_names O_B = {"layers.%d.self_attn.out_proj.bias", "blocks.%d.attn.out.bias"};
static const tensor_names MLP_LN_W = {"layers.%d.final_layer_norm.weight", "blocks.%d.mlp_ln.weight"};
static const tensor_names MLP_LN_B = {"layers.%d.final_layer_norm.bias", "blocks.%d.mlp_ln.bias"};
static const tensor_names FC1_W = {"layers.%d.fc1.weight", "blocks.%d.mlp.0.weight"};
static const tensor_names FC1_B = {"layers.%d.fc1.bias", "blocks.%d.mlp.0.bias"};
static const tensor_names FC2_W = {"layers.%d.fc2.weight", "blocks.%d.mlp.2.weight"};
static const tensor_names FC2_B = {"layers.%d.fc2.bias", "blocks.%d.mlp.2.bias"};

typedef struct loader {
    model_format format;
    const char *path;
    wt_set set;
    const char *hf_prefix; /* "model.encoder." or "encoder." */
} loader;

static const wt_view *find(const loader *ld, const tensor_names *names, int layer, char *full,
                           size_t size)
{
    char local[WT_MAX_NAME];
    snprintf(local, sizeof local, ld->format == FORMAT_HF ? names->hf : names->ggml, layer);
    snprintf(full, size, "%s%s", ld->format == FORMAT_HF ? ld->hf_prefix : "encoder.", local);
    return qattn_tensors_find(&ld->set, full);
}

/* Shapes match when their dimensions other than 1 agree in order (ggml squeezes and
 * reshapes conv biases to [d, 1]). */
static int shape_matches(const wt_view *v, const int64_t *want, int n)
{
    int64_t a[WT_MAX_DIMS], b[WT_MAX_DIMS];
    int na = 0, nb = 0;
    for (int i = 0; i < v->ndim; i++)
        if (v->shape[i] != 1)
            a[na++] = v->shape[i];
    for (int i = 0; i < n; i++)
        if (want[i] != 1)
            b[nb++] = want[i];
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* The tensor as a new float array of the wanted shape; NULL (message set) if it is missing
 * or has another shape. */
static float *load_tensor(const loader *ld, const tensor_names *names, int layer,
                          const int64_t *shape, int ndim, qattn_status *st)
{
    char full[WT_MAX_NAME + 32];
    const wt_view *v = find(ld, names, layer, full, sizeof full);
    if (!v) {
        *st = qattn_fail(QATTN_ERR_MODEL, "%s: missing tensor '%s'", ld->path, full);
        return NULL;
    }
    if (v->dtype == WT_UNSUPPORTED) {
        *st = qattn_fail(QATTN_ERR_MODEL, "%s: tensor '%s' has dtype %s; supported: F32, F16, BF16",
                         ld->path, full, v->dtype_name);
        return NULL;
    }
    if (!shape_matches(v, shape, ndim)) {
        char got[96] = "", want[96] = "";
        for (int i = 0; i < v->ndim; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "x" : "",
                     (long long)v->shape[i]);
        for (int i = 0; i < ndim; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "x" : "",
                     (long long)shape[i]);
        *st = qattn_fail(QATTN_ERR_MODEL, "%s: tensor '%s' has shape %s, the config needs %s",
                         ld->path, full, got, want);
        return NULL;
    }
    float *out = malloc((size_t)qattn_tensor_numel(v) * sizeof(float));
    if (!out) {
        *st = qattn_fail(QATTN_ERR_NOMEM, "out of memory loading '%s'", full);
        return NULL;
    }
    qattn_tensor_to_f32(v, out);
    int64_t n = qattn_tensor_numel(v);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(out[i])) {
            free(out);
            *st = qattn_fail(QATTN_ERR_MODEL, "%s: tensor '%s' holds a NaN or infinity", ld->path, full);
            return NULL;
        }
    *st = QATTN_OK;
    return out;
}

float *qattn_whisper_sinusoids(int32_t length, int32_t channels)
{
    float *p = malloc((size_t)length * channels * sizeof(float));
    if (!p)
        return NULL;
    int32_t half = channels / 2;
    double inc = log(10000.0) / (half - 1);
    for (int32_t t = 0; t < length; t++)
        for (int32_t c = 0; c < half; c++) {
            double a = t * exp(-inc * c);
            p[(size_t)t * channels + c] = (float)sin(a);
            p[(size_t)t * channels + half + c] = (float)cos(a);
        }
    return p;
}

qattn_status qattn_linear_finish(struct qattn_encoder *enc, whisper_linear *l)
{
    if (enc->precision != QATTN_PRECISION_INT8)
        return QATTN_OK;
    qattn_status st = qattn_gemm_weights_make(&l->q, l->w, l->b, l->n_out, l->n_in, enc->isa);
    free(l->w), free(l->b);
    l->w = l->b = NULL;
    return st;
}

static qattn_status make_linear(const loader *ld, struct qattn_encoder *enc, whisper_linear *l,
                                const tensor_names *w, const tensor_names *b, int layer,
                                int64_t n_out, int64_t n_in, const int64_t *w_shape, int w_ndim)
{
    qattn_status st;
    l->n_out = (int32_t)n_out, l->n_in = (int32_t)n_in;
    l->w = load_tensor(ld, w, layer, w_shape, w_ndim, &st);
    if (!l->w)
        return st;
    if (b && !(l->b = load_tensor(ld, b, layer, &n_out, 1, &st)))
        return st;
    return qattn_linear_finish(enc, l);
}

/* q, k and v of a layer stacked into one [3 d][d] layer; k's missing bias is zero. */
static qattn_status make_qkv(const loader *ld, struct qattn_encoder *enc, whisper_linear *l,
                             int layer, int64_t d)
{
    const tensor_names *w[3] = {&Q_W, &K_W, &V_W}, *b[3] = {&Q_B, NULL, &V_B};
    const int64_t shape[2] = {d, d};
    qattn_status st = QATTN_OK;
    l->n_out = (int32_t)(3 * d), l->n_in = (int32_t)d;
    l->w = malloc((size_t)(3 * d * d) * sizeof(float));
    l->b = calloc((size_t)(3 * d), sizeof(float));
    if (!l->w || !l->b)
        return qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < 3 && st == QATTN_OK; i++) {
        float *part = load_tensor(ld, w[i], layer, shape, 2, &st);
        if (part)
            memcpy(l->w + (size_t)i * d * d, part, (size_t)(d * d) * sizeof(float));
        free(part);
        if (st == QATTN_OK && b[i]) {
            float *bias = load_tensor(ld, b[i], layer, &d, 1, &st);
            if (bias)
                memcpy(l->b + (size_t)i * d, bias, (size_t)d * sizeof(float));
            free(bias);
        }
    }
    return st == QATTN_OK ? qattn_linear_finish(enc, l) : st;
}

static qattn_status load_weights(const loader *ld, struct qattn_encoder *enc)
{
    const whisper_config *c = &enc->cfg;
    const int64_t d = c->n_state, ffn = c->n_ffn;
    qattn_status st;
    const int64_t conv1[] = {d, c->n_mels, 3}, conv2[] = {d, d, 3}, dd[] = {d, d};
    const int64_t up[] = {ffn, d}, down[] = {d, ffn}, pos[] = {c->n_ctx, d};
    if ((st = make_linear(ld, enc, &enc->conv1, &CONV1_W, &CONV1_B, 0, d, 3 * c->n_mels, conv1, 3)) ||
        (st = make_linear(ld, enc, &enc->conv2, &CONV2_W, &CONV2_B, 0, d, 3 * d, conv2, 3)))
        return st;
    char name[WT_MAX_NAME + 32];
    if (find(ld, &POS, 0, name, sizeof name)) {
        if (!(enc->pos = load_tensor(ld, &POS, 0, pos, 2, &st)))
            return st;
    } else if (!(enc->pos = qattn_whisper_sinusoids(c->n_ctx, c->n_state))) {
        return qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    }
    if (!(enc->ln_post_w = load_tensor(ld, &LN_POST_W, 0, &d, 1, &st)) ||
        !(enc->ln_post_b = load_tensor(ld, &LN_POST_B, 0, &d, 1, &st)))
        return st;
    enc->layers = calloc((size_t)c->n_layers, sizeof *enc->layers);
    if (!enc->layers)
        return qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < c->n_layers; i++) {
        whisper_layer *L = &enc->layers[i];
        if (!(L->attn_ln_w = load_tensor(ld, &ATTN_LN_W, i, &d, 1, &st)) ||
            !(L->attn_ln_b = load_tensor(ld, &ATTN_LN_B, i, &d, 1, &st)) ||
            !(L->mlp_ln_w = load_tensor(ld, &MLP_LN_W, i, &d, 1, &st)) ||
            !(L->mlp_ln_b = load_tensor(ld, &MLP_LN_B, i, &d, 1, &st)))
            return st;
        if ((st = make_qkv(ld, enc, &L->qkv, i, d)) ||
            (st = make_linear(ld, enc, &L->o, &O_W, &O_B, i, d, d, dd, 2)) ||
            (st = make_linear(ld, enc, &L->fc1, &FC1_W, &FC1_B, i, ffn, d, up, 2)) ||
            (st = make_linear(ld, enc, &L->fc2, &FC2_W, &FC2_B, i, d, ffn, down, 2)))
            return st;
    }
    return QATTN_OK;
}

/* The MLP width Whisper uses, 4 d; -1 (rejected by the config check) where 4 d would not fit. */
static int32_t ffn_of(int32_t d)
{
    return d > 0 && d <= INT32_MAX / 4 ? 4 * d : -1;
}

qattn_status qattn_whisper_check_config(const char *path, const whisper_config *c)
{
    int32_t hd = c->n_heads > 0 ? c->n_state / c->n_heads : 0;
    if (c->n_state < 16 || c->n_state > QATTN_GEMM_MAX_K / 3 || c->n_mels < 1 ||
        c->n_mels > 512 || c->n_ctx < 1 || c->n_ctx > 1 << 16 ||
        c->n_layers < 1 || c->n_layers > 256 || c->n_heads < 1 || c->n_state % c->n_heads != 0 ||
        hd < QATTN_MIN_HEAD_DIM || hd > QATTN_MAX_HEAD_DIM || hd % 16 != 0 || c->n_ffn < 4 ||
        c->n_ffn % 4 != 0 || c->n_ffn > QATTN_GEMM_MAX_K)
        return qattn_fail(QATTN_ERR_MODEL,
                          "%s: unsupported encoder config: n_mels %d, n_ctx %d, d %d, heads %d, "
                          "layers %d, ffn %d (head dim must be a multiple of 16 in [16, 256])",
                          path, c->n_mels, c->n_ctx, c->n_state, c->n_heads, c->n_layers, c->n_ffn);
    return QATTN_OK;
}

static int json_int(const cJSON *root, const char *key, int32_t *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsNumber(j))
        return 0;
    double v = j->valuedouble; /* range first: casting an out-of-range double is undefined */
    if (!(v >= INT32_MIN && v <= INT32_MAX) || v != (double)(int32_t)v)
        return 0;
    *out = (int32_t)v;
    return 1;
}

qattn_status qattn_whisper_parse_hf_config(const char *text, const char *name, whisper_config *c)
{
    cJSON *root = cJSON_Parse(text);
    int ok = cJSON_IsObject(root) && json_int(root, "d_model", &c->n_state) &&
             json_int(root, "encoder_attention_heads", &c->n_heads) &&
             json_int(root, "encoder_layers", &c->n_layers) &&
             json_int(root, "num_mel_bins", &c->n_mels) &&
             json_int(root, "max_source_positions", &c->n_ctx);
    if (ok && !json_int(root, "encoder_ffn_dim", &c->n_ffn))
        c->n_ffn = ffn_of(c->n_state);
    cJSON_Delete(root);
    if (!ok)
        return qattn_fail(QATTN_ERR_MODEL,
                          "%s: not a Whisper config (needs integer d_model, "
                          "encoder_attention_heads, encoder_layers, num_mel_bins, "
                          "max_source_positions)",
                          name);
    return QATTN_OK;
}

static qattn_status read_hf_config(const char *config_path, whisper_config *c)
{
    qattn_status st;
    char *text = qattn_read_text_file(config_path, 1 << 20, &st);
    if (!text)
        return st;
    st = qattn_whisper_parse_hf_config(text, config_path, c);
    free(text);
    return st;
}

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
static qattn_status open_model(loader *ld, const char *path, whisper_config *c)
{
    char dir[4096], buf[4200];
    ld->path = path;
    if (is_dir(path) || ends_with(path, ".safetensors")) {
        ld->format = FORMAT_HF;
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
        qattn_status st = read_hf_config(buf, c);
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
    ld->format = FORMAT_GGML;
    ggml_hparams hp;
    memset(&hp, 0, sizeof hp);
    qattn_status st = qattn_ggml_load_file(&ld->set, path, &hp);
    if (st != QATTN_OK)
        return st;
    c->n_mels = hp.n_mels, c->n_ctx = hp.n_audio_ctx, c->n_state = hp.n_audio_state;
    c->n_heads = hp.n_audio_head, c->n_layers = hp.n_audio_layer, c->n_ffn = ffn_of(hp.n_audio_state);
    return QATTN_OK;
}

qattn_status qattn_encoder_new(const char *name, const whisper_config *cfg,
                                 const qattn_encoder_params *p, struct qattn_encoder **out)
{
    qattn_isa tier;
    qattn_status st = qattn_whisper_check_config(name, cfg);
    if (st == QATTN_OK && p->precision == QATTN_PRECISION_INT8)
        st = qattn_tier_resolve(p->isa, &tier);
    if (st != QATTN_OK)
        return st;
    struct qattn_encoder *enc = calloc(1, sizeof *enc);
    if (!enc)
        return qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    enc->cfg = *cfg;
    enc->precision = p->precision, enc->threads = p->threads, enc->isa = p->isa;
    *out = enc;
    return QATTN_OK;
}

/* The encoder from listed tensors: check the config, find the prefix, load every weight. */
static qattn_status build(loader *ld, const char *name, const whisper_config *cfg,
                          const qattn_encoder_params *p, struct qattn_encoder **out)
{
    struct qattn_encoder *enc = NULL;
    qattn_status st = qattn_encoder_new(name, cfg, p, &enc);
    if (st != QATTN_OK)
        return st;
    if (ld->format == FORMAT_HF) {
        char probe[WT_MAX_NAME + 32];
        ld->hf_prefix = "model.encoder.";
        if (!find(ld, &CONV1_W, 0, probe, sizeof probe))
            ld->hf_prefix = "encoder.";
    }
    st = load_weights(ld, enc);
    if (st != QATTN_OK) {
        qattn_encoder_free(enc);
        return st;
    }
    *out = enc;
    return QATTN_OK;
}

qattn_status qattn_encoder_from_memory(int ggml, const uint8_t *data, size_t size,
                                         const char *config_json,
                                         const qattn_encoder_params *params,
                                         struct qattn_encoder **out)
{
    loader ld;
    memset(&ld, 0, sizeof ld);
    ld.path = "(memory)";
    ld.format = ggml ? FORMAT_GGML : FORMAT_HF;
    whisper_config cfg;
    memset(&cfg, 0, sizeof cfg);
    qattn_status st;
    if (ggml) {
        ggml_hparams hp;
        memset(&hp, 0, sizeof hp);
        st = qattn_ggml_parse(&ld.set, ld.path, data, size, &hp);
        cfg.n_mels = hp.n_mels, cfg.n_ctx = hp.n_audio_ctx, cfg.n_state = hp.n_audio_state;
        cfg.n_heads = hp.n_audio_head, cfg.n_layers = hp.n_audio_layer;
        cfg.n_ffn = ffn_of(hp.n_audio_state);
    } else {
        st = qattn_whisper_parse_hf_config(config_json, ld.path, &cfg);
        if (st == QATTN_OK)
            st = qattn_safetensors_parse(&ld.set, ld.path, data, size);
    }
    if (st == QATTN_OK)
        st = build(&ld, ld.path, &cfg, params, out);
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
    loader ld;
    memset(&ld, 0, sizeof ld);
    whisper_config cfg;
    memset(&cfg, 0, sizeof cfg);
    qattn_status st = open_model(&ld, path, &cfg);
    struct qattn_encoder *enc = NULL;
    st = st == QATTN_OK ? build(&ld, path, &cfg, &p, &enc) : st;
    qattn_tensors_free(&ld.set);
    if (st != QATTN_OK)
        return st;
    /* OpenBLAS's thread count is process-wide: set once here, never during a run. */
    if (enc->precision == QATTN_PRECISION_F32 && enc->threads > 0)
        openblas_set_num_threads(enc->threads);
    *encoder = enc;
    return QATTN_OK;
}
