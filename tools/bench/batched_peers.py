"""Batched transcription beside faster-whisper's, in one run on one machine, one model and one
long recording: qattn.Whisper's batched path (batch_size=B) against faster-whisper's
BatchedInferencePipeline, with qattn's sequential path (batch_size=0) as reference rows. A
benchmark: nothing is asserted.

The input: every recording of the speech set's manifest.tsv that has a reference (its
`transcript` column), in manifest order, joined with 1.0 s of silence between; the reference
is their references joined with spaces. The digit runs (group "digits" of tests/data/speech)
are left out: they are scored on their digit sequence (python/qattn/wer.py), and the English
normalizer would count Whisper's "7, 3, 1" against "seven three one" as errors of formatting.
--limit-seconds S stops adding recordings once the input is S seconds long.

Engines (int8, language "en", beam 5, T threads):
  qattn-batched           transcribe(vad_filter=True, vad_parameters=dict(min_silence_duration_ms=160,
                          max_speech_duration_s=30), without_timestamps=True, batch_size=B)
  qattn-sequential-vad    the same with batch_size=0: the sequential path on the same speech
  qattn-batched-t0        qattn-batched at temperature 0 only: no fallback, as faster-whisper's
                          pipeline decodes
  qattn-batched-timestamps  qattn-batched with without_timestamps=False (segments at the
                          model's timestamps; a chunk's unfinished last segment decoded again,
                          as the sequential path does); -t0: at temperature 0 only
  qattn-sequential        batch_size=0, vad_filter=False (without_timestamps=True still)
  qattn-default           transcribe's defaults: sequential, timestamps, no VAD
  faster-whisper-batched  BatchedInferencePipeline(WhisperModel(..., compute_type="int8",
                          cpu_threads=T)).transcribe(audio, language="en", batch_size=B,
                          beam_size=5), nothing else: its defaults are without_timestamps=True
                          and VAD with min_silence_duration_ms=160, max_speech_duration_s=30
Each is timed over the whole call (VAD, features, decoding, consuming the segments): a warm-up,
then R runs; the table gives the median seconds, audio seconds per second (input length /
median), the WER of the segments' texts joined (qattn.wer.score: Whisper's English
normalizer, jiwer) and the number of segments.

usage: PYTHONPATH=python:tests/python QATTN_LIBRARY=build/libqattn.so \\
       ~/.cache/qattn-test/venv/bin/python tools/bench/batched_peers.py tiny.en --batch-sizes 4,8
       [--threads T] [--repeats R] [--speech DIR] [--limit-seconds S] [--engines a,b,...]
(MODEL a CTranslate2 directory or a name in the tests' cache, ~/.cache/qattn-test/models;
--speech another directory laid out as tests/data/speech, with more recordings)"""
import argparse
import csv
import datetime
import os
import statistics
import time

import numpy as np

import qattn
from qattn import wer
from peers import cpu_name
from transcribe_peers import timed

ENGINES = ("qattn-batched", "qattn-batched-t0", "qattn-batched-timestamps", "qattn-batched-timestamps-t0", "qattn-sequential-vad", "qattn-sequential",
           "qattn-default", "faster-whisper-batched")
SPEECH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "speech")
VAD = dict(min_silence_duration_ms=160, max_speech_duration_s=30)
RATE = 16000


def long_input(speech, limit_seconds=None, pause_s=1.0):
    """(samples, reference, files): the set's referenced recordings joined in manifest order."""
    with open(os.path.join(speech, "manifest.tsv"), newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    parts, refs, length = [], [], 0
    for r in rows:
        if not r["transcript"].strip() or r.get("group") == "digits":
            continue
        if limit_seconds is not None and length >= limit_seconds * RATE:
            break
        if parts:
            parts.append(np.zeros(round(pause_s * RATE), np.float32))
        parts.append(qattn.load_audio(os.path.join(speech, r["path"])))
        refs.append(r["transcript"].strip())
        length = sum(len(p) for p in parts)
    return np.concatenate(parts), " ".join(refs), len(refs)


def runs(engines, model, audio, batch_sizes, threads):
    """(engine, batch size or None, function returning the segments' texts) to time."""
    out = []
    if any(e.startswith("qattn") for e in engines):
        m = qattn.Whisper(model, precision="int8", threads=threads)

        def q(batch_size, vad_filter, without_timestamps=True, **more):
            opts = dict(vad_filter=True, vad_parameters=VAD) if vad_filter else dict(vad_filter=False)
            opts.update(more)
            return lambda: [s.text for s in m.transcribe(
                audio, language="en", without_timestamps=without_timestamps, batch_size=batch_size,
                beam_size=5, **opts)[0]]
        if "qattn-batched" in engines:
            out += [("qattn-batched", b, q(b, True)) for b in batch_sizes]
        if "qattn-batched-t0" in engines:
            out += [("qattn-batched-t0", b, q(b, True, temperature=0.0)) for b in batch_sizes]
        if "qattn-batched-timestamps" in engines:
            out += [("qattn-batched-timestamps", b, q(b, True, False)) for b in batch_sizes]
        if "qattn-batched-timestamps-t0" in engines:
            out += [("qattn-batched-timestamps-t0", b, q(b, True, False, temperature=0.0))
                    for b in batch_sizes]
        if "qattn-sequential-vad" in engines:
            out.append(("qattn-sequential-vad", None, q(0, True)))
        if "qattn-sequential" in engines:
            out.append(("qattn-sequential", None, q(0, False)))
        if "qattn-default" in engines:
            out.append(("qattn-default", None, q(0, False, False)))
    if "faster-whisper-batched" in engines:
        from faster_whisper import BatchedInferencePipeline, WhisperModel
        pipeline = BatchedInferencePipeline(WhisperModel(model, device="cpu", compute_type="int8",
                                                         cpu_threads=threads))

        def fw(batch_size):
            return lambda: [s.text for s in pipeline.transcribe(
                audio, language="en", batch_size=batch_size, beam_size=5)[0]]
        out += [("faster-whisper-batched", b, fw(b)) for b in batch_sizes]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a CTranslate2 directory, or tiny.en / base of the tests' cache")
    ap.add_argument("--batch-sizes", default="8", help="comma list (default 8)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--engines", default=",".join(ENGINES), help="comma list of " + ", ".join(ENGINES))
    ap.add_argument("--speech", default=SPEECH, help="a directory laid out as tests/data/speech")
    ap.add_argument("--limit-seconds", type=float, help="stop adding recordings after S seconds")
    a = ap.parse_args()
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        ap.error(f"unknown engines {sorted(unknown)}; choose among {', '.join(ENGINES)}")
    batch_sizes = [int(b) for b in a.batch_sizes.split(",")]
    model = a.model
    if not os.path.isdir(model):
        from trained import model_dir
        model = model_dir(model)
    audio, reference, files = long_input(a.speech, a.limit_seconds)
    seconds = len(audio) / RATE
    name = os.path.basename(os.path.normpath(model))

    rows = []
    for engine, batch, fn in runs(engines, model, audio, batch_sizes, a.threads):
        t, texts = timed(fn, a.repeats)
        rows.append((engine, batch, t, seconds / t, wer.score(reference, " ".join(texts)).wer, len(texts)))

    versions = f"qattn library {qattn.library_path}"
    if "faster-whisper-batched" in engines:
        import faster_whisper
        versions += f"; faster-whisper {faster_whisper.__version__}"
    print(f"{cpu_name()}; model {name}; {a.threads} threads; batch sizes "
          f"{', '.join(map(str, batch_sizes))}; {seconds:.1f} s of audio ({files} recordings of "
          f"{os.path.normpath(a.speech)}); {datetime.date.today()}; median of {a.repeats} runs "
          f"after a warm-up; {versions}\n")
    print("| engine | batch | seconds | audio s/s | WER | segments |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for engine, batch, t, speed, w, n in rows:
        print(f"| {engine} | {batch if batch is not None else '-'} | {t:.2f} | {speed:.1f} | "
              f"{100 * w:.2f}% | {n} |")
    speed = {(e, b): s for e, b, _, s, _, _ in rows}
    both = [b for b in batch_sizes if ("qattn-batched", b) in speed and ("faster-whisper-batched", b) in speed]
    if both:
        print("\nthroughput qattn-batched / faster-whisper-batched: " + "; ".join(
            f"batch {b}: {speed['qattn-batched', b] / speed['faster-whisper-batched', b]:.2f}x" for b in both))


if __name__ == "__main__":
    main()
