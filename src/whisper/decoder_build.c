/*
 * The decoder's weights from a CTranslate2 model (names: CTranslate2's
 * converters/transformers.py WhisperLoader, ../shared/WHISPER.md A6): its shape from the
 * variables, every tensor checked and converted like the encoder's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "whisper/decoder.h"
#include "whisper/model_load.h"

static qattn_status config_of(const qattn_model_source *src, struct qattn_decoder *dec)
{
    const int32_t vocab = qattn_ct2_dim(&src->set, "decoder/embeddings/weight", 0);
    const int32_t d = qattn_ct2_dim(&src->set, "decoder/embeddings/weight", 1);
    const int32_t ctx = qattn_ct2_dim(&src->set, "decoder/position_encodings/encodings", 0);
    const int32_t ffn = qattn_ct2_dim(&src->set, "decoder/layer_0/ffn/linear_0/weight", 0);
    const int32_t layers = qattn_ct2_layers(&src->set, "decoder");
    int32_t heads;
    qattn_status st = qattn_ct2_heads(&src->set, src->path, "decoder", &heads);
    if (st != QATTN_OK)
        return st;
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

/* A linear layer from "<prefix>/weight" [n_out][n_in] and, if bias, "<prefix>/bias". */
static qattn_status linear(const qattn_model_source *src, const qattn_run *run, whisper_linear *l,
                           const char *prefix, int64_t n_out, int64_t n_in, int bias)
{
    char name[160];
    const int64_t shape[2] = {n_out, n_in};
    qattn_status st;
    l->n_out = (int32_t)n_out, l->n_in = (int32_t)n_in;
    snprintf(name, sizeof name, "%s/weight", prefix);
    if (!(l->w = qattn_model_load_named(src, name, shape, 2, &st)))
        return st;
    snprintf(name, sizeof name, "%s/bias", prefix);
    if (bias && !(l->b = qattn_model_load_named(src, name, &n_out, 1, &st)))
        return st;
    return qattn_linear_finish(run, l);
}

static qattn_status layer_norm(const qattn_model_source *src, const char *prefix, int64_t d,
                               float **gamma, float **beta)
{
    char name[160];
    qattn_status st;
    snprintf(name, sizeof name, "%s/gamma", prefix);
    if (!(*gamma = qattn_model_load_named(src, name, &d, 1, &st)))
        return st;
    snprintf(name, sizeof name, "%s/beta", prefix);
    *beta = qattn_model_load_named(src, name, &d, 1, &st);
    return st;
}

static qattn_status load_layer(const qattn_model_source *src, struct qattn_decoder *dec, int i)
{
    whisper_decoder_layer *L = &dec->layers[i];
    const qattn_run *run = &dec->run;
    const int64_t d = dec->n_state, f = dec->n_ffn;
    char p[96], q[128];
    snprintf(p, sizeof p, "decoder/layer_%d", i);
    qattn_status st;
#define PART(suffix) (snprintf(q, sizeof q, "%s/%s", p, suffix), q)
    if ((st = layer_norm(src, PART("self_attention/layer_norm"), d, &L->self_ln_w, &L->self_ln_b)) ||
        (st = linear(src, run, &L->self_qkv, PART("self_attention/linear_0"), 3 * d, d, 1)) ||
        (st = linear(src, run, &L->self_out, PART("self_attention/linear_1"), d, d, 1)) ||
        (st = layer_norm(src, PART("attention/layer_norm"), d, &L->cross_ln_w, &L->cross_ln_b)) ||
        (st = linear(src, run, &L->cross_q, PART("attention/linear_0"), d, d, 1)) ||
        (st = linear(src, run, &L->cross_kv, PART("attention/linear_1"), 2 * d, d, 1)) ||
        (st = linear(src, run, &L->cross_out, PART("attention/linear_2"), d, d, 1)) ||
        (st = layer_norm(src, PART("ffn/layer_norm"), d, &L->mlp_ln_w, &L->mlp_ln_b)) ||
        (st = linear(src, run, &L->fc1, PART("ffn/linear_0"), f, d, 1)) ||
        (st = linear(src, run, &L->fc2, PART("ffn/linear_1"), d, f, 1)))
        return st;
#undef PART
    return QATTN_OK;
}

/* The token and position embeddings and the final LayerNorm. */
static qattn_status load_embeddings(const qattn_model_source *src, struct qattn_decoder *dec)
{
    const int64_t emb[2] = {dec->n_vocab, dec->n_state}, pos[2] = {dec->n_text_ctx, dec->n_state};
    const int64_t d = dec->n_state;
    qattn_status st;
    if (!(dec->embed = qattn_model_load_named(src, "decoder/embeddings/weight", emb, 2, &st)) ||
        !(dec->pos = qattn_model_load_named(src, "decoder/position_encodings/encodings", pos, 2, &st)))
        return st;
    st = layer_norm(src, "decoder/layer_norm", d, &dec->ln_w, &dec->ln_b);
    if (st != QATTN_OK || dec->run.precision != QATTN_PRECISION_INT8)
        return st;
    /* int8: the logits as an INT8 GEMM too (the tied embedding, one scale per token row; what
     * CTranslate2's int8 does); the float embedding stays for the token lookup */
    whisper_linear *out = &dec->logits_int8;
    const size_t bytes = (size_t)dec->n_vocab * (size_t)d * sizeof(float);
    out->n_out = dec->n_vocab, out->n_in = (int32_t)d;
    if (!(out->w = malloc(bytes)))
        return qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    memcpy(out->w, dec->embed, bytes);
    return qattn_linear_finish(&dec->run, out);
}

qattn_status qattn_decoder_build(const qattn_model_source *src, const qattn_run *run,
                                 struct qattn_decoder **out)
{
    if (src->format != QATTN_FORMAT_CT2)
        return qattn_fail(QATTN_ERR_MODEL, "%s: the decoder loads from CTranslate2 models only "
                          "for now (Hugging Face and ggml decoders are not read yet)", src->path);
    struct qattn_decoder *dec = calloc(1, sizeof *dec);
    if (!dec)
        return qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    dec->run = *run;
    qattn_status st = config_of(src, dec);
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
    free(dec->layers), free(dec->embed), free(dec->pos), free(dec->ln_w), free(dec->ln_b);
    free(dec);
}
