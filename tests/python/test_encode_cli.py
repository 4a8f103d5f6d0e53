"""`qattn encode`: .npy in and out, the same numbers as the library, one-line errors."""
import os
import subprocess

import numpy as np
import pytest

import qattn
from conftest import BUILD
from whisper_files import random_mel, random_weights, write_hf

QATTN = os.path.join(BUILD, "qattn")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    return root, write_hf(root / "tiny", "tiny", random_weights("tiny", seed=11))


def run(*args):
    return subprocess.run([QATTN, "encode", *map(str, args)], capture_output=True, text=True)


@pytest.mark.parametrize("precision,batch,dtype", [("f32", 0, np.float32), ("int8", 2, np.float64)])
def test_encode_matches_library(model, precision, batch, dtype):
    root, d = model
    mel = random_mel(80, batch=max(batch, 1), seed=5)
    mel = mel if batch else mel[0]
    np.save(root / "mel.npy", mel.astype(dtype))
    r = run("--model", d, "--mel", root / "mel.npy", "--out", root / "out.npy",
            "--precision", precision, "--threads", 2)
    assert r.returncode == 0, r.stderr
    out = np.load(root / "out.npy")
    want = qattn.Encoder(d, precision=precision, threads=2).encode(mel.astype(np.float32))
    assert out.dtype == np.float32 and out.shape == want.shape
    assert np.array_equal(out, want)


def test_encode_errors(model):
    root, d = model
    np.save(root / "wrong.npy", np.zeros((80, 2000), np.float32))
    np.save(root / "ints.npy", np.zeros((80, 3000), np.int32))
    np.save(root / "fortran.npy", np.asfortranarray(np.zeros((80, 3000), np.float32)))
    (root / "junk.npy").write_bytes(b"not numpy at all")
    cases = [
        (("--model", d, "--mel", root / "wrong.npy", "--out", root / "o.npy"), "shape must be"),
        (("--model", d, "--mel", root / "ints.npy", "--out", root / "o.npy"), "float32 or float64"),
        (("--model", d, "--mel", root / "fortran.npy", "--out", root / "o.npy"), "Fortran"),
        (("--model", d, "--mel", root / "junk.npy", "--out", root / "o.npy"), "not a .npy"),
        (("--model", root / "nope", "--mel", root / "wrong.npy", "--out", root / "o.npy"), "No such file"),
        (("--model", d, "--mel", root / "wrong.npy"), "required"),
        (("--model", d, "--wav", "x.wav", "--out", root / "o.npy"), "x.wav"),
        (("--model", d, "--wav", "x.wav", "--mel", "m.npy", "--out", "o"), "one of --mel or --wav"),
        (("--model", d, "--precision", "int4", "--mel", "m", "--out", "o"), "expected one of int8, f32"),
        (("--model", d, "--mel", "m", "--out", "o", "--bogus"), "unknown option --bogus"),
    ]
    for args, words in cases:
        r = run(*args)
        assert r.returncode != 0, args
        assert r.stderr.count("\n") == 1 and words in r.stderr, (args, r.stderr)


def test_npy_declaring_more_than_it_holds(model, tmp_path):
    """A .npy whose header declares a huge array is refused before any allocation."""
    root, d = model
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (80, 3000000000), }"
    header += " " * (118 - len(header)) + "\n"
    (tmp_path / "liar.npy").write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                                        + header.encode() + b"\x00" * 64)
    r = run("--model", d, "--mel", tmp_path / "liar.npy", "--out", tmp_path / "o.npy")
    assert r.returncode != 0 and ("truncated" in r.stderr or "too large" in r.stderr), r.stderr


def test_unwritable_output(model, tmp_path):
    root, d = model
    np.save(tmp_path / "mel.npy", random_mel(80)[0])
    r = run("--model", d, "--mel", tmp_path / "mel.npy", "--out", tmp_path / "no" / "dir" / "o.npy")
    assert r.returncode != 0 and "cannot create" in r.stderr and r.stderr.count("\n") == 1
