"""Random-weight Whisper encoders written the way users' files are: a Hugging Face directory
(config.json + model.safetensors, or sharded with an index) and a whisper.cpp ggml file; and
a Whisper encoder in torch, written here from the model's definition, as the reference."""
import json
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F

SIZES = {  # n_mels, d, heads, layers (ffn 4d)
    "tiny": (80, 384, 6, 4),
    "base": (80, 512, 8, 6),
    "micro": (8, 64, 4, 1),  # the fuzz targets' seeds
    "ctx100": (80, 64, 4, 1),  # windows of 200 frames (2 s)
    "ctx1600": (80, 64, 4, 1),  # windows of 3200 frames: longer than Whisper's 3000
}
N_CTX = {"micro": 4, "ctx100": 100, "ctx1600": 1600}  # output frames; Whisper's 1500 otherwise


def n_ctx(size):
    return N_CTX.get(size, 1500)


def random_weights(size, seed=0, outlier_channels=(), qk_gain=1.0):
    """Encoder weights with realistic scales: projections std 0.02, LayerNorm gains near 1.
    outlier_channels: residual-stream channels made 20x larger (as real checkpoints have).
    qk_gain: q and k projections that much larger: scores qk_gain^2 larger, a peaked softmax
    (at 1, std 0.02 makes every softmax nearly uniform: attention that ignored Q.K would pass)."""
    n_mels, d, heads, layers = SIZES[size]
    g = np.random.default_rng(seed)
    w = {}

    def normal(*shape, std=0.02):
        return (g.standard_normal(shape) * std).astype(np.float32)

    w["conv1.weight"] = normal(d, n_mels, 3, std=0.05)
    w["conv1.bias"] = normal(d)
    w["conv2.weight"] = normal(d, d, 3, std=0.03)
    w["conv2.bias"] = normal(d)
    t = np.arange(n_ctx(size))[:, None] * np.exp(-math.log(10000) / (d // 2 - 1) * np.arange(d // 2))[None]
    w["embed_positions.weight"] = np.concatenate([np.sin(t), np.cos(t)], 1).astype(np.float32)
    for i in range(layers):
        p = f"layers.{i}."
        for ln in ("self_attn_layer_norm", "final_layer_norm"):
            w[p + ln + ".weight"] = (1 + normal(d, std=0.1)).astype(np.float32)
            w[p + ln + ".bias"] = normal(d)
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            w[p + f"self_attn.{proj}.weight"] = normal(d, d)
            if proj != "k_proj":
                w[p + f"self_attn.{proj}.bias"] = normal(d)
        w[p + "self_attn.q_proj.weight"] *= np.float32(qk_gain)
        w[p + "self_attn.k_proj.weight"] *= np.float32(qk_gain)
        w[p + "fc1.weight"], w[p + "fc1.bias"] = normal(4 * d, d), normal(4 * d)
        w[p + "fc2.weight"], w[p + "fc2.bias"] = normal(d, 4 * d), normal(d)
    w["layer_norm.weight"] = (1 + normal(d, std=0.1)).astype(np.float32)
    w["layer_norm.bias"] = normal(d)
    for c in outlier_channels:
        w["conv2.bias"][c] = 20.0
        w["embed_positions.weight"][:, c] *= 20
    return w


def random_decoder(d=16, ffn=64, vocab=8, ctx=4, seed=2):
    """A one-layer decoder with random weights under CTranslate2's names (converted.py's
    named_weights gives the other formats' names)."""
    rng = np.random.default_rng(seed)
    r = lambda *shape: (rng.standard_normal(shape) * 0.1).astype(np.float32)  # noqa: E731
    p = "decoder/layer_0/"
    w = {"decoder/embeddings/weight": r(vocab, d), "decoder/position_encodings/encodings": r(ctx, d),
         "decoder/layer_norm/gamma": 1 + r(d), "decoder/layer_norm/beta": r(d)}
    for block in ("self_attention", "attention", "ffn"):
        w[p + block + "/layer_norm/gamma"], w[p + block + "/layer_norm/beta"] = 1 + r(d), r(d)
    for name, rows, cols in (("self_attention/linear_0", 3 * d, d), ("self_attention/linear_1", d, d),
                             ("attention/linear_0", d, d), ("attention/linear_1", 2 * d, d),
                             ("attention/linear_2", d, d), ("ffn/linear_0", ffn, d), ("ffn/linear_1", d, ffn)):
        w[p + name + "/weight"], w[p + name + "/bias"] = r(rows, cols), r(rows)
    return w


def layer_norm_outlier_weights(size, seed=5, channels=(5, 77, 300), gain=20.0):
    """Issue 11's synthetic outlier case: variance-preserving projections (std 1/sqrt(fan-in))
    and LayerNorm gains `gain` times larger on a few channels, so every LayerNorm output has
    the same activation outlier channels, as trained transformers do."""
    w = random_weights(size, seed=seed)
    g = np.random.default_rng(seed + 1000)
    for k, v in list(w.items()):
        if k.endswith(".weight") and v.ndim == 2 and "embed" not in k:
            w[k] = (g.standard_normal(v.shape) / np.sqrt(v.shape[1])).astype(np.float32)
    i = 0
    while f"layers.{i}.fc1.weight" in w:
        for ln in ("self_attn_layer_norm", "final_layer_norm"):
            w[f"layers.{i}.{ln}.weight"][list(channels)] *= np.float32(gain)
        i += 1
    return w


def hf_config(size):
    n_mels, d, heads, layers = SIZES[size]
    return {"model_type": "whisper", "d_model": d, "encoder_attention_heads": heads,
            "encoder_layers": layers, "encoder_ffn_dim": 4 * d, "num_mel_bins": n_mels,
            "max_source_positions": n_ctx(size), "decoder_layers": 1}


def safetensors_bytes(tensors, dtype="F32"):
    """The safetensors format: u64 header length, JSON header, data."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, a in tensors.items():
        if dtype == "F32":
            raw = a.astype("<f4").tobytes()
        elif dtype == "F16":
            raw = a.astype("<f2").tobytes()
        else:  # BF16, rounded to nearest as torch converts
            raw = torch.from_numpy(np.ascontiguousarray(a, np.float32)).to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def write_hf(directory, size, weights, dtype="F32", shards=1, prefix="model.encoder."):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(hf_config(size)))
    named = {prefix + k: v for k, v in weights.items()}
    named["model.decoder.embed_tokens.weight"] = np.zeros((8, 4), np.float32)  # ignored
    if shards == 1:
        (directory / "model.safetensors").write_bytes(safetensors_bytes(named, dtype))
        return directory
    names = list(named)
    weight_map = {}
    for s in range(shards):
        part = {n: named[n] for n in names[s::shards]}
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        (directory / fname).write_bytes(safetensors_bytes(part, dtype))
        weight_map.update({n: fname for n in part})
    (directory / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return directory


GGML_NAMES = {
    "conv1.weight": "conv1.weight", "conv1.bias": "conv1.bias", "conv2.weight": "conv2.weight",
    "conv2.bias": "conv2.bias", "embed_positions.weight": "positional_embedding",
    "layer_norm.weight": "ln_post.weight", "layer_norm.bias": "ln_post.bias",
    "self_attn_layer_norm": "attn_ln", "final_layer_norm": "mlp_ln", "self_attn.q_proj": "attn.query",
    "self_attn.k_proj": "attn.key", "self_attn.v_proj": "attn.value", "self_attn.out_proj": "attn.out",
    "fc1": "mlp.0", "fc2": "mlp.2",
}


def ggml_name(hf):
    if not hf.startswith("layers."):
        return "encoder." + GGML_NAMES[hf]
    _, i, rest = hf.split(".", 2)
    module, leaf = rest.rsplit(".", 1)
    return f"encoder.blocks.{i}.{GGML_NAMES[module]}.{leaf}"


GGML_F32_ONLY = ("encoder.conv1.bias", "encoder.conv2.bias", "encoder.positional_embedding",
                 "decoder.positional_embedding")


GGML_Q8_0 = 8  # ggml's type id of q8_0


def q8_0_bytes(a):
    """ggml's q8_0 blocks (its quantize_row_q8_0_ref): each run of 32 values along a row is
    d = max|x| / 127 as float16, then the 32 values round(x / d) as int8."""
    blocks = np.asarray(a, np.float32).reshape(-1, 32)
    d = np.abs(blocks).max(axis=1) / 127
    inverse = np.divide(1, d, out=np.zeros_like(d), where=d > 0)
    out = np.empty(len(blocks), dtype=[("d", "<f2"), ("q", "i1", 32)])
    out["d"] = d.astype(np.float16)
    out["q"] = np.round(blocks * inverse[:, None]).astype(np.int8)
    return out.tobytes()


def ggml_file_bytes(hparams, tensors, f16=True, tokens=(), n_mels=0, quantized_type=None, filters=None):
    """whisper.cpp's format as its convert-pt-to-ggml.py writes it: magic, the 11 int32
    hyperparameters (n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
    n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype), mel filters, the
    tokens' bytes, then each tensor (2-D ones float16 with f16; conv biases as [d, 1]).
    quantized_type: the 2-D weights' type id instead; q8_0 (8) as whisper.cpp's quantize
    tool writes it (ftype 7 with its quantization version 2, the 2-D weights but the
    positional embeddings in q8_0 blocks, the convolutions float16), any other id with float16 bytes (for the
    loader's refusal of quantized files). filters: the (n_mels, 201) mel filter bank whisper.cpp
    computes its log-mel with (zeros without: enough for qattn, which has its own, and for
    whisper.cpp's encoder fed a mel; whisper.cpp's transcription needs the real bank)."""
    ftype = int(f16) if quantized_type != GGML_Q8_0 else 2000 + 7
    out = [struct.pack("<i", 0x67676D6C), struct.pack("<11i", *hparams[:10], ftype)]
    bank = np.zeros((n_mels, 201), "<f4") if filters is None else np.asarray(filters, "<f4")
    if bank.shape != (n_mels, 201):
        raise ValueError(f"filters: shape {bank.shape}, expected {(n_mels, 201)}")
    out.append(struct.pack("<ii", n_mels, 201) + bank.tobytes())
    out.append(struct.pack("<i", len(tokens)) + b"".join(struct.pack("<i", len(t)) + t for t in tokens))
    for name, a in tensors.items():
        a = np.asarray(a).squeeze()
        if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
            a = a.reshape(a.shape[0], 1)
        small = a.ndim < 2 or name in GGML_F32_ONLY
        ttype = 0 if (small or not f16) else 1
        if quantized_type is not None and not small and (a.ndim == 2 or quantized_type != GGML_Q8_0):
            ttype = quantized_type  # (whisper.cpp's quantize tool: 2-D tensors only)
        nb = name.encode()
        out.append(struct.pack("<iii", a.ndim, len(nb), ttype))
        out.append(struct.pack(f"<{a.ndim}i", *reversed(a.shape)) + nb)
        if ttype == GGML_Q8_0:
            out.append(q8_0_bytes(a))
        else:
            out.append(a.astype("<f4" if ttype == 0 else "<f2").tobytes())
    return b"".join(out)


def ggml_bytes(size, weights, f16=True, quantized_type=None):
    """A random encoder as a whisper.cpp file (a stand-in decoder embedding, 3 tokens)."""
    n_mels, d, heads, layers = SIZES[size]
    tensors = {ggml_name(k): v for k, v in weights.items()}
    tensors["decoder.token_embedding.weight"] = np.zeros((8, 4), np.float32)
    return ggml_file_bytes((51865, n_ctx(size), d, heads, layers, 448, d, heads, layers, n_mels),
                           tensors, f16, [b"hello", b" world", b"!"], n_mels, quantized_type)


def torch_encoder(weights, size, mel, stats=None, ignore_qk=False):
    """Whisper's AudioEncoder in float64: mel (B, n_mels, 3000) -> (B, 1500, d). size: a key
    of SIZES or (n_mels, d, heads, layers).
    stats: a dict to receive, per layer, the mean over heads and queries of the largest
    attention weight ("max_prob"; 1/1500 for a uniform softmax) and the layer's q, k, v.
    ignore_qk: the mutant whose attention ignores Q.K (every weight 1/n: the mean of V)."""
    n_mels, d, heads, layers = SIZES[size] if isinstance(size, str) else size
    w = {k: torch.from_numpy(np.asarray(v, np.float64)) for k, v in weights.items()}
    x = torch.from_numpy(mel.astype(np.float64))
    x = F.gelu(F.conv1d(x, w["conv1.weight"], w["conv1.bias"], padding=1))
    x = F.gelu(F.conv1d(x, w["conv2.weight"], w["conv2.bias"], stride=2, padding=1))
    x = x.permute(0, 2, 1) + w["embed_positions.weight"]
    hd = d // heads
    for i in range(layers):
        p = f"layers.{i}."
        h = F.layer_norm(x, (d,), w[p + "self_attn_layer_norm.weight"], w[p + "self_attn_layer_norm.bias"], 1e-5)
        q = h @ w[p + "self_attn.q_proj.weight"].T + w[p + "self_attn.q_proj.bias"]
        k = h @ w[p + "self_attn.k_proj.weight"].T
        v = h @ w[p + "self_attn.v_proj.weight"].T + w[p + "self_attn.v_proj.bias"]
        split = lambda t: t.reshape(t.shape[0], t.shape[1], heads, hd).transpose(1, 2)
        probs = torch.softmax(split(q) @ split(k).transpose(-1, -2) / math.sqrt(hd), dim=-1)
        if ignore_qk:
            probs = torch.full_like(probs, 1.0 / probs.shape[-1])
        if stats is not None:
            stats.setdefault("max_prob", []).append(float(probs.max(-1).values.mean()))
            stats.setdefault("qkv", []).append(tuple(np.ascontiguousarray(split(t)[0].numpy()) for t in (q, k, v)))
        att = probs @ split(v)
        att = att.transpose(1, 2).reshape(x.shape)
        x = x + att @ w[p + "self_attn.out_proj.weight"].T + w[p + "self_attn.out_proj.bias"]
        h = F.layer_norm(x, (d,), w[p + "final_layer_norm.weight"], w[p + "final_layer_norm.bias"], 1e-5)
        g = F.gelu(h @ w[p + "fc1.weight"].T + w[p + "fc1.bias"])
        x = x + g @ w[p + "fc2.weight"].T + w[p + "fc2.bias"]
        if stats is not None:  # the inputs of the four GEMMs and the residual stream, window 0
            stats.setdefault("gelu", []).append(g[0].numpy())
            stats.setdefault("mlp_in", []).append(h[0].numpy())
            stats.setdefault("residual", []).append(x[0].numpy())
    return F.layer_norm(x, (d,), w["layer_norm.weight"], w["layer_norm.bias"], 1e-5).numpy()


def random_mel(n_mels, batch=1, seed=1):
    g = np.random.default_rng(seed)
    return (g.standard_normal((batch, n_mels, 3000)) * 0.4).astype(np.float32)


def compare(out, ref):
    """max |error| / max |ref|, mean per-frame cosine, relative Frobenius error."""
    out = out.astype(np.float64).reshape(-1, ref.shape[-1])
    ref = ref.reshape(-1, ref.shape[-1])
    cos = (out * ref).sum(1) / (np.linalg.norm(out, axis=1) * np.linalg.norm(ref, axis=1))
    return {"max_rel": float(np.abs(out - ref).max() / np.abs(ref).max()),
            "cosine": float(cos.mean()), "min_cosine": float(cos.min()),
            "frobenius": float(np.linalg.norm(out - ref) / np.linalg.norm(ref))}


def ct2_names(hf_weights):
    """The encoder weights under CTranslate2's names (q, k, v fused into linear_0, k's bias
    zero), from the Hugging Face names of random_weights."""
    w = {"encoder/conv1/weight": hf_weights["conv1.weight"], "encoder/conv1/bias": hf_weights["conv1.bias"],
         "encoder/conv2/weight": hf_weights["conv2.weight"], "encoder/conv2/bias": hf_weights["conv2.bias"],
         "encoder/position_encodings/encodings": hf_weights["embed_positions.weight"],
         "encoder/layer_norm/gamma": hf_weights["layer_norm.weight"],
         "encoder/layer_norm/beta": hf_weights["layer_norm.bias"]}
    i = 0
    while f"layers.{i}.fc1.weight" in hf_weights:
        p, c = f"layers.{i}.", f"encoder/layer_{i}/"
        q, k, v = (hf_weights[p + f"self_attn.{n}_proj.weight"] for n in "qkv")
        w[c + "self_attention/linear_0/weight"] = np.concatenate([q, k, v])
        w[c + "self_attention/linear_0/bias"] = np.concatenate(
            [hf_weights[p + "self_attn.q_proj.bias"], np.zeros(q.shape[0], np.float32),
             hf_weights[p + "self_attn.v_proj.bias"]])
        w[c + "self_attention/linear_1/weight"] = hf_weights[p + "self_attn.out_proj.weight"]
        w[c + "self_attention/linear_1/bias"] = hf_weights[p + "self_attn.out_proj.bias"]
        for ours, theirs in (("self_attn_layer_norm", "self_attention/layer_norm"), ("final_layer_norm", "ffn/layer_norm")):
            w[c + theirs + "/gamma"], w[c + theirs + "/beta"] = hf_weights[p + ours + ".weight"], hf_weights[p + ours + ".bias"]
        for ours, theirs in (("fc1", "ffn/linear_0"), ("fc2", "ffn/linear_1")):
            w[c + theirs + "/weight"], w[c + theirs + "/bias"] = hf_weights[p + ours + ".weight"], hf_weights[p + ours + ".bias"]
        i += 1
    return w


CT2_DTYPES = {"float32": 0, "int8": 1, "int16": 2, "int32": 3, "float16": 4, "bfloat16": 5}


def ct2_bytes(named, heads, quantization="float16", version=6, spec="WhisperSpec", revision=3,
              extra=(), aliases=(("decoder/projection/weight", "decoder/embeddings/weight"),)):
    """CTranslate2's model.bin as its model_spec.py writes it (docs/whisper-facts.md, "model.bin" and "Quantized storage"):
    variables sorted by name, linear and conv weights quantized per CTranslate2's scheme
    (int8: per output row, scale = 127 / max|row|; int16: one scale = 2^10 / max|w|), scalar
    attributes as rank-0 integers. Returns (bytes, the float weights the file encodes)."""
    def s(text):
        b = text.encode() + b"\0"
        return struct.pack("<H", len(b)) + b

    variables, decoded = {}, {}
    weight_kind = quantization.split("_")[0] if quantization.startswith(("int8", "int16")) else quantization
    other_kind = {"int8": "float32", "int16": "float32"}.get(quantization, quantization.split("_")[-1])
    for name, a in named.items():
        a = np.asarray(a, np.float32)
        kind = weight_kind if name.endswith("/weight") and a.ndim >= 2 else other_kind
        if kind == "int8":
            rows = a.reshape(a.shape[0], -1)
            amax = np.abs(rows).max(1)
            scale = np.where(amax > 0, 127.0 / np.where(amax > 0, amax, 1), 1.0).astype(np.float32)
            q = np.round(rows * scale[:, None]).astype(np.int8)
            variables[name] = (q.reshape(a.shape), 1)
            variables[name + "_scale"] = (scale, 0)
            decoded[name] = (q.astype(np.float64) / scale[:, None]).reshape(a.shape)
        elif kind == "int16":
            scale = np.float32(2.0 ** 10 / np.abs(a).max())
            q = np.round(a * scale).astype(np.int16)
            variables[name] = (q, 2)
            variables[name + "_scale"] = (np.array(scale, np.float32), 0)
            decoded[name] = q.astype(np.float64) / scale
        elif kind == "bfloat16":
            t = torch.from_numpy(a).to(torch.bfloat16)
            variables[name] = (t.view(torch.int16).numpy(), 5)
            decoded[name] = t.float().numpy().astype(np.float64)
        elif kind == "float16":
            variables[name] = (a.astype(np.float16), 4)
            decoded[name] = a.astype(np.float16).astype(np.float64)
        else:
            variables[name] = (a, 0)
            decoded[name] = a.astype(np.float64)
    variables["encoder/num_heads"] = (np.array(heads, np.int16), 2)
    variables["decoder/embeddings/weight"] = (np.zeros((8, 4), np.float16), 4)
    for name, a, code in extra:
        variables[name] = (a, code)
    out = [struct.pack("<I", version), s(spec), struct.pack("<II", revision, len(variables))]
    for name in sorted(variables):
        a, code = variables[name]
        a = np.asarray(a)
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        out.append(s(name) + struct.pack("<B", a.ndim) + struct.pack(f"<{a.ndim}I", *a.shape)
                   + struct.pack("<BI", code, len(raw)) + raw)
    out.append(struct.pack("<I", len(aliases)))
    for alias, target in aliases:
        out.append(s(alias) + s(target))
    return b"".join(out), decoded


def hf_from_ct2_decoded(decoded, hf_weights):
    """hf_weights with each tensor replaced by what the CT2 file encodes (for the reference)."""
    out = dict(hf_weights)
    inverse = decoded
    i = 0
    d = hf_weights["conv1.weight"].shape[0]
    out["conv1.weight"], out["conv2.weight"] = inverse["encoder/conv1/weight"], inverse["encoder/conv2/weight"]
    while f"layers.{i}.fc1.weight" in hf_weights:
        p, c = f"layers.{i}.", f"encoder/layer_{i}/"
        qkv = inverse[c + "self_attention/linear_0/weight"]
        out[p + "self_attn.q_proj.weight"], out[p + "self_attn.k_proj.weight"], out[p + "self_attn.v_proj.weight"] = qkv[:d], qkv[d:2 * d], qkv[2 * d:]
        out[p + "self_attn.out_proj.weight"] = inverse[c + "self_attention/linear_1/weight"]
        out[p + "fc1.weight"], out[p + "fc2.weight"] = inverse[c + "ffn/linear_0/weight"], inverse[c + "ffn/linear_1/weight"]
        for ours, theirs in (("self_attn_layer_norm", "self_attention/layer_norm"), ("final_layer_norm", "ffn/layer_norm")):
            out[p + ours + ".weight"], out[p + ours + ".bias"] = inverse[c + theirs + "/gamma"], inverse[c + theirs + "/beta"]
        for ours, theirs in (("fc1", "ffn/linear_0"), ("fc2", "ffn/linear_1"), ("self_attn.out_proj", "self_attention/linear_1")):
            out[p + ours + ".bias"] = inverse[c + theirs + "/bias"]
        qkv_b = inverse[c + "self_attention/linear_0/bias"]
        out[p + "self_attn.q_proj.bias"], out[p + "self_attn.v_proj.bias"] = qkv_b[:d], qkv_b[2 * d:]
        i += 1
    for hf, c in (("conv1.bias", "encoder/conv1/bias"), ("conv2.bias", "encoder/conv2/bias"),
                  ("embed_positions.weight", "encoder/position_encodings/encodings"),
                  ("layer_norm.weight", "encoder/layer_norm/gamma"), ("layer_norm.bias", "encoder/layer_norm/beta")):
        out[hf] = inverse[c]
    return out


def torch_decoder(ct2, features, tokens):
    """Whisper's TextDecoder in float64 (openai/whisper model.py; docs/whisper-facts.md, "The decoder") on a
    CTranslate2 model's decoder variables (read_ct2): logits (len(tokens), vocab) for tokens
    given the encoder output features (n_audio, d)."""
    w = lambda name: torch.from_numpy(np.asarray(ct2[name], np.float64))
    E, P = w("decoder/embeddings/weight"), w("decoder/position_encodings/encodings")
    d = E.shape[1]
    heads = int(np.asarray(ct2.get("decoder/num_heads", 8)))
    hd = d // heads
    t = torch.as_tensor(np.asarray(tokens, np.int64))
    n = len(t)
    x = E[t] + P[:n]
    enc = torch.from_numpy(np.asarray(features, np.float64))
    split = lambda a: a.reshape(a.shape[0], heads, hd).transpose(0, 1)
    merge = lambda a: a.transpose(0, 1).reshape(-1, d)

    def attention(q, k, v, causal):
        s = split(q) @ split(k).transpose(-1, -2) / math.sqrt(hd)
        if causal:
            s = s.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), 1), float("-inf"))
        return merge(torch.softmax(s, -1) @ split(v))

    def ln(a, prefix):
        return F.layer_norm(a, (d,), w(prefix + "/gamma"), w(prefix + "/beta"), 1e-5)

    def lin(a, prefix):
        return a @ w(prefix + "/weight").T + w(prefix + "/bias")

    i = 0
    while f"decoder/layer_{i}/ffn/linear_0/weight" in ct2:
        p = f"decoder/layer_{i}/"
        qkv = lin(ln(x, p + "self_attention/layer_norm"), p + "self_attention/linear_0")
        x = x + lin(attention(qkv[:, :d], qkv[:, d:2 * d], qkv[:, 2 * d:], True), p + "self_attention/linear_1")
        q = lin(ln(x, p + "attention/layer_norm"), p + "attention/linear_0")
        kv = lin(enc, p + "attention/linear_1")
        x = x + lin(attention(q, kv[:, :d], kv[:, d:], False), p + "attention/linear_2")
        h = ln(x, p + "ffn/layer_norm")
        x = x + lin(F.gelu(lin(h, p + "ffn/linear_0")), p + "ffn/linear_1")
        i += 1
    return (ln(x, "decoder/layer_norm") @ E.T).numpy()


def gpt2_byte_chars():
    """GPT-2's bytes_to_unicode (encoder.py), written out from its definition: printable
    Latin-1 bytes stand for themselves, the other 68 for U+0100.. in byte order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b), cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}

