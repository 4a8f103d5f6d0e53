"""Where qattn int8's drift comes from, half by half: the WER of each precision mix's transcript
against the all-f32 transcript (the drift), on a group of tests/data/speech, short files or
the long-form recordings of qattn.wer. The mixes: int8 encoder + f32 decoder, f32 encoder +
int8 decoder, int8 throughout; transcribed by build/qattn_precision_mix (faster-whisper's
decoding defaults, language en).

usage: PYTHONPATH=python <test venv>/bin/python tools/accuracy/drift_sources.py MODEL
       [--groups untranscribed] [--form short|long] [--limit N] [--build build]
       [--every N] [--mixes int8/f32,f32/int8,int8/int8] [--work DIR]
--work keeps each mix's transcripts (DIR/<model>-<groups>-<form>-<enc>-<dec>.json) and reuses
them; delete them after changing the code."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from qattn import wer

def transcripts(tool, model, enc, dec, items):
    out = subprocess.run([tool, model, enc, dec] + [i.path for i in items], check=True,
                         capture_output=True, text=True).stdout
    by_path = {j["file"]: j["text"] for j in map(json.loads, out.splitlines())}
    return {i.name: {"text": by_path[i.path], "seconds": 0.0} for i in items}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--set", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "speech"))
    ap.add_argument("--groups", default="untranscribed")
    ap.add_argument("--form", choices=("short", "long"), default="short")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--every", type=int, default=1, help="every N-th file of each group")
    ap.add_argument("--build", default="build")
    ap.add_argument("--mixes", default="int8/f32,f32/int8,int8/int8")
    ap.add_argument("--work", help="keep and reuse each mix's transcripts here")
    a = ap.parse_args()
    mixes = [("f32", "f32")] + [tuple(m.split("/")) for m in a.mixes.split(",") if m]
    items = wer.load_set(a.set, a.groups.split(","), a.limit, every=a.every)
    if a.form == "long":
        items = wer.long_form(items, tempfile.mkdtemp(prefix="qattn-drift-"))
    tool = os.path.join(a.build, "qattn_precision_mix")
    texts = {}
    for enc, dec in mixes:
        saved = a.work and os.path.join(a.work, f"{os.path.basename(os.path.normpath(a.model))}-"
                                        f"{a.groups}-{a.form}-{a.limit}-{a.every}-{enc}-{dec}.json")
        if saved and os.path.exists(saved):
            with open(saved) as f:
                texts[(enc, dec)] = json.load(f)
            continue
        texts[(enc, dec)] = transcripts(tool, a.model, enc, dec, items)
        if saved:
            os.makedirs(a.work, exist_ok=True)
            with open(saved, "w") as f:
                json.dump(texts[(enc, dec)], f)
        print(f"{enc} encoder + {dec} decoder done", file=sys.stderr)
    base = texts[("f32", "f32")]
    print(f"{a.model}, {a.groups}, {a.form}-form: {len(items)} recordings, "
          f"{sum(i.duration for i in items) / 60:.1f} min")
    print("| encoder | decoder | drift against f32/f32 (S/D/I) | files changed |")
    print("| --- | --- | --- | --- |")
    for enc, dec in mixes[1:]:
        s = wer.wer_of(items, texts[(enc, dec)], base)
        changed = wer.identical_share(items, texts[(enc, dec)], base)
        print(f"| {enc} | {dec} | {100 * s.wer:.2f}% ({s.substitutions}/{s.deletions}/{s.insertions}) "
              f"| {len(changed)} of {len(items)} |")


if __name__ == "__main__":
    main()
