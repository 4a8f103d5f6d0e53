"""Transcription speed beside faster-whisper, in one run on one model and one recording:
qattn int8 and f32 (qattn.Whisper) and faster-whisper int8 and float32 (CTranslate2), the
same decoding settings (faster-whisper's defaults: beam 5, temperature fallback) and threads;
real-time factor (seconds of compute per second of audio, lower is faster) and generated
tokens per second, medians of R rounds after a warm-up. Each round times every engine once,
one after the other, so a slow spell of a shared machine falls on all of them alike (timed
engine by engine, a VM's slow minutes moved one engine's median by 20-30%). A benchmark:
nothing is asserted.

usage: PYTHONPATH=python:tests/python <test venv>/bin/python tools/bench/transcribe_peers.py
       MODEL_DIR [--audio FILE] [--repeats R] [--threads T] [--beam-size N]
(without --audio: the tests' espeak-ng recording of 72 s, tests/python/speech.py)"""
import argparse
import statistics
import tempfile
import time

import qattn
from peers import cpu_name, qattn_tier


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--audio")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--beam-size", type=int, default=5)
    a = ap.parse_args()
    if a.audio:
        audio = qattn.load_audio(a.audio)
    else:
        from speech import make_transcription_clips
        audio = qattn.load_audio(make_transcription_clips(tempfile.mkdtemp())["minutes"][0])
    seconds = len(audio) / 16000
    print(f"{a.model}, {seconds:.1f} s of speech, beam {a.beam_size}, {a.threads} threads, "
          f"{cpu_name()}, qattn tier {qattn_tier()}, {a.repeats} rounds")
    # segments are lazy generators: an engine's time is that of running them to the end
    engines = []
    for precision in ("int8", "f32"):
        model = qattn.Whisper(a.model, precision=precision, threads=a.threads)
        engines.append((f"qattn {precision}",
                        lambda m=model: list(m.transcribe(audio, beam_size=a.beam_size)[0])))
    try:
        import ctranslate2
        from faster_whisper import WhisperModel
        for compute in ("int8", "float32"):
            fw = WhisperModel(a.model, device="cpu", compute_type=compute, cpu_threads=a.threads)
            engines.append((f"faster-whisper {compute}",
                            lambda m=fw: list(m.transcribe(audio, beam_size=a.beam_size)[0])))
        print(f"faster-whisper with CTranslate2 {ctranslate2.__version__}")
    except ImportError:
        print("(faster-whisper is not importable: peers not timed)")
    times = {name: [] for name, _ in engines}
    tokens = {}
    for name, run in engines:  # the warm-up round
        tokens[name] = sum(len(s.tokens) for s in run())
    for _ in range(a.repeats):
        for name, run in engines:
            t = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t)
    rows = [(name, statistics.median(times[name]), tokens[name]) for name, _ in engines]
    print(f"{'engine':24} {'seconds':>8} {'RTF':>7} {'tokens/s':>9}")
    for name, t, n in rows:
        print(f"{name:24} {t:8.2f} {t / seconds:7.3f} {n / t:9.1f}")
    for precision in ("int8", "f32"):
        ours = next(r for r in rows if r[0] == f"qattn {precision}")
        peer = next((r for r in rows if r[0] == "faster-whisper " + ("int8" if precision == "int8" else "float32")), None)
        if peer:
            print(f"qattn {precision} is {peer[1] / ours[1]:.2f}x faster-whisper's speed")


if __name__ == "__main__":
    main()
