"""The trained CTranslate2 models of the tests rewritten in the two other formats users have,
written here from each format's definition (not by the library): a Hugging Face directory
(transformers' WhisperForConditionalGeneration names, config.json, generation_config.json,
tokenizer.json) and a whisper.cpp ggml file (the layout of its convert-pt-to-ggml.py, openai's
module names). The weights are the CTranslate2 file's float16 values, stored exactly."""
import json

import numpy as np

from trained import read_ct2
from whisper_files import ggml_file_bytes, gpt2_byte_chars, safetensors_bytes

# CTranslate2 decoder block part -> (Hugging Face module, ggml module), for the unfused parts
HF_GGML_DECODER = {
    "self_attention/layer_norm": ("self_attn_layer_norm", "attn_ln"),
    "self_attention/linear_1": ("self_attn.out_proj", "attn.out"),
    "attention/layer_norm": ("encoder_attn_layer_norm", "cross_attn_ln"),
    "attention/linear_0": ("encoder_attn.q_proj", "cross_attn.query"),
    "attention/linear_2": ("encoder_attn.out_proj", "cross_attn.out"),
    "ffn/layer_norm": ("final_layer_norm", "mlp_ln"),
    "ffn/linear_0": ("fc1", "mlp.0"),
    "ffn/linear_1": ("fc2", "mlp.2"),
}
# the encoder's blocks: the same without cross-attention
HF_GGML_ENCODER = {k: v for k, v in HF_GGML_DECODER.items() if not k.startswith("attention/")}
# fused CTranslate2 projections -> their parts (Hugging Face, ggml); the key has no bias
FUSED = {
    "self_attention/linear_0": [("self_attn.q_proj", "attn.query"), ("self_attn.k_proj", "attn.key"),
                                ("self_attn.v_proj", "attn.value")],
    "attention/linear_1": [("encoder_attn.k_proj", "cross_attn.key"), ("encoder_attn.v_proj", "cross_attn.value")],
}


def layers(ct2, side):
    i = 0
    while f"{side}/layer_{i}/ffn/linear_0/weight" in ct2:
        i += 1
    return i


def named_weights(ct2, fmt):
    """Every weight of the model under the format's names (fmt 0: Hugging Face, 1: ggml)."""
    out = {}
    top = {"encoder/conv1/weight": ("model.encoder.conv1.weight", "encoder.conv1.weight"),
           "encoder/conv1/bias": ("model.encoder.conv1.bias", "encoder.conv1.bias"),
           "encoder/conv2/weight": ("model.encoder.conv2.weight", "encoder.conv2.weight"),
           "encoder/conv2/bias": ("model.encoder.conv2.bias", "encoder.conv2.bias"),
           "encoder/position_encodings/encodings": ("model.encoder.embed_positions.weight", "encoder.positional_embedding"),
           "encoder/layer_norm/gamma": ("model.encoder.layer_norm.weight", "encoder.ln_post.weight"),
           "encoder/layer_norm/beta": ("model.encoder.layer_norm.bias", "encoder.ln_post.bias"),
           "decoder/embeddings/weight": ("model.decoder.embed_tokens.weight", "decoder.token_embedding.weight"),
           "decoder/position_encodings/encodings": ("model.decoder.embed_positions.weight", "decoder.positional_embedding"),
           "decoder/layer_norm/gamma": ("model.decoder.layer_norm.weight", "decoder.ln.weight"),
           "decoder/layer_norm/beta": ("model.decoder.layer_norm.bias", "decoder.ln.bias")}
    for c, names in top.items():
        if c in ct2:  # (the fuzz seeds' decoders come without an encoder)
            out[names[fmt]] = ct2[c]
    for side, parts in (("encoder", HF_GGML_ENCODER), ("decoder", HF_GGML_DECODER)):
        for i in range(layers(ct2, side)):
            c = f"{side}/layer_{i}/"
            p = (f"model.{side}.layers.{i}.", f"{side}.blocks.{i}.")[fmt]
            for part, names in parts.items():
                ln = part.endswith("layer_norm")
                for theirs, ours in (("gamma", "weight"), ("beta", "bias")) if ln else (("weight", "weight"), ("bias", "bias")):
                    out[p + names[fmt] + "." + ours] = ct2[c + part + "/" + theirs]
            for fused, split in FUSED.items():
                if side == "encoder" and fused.startswith("attention"):
                    continue
                w, b = ct2[c + fused + "/weight"], ct2[c + fused + "/bias"]
                d = w.shape[1]
                for k, names in enumerate(split):
                    out[p + names[fmt] + ".weight"] = w[k * d:(k + 1) * d]
                    if not names[0].endswith("k_proj"):
                        out[p + names[fmt] + ".bias"] = b[k * d:(k + 1) * d]
    return {k: np.asarray(v, np.float32) for k, v in out.items()}


def shape(ct2):
    d = ct2["encoder/conv1/weight"].shape[0]
    return dict(d=d, n_mels=ct2["encoder/conv1/weight"].shape[1], vocab=ct2["decoder/embeddings/weight"].shape[0],
                enc_heads=int(np.asarray(ct2.get("encoder/num_heads", 8))),
                dec_heads=int(np.asarray(ct2.get("decoder/num_heads", 8))),
                enc_layers=layers(ct2, "encoder"), dec_layers=layers(ct2, "decoder"),
                text_ctx=ct2["decoder/position_encodings/encodings"].shape[0])


def write_hf(ct2_dir, out, drop_timestamps=False):
    """A Hugging Face directory: model.safetensors (float16), config.json,
    generation_config.json (the suppress lists and alignment heads CTranslate2's converter
    copied into its config.json come from there), tokenizer.json (without the timestamp tokens, as older
    revisions of openai's repositories have it, if drop_timestamps)."""
    ct2 = read_ct2(ct2_dir + "/model.bin")
    s = shape(ct2)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.safetensors").write_bytes(safetensors_bytes(named_weights(ct2, 0), "F16"))
    config = {"model_type": "whisper", "architectures": ["WhisperForConditionalGeneration"],
              "d_model": s["d"], "num_mel_bins": s["n_mels"], "vocab_size": s["vocab"],
              "encoder_layers": s["enc_layers"], "encoder_attention_heads": s["enc_heads"],
              "encoder_ffn_dim": 4 * s["d"], "decoder_layers": s["dec_layers"],
              "decoder_attention_heads": s["dec_heads"], "decoder_ffn_dim": 4 * s["d"],
              "max_source_positions": 1500, "max_target_positions": s["text_ctx"]}
    (out / "config.json").write_text(json.dumps(config))
    ct2_config = json.load(open(ct2_dir + "/config.json"))
    (out / "generation_config.json").write_text(json.dumps(
        {"suppress_tokens": ct2_config["suppress_ids"], "begin_suppress_tokens": ct2_config["suppress_ids_begin"],
         "alignment_heads": ct2_config["alignment_heads"]}))
    tokenizer = json.load(open(ct2_dir + "/tokenizer.json"))
    if drop_timestamps:
        tokenizer["added_tokens"] = [t for t in tokenizer["added_tokens"]
                                     if not (t["content"].startswith("<|") and t["content"][2:3].isdigit())]
    (out / "tokenizer.json").write_text(json.dumps(tokenizer))
    return out


def vocabulary(ct2_dir):
    """The CTranslate2 directory's tokens by id (vocabulary.json or .txt)."""
    try:
        return json.load(open(ct2_dir + "/vocabulary.json", encoding="utf-8"))
    except FileNotFoundError:
        return open(ct2_dir + "/vocabulary.txt", encoding="utf-8").read().split("\n")[:-1]


def write_ggml(ct2_dir, path, quantized_type=None, filters=None):
    """A whisper.cpp ggml file as convert-pt-to-ggml.py writes one (ftype 1: 2-D weights
    float16, the rest float32), its vocabulary the text tokens' bytes as the .tiktoken files
    list them (50256 English-only, 50257 multilingual: up to <|endoftext|>); quantized_type
    as ggml_file_bytes takes it (8: q8_0, as whisper.cpp's quantize tool writes); filters: n_mels ->
    the mel filter bank whisper.cpp's own log-mel uses (librosa's, as its mel_filters.npz, e.g.
    qattn.mel_filters; zeros without)."""
    ct2 = read_ct2(ct2_dir + "/model.bin")
    s = shape(ct2)
    tokens = vocabulary(ct2_dir)
    eot = tokens.index("<|endoftext|>")
    byte_of = {c: b for b, c in gpt2_byte_chars().items()}
    hparams = (s["vocab"], 1500, s["d"], s["enc_heads"], s["enc_layers"], s["text_ctx"], s["d"],
               s["dec_heads"], s["dec_layers"], s["n_mels"])
    with open(path, "wb") as f:
        f.write(ggml_file_bytes(hparams, named_weights(ct2, 1), True,
                                [bytes(byte_of[c] for c in t) for t in tokens[:eot]], s["n_mels"],
                                quantized_type, None if filters is None else filters(s["n_mels"])))
    return path
