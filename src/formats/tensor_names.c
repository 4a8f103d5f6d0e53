/* Each encoder tensor's name in each format: Hugging Face (after "model.encoder." or
 * "encoder."), whisper.cpp ggml (after "encoder.") and CTranslate2 (after "encoder/"; names
 * from its converters/transformers.py WhisperLoader). NULL: the format does not store it
 * that way. A new format is one more column. */
#include <stdio.h>

#include "formats/model_source.h"

static const char *const names[QATTN_T_COUNT][3] = {
    [QATTN_T_CONV1_W] = {"conv1.weight", "conv1.weight", "conv1/weight"},
    [QATTN_T_CONV1_B] = {"conv1.bias", "conv1.bias", "conv1/bias"},
    [QATTN_T_CONV2_W] = {"conv2.weight", "conv2.weight", "conv2/weight"},
    [QATTN_T_CONV2_B] = {"conv2.bias", "conv2.bias", "conv2/bias"},
    [QATTN_T_POS] = {"embed_positions.weight", "positional_embedding", "position_encodings/encodings"},
    [QATTN_T_LN_POST_W] = {"layer_norm.weight", "ln_post.weight", "layer_norm/gamma"},
    [QATTN_T_LN_POST_B] = {"layer_norm.bias", "ln_post.bias", "layer_norm/beta"},
    [QATTN_T_ATTN_LN_W] = {"layers.%d.self_attn_layer_norm.weight", "blocks.%d.attn_ln.weight", "layer_%d/self_attention/layer_norm/gamma"},
    [QATTN_T_ATTN_LN_B] = {"layers.%d.self_attn_layer_norm.bias", "blocks.%d.attn_ln.bias", "layer_%d/self_attention/layer_norm/beta"},
    [QATTN_T_Q_W] = {"layers.%d.self_attn.q_proj.weight", "blocks.%d.attn.query.weight", NULL},
    [QATTN_T_Q_B] = {"layers.%d.self_attn.q_proj.bias", "blocks.%d.attn.query.bias", NULL},
    [QATTN_T_K_W] = {"layers.%d.self_attn.k_proj.weight", "blocks.%d.attn.key.weight", NULL},
    [QATTN_T_V_W] = {"layers.%d.self_attn.v_proj.weight", "blocks.%d.attn.value.weight", NULL},
    [QATTN_T_V_B] = {"layers.%d.self_attn.v_proj.bias", "blocks.%d.attn.value.bias", NULL},
    [QATTN_T_O_W] = {"layers.%d.self_attn.out_proj.weight", "blocks.%d.attn.out.weight", "layer_%d/self_attention/linear_1/weight"},
    [QATTN_T_O_B] = {"layers.%d.self_attn.out_proj.bias", "blocks.%d.attn.out.bias", "layer_%d/self_attention/linear_1/bias"},
    [QATTN_T_MLP_LN_W] = {"layers.%d.final_layer_norm.weight", "blocks.%d.mlp_ln.weight", "layer_%d/ffn/layer_norm/gamma"},
    [QATTN_T_MLP_LN_B] = {"layers.%d.final_layer_norm.bias", "blocks.%d.mlp_ln.bias", "layer_%d/ffn/layer_norm/beta"},
    [QATTN_T_FC1_W] = {"layers.%d.fc1.weight", "blocks.%d.mlp.0.weight", "layer_%d/ffn/linear_0/weight"},
    [QATTN_T_FC1_B] = {"layers.%d.fc1.bias", "blocks.%d.mlp.0.bias", "layer_%d/ffn/linear_0/bias"},
    [QATTN_T_FC2_W] = {"layers.%d.fc2.weight", "blocks.%d.mlp.2.weight", "layer_%d/ffn/linear_1/weight"},
    [QATTN_T_FC2_B] = {"layers.%d.fc2.bias", "blocks.%d.mlp.2.bias", "layer_%d/ffn/linear_1/bias"},
    /* CTranslate2 stores q, k, v fused ([3 d][d], rows q then k then v; k's bias slice 0) */
    [QATTN_T_QKV_W] = {NULL, NULL, "layer_%d/self_attention/linear_0/weight"},
    [QATTN_T_QKV_B] = {NULL, NULL, "layer_%d/self_attention/linear_0/bias"},
};

const wt_view *qattn_model_find(const qattn_model_source *src, qattn_tensor_id id, int layer,
                                char *full, size_t size)
{
    static const char *const prefixes[] = {NULL, "encoder.", "encoder/"};
    const char *pattern = names[id][src->format];
    char local[WT_MAX_NAME];
    if (!pattern) {
        snprintf(full, size, "(none)");
        return NULL;
    }
    snprintf(local, sizeof local, pattern, layer);
    snprintf(full, size, "%s%s", src->format == QATTN_FORMAT_HF ? src->hf_prefix : prefixes[src->format],
             local);
    return qattn_tensors_find(&src->set, full);
}

void qattn_model_find_prefix(qattn_model_source *src)
{
    char probe[WT_MAX_NAME + 32];
    src->hf_prefix = "model.encoder.";
    if (src->format == QATTN_FORMAT_HF && !qattn_model_find(src, QATTN_T_CONV1_W, 0, probe, sizeof probe))
        src->hf_prefix = "encoder.";
}
