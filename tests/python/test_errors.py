"""Bad input raises with a message that says what was wrong; nothing crashes."""
import numpy as np
import pytest

import qattn

q = np.zeros((2, 8, 16), dtype=np.int8)


def call(**over):
    args = dict(q=q, k=q, v=q, scale_q=0.1, scale_k=0.1, scale_v=0.1, scale_out=0.1)
    args.update(over)
    return qattn.attention(**args)


def test_valid_call():
    assert call().shape == q.shape


@pytest.mark.parametrize("bad,exc,words", [
    (np.zeros((2, 8, 16), dtype=np.int16), TypeError, "int8"),
    (np.zeros((2, 8, 16), dtype=np.float32), TypeError, "int8"),
    (np.zeros((2, 8, 16), dtype=np.uint8), TypeError, "int8"),
    ([[1, 2]], TypeError, "numpy array"),
    (np.zeros((2, 16, 8), dtype=np.int8).transpose(0, 2, 1), ValueError, "contiguous"),
    (np.zeros((2, 8), dtype=np.int8), ValueError, "2-D or all 3-D"),
    (np.zeros((16,), dtype=np.int8), ValueError, "shape"),
    (np.zeros((3, 8, 16), dtype=np.int8), ValueError, "heads"),
    (np.zeros((2, 8, 32), dtype=np.int8), ValueError, "head dimension"),
])
def test_bad_q(bad, exc, words):
    with pytest.raises(exc, match=words):
        call(q=bad)


def test_k_v_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        call(v=np.zeros((2, 9, 16), dtype=np.int8))


def test_empty():
    e = np.zeros((2, 0, 16), dtype=np.int8)
    with pytest.raises(ValueError, match="empty"):
        call(q=e)
    with pytest.raises(ValueError, match="empty"):
        call(k=e, v=e)


@pytest.mark.parametrize("d", [8, 24, 72, 272])
def test_unsupported_head_dim(d):
    x = np.zeros((1, 4, d), dtype=np.int8)
    with pytest.raises(qattn.QattnError, match="head_dim"):
        qattn.attention(x, x, x, 1.0, 1.0, 1.0, 1.0)


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), float("inf"), [0.1], [0.1, 0.1, 0.1],
                                   [0.1, -2.0], "abc", None])
def test_bad_scales(scale):
    with pytest.raises((ValueError, TypeError)):
        call(scale_k=scale)


def test_gain_out_of_range():
    with pytest.raises(qattn.QattnError, match="2\\^24"):
        call(scale_out=1e-30)


@pytest.mark.parametrize("threads", [-1, 1.5, "2", True])
def test_bad_threads(threads):
    with pytest.raises(ValueError, match="threads"):
        call(threads=threads)


def test_threads_zero_is_every_cpu():
    """threads=0 means one per CPU, as in C (it was refused before 0.2.0): the same bits as
    one thread and as None."""
    r = np.random.default_rng(0).integers(-128, 128, (4, 64, 32), dtype=np.int8)
    every, one = call(q=r, k=r, v=r, threads=0), call(q=r, k=r, v=r, threads=1)
    assert np.abs(every).max() > 0 and np.array_equal(every, one)


@pytest.mark.parametrize("kv_len", [0, 9, [1], [1, 2, 3], 2.5])
def test_bad_kv_len(kv_len):
    with pytest.raises((ValueError, qattn.QattnError), match="kv_len"):
        call(kv_len=kv_len)


def test_too_many_keys():
    k = np.zeros((1, (1 << 22) + 1, 16), dtype=np.int8)
    x = np.zeros((1, 1, 16), dtype=np.int8)
    with pytest.raises(qattn.QattnError, match="exceeds"):
        qattn.attention(x, k, k, 1.0, 1.0, 1.0, 1.0)


def test_attention_float_bad_input():
    Q = np.zeros((4, 16), dtype=np.float32)
    with pytest.raises(TypeError, match="floating"):
        qattn.attention_float(Q.astype(np.int32), Q, Q)
    bad = Q.copy()
    bad[1, 2] = np.nan
    with pytest.raises(qattn.QattnError, match="NaN"):
        qattn.attention_float(Q, bad, Q)
    with pytest.raises(ValueError, match="contiguous"):
        qattn.attention_float(np.zeros((16, 4), np.float32).T, Q, Q)


def test_quantize():
    x = np.array([0.5, 1.5, 2.5, -2.5, 126.5, 127.5, 1e9, -1e9, np.nan], dtype=np.float32)
    assert qattn.quantize(x, 1.0).tolist() == [0, 2, 2, -2, 126, 127, 127, -128, 0]
    y = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    s = float(np.abs(y).max() / 127)
    assert np.array_equal(qattn.quantize(y, s),
                          np.clip(np.rint(y.astype(np.float64) / np.float64(np.float32(s))), -128, 127))


def test_quantize_is_one_rule_the_float32_quotient():
    """The library's rule is rint of the float32 quotient x / scale. Where a double quotient
    or a multiply by the rounded reciprocal round the other way (inputs next to a tie), it
    still follows the float32 quotient: numpy's float32 division is the reference."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(4_000_000) * 40).astype(np.float32)
    s = np.float32(0.37)
    f32 = np.clip(np.rint(x / s), -128, 127)
    f64 = np.clip(np.rint(x.astype(np.float64) / np.float64(s)), -128, 127)
    recip = np.clip(np.rint(x * (np.float32(1) / s)), -128, 127)
    near_tie = (f32 != f64) | (f32 != recip)
    assert near_tie.sum() >= 5, "the draw should hold inputs where the rules disagree"
    got = qattn.quantize(x, float(s))
    assert np.array_equal(got, f32)
    with pytest.raises(TypeError):
        qattn.quantize(np.array([1, 2]), 1.0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(qattn.QattnError, match="scale"):
            qattn.quantize(x, bad)


def test_import_from_repo_root_without_setup():
    """From the repo root, PYTHONPATH=python finds the library the README's build made."""
    import os
    import subprocess
    import sys

    from conftest import BUILD, ROOT, python_env
    if os.path.realpath(BUILD) != os.path.realpath(os.path.join(ROOT, "build")):
        pytest.skip("this build tree is not the README's build/")
    env = {k: v for k, v in python_env().items() if k != "QATTN_LIBRARY"}
    env["PYTHONPATH"] = "python"
    run = subprocess.run([sys.executable, "-c", "import qattn; print(qattn.library_path)"],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert os.path.realpath(run.stdout.strip()) == os.path.realpath(
        os.path.join(ROOT, "build", "libqattn.so"))


def test_missing_library_is_a_clear_error(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import ROOT, python_env
    # a copy of the package away from any build tree, pointed at a library that is not there
    pkg = tmp_path / "qattn"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(open(os.path.join(ROOT, "python", "qattn", "__init__.py")).read())
    env = python_env(QATTN_LIBRARY=str(tmp_path / "nope.so"), PYTHONPATH=str(tmp_path),
                     LD_LIBRARY_PATH="")
    run = subprocess.run([sys.executable, "-c", "import qattn"], env=env, capture_output=True,
                         text=True, cwd=str(tmp_path))
    assert run.returncode != 0
    assert "cannot find the qattn shared library" in run.stderr and "nope.so" in run.stderr
