"""CTranslate2 model directories (faster-whisper's models), written here from the format's
definition (docs/whisper-facts.md, "model.bin" and "Quantized storage") with random weights: every storage type CTranslate2
writes loads, told apart from Hugging Face and ggml by content, and runs against the torch
float64 encoder on the weights the file encodes; malformed files are refused by name."""
import json
import shutil
import struct

import numpy as np
import pytest

import qattn
from whisper_files import (SIZES, compare, ct2_bytes, ct2_names, hf_from_ct2_decoded, random_mel,
                           random_weights, torch_encoder)

SIZE = "tiny"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    weights = random_weights(SIZE, seed=12, qk_gain=4.0)
    mel = random_mel(80, seed=6)
    return weights, mel, tmp_path_factory.mktemp("ct2")


def write_ct2(directory, blob):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.bin").write_bytes(blob)
    # what a CTranslate2 directory also holds: its own config.json (no d_model: not a HF one)
    (directory / "config.json").write_text(json.dumps({"suppress_ids": [], "lang_ids": []}))
    (directory / "vocabulary.txt").write_text("a\nb\n")
    return directory


@pytest.mark.parametrize("quantization", ["float32", "float16", "bfloat16", "int8", "int8_float16", "int16"])
def test_every_storage_type(base, quantization):
    weights, mel, tmp = base
    heads = SIZES[SIZE][2]
    blob, decoded = ct2_bytes(ct2_names(weights), heads, quantization)
    d = write_ct2(tmp / quantization, blob)
    ref = torch_encoder(hf_from_ct2_decoded(decoded, weights), SIZE, mel)
    f32 = qattn.Encoder(d, "f32", threads=2)
    assert (f32.n_mels, f32.n_ctx, f32.n_state, f32.n_heads, f32.n_layers) == (80, 1500, 384, 6, 4)
    m = compare(f32.encode(mel), ref)
    print(quantization, "f32:", m)
    assert m["max_rel"] <= 1e-4
    m8 = compare(qattn.Encoder(d, "int8", threads=2).encode(mel), ref)
    print(quantization, "int8:", m8)
    assert m8["cosine"] >= 0.999 and m8["frobenius"] <= 0.03


def test_the_model_bin_file_itself_and_a_hf_config_beside_it(base):
    """Format by content: a model.bin path loads as CTranslate2, and a directory with both a
    Hugging Face config.json and a CTranslate2 model.bin is CTranslate2."""
    weights, mel, tmp = base
    blob, _ = ct2_bytes(ct2_names(weights), SIZES[SIZE][2], "float16")
    d = write_ct2(tmp / "direct", blob)
    a = qattn.Encoder(d / "model.bin", "f32").encode(mel)
    (d / "config.json").write_text(json.dumps({"d_model": 999}))
    b = qattn.Encoder(d, "f32").encode(mel)
    assert np.array_equal(a, b)


def malformed(base, name, blob):
    d = write_ct2(base[2] / ("bad_" + name), blob)
    with pytest.raises(qattn.QattnError) as e:
        qattn.Encoder(d, "f32")
    msg = str(e.value)
    assert "\n" not in msg and str(d) in msg
    return msg


def small_blob(weights, **kw):
    return ct2_bytes(ct2_names(weights), SIZES[SIZE][2], "float16", **kw)[0]


def test_malformed_headers(base):
    w = base[0]
    good = small_blob(w)
    assert "binary version 3" in malformed(base, "v3", small_blob(w, version=3))
    assert "binary version 7" in malformed(base, "v7", small_blob(w, version=7))
    assert "TransformerSpec" in malformed(base, "spec", small_blob(w, spec="TransformerSpec"))
    assert "revision 4" in malformed(base, "rev", small_blob(w, revision=4))
    assert "after the last alias" in malformed(base, "trailing", good + b"\0")
    huge = good[:4 + 2 + 12 + 4] + struct.pack("<I", 0xFFFFFFF0) + good[4 + 2 + 12 + 8:]
    assert "declares" in malformed(base, "count", huge)
    assert "missing variable" in malformed(base, "alias", small_blob(w, aliases=(("x/y", "no/such"),)))


def test_malformed_variables(base):
    w = base[0]
    named = ct2_names(w)
    blob = small_blob(w)
    # a dtype code CTranslate2 does not have
    first = blob.index(b"decoder/embeddings/weight\0") + len("decoder/embeddings/weight\0")
    rank = blob[first]
    code_at = first + 1 + 4 * rank
    bad = blob[:code_at] + bytes([9]) + blob[code_at + 1:]
    assert "dtype code 9" in malformed(base, "dtype", bad)
    # a byte count that does not match the shape
    count_at = code_at + 1
    (n,) = struct.unpack_from("<I", blob, count_at)
    bad = blob[:count_at] + struct.pack("<I", n - 2) + blob[count_at + 4:]
    assert "holds" in malformed(base, "bytes", bad)
    # an int8 weight without its scale
    q = np.ones(named["encoder/layer_0/ffn/linear_0/weight"].shape, np.int8)
    blob = ct2_bytes(named, 6, "float16", extra=[("encoder/layer_0/ffn/linear_0/weight", q, 1)])[0]
    # (the extra replaces the float weight with an int8 one that has no scale)
    assert "needs a float32 'encoder/layer_0/ffn/linear_0/weight_scale'" in malformed(base, "noscale", blob)
    # a missing tensor
    missing = {k: v for k, v in named.items() if k != "encoder/layer_2/ffn/layer_norm/beta"}
    assert "layer_2/ffn/layer_norm/beta" in malformed(base, "missing", ct2_bytes(missing, 6)[0])
    # a NaN weight
    nan = dict(named)
    nan["encoder/conv2/bias"] = named["encoder/conv2/bias"].copy()
    nan["encoder/conv2/bias"][3] = np.nan
    assert "NaN" in malformed(base, "nan", ct2_bytes(nan, 6, "float32")[0])
    # heads that do not divide the width
    assert "unsupported encoder config" in malformed(base, "heads", ct2_bytes(named, 7)[0])


def test_truncated_everywhere(base):
    blob = small_blob(base[0])
    for i, cut in enumerate(np.linspace(1, len(blob) - 1, 60).astype(int)):
        malformed(base, f"cut{i}", blob[:cut])
