"""Load on `qattn serve` (and, with --whisper-server, whisper.cpp's server on the same audio):
requests per second and latency percentiles at 1, 4 and 16 concurrent clients, for a short
clip (6.4 s) and a 52 s recording (two monologues joined), on loopback. A benchmark: nothing is asserted.

Each level runs C client threads sending N requests in all (N/C each, at least one), one
after another (a fresh connection each, multipart/form-data with the file and
response_format=json); every answer must be 200 with the same text as the first (a 503 is counted,
not retried). Latency is from the first byte sent to the last received; requests per second
is the level's requests over its wall time.

qattn serve (build/qattn) is started by this tool with --workers W (1) and
--threads-per-worker T (2). whisper.cpp's server (its
examples/server, built from the source in PyPI's pywhispercpp sdist; --whisper-server PATH
and --ggml FILE) is started with -t T on a free port; its endpoint is /inference and it
answers one request at a time; it is started with beam 5 and best_of 5 (qattn's defaults;
its temperature fallback is its own, entropy-based).

usage: PYTHONPATH=python:tests/python ~/.cache/qattn-test/venv/bin/python tools/bench/serve_load.py
       MODEL [--clients 1,4,16] [--requests N] [--requests-long N] [--workers W] [--threads T]
       [--whisper-server PATH --ggml FILE]"""
import argparse
import datetime
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))
from peers import cpu_name  # noqa: E402

SPEECH = os.path.join(ROOT, "tests", "data", "speech")
SHORT = os.path.join(SPEECH, "mfa-clips", "mfa_affectation.flac")  # 6.4 s
MINUTE_PARTS = [os.path.join(SPEECH, "mfa-spontaneous", f) for f in ("acoustic_corpus.wav", "cold_corpus.wav")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def body_of(path, fields):
    b = "qattnbench"
    parts = [f"--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
             for k, v in fields]
    parts.append(f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{os.path.basename(path)}\"\r\n"
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + open(path, "rb").read() + b"\r\n")
    parts.append(f"--{b}--\r\n".encode())
    return b, b"".join(parts)


def request(port, path, boundary, body):
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    t = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=3600) as s:
        s.sendall(head + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), payload, time.perf_counter() - t


def level(port, path, boundary, body, clients, requests, want):
    latencies, statuses, wrong = [], {}, 0
    lock = threading.Lock()

    def client():
        nonlocal wrong
        for _ in range(requests):
            status, payload, seconds = request(port, path, boundary, body)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    latencies.append(seconds)
                    wrong += json.loads(payload)["text"].strip() != want
    t = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    [x.start() for x in threads]
    [x.join() for x in threads]
    wall = time.perf_counter() - t
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return dict(rps=len(latencies) / wall, p50=statistics.median(latencies), p90=q[89], p99=q[98],
                statuses=statuses, wrong=wrong)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--requests", type=int, default=16, help="a level's requests of the short clip")
    ap.add_argument("--requests-long", type=int, default=8, help="a level's requests of the 52 s one")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--queue", type=int, default=64)
    ap.add_argument("--whisper-server")
    ap.add_argument("--ggml")
    a = ap.parse_args()
    model = a.model if os.path.isdir(a.model) else os.path.expanduser(f"~/.cache/qattn-test/models/{a.model}")
    minute = os.path.join("/tmp", "qattn-serve-load-minute.wav")
    if not os.path.exists(minute):
        subprocess.run(["sox", *MINUTE_PARTS, minute], check=True)
    qattn = os.path.join(ROOT, "build", "qattn")
    info = subprocess.run([qattn, "info"], capture_output=True, text=True).stdout.strip().splitlines()
    chosen = next((line.split()[-1] for line in info if line.startswith("chosen:")), "?")
    print(f"# {datetime.date.today()}, {cpu_name()}, {os.cpu_count()} CPUs; {info[0]}, tier {chosen}")
    servers = []
    port = free_port()
    p = subprocess.Popen([qattn, "serve", "--model", model, "--port", str(port), "--workers", str(a.workers),
                          "--threads-per-worker", str(a.threads), "--queue", str(a.queue)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    servers.append((f"qattn serve (int8, {a.workers} worker x {a.threads} threads)", p, port,
                    "/v1/audio/transcriptions", [("response_format", "json")]))
    if a.whisper_server:
        wport = free_port()
        # the nearest settings to qattn's defaults: beam 5 (whisper.cpp's fallback is its own,
        # entropy-based); English
        w = subprocess.Popen([a.whisper_server, "-m", a.ggml, "--port", str(wport), "-t", str(a.threads),
                              "-l", "en", "-bs", "5", "-bo", "5"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.append((f"whisper-server ({os.path.basename(a.ggml)}, beam 5, {a.threads} threads)", w, wport,
                        "/inference", [("response_format", "json")]))
    try:
        print(f"{'server':52s} {'audio':>6s} {'clients':>7s} {'req/s':>7s} {'audio s/s':>9s} "
              f"{'p50 s':>7s} {'p90 s':>7s} {'p99 s':>7s}  statuses")
        for name, proc, port, path, fields in servers:
            wait_port(port)
            for audio, seconds, total in ((SHORT, 6.448, a.requests), (minute, 52.441, a.requests_long)):
                boundary, body = body_of(audio, fields)
                status, payload, _ = request(port, path, boundary, body)  # warm-up, and the text
                assert status == 200, payload
                want = json.loads(payload)["text"].strip()
                for c in map(int, a.clients.split(",")):
                    r = level(port, path, boundary, body, c, max(1, total // c), want)
                    print(f"{name:52s} {seconds:6.1f} {c:7d} {r['rps']:7.2f} {r['rps'] * seconds:9.1f} "
                          f"{r['p50']:7.2f} {r['p90']:7.2f} {r['p99']:7.2f}  {r['statuses']}"
                          + (f" ({r['wrong']} other texts)" if r["wrong"] else ""), flush=True)
    finally:
        for _, proc, *_ in servers:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
