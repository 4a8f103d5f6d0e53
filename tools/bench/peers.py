"""Encoder speed beside the peers, in one run on one model and the same mel: qattn int8 and
f32 (the Python binding over the library), CTranslate2's int8 and float32 encoders (the
engine of faster-whisper) and whisper.cpp's q8_0 and f16 (with flash attention), at 1 and 2
threads; medians of R runs after a warm-up, and the ratios. A benchmark: nothing is asserted.

usage: PYTHONPATH=python:tests/python <test venv>/bin/python tools/bench/peers.py MODEL_DIR
       [--repeats R]
(the test venv has CTranslate2: tests/models/fetch.py makes it; MODEL_DIR a CTranslate2
directory, e.g. ~/.cache/qattn-test/models/base). whisper.cpp comes from PyPI's pywhispercpp
(`<test venv>/bin/python -m pip install pywhispercpp`; its wheel is built for AVX2, not
AVX-512): its model files are written from MODEL_DIR's weights (tests/python/converted.py,
float16 as convert-pt-to-ggml.py writes them, q8_0 as whisper.cpp's quantize tool does)."""
import argparse
import contextlib
import ctypes
import os
import platform
import statistics
import tempfile
import time

import numpy as np

import qattn


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def qattn_tier():
    """The tier qattn runs (QATTN_ISA or the best the CPU has), by its C name."""
    lib = qattn._lib
    lib.qattn_isa_name.restype = ctypes.c_char_p
    isa = ctypes.c_int32()
    if lib.qattn_isa_active(ctypes.byref(isa)) != 0:
        return "unknown"
    return lib.qattn_isa_name(isa.value).decode()


def median_ms(fn, repeats):
    fn()  # warm-up (allocations, thread pools, caches)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


@contextlib.contextmanager
def stderr_into(log):
    """whisper.cpp logs to the process's stderr (its load errors too): into the file log."""
    saved = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def whisper_cpp_models(model_dir, folder):
    """(name, ggml file) of whisper.cpp's q8_0 and f16 forms of the model; [] without it."""
    try:
        import _pywhispercpp  # noqa: F401 (only whether it is there)
        from converted import write_ggml
        from whisper_files import GGML_Q8_0
    except ImportError as e:
        print(f"whisper.cpp left out: {e} (pip install pywhispercpp; PYTHONPATH with tests/python)")
        return []
    return [(name, write_ggml(model_dir, f"{folder}/{name}.bin", kind))
            for name, kind in (("q8_0", GGML_Q8_0), ("f16", None))]


def whisper_cpp_encoder(path, mel):
    """A whisper.cpp context holding mel, and its encode(threads)."""
    import _pywhispercpp as w
    from importlib.metadata import version
    params = w.whisper_context_default_params()
    params.flash_attn = True
    with tempfile.TemporaryFile("w+") as log:
        with stderr_into(log):
            ctx = w.whisper_init_from_file_with_params(path, params)
        log.seek(0)
        # (pywhispercpp wraps a failed load's NULL as a context: its log is the only sign)
        if "failed to load" in log.read():
            log.seek(0)
            raise RuntimeError(f"whisper.cpp could not load {path}:\n{log.read()}")
    if w.whisper_set_mel(ctx, mel[0], mel.shape[2], mel.shape[1]) != 0:
        raise RuntimeError("whisper.cpp refused the mel")

    def encode(threads):
        if w.whisper_encode(ctx, 0, threads) != 0:
            raise RuntimeError("whisper.cpp's encoder failed")
    return f"whisper.cpp (pywhispercpp {version('pywhispercpp')})", encode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    import ctranslate2

    mel = (np.random.default_rng(0).standard_normal((1, 80, 3000)) * 0.4).astype(np.float32)
    folder = tempfile.TemporaryDirectory()
    ggml = whisper_cpp_models(a.model, folder.name)
    print(f"machine: {cpu_name()}; model {a.model}; one 30 s window; median of {a.repeats} runs")
    print(f"{'engine':40s} {'threads':>7s} {'ms':>9s} {'vs qattn int8':>14s}")
    for threads in (1, 2):
        rows = []
        for precision in ("int8", "f32"):
            enc = qattn.Encoder(a.model, precision, threads=threads)
            if enc.n_mels != mel.shape[1]:
                mel = np.zeros((1, enc.n_mels, 3000), np.float32)
            rows.append((f"qattn {precision}", median_ms(lambda: enc.encode(mel), a.repeats)))
        for compute in ("int8", "float32"):
            m = ctranslate2.models.Whisper(a.model, device="cpu", compute_type=compute,
                                           intra_threads=threads)
            view = ctranslate2.StorageView.from_array(mel)
            rows.append((f"CTranslate2 {ctranslate2.__version__} {compute}",
                         median_ms(lambda: m.encode(view), a.repeats)))
            del m
        for kind, path in ggml:
            name, encode = whisper_cpp_encoder(path, mel)
            rows.append((f"{name} {kind}", median_ms(lambda: encode(threads), a.repeats)))
        base = rows[0][1]
        for name, ms in rows:
            print(f"{name:40s} {threads:7d} {ms:9.1f} {ms / base:13.2f}x")


if __name__ == "__main__":
    main()
