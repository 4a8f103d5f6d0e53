"""Transcription speed beside faster-whisper, in one run on one model and one recording:
qattn int8 and f32 (qattn.Whisper) and faster-whisper int8 and float32 (CTranslate2), the
same decoding settings (faster-whisper's defaults: beam 5, temperature fallback) and threads;
real-time factor (seconds of compute per second of audio, lower is faster) and generated
tokens per second, medians of R runs after a warm-up. A benchmark: nothing is asserted.

usage: PYTHONPATH=python:tests/python <test venv>/bin/python tools/bench/transcribe_peers.py
       MODEL_DIR [--audio FILE] [--repeats R] [--threads T] [--beam-size N]
(without --audio: the tests' espeak-ng recording of 72 s, tests/python/speech.py)"""
import argparse
import statistics
import tempfile
import time

import qattn
from peers import cpu_name


def timed(fn, repeats):
    result = fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--audio")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--beam-size", type=int, default=5)
    a = ap.parse_args()
    if a.audio:
        audio = qattn.load_audio(a.audio)
    else:
        from speech import make_transcription_clips
        audio = qattn.load_audio(make_transcription_clips(tempfile.mkdtemp())["minutes"][0])
    seconds = len(audio) / 16000
    print(f"{a.model}, {seconds:.1f} s of speech, beam {a.beam_size}, {a.threads} threads, {cpu_name()}")
    rows = []
    for precision in ("int8", "f32"):
        model = qattn.Whisper(a.model, precision=precision, threads=a.threads)
        # segments are a lazy generator: the time is that of running it to the end
        t, segs = timed(lambda: list(model.transcribe(audio, beam_size=a.beam_size)[0]), a.repeats)
        rows.append((f"qattn {precision}", t, sum(len(s.tokens) for s in segs)))
    try:
        from faster_whisper import WhisperModel
        for compute in ("int8", "float32"):
            fw = WhisperModel(a.model, device="cpu", compute_type=compute, cpu_threads=a.threads)
            t, segs = timed(lambda: list(fw.transcribe(audio, beam_size=a.beam_size)[0]), a.repeats)
            rows.append((f"faster-whisper {compute}", t, sum(len(s.tokens) for s in segs)))
    except ImportError:
        print("(faster-whisper is not importable: peers not timed)")
    print(f"{'engine':24} {'seconds':>8} {'RTF':>7} {'tokens/s':>9}")
    for name, t, tokens in rows:
        print(f"{name:24} {t:8.2f} {t / seconds:7.3f} {tokens / t:9.1f}")
    for precision in ("int8", "f32"):
        ours = next(r for r in rows if r[0] == f"qattn {precision}")
        peer = next((r for r in rows if r[0] == "faster-whisper " + ("int8" if precision == "int8" else "float32")), None)
        if peer:
            print(f"qattn {precision} is {peer[1] / ours[1]:.2f}x faster-whisper's speed")


if __name__ == "__main__":
    main()
