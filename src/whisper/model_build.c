/*
 * Building the encoder from a model's tensors: look each one up by its name in the file's
 * format, check its shape against the configuration, convert it to float (and refuse NaN),
 * and, for the int8 precision, quantize and pack the linear layers once.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tiers.h"
#include "ops/float_ops.h"
#include "whisper/model_load.h"

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

static void format_shape(char *out, size_t size, const int64_t *shape, int ndim)
{
    out[0] = '\0';
    for (int i = 0; i < ndim; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s%lld", i ? "x" : "", (long long)shape[i]);
}

/* v (found under the name `full`, or NULL) checked: present, of a usable dtype, of the
 * wanted shape. NULL (message set) otherwise. */
static const wt_view *check_view(const qattn_model_source *ld, const wt_view *v, const char *full,
                                 const int64_t *shape, int ndim, qattn_status *st)
{
    if (!v) {
        *st = qattn_fail(QATTN_ERR_MODEL, "%s: missing tensor '%s'", ld->path, full);
        return NULL;
    }
    const int quantized = v->dtype == WT_I8 || v->dtype == WT_I16;
    if (v->dtype == WT_UNSUPPORTED || v->dtype == WT_I32 ||
        (quantized && ld->format != QATTN_FORMAT_CT2)) {
        *st = qattn_fail(QATTN_ERR_MODEL, "%s: tensor '%s' has dtype %s; supported: F32, F16, BF16%s",
                         ld->path, full, v->dtype_name,
                         ld->format == QATTN_FORMAT_CT2 ? ", int8 and int16 with their scales" : "");
        return NULL;
    }
    if (!shape_matches(v, shape, ndim)) {
        char got[96], want[96];
        format_shape(got, sizeof got, v->shape, v->ndim);
        format_shape(want, sizeof want, shape, ndim);
        *st = qattn_fail(QATTN_ERR_MODEL, "%s: tensor '%s' has shape %s, the config needs %s",
                         ld->path, full, got, want);
        return NULL;
    }
    *st = QATTN_OK;
    return v;
}

/* The tensor `id` of `layer`, checked (check_view). */
static const wt_view *checked_view(const qattn_model_source *ld, qattn_tensor_id id, int layer,
                                   const int64_t *shape, int ndim, char *full, size_t full_size,
                                   qattn_status *st)
{
    return check_view(ld, qattn_model_find(ld, id, layer, full, full_size), full, shape, ndim, st);
}

/* The scale of a CTranslate2 quantized weight ("<name>_scale", WHISPER.md A3): int8 weights
 * have one float32 per output row, int16 ones a single float32 (w = q / scale). Returns the
 * scale view, or NULL with the message set. */
static const wt_view *quantization_scale(const qattn_model_source *ld, const wt_view *v,
                                         qattn_status *st)
{
    char name[WT_MAX_NAME + 8];
    snprintf(name, sizeof name, "%s_scale", v->name);
    const wt_view *s = qattn_tensors_find(&ld->set, name);
    int64_t want = v->dtype == WT_I8 ? v->shape[0] : 1;
    if (!s || s->dtype != WT_F32 || qattn_tensor_numel(s) != want) {
        *st = qattn_fail(QATTN_ERR_MODEL, "%s: %s weight '%s' needs a float32 '%s' of %lld values",
                         ld->path, v->dtype_name, v->name, name, (long long)want);
        return NULL;
    }
    *st = QATTN_OK;
    return s;
}

/* Values [first, first + count) of a checked view as floats (quantized CTranslate2 weights
 * dequantized: w = q / scale); QATTN_OK, or the message set if one is NaN or infinite. */
static qattn_status view_range_to_f32(const qattn_model_source *ld, const wt_view *v,
                                      const char *full, int64_t first, int64_t count, float *out)
{
    qattn_status st = QATTN_OK;
    const wt_view *scale = NULL;
    if ((v->dtype == WT_I8 || v->dtype == WT_I16) && !(scale = quantization_scale(ld, v, &st)))
        return st;
    wt_view part = *v;
    part.data += (size_t)first * qattn_tensor_dtype_size(v->dtype);
    part.ndim = 1, part.shape[0] = count;
    qattn_tensor_to_f32(&part, out);
    qattn_tensors_release(&ld->set, part.data, (size_t)count * qattn_tensor_dtype_size(v->dtype));
    if (scale) {
        float *scales = malloc((size_t)qattn_tensor_numel(scale) * sizeof(float));
        if (!scales)
            return qattn_fail(QATTN_ERR_NOMEM, "out of memory loading '%s'", full);
        qattn_tensor_to_f32(scale, scales);
        const int64_t per_row = qattn_tensor_numel(v) / qattn_tensor_numel(scale);
        for (int64_t i = 0; i < count; i++)
            out[i] /= scales[(first + i) / per_row];
        free(scales);
    }
    if (qattn_first_non_finite(out, (size_t)count) < (size_t)count)
        return qattn_fail(QATTN_ERR_MODEL, "%s: tensor '%s' holds a NaN or infinity%s", ld->path,
                          full, scale ? " (or a zero scale)" : "");
    return QATTN_OK;
}

/* A checked view as a new float array; NULL (message set) if it holds a NaN or infinity. */
static float *view_to_f32(const qattn_model_source *ld, const wt_view *v, const char *full,
                          qattn_status *st)
{
    const int64_t n = qattn_tensor_numel(v);
    float *out = malloc((size_t)n * sizeof(float));
    if (!out) {
        *st = qattn_fail(QATTN_ERR_NOMEM, "out of memory loading '%s'", full);
        return NULL;
    }
    if ((*st = view_range_to_f32(ld, v, full, 0, n, out)) != QATTN_OK) {
        free(out);
        return NULL;
    }
    return out;
}

/* The tensor as a new float array of the wanted shape; NULL (message set) if it is missing,
 * of another shape or dtype, or holds a NaN or infinity. */
static float *load_tensor(const qattn_model_source *ld, qattn_tensor_id id, int layer,
                          const int64_t *shape, int ndim, qattn_status *st)
{
    char full[WT_MAX_NAME + 32];
    const wt_view *v = checked_view(ld, id, layer, shape, ndim, full, sizeof full, st);
    return v ? view_to_f32(ld, v, full, st) : NULL;
}

float *qattn_model_load_named(const qattn_model_source *ld, const char *name, const int64_t *shape,
                              int ndim, qattn_status *st)
{
    const wt_view *v = check_view(ld, qattn_tensors_find(&ld->set, name), name, shape, ndim, st);
    return v ? view_to_f32(ld, v, name, st) : NULL;
}

const wt_view *qattn_model_view_named(const qattn_model_source *ld, const char *name,
                                      const int64_t *shape, int ndim, qattn_status *st)
{
    return check_view(ld, qattn_tensors_find(&ld->set, name), name, shape, ndim, st);
}

qattn_status qattn_model_rows_f32(const qattn_model_source *ld, const wt_view *v, int64_t cols,
                                  int64_t first, int64_t count, float *out)
{
    return view_range_to_f32(ld, v, v->name, first * cols, count * cols, out);
}

/*
 * A convolution's kernel [n_out][channels][3] as stored (PyTorch's Conv1d, whisper.cpp,
 * CTranslate2) rearranged in place to [n_out][3][channels], tap-major: then the input of
 * output frame t is the `3 * channels` values of three consecutive time-major input frames,
 * read where they are (encoder.c), with no im2col copy. elem: bytes per weight.
 */
static int conv_taps_first(void *w, size_t elem, int64_t n_out, int64_t channels)
{
    const size_t row = (size_t)channels * 3 * elem;
    unsigned char *tmp = malloc(row), *base = w;
    if (!tmp)
        return 0;
    for (int64_t j = 0; j < n_out; j++) {
        unsigned char *r = base + (size_t)j * row;
        memcpy(tmp, r, row);
        for (int64_t c = 0; c < channels; c++)
            for (int kk = 0; kk < 3; kk++)
                memcpy(r + ((size_t)kk * channels + c) * elem, tmp + ((size_t)c * 3 + kk) * elem, elem);
    }
    free(tmp);
    return 1;
}

/* For the int8 precision: a CTranslate2 int8 weight (symmetric, one scale per output row,
 * the scheme of our GEMM) goes to the GEMM as it is, without a dequantize-requantize round.
 * Returns 1 if it did (st says how it went), 0 if the weight is not of that kind. */
static int take_int8_weights(const qattn_model_source *ld, struct qattn_encoder *enc,
                             whisper_linear *l, qattn_tensor_id w, int layer, const int64_t *shape,
                             int ndim, int64_t conv_channels, qattn_status *st)
{
    char full[WT_MAX_NAME + 32];
    if (enc->run.precision != QATTN_PRECISION_INT8)
        return 0;
    const wt_view *v = checked_view(ld, w, layer, shape, ndim, full, sizeof full, st);
    if (!v || v->dtype != WT_I8)
        return v == NULL; /* a failed check is taken (and reported); a float weight is not */
    const wt_view *scale = quantization_scale(ld, v, st);
    float *sw = scale ? malloc((size_t)l->n_out * sizeof(float)) : NULL;
    if (!scale)
        return 1;
    if (!sw) {
        *st = qattn_fail(QATTN_ERR_NOMEM, "out of memory loading '%s'", full);
        return 1;
    }
    qattn_tensor_to_f32(scale, sw);
    for (int32_t j = 0; j < l->n_out; j++)
        sw[j] = 1.0f / sw[j]; /* CT2: w = q / scale; the GEMM: w = sw q */
    int8_t *taps = NULL; /* a convolution's kernel, tap-major (conv_taps_first) */
    if (conv_channels > 0) {
        taps = malloc((size_t)l->n_out * l->n_in);
        if (taps)
            memcpy(taps, v->data, (size_t)l->n_out * l->n_in);
        if (!taps || !conv_taps_first(taps, 1, l->n_out, conv_channels)) {
            free(taps), free(sw);
            *st = qattn_fail(QATTN_ERR_NOMEM, "out of memory loading '%s'", full);
            return 1;
        }
    }
    *st = qattn_gemm_weights_from_s8(&l->q, taps ? taps : (const int8_t *)v->data, sw, l->b,
                                     l->n_out, l->n_in, enc->run.isa);
    free(taps);
    qattn_tensors_release(&ld->set, v->data, (size_t)l->n_out * l->n_in);
    if (*st != QATTN_OK)
        *st = qattn_fail(QATTN_ERR_MODEL, "%s: tensor '%s': %s", ld->path, full, qattn_last_error());
    free(sw);
    free(l->b);
    l->b = NULL;
    return 1;
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

/* The LayerNorm a linear layer reads (its gamma and beta, for smoothing), or none. */
typedef struct layer_norm_ref {
    float *gamma, *beta;
} layer_norm_ref;

/* For the int8 precision, a layer whose float weights read a LayerNorm is smoothed before it
 * is quantized (smoothing.c). Weights stored as int8 are used as they are, unsmoothed. */
static qattn_status finish(struct qattn_encoder *enc, whisper_linear *l, const layer_norm_ref *ln)
{
    if (ln && enc->run.precision == QATTN_PRECISION_INT8 &&
        !qattn_smooth_layer_norm_into(ln->gamma, ln->beta, l->w, l->n_out, l->n_in))
        return qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    return qattn_linear_finish(&enc->run, l, 8);
}

/* w_ndim 3: a convolution's kernel [n_out][channels][3], kept tap-major. */
static qattn_status make_linear(const qattn_model_source *ld, struct qattn_encoder *enc, whisper_linear *l,
                                qattn_tensor_id w, qattn_tensor_id b, int layer,
                                int64_t n_out, int64_t n_in, const int64_t *w_shape, int w_ndim,
                                const layer_norm_ref *ln)
{
    qattn_status st;
    const int64_t conv_channels = w_ndim == 3 ? w_shape[1] : 0;
    l->n_out = (int32_t)n_out, l->n_in = (int32_t)n_in;
    if (b != QATTN_T_COUNT && !(l->b = load_tensor(ld, b, layer, &n_out, 1, &st)))
        return st;
    if (take_int8_weights(ld, enc, l, w, layer, w_shape, w_ndim, conv_channels, &st))
        return st;
    if (!(l->w = load_tensor(ld, w, layer, w_shape, w_ndim, &st)))
        return st;
    if (conv_channels > 0 && !conv_taps_first(l->w, sizeof(float), n_out, conv_channels))
        return qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    return finish(enc, l, ln);
}

/* q, k and v of a layer stacked into one [3 d][d] layer; k's missing bias is zero. */
static qattn_status make_qkv(const qattn_model_source *ld, struct qattn_encoder *enc, whisper_linear *l,
                             int layer, int64_t d, const layer_norm_ref *ln)
{
    const qattn_tensor_id w[3] = {QATTN_T_Q_W, QATTN_T_K_W, QATTN_T_V_W};
    const qattn_tensor_id b[3] = {QATTN_T_Q_B, QATTN_T_COUNT, QATTN_T_V_B}; /* k: no bias */
    const int64_t shape[2] = {d, d}, fused[2] = {3 * d, d};
    if (ld->format == QATTN_FORMAT_CT2) /* stored fused already */
        return make_linear(ld, enc, l, QATTN_T_QKV_W, QATTN_T_QKV_B, layer, 3 * d, d, fused, 2, ln);
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
        if (st == QATTN_OK && b[i] != QATTN_T_COUNT) {
            float *bias = load_tensor(ld, b[i], layer, &d, 1, &st);
            if (bias)
                memcpy(l->b + (size_t)i * d, bias, (size_t)d * sizeof(float));
            free(bias);
        }
    }
    return st == QATTN_OK ? finish(enc, l, ln) : st;
}

static qattn_status load_weights(const qattn_model_source *ld, struct qattn_encoder *enc)
{
    const whisper_config *c = &enc->cfg;
    const int64_t d = c->n_state, ffn = c->n_ffn;
    qattn_status st;
    const int64_t conv1[] = {d, c->n_mels, 3}, conv2[] = {d, d, 3}, dd[] = {d, d};
    const int64_t up[] = {ffn, d}, down[] = {d, ffn}, pos[] = {c->n_ctx, d};
    if ((st = make_linear(ld, enc, &enc->conv1, QATTN_T_CONV1_W, QATTN_T_CONV1_B, 0, d, 3 * c->n_mels, conv1, 3, NULL)) ||
        (st = make_linear(ld, enc, &enc->conv2, QATTN_T_CONV2_W, QATTN_T_CONV2_B, 0, d, 3 * d, conv2, 3, NULL)))
        return st;
    char name[WT_MAX_NAME + 32];
    if (qattn_model_find(ld, QATTN_T_POS, 0, name, sizeof name)) {
        if (!(enc->pos = load_tensor(ld, QATTN_T_POS, 0, pos, 2, &st)))
            return st;
    } else if (!(enc->pos = qattn_whisper_sinusoids(c->n_ctx, c->n_state))) {
        return qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    }
    if (!(enc->ln_post_w = load_tensor(ld, QATTN_T_LN_POST_W, 0, &d, 1, &st)) ||
        !(enc->ln_post_b = load_tensor(ld, QATTN_T_LN_POST_B, 0, &d, 1, &st)))
        return st;
    enc->layers = calloc((size_t)c->n_layers, sizeof *enc->layers);
    if (!enc->layers)
        return qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < c->n_layers; i++) {
        whisper_layer *L = &enc->layers[i];
        if (!(L->attn_ln_w = load_tensor(ld, QATTN_T_ATTN_LN_W, i, &d, 1, &st)) ||
            !(L->attn_ln_b = load_tensor(ld, QATTN_T_ATTN_LN_B, i, &d, 1, &st)) ||
            !(L->mlp_ln_w = load_tensor(ld, QATTN_T_MLP_LN_W, i, &d, 1, &st)) ||
            !(L->mlp_ln_b = load_tensor(ld, QATTN_T_MLP_LN_B, i, &d, 1, &st)))
            return st;
        const layer_norm_ref attn_ln = {L->attn_ln_w, L->attn_ln_b}, mlp_ln = {L->mlp_ln_w, L->mlp_ln_b};
        if ((st = make_qkv(ld, enc, &L->qkv, i, d, &attn_ln)) ||
            (st = make_linear(ld, enc, &L->o, QATTN_T_O_W, QATTN_T_O_B, i, d, d, dd, 2, NULL)) ||
            (st = make_linear(ld, enc, &L->fc1, QATTN_T_FC1_W, QATTN_T_FC1_B, i, ffn, d, up, 2, &mlp_ln)) ||
            (st = make_linear(ld, enc, &L->fc2, QATTN_T_FC2_W, QATTN_T_FC2_B, i, d, ffn, down, 2, NULL)))
            return st;
    }
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
    if (enc && !(enc->spare = qattn_encoder_spare_new()))
        free(enc), enc = NULL;
    if (!enc)
        return qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    enc->cfg = *cfg;
    enc->run.precision = p->precision, enc->run.threads = p->threads, enc->run.isa = p->isa;
    *out = enc;
    return QATTN_OK;
}

/* The encoder from listed tensors: check the config, find the prefix, load every weight. */
qattn_status qattn_encoder_build(qattn_model_source *ld, const char *name,
                                 const whisper_config *cfg, const qattn_encoder_params *p,
                                 struct qattn_encoder **out)
{
    struct qattn_encoder *enc = NULL;
    qattn_status st = qattn_encoder_new(name, cfg, p, &enc);
    if (st != QATTN_OK)
        return st;
    qattn_model_find_prefix(ld);
    st = load_weights(ld, enc);
    if (st != QATTN_OK) {
        qattn_encoder_free(enc);
        return st;
    }
    *out = enc;
    return QATTN_OK;
}

