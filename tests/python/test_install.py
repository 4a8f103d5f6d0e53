"""The installed library as an outside program sees it: `cmake --install` into a temporary
prefix, then the examples built through pkg-config and through find_package(qattn), and run;
and the Python example."""
import os
import subprocess
import sys

import pytest

from conftest import BUILD, ROOT, SANITIZER_PRELOAD, python_env
from whisper_files import random_weights, write_hf

pytestmark = pytest.mark.skipif(bool(SANITIZER_PRELOAD),
                                reason="outside programs do not link the sanitizer runtime")


def sh(*cmd, env=None, cwd=None):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd)
    assert r.returncode == 0, f"{cmd}: {r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    p = tmp_path_factory.mktemp("prefix")
    sh("cmake", "--install", BUILD, "--prefix", p)
    return p


@pytest.fixture(scope="module")
def model_and_audio(tmp_path_factory):
    d = tmp_path_factory.mktemp("ex")
    sh("espeak-ng", "-w", d / "hello.wav", "Hello from the examples.")
    return write_hf(d / "tiny", "tiny", random_weights("tiny", seed=5)), d / "hello.wav"


def header_version():
    """The version as include/qattn.h states it (QATTN_VERSION_STRING), the one place it lives."""
    import re
    with open(os.path.join(ROOT, "include", "qattn.h")) as f:
        return re.search(r'#define QATTN_VERSION_STRING "([0-9]+\.[0-9]+\.[0-9]+)"', f.read()).group(1)


def run_env(prefix):
    return dict(os.environ, LD_LIBRARY_PATH=str(prefix / "lib"))


def test_binding_is_written_for_this_header():
    """python/qattn/_version.py (what the binding checks the library against) is the header's."""
    from qattn._version import __version__ as binding
    assert binding == header_version()


def test_installed_tree(prefix):
    for f in ("include/qattn.h", "bin/qattn", "lib/libqattn.a", "lib/pkgconfig/qattn.pc",
              "lib/cmake/qattn/qattnConfig.cmake"):
        assert (prefix / f).exists(), f
    so = sorted(p.name for p in (prefix / "lib").glob("libqattn.so*"))
    v = header_version()
    assert so == ["libqattn.so", f"libqattn.so.{v.split('.')[0]}", f"libqattn.so.{v}"]
    out = sh(prefix / "bin" / "qattn", "--version", env=run_env(prefix))
    assert out.strip() == f"qattn {v}"


def test_pkg_config_build(prefix, tmp_path):
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    flags = sh("pkg-config", "--cflags", "--libs", "qattn", env=env).split()
    exe = tmp_path / "attention_example"
    sh("cc", "-std=c11", "-Wall", "-Wextra", "-Werror", os.path.join(ROOT, "examples", "attention_example.c"),
       *flags, "-lm", "-o", exe)
    assert "max error" in sh(exe, env=run_env(prefix))


def test_find_package_build(prefix, tmp_path, model_and_audio):
    sh("cmake", "-S", os.path.join(ROOT, "examples"), "-B", tmp_path, f"-DCMAKE_PREFIX_PATH={prefix}")
    sh("cmake", "--build", tmp_path)
    assert "max error" in sh(tmp_path / "attention_example", env=run_env(prefix))
    model, audio = model_and_audio
    out = sh(tmp_path / "encode_wav", model, audio, env=run_env(prefix))
    assert "(1500, 384)" in out


def test_python_example(model_and_audio):
    model, audio = model_and_audio
    out = sh(sys.executable, os.path.join(ROOT, "examples", "encode_wav.py"), model, audio,
             env=python_env(PYTHONPATH=os.path.join(ROOT, "python")))
    assert "(1, 1500, 384)" in out


def test_pip_install_offline_and_import_outside_the_repo(prefix, tmp_path):
    """pip installs the package into the same prefix as `cmake --install`, offline, and an
    import from elsewhere finds that prefix's library and the header's version."""
    sh(sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index",
       "--no-warn-script-location", "--prefix", prefix, os.path.join(ROOT, "python"))
    site = next(p for p in prefix.rglob("qattn/__init__.py") if "packages" in str(p)).parent.parent
    env = {k: v for k, v in python_env(PYTHONPATH=str(site)).items() if k != "QATTN_LIBRARY"}
    out = sh(sys.executable, "-c", "import qattn, numpy as np; print(qattn.__version__, qattn.library_path);"
             "print(qattn.quantize(np.array([1.5], np.float32), 1.0))", env=env, cwd=tmp_path)
    version, path = out.split()[:2]
    assert version == header_version()
    assert os.path.realpath(path).startswith(os.path.realpath(prefix))


def test_report_draws_the_accuracy_figure(tmp_path):
    """`python3 -m qattn.report` (the README's pictures); the benchmark part is skipped here."""
    sh(sys.executable, "-m", "qattn.report", tmp_path, "--no-bench",
       env=python_env(PYTHONPATH=os.path.join(ROOT, "python")))
    png = (tmp_path / "accuracy.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000
