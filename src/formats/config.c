/* The encoder's configuration: from a Hugging Face config.json, from a ggml file's
 * hyperparameters, and the check of what the encoder supports. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "gemm/gemm.h"
#include "formats/model_source.h"

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
    if (ok && !json_int(root, "decoder_attention_heads", &c->n_text_heads))
        c->n_text_heads = -1; /* an encoder-only config: the decoder says so if asked for */
    cJSON_Delete(root);
    if (!ok)
        return qattn_fail(QATTN_ERR_MODEL,
                          "%s: not a Whisper config (needs integer d_model, "
                          "encoder_attention_heads, encoder_layers, num_mel_bins, "
                          "max_source_positions)",
                          name);
    return QATTN_OK;
}

qattn_status qattn_whisper_read_hf_config(const char *config_path, whisper_config *c)
{
    qattn_status st;
    char *text = qattn_read_text_file(config_path, 1 << 20, &st);
    if (!text)
        return st;
    st = qattn_whisper_parse_hf_config(text, config_path, c);
    free(text);
    return st;
}

void qattn_whisper_config_from_ggml(const ggml_hparams *hp, whisper_config *c)
{
    c->n_mels = hp->n_mels, c->n_ctx = hp->n_audio_ctx, c->n_state = hp->n_audio_state;
    c->n_heads = hp->n_audio_head, c->n_layers = hp->n_audio_layer;
    c->n_ffn = ffn_of(hp->n_audio_state);
    c->n_text_heads = hp->n_text_head;
}

int32_t qattn_ct2_dim(const wt_set *set, const char *name, int dim)
{
    const wt_view *v = qattn_tensors_find(set, name);
    return v && dim < v->ndim && v->shape[dim] <= INT32_MAX ? (int32_t)v->shape[dim] : -1;
}

int32_t qattn_ct2_layers(const wt_set *set, const char *side)
{
    int32_t n = 0;
    for (char name[96]; n < 1024; n++) {
        snprintf(name, sizeof name, "%s/layer_%d/self_attention/layer_norm/gamma", side, n);
        if (!qattn_tensors_find(set, name))
            break;
    }
    return n;
}

qattn_status qattn_ct2_heads(const wt_set *set, const char *path, const char *side, int32_t *heads)
{
    char name[64];
    snprintf(name, sizeof name, "%s/num_heads", side);
    const wt_view *v = qattn_tensors_find(set, name);
    *heads = 8; /* CTranslate2's default when a converter left the attribute out */
    if (!v)
        return QATTN_OK;
    if (qattn_tensor_numel(v) != 1 || (v->dtype != WT_I8 && v->dtype != WT_I16 && v->dtype != WT_I32))
        return qattn_fail(QATTN_ERR_MODEL, "%s: %s is not an integer scalar", path, name);
    float h;
    qattn_tensor_to_f32(v, &h);
    *heads = h >= 1.0f && h <= 4096.0f ? (int32_t)h : -1;
    return QATTN_OK;
}

qattn_status qattn_whisper_config_from_ct2(const wt_set *set, const char *path, whisper_config *c)
{
    /* shapes say what config.json does not (CTranslate2 reads them the same way) */
    c->n_state = qattn_ct2_dim(set, "encoder/conv1/weight", 0);
    c->n_mels = qattn_ct2_dim(set, "encoder/conv1/weight", 1);
    c->n_ctx = qattn_ct2_dim(set, "encoder/position_encodings/encodings", 0);
    c->n_ffn = qattn_ct2_dim(set, "encoder/layer_0/ffn/linear_0/weight", 0);
    c->n_layers = qattn_ct2_layers(set, "encoder");
    qattn_status st = qattn_ct2_heads(set, path, "encoder", &c->n_heads);
    if (st == QATTN_OK)
        st = qattn_ct2_heads(set, path, "decoder", &c->n_text_heads);
    if (st != QATTN_OK)
        return st;
    if (c->n_state < 0 || c->n_mels < 0 || c->n_ctx < 0 || c->n_ffn < 0 || c->n_layers == 0)
        return qattn_fail(QATTN_ERR_MODEL, "%s: not a CTranslate2 Whisper encoder (needs "
                          "encoder/conv1/weight, encoder/position_encodings/encodings and "
                          "encoder/layer_0/...)", path);
    return QATTN_OK;
}
