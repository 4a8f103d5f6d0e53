"""The Whisper encoder against a torch implementation of Whisper's AudioEncoder on the same
random weights, loaded from Hugging Face safetensors (F32/F16/BF16, single and sharded) and
from whisper.cpp ggml files; and every malformed file refused with a clear error."""
import numpy as np
import pytest
import torch

import qattn
from whisper_files import (SIZES, compare, ggml_bytes, random_mel, random_weights, torch_encoder,
                           write_hf)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    weights = random_weights("tiny", seed=3)
    mel = random_mel(80, batch=2)
    return weights, mel, torch_encoder(weights, "tiny", mel), tmp_path_factory.mktemp("tiny")


def test_f32_matches_torch(tiny):
    weights, mel, ref, tmp = tiny
    enc = qattn.Encoder(write_hf(tmp / "hf", "tiny", weights), precision="f32")
    assert (enc.n_mels, enc.n_ctx, enc.n_state, enc.n_heads, enc.n_layers) == (80, 1500, 384, 6, 4)
    out = enc.encode(mel)
    assert out.shape == (2, 1500, 384) and out.dtype == np.float32
    m = compare(out, ref)
    print("tiny f32:", m)
    assert m["max_rel"] <= 1e-4
    single = enc.encode(mel[1])
    assert single.shape == (1500, 384)
    assert compare(single, ref[1])["max_rel"] <= 1e-4


def test_int8_matches_torch(tiny):
    weights, mel, ref, tmp = tiny
    enc = qattn.Encoder(write_hf(tmp / "hf8", "tiny", weights), precision="int8")
    m = compare(enc.encode(mel), ref)
    print("tiny int8:", m)
    assert m["cosine"] >= 0.995 and m["frobenius"] <= 0.05


def test_base_int8_and_outliers(tmp_path):
    for outliers in ((), (5, 77, 300)):
        weights = random_weights("base", seed=4, outlier_channels=outliers)
        mel = random_mel(80, seed=2)
        ref = torch_encoder(weights, "base", mel)
        enc = qattn.Encoder(write_hf(tmp_path / f"base{len(outliers)}", "base", weights), "int8")
        m = compare(enc.encode(mel), ref)
        print(f"base int8, outlier channels {outliers}:", m)
        assert m["cosine"] >= (0.995 if not outliers else 0.99)
        if not outliers:
            assert m["frobenius"] <= 0.05


@pytest.mark.parametrize("dtype,shards,prefix", [("F16", 1, "model.encoder."), ("BF16", 3, "model.encoder."),
                                                  ("F32", 2, "encoder.")])
def test_hf_variants(tiny, dtype, shards, prefix):
    weights, mel, _, tmp = tiny
    rounded = {k: torch.from_numpy(v).to({"F16": torch.float16, "BF16": torch.bfloat16,
                                          "F32": torch.float32}[dtype]).float().numpy()
               for k, v in weights.items()}
    ref = torch_encoder(rounded, "tiny", mel[:1])
    d = write_hf(tmp / f"{dtype}{shards}{prefix}", "tiny", weights, dtype, shards, prefix)
    out = qattn.Encoder(d, precision="f32").encode(mel[:1])
    assert compare(out, ref)["max_rel"] <= 1e-4
    if shards == 1:  # the .safetensors file itself, config.json beside it
        out = qattn.Encoder(d / "model.safetensors", precision="f32").encode(mel[:1])
        assert compare(out, ref)["max_rel"] <= 1e-4


@pytest.mark.parametrize("f16", [False, True])
def test_ggml(tiny, f16):
    weights, mel, _, tmp = tiny
    path = tmp / f"ggml-tiny-{f16}.bin"
    path.write_bytes(ggml_bytes("tiny", weights, f16=f16))
    rounded = {k: (v.astype(np.float16).astype(np.float32) if f16 and v.squeeze().ndim >= 2
                   and k not in ("embed_positions.weight",) else v) for k, v in weights.items()}
    ref = torch_encoder(rounded, "tiny", mel[:1])
    enc = qattn.Encoder(path, precision="f32")
    assert (enc.n_state, enc.n_layers) == (384, 4)
    assert compare(enc.encode(mel[:1]), ref)["max_rel"] <= 1e-4
    m = compare(qattn.Encoder(path, precision="int8").encode(mel[:1]), ref)
    assert m["cosine"] >= 0.995


def test_int8_same_for_any_threads(tiny):
    weights, mel, _, tmp = tiny
    d = write_hf(tmp / "threads", "tiny", weights)
    a = qattn.Encoder(d, "int8", threads=1).encode(mel[0])
    b = qattn.Encoder(d, "int8", threads=2).encode(mel[0])
    assert np.array_equal(a, b)


def test_one_encoder_shared_by_threads(tiny):
    """Reentrant: one loaded encoder run from several threads at once gives each the same
    result as a run alone (ctypes releases the GIL during the call)."""
    import threading

    weights, mel, _, tmp = tiny
    enc = qattn.Encoder(write_hf(tmp / "shared", "tiny", weights), precision="int8", threads=1)
    alone = [enc.encode(mel[i]) for i in range(2)]
    results = [None] * 4

    def work(i):
        results[i] = enc.encode(mel[i % 2])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        assert np.array_equal(results[i], alone[i % 2])
