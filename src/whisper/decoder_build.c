/*
 * The decoder's weights from any of the three formats: each tensor's name in Hugging Face
 * (transformers' WhisperDecoder), whisper.cpp ggml (openai/whisper's TextDecoder names, which
 * its converter keeps) and CTranslate2 (its converters/transformers.py WhisperLoader,
 * docs/whisper-facts.md, "Names and shapes"); the shape from the tensors themselves; every tensor checked and
 * converted like the encoder's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/half.h"
#include "whisper/decoder.h"
#include "whisper/model_load.h"

/* int8: every decoder linear (the logits too) quantizes its input rows to 16 bits
 * (qattn_gemm_weights.x_bits) against int8 weights. The decoder runs a few rows per token,
 * bound by reading the weights, so the wider activations cost little; at 8 bits their
 * rounding moved 1.1% of the words of tiny.en's transcripts of recorded speech away from the
 * float decoder's (f32 encoder, int8 decoder, 126 LibriSpeech files), at 16 bits 0.87%
 * (docs/accuracy.md). */
#define DECODER_X_BITS 16

/* Names after the decoder's prefix, in model_load.h's column order: Hugging Face, ggml,
 * CTranslate2. A per-layer name follows the layer's own prefix. */
static const char *const LAYER_PREFIX[3] = {"layers.%d.", "blocks.%d.", "layer_%d/"};
static const char *const EMBED[3] = {"embed_tokens.weight", "token_embedding.weight",
                                     "embeddings/weight"};
static const char *const POSITIONS[3] = {"embed_positions.weight", "positional_embedding",
                                         "position_encodings/encodings"};
static const char *const FINAL_NORM[3] = {"layer_norm", "ln", "layer_norm"};
static const char *const SELF_NORM[3] = {"self_attn_layer_norm", "attn_ln", "self_attention/layer_norm"};
static const char *const CROSS_NORM[3] = {"encoder_attn_layer_norm", "cross_attn_ln", "attention/layer_norm"};
static const char *const MLP_NORM[3] = {"final_layer_norm", "mlp_ln", "ffn/layer_norm"};

/* A linear layer: CTranslate2 stores it as one tensor (q, k, v stacked for self-attention,
 * k, v for cross-attention); Hugging Face and ggml as separate parts stacked here in that
 * order. The key part has no bias in those files (Whisper's key projection has none; zeros
 * here, as CTranslate2's converter writes them). */
typedef struct linear_names {
    const char *ct2;
    const char *parts[2][3]; /* [Hugging Face, ggml][part], NULL after the last */
    int key;                 /* the part without a bias, -1 if every part has one */
} linear_names;

static const linear_names SELF_QKV = {
    "self_attention/linear_0",
    {{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}, {"attn.query", "attn.key", "attn.value"}}, 1};
static const linear_names SELF_OUT = {"self_attention/linear_1", {{"self_attn.out_proj"}, {"attn.out"}}, -1};
static const linear_names CROSS_Q = {"attention/linear_0", {{"encoder_attn.q_proj"}, {"cross_attn.query"}}, -1};
static const linear_names CROSS_KV = {
    "attention/linear_1", {{"encoder_attn.k_proj", "encoder_attn.v_proj"}, {"cross_attn.key", "cross_attn.value"}}, 0};
static const linear_names CROSS_OUT = {"attention/linear_2", {{"encoder_attn.out_proj"}, {"cross_attn.out"}}, -1};
static const linear_names FC1 = {"ffn/linear_0", {{"fc1"}, {"mlp.0"}}, -1};
static const linear_names FC2 = {"ffn/linear_1", {{"fc2"}, {"mlp.2"}}, -1};

/* The full name of `name` + `suffix` in the source's format: the decoder's prefix, then the
 * layer's (layer >= 0). */
static const char *full_name(const qattn_model_source *src, char *out, size_t size, int layer,
                             const char *name, const char *suffix)
{
    const char *prefix = src->format == QATTN_FORMAT_CT2    ? "decoder/"
                         : src->format == QATTN_FORMAT_GGML ? "decoder."
                         : strncmp(src->hf_prefix, "model.", 6) == 0 ? "model.decoder."
                                                                     : "decoder.";
    char layer_part[32] = "";
    if (layer >= 0)
        snprintf(layer_part, sizeof layer_part, LAYER_PREFIX[src->format], layer);
    snprintf(out, size, "%s%s%s%s", prefix, layer_part, name, suffix);
    return out;
}

/* Dimension `dim` of a tensor (-1 if absent, of fewer dimensions or past INT32_MAX). */
static int32_t dim_of(const qattn_model_source *src, const char *name, int dim)
{
    const wt_view *v = qattn_tensors_find(&src->set, name);
    return v && dim < v->ndim && v->shape[dim] <= INT32_MAX ? (int32_t)v->shape[dim] : -1;
}

static int32_t count_layers(const qattn_model_source *src)
{
    const char *gamma = src->format == QATTN_FORMAT_CT2 ? "/gamma" : ".weight";
    char name[WT_MAX_NAME + 32];
    int32_t n = 0;
    while (n < 1024 && qattn_tensors_find(&src->set, full_name(src, name, sizeof name, n,
                                                                 SELF_NORM[src->format], gamma)))
        n++;
    return n;
}

static qattn_status config_of(const qattn_model_source *src, int32_t heads,
                              struct qattn_decoder *dec)
{
    char embed[WT_MAX_NAME + 32], pos[WT_MAX_NAME + 32], fc1[WT_MAX_NAME + 32];
    full_name(src, embed, sizeof embed, -1, EMBED[src->format], "");
    full_name(src, pos, sizeof pos, -1, POSITIONS[src->format], "");
    full_name(src, fc1, sizeof fc1, 0,
              src->format == QATTN_FORMAT_CT2 ? FC1.ct2 : FC1.parts[src->format][0],
              src->format == QATTN_FORMAT_CT2 ? "/weight" : ".weight");
    if (!qattn_tensors_find(&src->set, embed))
        return qattn_fail(QATTN_ERR_MODEL, "%s: no Whisper decoder in this model (no tensor '%s')",
                          src->path, embed);
    const int32_t vocab = dim_of(src, embed, 0), d = dim_of(src, embed, 1);
    const int32_t ctx = dim_of(src, pos, 0), ffn = dim_of(src, fc1, 0);
    const int32_t layers = count_layers(src);
    const int32_t hd = heads > 0 && d > 0 ? d / heads : 0;
    if (vocab < 1 || d < 16 || ctx < 1 || ctx > 65536 || ffn < 4 || ffn > QATTN_GEMM_MAX_K ||
        d > QATTN_GEMM_MAX_K / 3 || layers < 1 || heads < 1 || d % heads || hd % 16 ||
        hd > QATTN_MAX_HEAD_DIM)
        return qattn_fail(QATTN_ERR_MODEL, "%s: no usable Whisper decoder (vocabulary %d, width %d, "
                          "%d heads, %d layers, context %d, MLP %d)", src->path, vocab, d, heads,
                          layers, ctx, ffn);
    dec->n_vocab = vocab, dec->n_state = d, dec->n_text_ctx = ctx;
    dec->n_heads = heads, dec->n_layers = layers, dec->n_ffn = ffn;
    return QATTN_OK;
}

/* One part of a linear layer (its weight [n_out][n_in] and bias [n_out] if `bias`) into rows
 * [row, row + n_out) of w and b. */
static qattn_status load_part(const qattn_model_source *src, int layer, const char *name,
                              int64_t n_out, int64_t n_in, int bias, float *w, float *b)
{
    const int ct2 = src->format == QATTN_FORMAT_CT2;
    char full[WT_MAX_NAME + 32];
    const int64_t shape[2] = {n_out, n_in};
    qattn_status st;
    float *part = qattn_model_load_named(src, full_name(src, full, sizeof full, layer, name,
                                                         ct2 ? "/weight" : ".weight"),
                                         shape, 2, &st);
    if (!part)
        return st;
    memcpy(w, part, (size_t)(n_out * n_in) * sizeof *w);
    free(part);
    if (!bias) {
        memset(b, 0, (size_t)n_out * sizeof *b);
        return QATTN_OK;
    }
    if (!(part = qattn_model_load_named(src, full_name(src, full, sizeof full, layer, name,
                                                       ct2 ? "/bias" : ".bias"),
                                        &n_out, 1, &st)))
        return st;
    memcpy(b, part, (size_t)n_out * sizeof *b);
    free(part);
    return QATTN_OK;
}

/* A linear layer of n_out rows in all (its parts split them equally) and n_in columns. */
static qattn_status linear(const qattn_model_source *src, const qattn_run *run, whisper_linear *l,
                           const linear_names *names, int layer, int64_t n_out, int64_t n_in)
{
    const int ct2 = src->format == QATTN_FORMAT_CT2;
    const char *const *parts = ct2 ? &names->ct2 : names->parts[src->format];
    const int n_parts = ct2 ? 1 : parts[2] ? 3 : parts[1] ? 2 : 1;
    const int64_t rows = n_out / n_parts;
    l->n_out = (int32_t)n_out, l->n_in = (int32_t)n_in;
    if (!(l->w = malloc((size_t)(n_out * n_in) * sizeof *l->w)) ||
        !(l->b = malloc((size_t)n_out * sizeof *l->b)))
        return qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n_parts; i++) {
        qattn_status st = load_part(src, layer, parts[i], rows, n_in, ct2 || i != names->key,
                                    l->w + i * rows * n_in, l->b + i * rows);
        if (st != QATTN_OK)
            return st;
    }
    return qattn_linear_finish(run, l, DECODER_X_BITS);
}

static qattn_status layer_norm(const qattn_model_source *src, const char *const names[3],
                               int layer, int64_t d, float **gamma, float **beta)
{
    const int ct2 = src->format == QATTN_FORMAT_CT2;
    char full[WT_MAX_NAME + 32];
    qattn_status st;
    const char *name = names[src->format];
    if (!(*gamma = qattn_model_load_named(src, full_name(src, full, sizeof full, layer, name,
                                                         ct2 ? "/gamma" : ".weight"),
                                          &d, 1, &st)))
        return st;
    *beta = qattn_model_load_named(src, full_name(src, full, sizeof full, layer, name,
                                                  ct2 ? "/beta" : ".bias"),
                                   &d, 1, &st);
    return st;
}

static qattn_status load_layer(const qattn_model_source *src, struct qattn_decoder *dec, int i)
{
    whisper_decoder_layer *L = &dec->layers[i];
    const qattn_run *run = &dec->run;
    const int64_t d = dec->n_state, f = dec->n_ffn;
    qattn_status st;
    if ((st = layer_norm(src, SELF_NORM, i, d, &L->self_ln_w, &L->self_ln_b)) ||
        (st = linear(src, run, &L->self_qkv, &SELF_QKV, i, 3 * d, d)) ||
        (st = linear(src, run, &L->self_out, &SELF_OUT, i, d, d)) ||
        (st = layer_norm(src, CROSS_NORM, i, d, &L->cross_ln_w, &L->cross_ln_b)) ||
        (st = linear(src, run, &L->cross_q, &CROSS_Q, i, d, d)) ||
        (st = linear(src, run, &L->cross_kv, &CROSS_KV, i, 2 * d, d)) ||
        (st = linear(src, run, &L->cross_out, &CROSS_OUT, i, d, d)) ||
        (st = layer_norm(src, MLP_NORM, i, d, &L->mlp_ln_w, &L->mlp_ln_b)) ||
        (st = linear(src, run, &L->fc1, &FC1, i, f, d)) ||
        (st = linear(src, run, &L->fc2, &FC2, i, d, f)))
        return st;
    return QATTN_OK;
}

/* int8: the token embedding read a block of rows at a time, never whole as floats: quantized
 * per row into the logits' INT8 GEMM (the tied embedding, one scale per token row; what
 * CTranslate2's int8 does), and kept for the token lookup in 16 bits when every value is a
 * 16-bit float exactly (binary16 for 16-bit and float32 files, bfloat16 for bfloat16 ones:
 * CTranslate2's float16, ggml's f16 and float32 files converted from them lose nothing), else
 * read again whole as floats. */
static qattn_status load_embedding_int8(const qattn_model_source *src, struct qattn_decoder *dec,
                                        const char *name, const int64_t *shape)
{
    enum { BLOCK = 256 }; /* rows */
    const int32_t n = dec->n_vocab, d = dec->n_state;
    qattn_status st;
    const wt_view *v = qattn_model_view_named(src, name, shape, 2, &st);
    if (!v)
        return st;
    const int bf16 = v->dtype == WT_BF16;
    int compact = v->dtype == WT_F16 || v->dtype == WT_BF16 || v->dtype == WT_F32;
    int8_t *w8 = malloc((size_t)n * (size_t)d);
    float *scale = malloc((size_t)n * sizeof *scale), *rows = malloc((size_t)BLOCK * d * sizeof *rows);
    uint16_t *h = compact ? malloc((size_t)n * (size_t)d * sizeof *h) : NULL;
    if (!w8 || !scale || !rows || (compact && !h))
        st = qattn_fail(QATTN_ERR_NOMEM, "out of memory loading '%s'", name);
    for (int32_t r = 0; st == QATTN_OK && r < n; r += BLOCK) {
        const int32_t count = n - r < BLOCK ? n - r : BLOCK;
        if ((st = qattn_model_rows_f32(src, v, d, r, count, rows)) != QATTN_OK)
            break;
        qattn_quantize_rows(rows, count, d, d, w8 + (size_t)r * d, scale + r);
        uint16_t *to = compact ? h + (size_t)r * d : NULL;
        for (size_t i = 0; compact && i < (size_t)count * d; i++)
            compact = bf16 ? qattn_f32_to_bf16_exact(rows[i], &to[i])
                           : qattn_f32_to_f16_exact(rows[i], &to[i]);
    }
    free(rows);
    whisper_linear *out = &dec->logits_int8;
    out->n_out = n, out->n_in = d;
    if (st == QATTN_OK &&
        (st = qattn_gemm_weights_from_s8(&out->q, w8, scale, NULL, n, d, dec->run.isa)) == QATTN_OK)
        out->q.x_bits = DECODER_X_BITS;
    free(w8), free(scale);
    if (st == QATTN_OK && compact) {
        dec->embed16 = h, dec->embed16_is_bf16 = bf16;
        return QATTN_OK;
    }
    free(h);
    if (st == QATTN_OK)
        dec->embed = qattn_model_load_named(src, name, shape, 2, &st);
    return st;
}

/* The token and position embeddings and the final LayerNorm. */
static qattn_status load_embeddings(const qattn_model_source *src, struct qattn_decoder *dec)
{
    const int64_t emb[2] = {dec->n_vocab, dec->n_state}, pos[2] = {dec->n_text_ctx, dec->n_state};
    const int64_t d = dec->n_state;
    char name[WT_MAX_NAME + 32];
    qattn_status st;
    full_name(src, name, sizeof name, -1, EMBED[src->format], "");
    if (dec->run.precision == QATTN_PRECISION_INT8)
        st = load_embedding_int8(src, dec, name, emb);
    else if (!(dec->embed = qattn_model_load_named(src, name, emb, 2, &st)))
        return st;
    if (st != QATTN_OK ||
        !(dec->pos = qattn_model_load_named(src, full_name(src, name, sizeof name, -1,
                                                           POSITIONS[src->format], ""),
                                            pos, 2, &st)))
        return st;
    return layer_norm(src, FINAL_NORM, -1, d, &dec->ln_w, &dec->ln_b);
}

qattn_status qattn_decoder_build(qattn_model_source *src, const whisper_config *cfg,
                                 const qattn_run *run, struct qattn_decoder **out)
{
    struct qattn_decoder *dec = calloc(1, sizeof *dec);
    if (!dec)
        return qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    dec->run = *run;
    qattn_model_find_prefix(src);
    qattn_status st = config_of(src, cfg->n_text_heads, dec);
    if (st == QATTN_OK)
        st = load_embeddings(src, dec);
    if (st == QATTN_OK && !(dec->layers = calloc((size_t)dec->n_layers, sizeof *dec->layers)))
        st = qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    for (int i = 0; st == QATTN_OK && i < dec->n_layers; i++)
        st = load_layer(src, dec, i);
    if (st != QATTN_OK) {
        qattn_decoder_free(dec);
        return st;
    }
    *out = dec;
    return QATTN_OK;
}

void qattn_decoder_free(struct qattn_decoder *dec)
{
    if (!dec)
        return;
    for (int i = 0; dec->layers && i < dec->n_layers; i++) {
        whisper_decoder_layer *L = &dec->layers[i];
        free(L->self_ln_w), free(L->self_ln_b), free(L->cross_ln_w), free(L->cross_ln_b);
        free(L->mlp_ln_w), free(L->mlp_ln_b);
        whisper_linear *ls[] = {&L->self_qkv, &L->self_out, &L->cross_q, &L->cross_kv,
                                &L->cross_out, &L->fc1, &L->fc2};
        for (size_t j = 0; j < sizeof ls / sizeof *ls; j++)
            qattn_linear_free(ls[j]);
    }
    qattn_linear_free(&dec->logits_int8);
    free(dec->layers), free(dec->embed), free(dec->embed16), free(dec->pos), free(dec->ln_w), free(dec->ln_b);
    free(dec);
}
