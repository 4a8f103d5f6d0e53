import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
BUILD = os.environ.get("QATTN_BUILD_DIR", os.path.join(ROOT, "build"))

# Under the sanitizer run, this interpreter starts with the sanitizer runtime preloaded (an
# uninstrumented python must load it first). Tools the tests start (espeak-ng, sox, the
# sanitized CLI) must not inherit it; python children that import qattn must.
SANITIZER_PRELOAD = os.environ.pop("LD_PRELOAD", "")


def python_env(**extra):
    """The environment for a python child process that imports qattn."""
    env = dict(os.environ, **extra)
    if SANITIZER_PRELOAD:
        env["LD_PRELOAD"] = SANITIZER_PRELOAD
    return env


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "peers: compares with CTranslate2 / faster-whisper from the test venv "
                   "(tests/models/fetch.py); the sanitizer run leaves them out")
    config.addinivalue_line(
        "markers", "heavy: whole transcriptions whose C paths a C test already runs under the "
                   "sanitizers (tests/c/test_session.c); the sanitizer run leaves them out")
