"""The trained Whisper models of the tests (fetched once by tests/models/fetch.py into a cache
outside the repository) and what the tests read from them, written here independently of the
library: a CTranslate2 model.bin reader (the format of docs/whisper-facts.md, "model.bin") and the
conversion of its weights to the torch float64 encoder of whisper_files.py."""
import os
import struct

import numpy as np
import pytest

CACHE = os.environ.get("QATTN_TEST_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "qattn-test"))
MODELS = ("tiny.en", "base")


def model_dir(name):
    """The model's directory; a test that needs it fails (never skips) when it is missing."""
    d = os.path.join(CACHE, "models", name)
    if not os.path.exists(os.path.join(d, ".complete")):
        failed = os.path.join(CACHE, "FAILED")
        why = open(failed).read().strip() if os.path.exists(failed) else "not fetched"
        pytest.fail(f"trained model {name} is not in {CACHE}: {why}. "
                    "Run /usr/bin/python3 tests/models/fetch.py (./dev test does).")
    return d


def ctranslate2():
    """CTranslate2 from the test venv; a clear failure when the suite runs without it."""
    try:
        import ctranslate2 as ct2
    except ImportError:
        pytest.fail("ctranslate2 is not importable: run the suite with the test venv's python "
                    f"({CACHE}/venv/bin/python, made by tests/models/fetch.py; ./dev test does)")
    return ct2


DTYPES = {0: "<f4", 1: "<i1", 2: "<i2", 3: "<i4", 4: "<f2"}  # 5 (bfloat16) below


def read_ct2(path):
    """Every variable of a CTranslate2 model.bin as a numpy array (int8/int16 weights
    dequantized with their scales: w = q / scale), aliases resolved."""
    b = open(path, "rb").read()
    o = 0

    def take(fmt):
        nonlocal o
        v = struct.unpack_from("<" + fmt, b, o)
        o += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal o
        n = take("H")
        s = b[o:o + n - 1].decode()
        o += n
        return s

    version, spec, revision, count = take("I"), string(), take("I"), take("I")
    assert 4 <= version <= 6 and spec == "WhisperSpec", (version, spec)
    raw = {}
    for _ in range(count):
        name = string()
        dims = [take("I") for _ in range(take("B"))]
        dtype, nbytes = take("B"), take("I")
        data = b[o:o + nbytes]
        o += nbytes
        if dtype == 5:
            a = (np.frombuffer(data, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(data, DTYPES[dtype])
        raw[name] = a.reshape(dims) if dims else a.reshape(())
    for _ in range(take("I")):
        alias, target = string(), string()
        raw[alias] = raw[target]
    assert o == len(b)
    out = {}
    for name, a in raw.items():
        if name.endswith("_scale"):
            continue
        if a.dtype in (np.int8, np.int16) and name + "_scale" in raw:
            scale = raw[name + "_scale"].astype(np.float64)
            a = a.astype(np.float64) / (scale.reshape(-1, *[1] * (a.ndim - 1)) if scale.ndim else scale)
        out[name] = a
    return out


def hf_encoder_weights(ct2):
    """The encoder's weights under the Hugging Face names whisper_files.torch_encoder reads
    (CTranslate2 fuses q, k, v into linear_0: rows q, then k, then v)."""
    f = lambda a: np.asarray(a, np.float64)
    w = {"conv1.weight": f(ct2["encoder/conv1/weight"]), "conv1.bias": f(ct2["encoder/conv1/bias"]),
         "conv2.weight": f(ct2["encoder/conv2/weight"]), "conv2.bias": f(ct2["encoder/conv2/bias"]),
         "embed_positions.weight": f(ct2["encoder/position_encodings/encodings"]),
         "layer_norm.weight": f(ct2["encoder/layer_norm/gamma"]),
         "layer_norm.bias": f(ct2["encoder/layer_norm/beta"])}
    i = 0
    while f"encoder/layer_{i}/ffn/linear_0/weight" in ct2:
        c, p = f"encoder/layer_{i}/", f"layers.{i}."
        qkv, qkv_b = f(ct2[c + "self_attention/linear_0/weight"]), f(ct2[c + "self_attention/linear_0/bias"])
        d = qkv.shape[1]
        w[p + "self_attn.q_proj.weight"], w[p + "self_attn.k_proj.weight"], w[p + "self_attn.v_proj.weight"] = \
            qkv[:d], qkv[d:2 * d], qkv[2 * d:]
        w[p + "self_attn.q_proj.bias"], w[p + "self_attn.v_proj.bias"] = qkv_b[:d], qkv_b[2 * d:]
        w[p + "self_attn.out_proj.weight"] = f(ct2[c + "self_attention/linear_1/weight"])
        w[p + "self_attn.out_proj.bias"] = f(ct2[c + "self_attention/linear_1/bias"])
        for ours, theirs in (("self_attn_layer_norm", "self_attention/layer_norm"), ("final_layer_norm", "ffn/layer_norm")):
            w[p + ours + ".weight"], w[p + ours + ".bias"] = f(ct2[c + theirs + "/gamma"]), f(ct2[c + theirs + "/beta"])
        for ours, theirs in (("fc1", "ffn/linear_0"), ("fc2", "ffn/linear_1")):
            w[p + ours + ".weight"], w[p + ours + ".bias"] = f(ct2[c + theirs + "/weight"]), f(ct2[c + theirs + "/bias"])
        i += 1
    return w, i
