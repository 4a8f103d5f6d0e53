"""Malformed and unsupported model files: each is refused with a clear error that names the
problem; none crashes, and nothing is half-loaded."""
import json
import struct

import numpy as np
import pytest

import qattn
from whisper_files import ggml_bytes, random_weights, safetensors_bytes, write_hf

SMALL = "tiny"


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    root = tmp_path_factory.mktemp("files")
    weights = random_weights(SMALL, seed=9)
    d = write_hf(root / "good", SMALL, weights, dtype="F16")
    return root, weights, d, (d / "model.safetensors").read_bytes()


def load(path, precision="f32"):
    return qattn.Encoder(path, precision=precision)


def variant(root, name, config=None, blob=None):
    d = root / name
    d.mkdir()
    (d / "config.json").write_text(json.dumps(config) if isinstance(config, dict) else (config or ""))
    if blob is not None:
        (d / "model.safetensors").write_bytes(blob)
    return d


def header_of(blob):
    n = struct.unpack("<Q", blob[:8])[0]
    return json.loads(blob[8:8 + n]), blob[8 + n:]


def rebuild(header, data):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def good_config(good):
    return json.loads((good[2] / "config.json").read_text())


def test_loads(good):
    assert load(good[2]).n_state == 384


@pytest.mark.parametrize("cut", [0, 4, 7, 8, 100, 2000, -1000, -1])
def test_truncated_safetensors(good, cut):
    root, _, d, blob = good
    bad = variant(root, f"cut{cut}", good_config(good), blob[:cut] if cut else b"")
    with pytest.raises(qattn.QattnError, match="truncated|empty|header|outside|JSON"):
        load(bad)


def test_many_truncations_never_crash(good):
    root, _, d, blob = good
    path = root / "cutmany"
    path.mkdir()
    (path / "config.json").write_text(json.dumps(good_config(good)))
    for cut in np.linspace(1, len(blob) - 1, 40).astype(int):
        (path / "model.safetensors").write_bytes(blob[:cut])
        with pytest.raises(qattn.QattnError):
            load(path)


def test_bad_offsets_and_sizes(good):
    root, _, d, blob = good
    header, data = header_of(blob)
    name = "model.encoder.layers.1.fc1.weight"
    for i, (offsets, words) in enumerate([([0, len(data) + 10], "outside"),
                                          ([100, 50], "outside"),
                                          ([0, 64], "bytes")]):
        h = json.loads(json.dumps(header))
        h[name]["data_offsets"] = offsets
        with pytest.raises(qattn.QattnError, match=words):
            load(variant(root, f"offs{i}", good_config(good), rebuild(h, data)))


def test_huge_header(good):
    root, *_ = good
    blob = struct.pack("<Q", 1 << 40) + b"{}"
    with pytest.raises(qattn.QattnError, match="exceeds"):
        load(variant(root, "huge", good_config(good), blob))


def test_header_not_json(good):
    root, *_ = good
    blob = struct.pack("<Q", 5) + b"nope!"
    with pytest.raises(qattn.QattnError, match="JSON"):
        load(variant(root, "notjson", good_config(good), blob))


def test_wrong_shape_missing_tensor_and_dtype(good):
    root, weights, d, blob = good
    w = dict(weights)
    w["layers.2.self_attn.q_proj.weight"] = w["layers.2.self_attn.q_proj.weight"][:, :380]
    with pytest.raises(qattn.QattnError, match="layers.2.self_attn.q_proj.weight.*shape 384x380"):
        load(write_hf(root / "shape", SMALL, w))
    w = dict(weights)
    del w["layers.3.fc2.bias"]
    with pytest.raises(qattn.QattnError, match="missing tensor 'model.encoder.layers.3.fc2.bias'"):
        load(write_hf(root / "missing", SMALL, w))
    header, data = header_of(blob)
    header["model.encoder.layer_norm.weight"]["dtype"] = "I16"
    with pytest.raises(qattn.QattnError, match="dtype I16"):
        load(variant(root, "dtype", good_config(good), rebuild(header, data)))


def test_nan_weight(good):
    root, weights, *_ = good
    w = dict(weights)
    w["layers.0.fc1.bias"] = w["layers.0.fc1.bias"].copy()
    w["layers.0.fc1.bias"][3] = np.nan
    with pytest.raises(qattn.QattnError, match="NaN"):
        load(write_hf(root / "nan", SMALL, w))


def test_bad_configs(good):
    root, _, _, blob = good
    cfg = good_config(good)
    with pytest.raises(qattn.QattnError, match="not a Whisper config"):
        load(variant(root, "cfg-json", "{not json", blob))
    with pytest.raises(qattn.QattnError, match="not a Whisper config"):
        load(variant(root, "cfg-missing", {k: v for k, v in cfg.items() if k != "d_model"}, blob))
    with pytest.raises(qattn.QattnError, match="unsupported encoder config"):
        load(variant(root, "cfg-heads", dict(cfg, encoder_attention_heads=5), blob))
    d = root / "noconfig"
    d.mkdir()
    (d / "model.safetensors").write_bytes(blob)
    with pytest.raises(qattn.QattnError, match="config.json"):
        load(d)
    with pytest.raises(qattn.QattnError, match="no model.safetensors"):
        load(variant(root, "nomodel", cfg))
    with pytest.raises(qattn.QattnFileNotFoundError, match="No such file"):
        load(root / "does-not-exist.bin")


def test_ggml_errors(good):
    root, weights, *_ = good
    blob = ggml_bytes(SMALL, weights)
    cases = {
        "magic": (b"GGUF" + blob[4:], "bad magic"),
        "truncated": (blob[:len(blob) // 2], "truncated"),
        "header": (blob[:30], "truncated"),
        "q8_0": (ggml_bytes(SMALL, weights, quantized_type=8), "q8_0"),
        "q4_0": (ggml_bytes(SMALL, weights, quantized_type=2), "q4_0"),
    }
    for name, (data, words) in cases.items():
        p = root / f"ggml-{name}.bin"
        p.write_bytes(data)
        with pytest.raises(qattn.QattnError, match=words):
            load(p)
    for cut in np.linspace(1, len(blob) - 1, 30).astype(int):
        p = root / "ggml-cut.bin"
        p.write_bytes(blob[:cut])
        with pytest.raises(qattn.QattnError):
            load(p)


def test_encode_input_errors(good):
    enc = load(good[2])
    with pytest.raises(ValueError, match="shape"):
        enc.encode(np.zeros((80, 2999), np.float32))
    with pytest.raises(TypeError, match="floating"):
        enc.encode(np.zeros((80, 3000), np.int16))
    bad = np.zeros((80, 3000), np.float32)
    bad[3, 4] = np.inf
    with pytest.raises(qattn.QattnError, match="not finite"):
        enc.encode(bad)
    with pytest.raises(ValueError, match="precision"):
        qattn.Encoder(good[2], precision="int4")
    enc.close()
    with pytest.raises(ValueError, match="closed"):
        enc.encode(np.zeros((80, 3000), np.float32))


def test_fuzz_regressions(good):
    """What the fuzz targets found, as API-level tests."""
    root, weights, *_ = good
    # a ggml header whose n_audio_state makes 4 d overflow int32
    blob = bytearray(ggml_bytes(SMALL, weights))
    struct.pack_into("<i", blob, 12, 1 << 30)
    p = root / "ggml-huge-state.bin"
    p.write_bytes(bytes(blob))
    with pytest.raises(qattn.QattnError, match="unsupported encoder config"):
        load(p)
    # config integers far outside int32 (a cast of such a double is undefined behaviour)
    cfg = good_config(good)
    with pytest.raises(qattn.QattnError, match="not a Whisper config"):
        load(variant(root, "cfg-huge", dict(cfg, d_model=1e63), good[3]))
