"""Peak resident memory and throughput of concurrent transcriptions on one model, beside
faster-whisper (and whisper.cpp for one stream): each measurement in a fresh Python process,
whose peak resident memory (getrusage ru_maxrss of the child: the whole process, interpreter
and libraries included) is read when it ends.

For each engine: the process with its libraries imported and no model ("imports"), with the
model loaded ("loaded"), then N = 1 .. --max-streams transcriptions of the same recording at
once on that one model, each in its own Python thread (the native calls release the GIL):
peak memory, the memory each stream past the first adds, and audio seconds transcribed per
second of wall time. Settings: language en, beam --beam-size, temperature fallback,
--threads threads per transcription (faster-whisper: cpu_threads, and num_workers = N so that
its N threads run at once, as its documentation says to; whisper.cpp: pywhispercpp, one
stream only: a whisper.cpp context decodes one stream at a time). A benchmark: nothing is
asserted; throughput needs a machine that runs nothing else.

usage: PYTHONPATH=python:tests/python <test venv>/bin/python tools/bench/memory_peers.py
       MODEL_DIR [--audio FILE] [--max-streams N] [--threads T] [--beam-size B]
       [--ggml FILE] [--engines qattn-int8,faster-whisper-int8,whisper.cpp]"""
import argparse
import json
import os
import subprocess
import sys

from peers import cpu_name

# The child: imports, optionally loads, optionally transcribes `streams` times at once; prints
# the wall time of the transcriptions and their audio seconds as JSON.
CHILD = r"""
import json, sys, threading, time
engine, model, audio_path, streams, threads, beam, ggml = sys.argv[1:8]
streams, threads, beam = int(streams), int(threads), int(beam)
if engine == "qattn-int8":
    import qattn
elif engine == "faster-whisper-int8":
    import faster_whisper
else:
    import pywhispercpp.model
if streams < 0:  # imports only
    print(json.dumps({}))
    sys.exit(0)
if engine == "qattn-int8":
    m = qattn.Whisper(model, precision="int8", threads=threads)
    audio = qattn.load_audio(audio_path)
    run = lambda: "".join(s.text for s in m.transcribe(audio, language="en", beam_size=beam)[0])
elif engine == "faster-whisper-int8":
    m = faster_whisper.WhisperModel(model, device="cpu", compute_type="int8", cpu_threads=threads,
                                    num_workers=max(streams, 1))
    audio = faster_whisper.decode_audio(audio_path)
    run = lambda: "".join(s.text for s in m.transcribe(audio, language="en", beam_size=beam)[0])
else:
    import qattn
    m = pywhispercpp.model.Model(ggml, n_threads=threads, language="en", print_progress=False,
                                 print_realtime=False, params_sampling_strategy=1,
                                 beam_search={"beam_size": beam, "patience": -1.0},
                                 redirect_whispercpp_logs_to=None)
    audio = qattn.load_audio(audio_path)
    run = lambda: " ".join(s.text for s in m.transcribe(audio))
texts = [None] * streams
def one(i):
    texts[i] = run()
t = time.perf_counter()
workers = [threading.Thread(target=one, args=(i,)) for i in range(streams)]
for w in workers:
    w.start()
for w in workers:
    w.join()
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "audio": streams * len(audio) / 16000,
                  "same_text": len(set(texts)) <= 1}))
"""


def measure(engine, model, audio, streams, threads, beam, ggml):
    """(peak resident MB of a fresh child, its JSON line): the child's own rusage (wait4)."""
    p = subprocess.Popen([sys.executable, "-c", CHILD, engine, model, audio, str(streams),
                          str(threads), str(beam), ggml or ""], stdout=subprocess.PIPE)
    out = p.stdout.read()
    p.stdout.close()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if p.returncode != 0:
        raise RuntimeError(f"{engine} with {streams} streams failed ({p.returncode})")
    return usage.ru_maxrss / 1024.0, json.loads(out.decode().strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--audio", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data",
                                                    "speech", "mfa-spontaneous", "acoustic_corpus.wav"))
    ap.add_argument("--max-streams", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--beam-size", type=int, default=5)
    ap.add_argument("--ggml", help="whisper.cpp's ggml file of the same model (whisper.cpp's row)")
    ap.add_argument("--engines", default="qattn-int8,faster-whisper-int8,whisper.cpp")
    a = ap.parse_args()
    print(f"{a.model}, {os.path.basename(a.audio)}, beam {a.beam_size}, {a.threads} threads a stream, "
          f"{cpu_name()}, {os.cpu_count()} cores")
    print(f"{'engine':22} {'streams':>7} {'peak MB':>8} {'+MB/stream':>10} {'audio s/s':>9}")
    for engine in a.engines.split(","):
        if engine == "whisper.cpp" and not a.ggml:
            continue
        most = 1 if engine == "whisper.cpp" else a.max_streams
        peaks = {}
        for streams in [-1, 0] + list(range(1, most + 1)):
            peak, r = measure(engine, a.model, a.audio, streams, a.threads, a.beam_size, a.ggml)
            peaks[streams] = peak
            label = {-1: "imports", 0: "loaded"}.get(streams, str(streams))
            extra = f"{peak - peaks[streams - 1]:10.1f}" if streams > 1 else " " * 10
            speed = f"{r['audio'] / r['seconds']:9.1f}" if streams > 0 else " " * 9
            print(f"{engine:22} {label:>7} {peak:8.1f} {extra} {speed}"
                  + ("" if r.get("same_text", True) else "  (the streams' texts differ)"), flush=True)


if __name__ == "__main__":
    main()
