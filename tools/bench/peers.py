"""Encoder speed beside the peers, in one run on one model and the same mel: qattn int8 and
f32 (the Python binding over the library) and CTranslate2's int8 and float32 encoders (the
engine of faster-whisper), at 1 and 2 threads; medians of R runs after a warm-up, and the
ratios. A benchmark: nothing is asserted.

usage: PYTHONPATH=python <test venv>/bin/python tools/bench/peers.py MODEL_DIR [--repeats R]
(the test venv has CTranslate2: tests/models/fetch.py makes it; MODEL_DIR a CTranslate2
directory, e.g. ~/.cache/qattn-test/models/base)"""
import argparse
import platform
import statistics
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


def median_ms(fn, repeats):
    fn()  # warm-up (allocations, thread pools, caches)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    import ctranslate2

    mel = (np.random.default_rng(0).standard_normal((1, 80, 3000)) * 0.4).astype(np.float32)
    print(f"machine: {cpu_name()}; model {a.model}; one 30 s window; median of {a.repeats} runs")
    print(f"{'engine':28s} {'threads':>7s} {'ms':>9s} {'vs qattn int8':>14s}")
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
        base = rows[0][1]
        for name, ms in rows:
            print(f"{name:28s} {threads:7d} {ms:9.1f} {ms / base:13.2f}x")


if __name__ == "__main__":
    main()
