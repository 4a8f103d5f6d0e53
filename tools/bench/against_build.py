"""This checkout's speed and memory against another build of qattn, in one run on one machine:
the int8 encoder (`qattn bench encoder --model M --tier T`, one 30 s window) and end-to-end
int8 transcription (qattn.Whisper(...).transcribe of one recording, faster-whisper's defaults)
of each build, the builds taking turns round after round so that drift of the machine falls on
both; every measurement in a fresh process, whose peak resident memory (ru_maxrss, loading
included) is reported beside its time. Medians over the rounds, and this build's over the
other's. A benchmark: nothing is asserted.

The other build is a checkout with its own build/ (qattn, libqattn.so) and python/, e.g.
  git worktree add /tmp/old 0c5f51d && cmake -S /tmp/old -B /tmp/old/build \\
      -DCMAKE_BUILD_TYPE=Release && cmake --build /tmp/old/build -j

usage: <test venv>/bin/python tools/bench/against_build.py OTHER_CHECKOUT MODEL_DIR
       --audio FILE [--rounds R] [--threads T] [--tier NAME]"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

TRANSCRIBE = """
import json, sys, time, qattn
model = qattn.Whisper(sys.argv[1], precision="int8", threads=int(sys.argv[3]))
audio = qattn.load_audio(sys.argv[2])
list(model.transcribe(audio)[0])  # warm-up: first-touch pages, the thread pool
t = time.perf_counter()
segments = list(model.transcribe(audio)[0])  # from 0.2.0 a generator: run it to the end
print(json.dumps({"seconds": time.perf_counter() - t,
                  "text": " ".join(s.text.strip() for s in segments)}))
"""


def run_child(cmd, env):
    """stdout and peak RSS in MiB of one child process (os.wait4 gives its rusage)."""
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{err.decode(errors='replace')}")
    return out.decode(), usage.ru_maxrss / 1024.0


def encoder_ms(checkout, model, tier, threads, env):
    out, rss = run_child([os.path.join(checkout, "build", "qattn"), "bench", "encoder", "--json",
                          "--model", model, "--tier", tier, "--threads", str(threads),
                          "--repeats", "3"], env)
    rows = [r for r in json.loads(out)["encoder_runs"] if r.get("threads") == threads]
    if len(rows) != 1:
        sys.exit(f"bench encoder: expected one int8 row at {threads} threads, got {rows}")
    return rows[0]["ms"], rss


def transcription_s(checkout, model, audio, threads, env):
    env = dict(env, QATTN_LIBRARY=os.path.join(checkout, "build", "libqattn.so"),
               PYTHONPATH=os.path.join(checkout, "python"))
    out, rss = run_child([sys.executable, "-c", TRANSCRIBE, model, audio, str(threads)], env)
    r = json.loads(out)
    return r["seconds"], rss, r["text"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("other")
    ap.add_argument("model")
    ap.add_argument("--audio", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tier", default="avx512vnni")
    a = ap.parse_args()
    builds = {"this": HERE, "other": os.path.abspath(a.other)}
    env = dict(os.environ)
    res = {b: {"enc": [], "enc_rss": [], "tr": [], "tr_rss": []} for b in builds}
    texts = {}
    for r in range(a.rounds):
        order = list(builds) if r % 2 == 0 else list(builds)[::-1]
        for b in order:
            ms, rss = encoder_ms(builds[b], a.model, a.tier, a.threads, env)
            res[b]["enc"].append(ms), res[b]["enc_rss"].append(rss)
            s, rss, texts[b] = transcription_s(builds[b], a.model, a.audio, a.threads, env)
            res[b]["tr"].append(s), res[b]["tr_rss"].append(rss)
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), "?")
    print(f"{a.model}, {a.audio}, tier {a.tier}, {a.threads} threads, {a.rounds} rounds, {cpu}")
    print(f"{'build':6} {'encoder ms':>11} {'enc MiB':>8} {'transcribe s':>13} {'tr MiB':>7}")
    med = {b: {k: statistics.median(v) for k, v in res[b].items()} for b in builds}
    for b in builds:
        m = med[b]
        print(f"{b:6} {m['enc']:11.1f} {m['enc_rss']:8.0f} {m['tr']:13.2f} {m['tr_rss']:7.0f}")
    t, o = med["this"], med["other"]
    print(f"this / other: encoder {t['enc'] / o['enc']:.3f}, transcription {t['tr'] / o['tr']:.3f}, "
          f"memory {t['enc_rss'] / o['enc_rss']:.3f} and {t['tr_rss'] / o['tr_rss']:.3f}")
    print("same text" if texts["this"] == texts["other"] else
          f"texts differ:\n this:  {texts['this']}\n other: {texts['other']}")


if __name__ == "__main__":
    main()
