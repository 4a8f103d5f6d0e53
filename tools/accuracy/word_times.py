"""Word timestamps against faster-whisper's on recorded speech: every file of tests/data/speech's
transcribed group (and, with --every N, every N-th LibriSpeech file of the untranscribed
group) through qattn and faster-whisper with word_timestamps=True (language en, beam 5,
faster-whisper's other defaults), both given the same 16 kHz samples (qattn.load_audio), in
two pairs: qattn f32 / faster-whisper float32 and qattn int8 / faster-whisper int8. Prints a
Markdown table: per pair and group the files, the files whose segment texts are equal, the
words compared in them, and the median / 95th percentile / largest |Δstart| and |Δend| of the
words, then the segments' and the probabilities'; below it the files whose texts differ and
the words that differ most. The measurement is tests/python/test_words.py's compare_words
(the test asserts the issue's target on a bounded subset: median <= 20 ms, p95 <= 100 ms).

usage: PYTHONPATH=python:tests/python <test venv>/bin/python tools/accuracy/word_times.py
       MODEL_DIR [--precision f32|int8] [--every N] [--threads T] [--set DIR]"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
for p in (os.path.join(ROOT, "python"), os.path.join(ROOT, "tests", "python")):
    if p not in sys.path:
        sys.path.insert(0, p)

import qattn  # noqa: E402
from qattn import wer  # noqa: E402
from test_words import OPTIONS, compare_words, stats  # noqa: E402

PAIRS = {"f32": ("qattn-f32", "faster-whisper-float32"), "int8": ("qattn-int8", "faster-whisper-int8")}


def engine(name, model, threads):
    """name -> transcribe(samples) -> list of segments (with words)."""
    if name.startswith("qattn-"):
        m = qattn.Whisper(model, precision=name.split("-")[1], threads=threads)
    else:
        from faster_whisper import WhisperModel
        m = WhisperModel(model, device="cpu", compute_type=name.rsplit("-", 1)[1], cpu_threads=threads)
    return lambda samples: list(m.transcribe(samples, **OPTIONS)[0])


def run(name, model, threads, items, audio):
    """{item name: segments}, and the compute seconds over the audio's seconds."""
    transcribe = engine(name, model, threads)
    out, spent = {}, 0.0
    for i, it in enumerate(items, 1):
        t = time.perf_counter()
        out[it.name] = transcribe(audio[it.name])
        spent += time.perf_counter() - t
        print(f"{name} {i}/{len(items)} {it.name}", file=sys.stderr)
    return out, spent / max(sum(len(audio[it.name]) / 16000 for it in items), 1e-9)


def ms(values):
    return " / ".join(f"{v * 1000:.0f}" for v in stats(values))


def version(package):
    from importlib.metadata import PackageNotFoundError, version as v
    try:
        return v(package)
    except PackageNotFoundError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--precision", choices=sorted(PAIRS), help="one pair only (default: both)")
    ap.add_argument("--every", type=int, help="also every N-th file of the untranscribed group (LibriSpeech)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", default=os.path.join(ROOT, "tests", "data", "speech"))
    a = ap.parse_args()
    items = wer.load_set(a.set, ["transcribed"])
    if a.every:
        items += wer.load_set(a.set, ["untranscribed"], every=a.every)
    audio = {it.name: qattn.load_audio(it.path) for it in items}
    groups = [g for g in ("transcribed", "untranscribed") if any(it.group == g for it in items)]
    if len(groups) > 1:
        groups.append("all")
    pairs = [PAIRS[a.precision]] if a.precision else list(PAIRS.values())

    rows, notes = [], []
    for ours_name, theirs_name in pairs:
        ours, ours_rtf = run(ours_name, a.model, a.threads, items, audio)
        theirs, theirs_rtf = run(theirs_name, a.model, a.threads, items, audio)
        for group in groups:
            members = [it for it in items if group in ("all", it.group)]
            c = compare_words({it.name: (ours[it.name], theirs[it.name]) for it in members})
            rows.append(f"| {ours_name} / {theirs_name} | {group} | {c.files} | {len(c.equal)} | {c.words} "
                        f"| {ms(c.start)} | {ms(c.end)} | {ms(c.segment_start)} | {ms(c.segment_end)} "
                        f"| {max(c.probability, default=0.0):.4f} |")
            if group == groups[-1]:
                notes.append(f"{ours_name} / {theirs_name} (real-time factor {ours_rtf:.3f} / {theirs_rtf:.3f}):")
                notes += [f"- text differs: {n}" for n in c.differ]
                notes += [f"- {n} segment {i}: words {w} against {v}" for n, i, w, v in c.mismatched]
                notes += [f"- {n} {word!r}: {x[0]:.2f}-{x[1]:.2f} against {y[0]:.2f}-{y[1]:.2f}"
                          for d, n, word, x, y in c.worst if d > 0]

    name = os.path.basename(os.path.normpath(a.model))
    print(f"#### {name}, word timestamps against faster-whisper ({len(items)} files, "
          f"{sum(len(x) for x in audio.values()) / 16000 / 60:.1f} min)\n")
    print("Times in ms: median / p95 / max of |Δ| over the words (segments: their start and end) of "
          "the files whose segment texts are equal; |Δp|: the largest probability difference.\n")
    print("| pair | group | files | equal text | words | word start | word end | segment start "
          "| segment end | \\|Δp\\| max |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print()
    print("\n".join(notes))
    print(f"\nqattn {qattn.__version__}, faster-whisper {version('faster-whisper')} / CTranslate2 "
          f"{version('ctranslate2')}, {a.threads} threads, options {OPTIONS}")


if __name__ == "__main__":
    main()
