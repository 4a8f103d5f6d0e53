"""Builds the repository's real-speech set (tests/data/speech/) from the project's shared
development set (a directory laid out as its manifest.tsv says), once; the result is committed
so that the repository stands on its own.

What is copied, and why:
  mfa-spontaneous/, mfa-clips/, pocketsphinx-cards/, pocketsphinx-goforward/
      every file with a verbatim reference: group (a), "transcribed", of the WER tables
  librispeech-untranscribed/
      read audiobook speech without references: group (c), the int8-against-float drift
  fsdd-digit-runs/
      the 1500 one-second FSDD digits are not copied one by one: each speaker's 500 digits, in a
      fixed shuffled order (random.Random(SEED)), are joined into runs of DIGITS_PER_RUN with
      PAUSE_S of silence between them, at the files' own 8 kHz (so every engine resamples them
      itself), FLAC; the run's reference is its digits' words in the same order: group (b)
  licenses/  the license texts, and the FSDD attribution (CC BY-SA 4.0)

manifest.tsv: path, duration_s, speaker, source, group (transcribed / digits / untranscribed),
transcript (empty for the untranscribed files).

usage: /usr/bin/python3 tools/speech/build_set.py SHARED_SPEECH_DIR [OUT_DIR]
(OUT_DIR defaults to tests/data/speech; needs sox for FLAC)"""
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import wave

SEED = 26
DIGITS_PER_RUN = 25
PAUSE_S = 0.3
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
COPIED = ("mfa-spontaneous", "mfa-clips", "pocketsphinx-cards", "pocketsphinx-goforward",
          "librispeech-untranscribed")


def read_manifest(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def read_pcm16(path):
    with wave.open(path) as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono")
        return w.getframerate(), w.readframes(w.getnframes())


def digit_runs(src, rows, out_dir):
    """Rows of the runs written to out_dir/fsdd-digit-runs."""
    by_speaker = {}
    for r in rows:
        if r["source"].endswith("free-spoken-digit-dataset") or r["path"].startswith("fsdd-digits/"):
            by_speaker.setdefault(r["speaker"], []).append(r)
    runs_dir = os.path.join(out_dir, "fsdd-digit-runs")
    os.makedirs(runs_dir, exist_ok=True)
    made = []
    for speaker in sorted(by_speaker):
        files = sorted(by_speaker[speaker], key=lambda r: r["path"])
        random.Random(f"{SEED}:{speaker}").shuffle(files)
        for start in range(0, len(files), DIGITS_PER_RUN):
            chunk = files[start:start + DIGITS_PER_RUN]
            pcm, rate, words = [], None, []
            for r in chunk:
                file_rate, frames = read_pcm16(os.path.join(src, r["path"]))
                if rate is not None and file_rate != rate:
                    raise ValueError(f"{r['path']}: rate {file_rate}, the run's is {rate}")
                rate = file_rate
                if pcm:
                    pcm.append(b"\0\0" * round(PAUSE_S * rate))
                pcm.append(frames)
                words.append(WORDS[int(os.path.basename(r["path"]).split("_")[0])])
            name = f"{speaker}_{start // DIGITS_PER_RUN:02d}.flac"
            with tempfile.TemporaryDirectory() as tmp:
                wav = os.path.join(tmp, "run.wav")
                with wave.open(wav, "wb") as w:
                    w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
                    w.writeframes(b"".join(pcm))
                subprocess.run(["sox", wav, os.path.join(runs_dir, name)], check=True)
            samples = sum(len(p) for p in pcm) // 2
            made.append({"path": f"fsdd-digit-runs/{name}", "duration_s": f"{samples / rate:.3f}",
                         "speaker": speaker, "source": "fsdd-digits (joined, tools/speech/build_set.py)",
                         "group": "digits", "transcript": " ".join(words)})
    return made


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    src = sys.argv[1]
    out_dir = sys.argv[2] if len(sys.argv) == 3 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "speech")
    rows = read_manifest(os.path.join(src, "manifest.tsv"))
    out = []
    for r in rows:
        folder = r["path"].split("/")[0]
        if folder not in COPIED:
            continue
        dest = os.path.join(out_dir, r["path"])
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(os.path.join(src, r["path"]), dest)
        out.append({"path": r["path"], "duration_s": r["duration_s"], "speaker": r["speaker"],
                    "source": r["source"],
                    "group": "untranscribed" if not r["transcript"].strip() else "transcribed",
                    "transcript": r["transcript"]})
    out += digit_runs(src, rows, out_dir)
    shutil.copytree(os.path.join(src, "licenses"), os.path.join(out_dir, "licenses"), dirs_exist_ok=True)
    with open(os.path.join(out_dir, "manifest.tsv"), "w", newline="") as f:
        w = csv.DictWriter(f, ["path", "duration_s", "speaker", "source", "group", "transcript"],
                           delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(out)
    print(f"{len(out)} files in {out_dir}")


if __name__ == "__main__":
    main()
