"""`qattn serve` (docs/serve.md) over real HTTP on a free loopback port, each test's server
started and stopped by the test: OpenAI's official Python SDK and curl as clients, transcripts
equal to the CLI's for the same audio and options, OpenAI's error shapes and status codes for
bad requests, the bounded queue (503), the upload limit (413, before a client that waits for
100-continue sends its body), the API key (401), a client that hangs up cancelling its
transcription, the timeout (504), SIGTERM finishing what was admitted, and a bounded load.
Under the sanitizer pass the server is the sanitized build: leaks fail its exit status."""
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import BUILD, SANITIZER_PRELOAD

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPEECH = os.path.join(ROOT, "tests", "data", "speech")
SHORT = os.path.join(SPEECH, "mfa-clips", "mfa_affectation.flac")  # 6.4 s of a person
LONG_PARTS = [os.path.join(SPEECH, "mfa-spontaneous", f)
              for f in ("acoustic_corpus.wav", "cold_corpus.wav", "cold_corpus3.wav")]
THREADS = "2"


def model():
    from trained import model_dir
    return model_dir("tiny.en")


class Server:
    """`qattn serve` on a free loopback port; its log lines (stderr) collected as they come."""

    def __init__(self, *flags):
        env = dict(os.environ)
        if SANITIZER_PRELOAD:  # the sanitized server: leaks found at exit fail it
            env["ASAN_OPTIONS"] = "halt_on_error=1:detect_leaks=1"
        self.p = subprocess.Popen([os.path.join(BUILD, "qattn"), "serve", "--model", model(),
                                   "--port", "0", "--threads-per-worker", THREADS, *flags],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        first = self.p.stdout.readline()
        assert "listening on http://127.0.0.1:" in first, first + self.p.stderr.read()
        self.port = int(first.split("127.0.0.1:")[1].split()[0])
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stderr:
            self.log.append((time.monotonic(), line.rstrip("\n")))

    def wait_log(self, text, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for t, line in list(self.log):
                if text in line:
                    return t, line
            time.sleep(0.02)
        raise AssertionError(f"no log line with {text!r}: {self.log}")

    def wait_log_count(self, text, count, timeout=60):
        """Waits until `count` log lines hold text (a request's line comes once it is over)."""
        end = time.monotonic() + timeout
        while sum(text in line for _, line in list(self.log)) < count:
            if time.monotonic() > end:
                raise AssertionError(f"fewer than {count} log lines with {text!r}: {self.log}")
            time.sleep(0.02)

    def stop(self):
        """SIGTERM; the exit status (0: drained and stopped, no leak)."""
        self.p.send_signal(signal.SIGTERM)
        status = self.p.wait(timeout=120)
        self.reader.join(timeout=10)
        return status

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.p.poll() is None:
            assert self.stop() == 0, self.log


def raw(port, data, read=True, timeout=120):
    """Sends bytes on a fresh connection; the status and the body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return answer(s) if read else None


def answer(s):
    chunks = []
    while True:
        b = s.recv(65536)
        if not b:
            break
        chunks.append(b)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split()[1]), head.decode("latin-1"), body


def multipart(fields, file_bytes=None, boundary="qattnboundary"):
    """A multipart/form-data body of the fields (name, value) and a 'file' part."""
    out = []
    for name, value in fields:
        out.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n".encode())
    if file_bytes is not None:
        out.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.flac\"\r\n"
                   f"Content-Type: application/octet-stream\r\n\r\n".encode() + file_bytes + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def post(port, body, path="/v1/audio/transcriptions", boundary="qattnboundary", extra=""):
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode()
    return raw(port, head + body)


def chunked(port, body, boundary="qattnboundary"):
    """The body sent in chunks of 64 kB without a Content-Length."""
    head = (f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Transfer-Encoding: chunked\r\n\r\n").encode()
    parts = [body[i:i + 65536] for i in range(0, len(body), 65536)]
    return raw(port, head + b"".join(b"%x\r\n" % len(p) + p + b"\r\n" for p in parts) + b"0\r\n\r\n")


def error_of(body):
    e = json.loads(body)["error"]
    assert set(e) == {"message", "type", "param", "code"} and e["message"], e
    return e


def cli(path, fmt, *flags):
    """`qattn transcribe` of path into a temporary directory; the file it wrote."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([os.path.join(BUILD, "qattn"), "transcribe", "--model", model(), "-q",
                            "--threads", THREADS, "-f", fmt, "-o", d, *flags, path],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(d, os.listdir(d)[0]), encoding="utf-8") as f:
            return f.read()


@pytest.fixture(scope="module")
def long_audio(tmp_path_factory):
    """The three spontaneous monologues joined (77 s), with sox."""
    path = str(tmp_path_factory.mktemp("serve") / "long.wav")
    subprocess.run(["sox", *LONG_PARTS, path], check=True)
    return path


@pytest.fixture(scope="module")
def longer_audio(long_audio):
    """The 77 s eight times (10 min 17 s, 20 MB): about 12 s of work on 2 threads, so that
    a request sent a second after it is surely queued behind it (the 77 s alone takes 1.3 s
    on an Intel Xeon, too close to the hang-up's 1.5 s)."""
    path = long_audio.replace("long.wav", "longer.wav")
    subprocess.run(["sox", *[long_audio] * 8, path], check=True)
    return path


def test_bad_requests(tmp_path):
    """Every class of bad request answered with OpenAI's error object and the right status,
    the server unharmed (a good request after them is answered)."""
    audio = open(SHORT, "rb").read()
    with Server("--max-audio-s", "5") as srv:  # 6.4 s is refused before it is decoded
        status, _, body = post(srv.port, multipart([], audio))
        assert status == 413 and error_of(body)["code"] == "audio_too_long", body
    with Server("--max-upload-mb", "1") as srv:
        port = srv.port
        get = lambda path, method="GET": raw(port, f"{method} {path} HTTP/1.1\r\nHost: x\r\n"  # noqa: E731
                                                   "Connection: close\r\n\r\n".encode())
        status, _, body = get("/health")
        assert status == 200 and json.loads(body) == {"status": "ok"}
        status, _, body = get("/v1/models")
        assert status == 200 and json.loads(body)["data"][0]["id"] == "tiny.en"
        cases = {  # what was sent -> (status, param)
            "unknown route": (get("/v1/nothing"), 404, None),
            "GET on an audio route": (get("/v1/audio/transcriptions"), 405, None),
            "DELETE": (get("/health", "DELETE"), 405, None),
            "POST on a GET route": (raw(port, b"POST /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                              b"Content-Length: 0\r\n\r\n"), 405, None),
            "not multipart": (raw(port, b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n"
                                        b"Connection: close\r\nContent-Type: application/json\r\n"
                                        b"Content-Length: 2\r\n\r\n{}"), 400, None),
            "no boundary": (raw(port, b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n"
                                      b"Connection: close\r\nContent-Type: multipart/form-data\r\n"
                                      b"Content-Length: 2\r\n\r\nxx"), 400, None),
            "no file": (post(port, multipart([("model", "whisper-1")])), 400, "file"),
            "empty file": (post(port, multipart([], b"")), 400, "file"),
            "not audio": (post(port, multipart([], b"RIFF....WAVEfmt not really" * 50)), 400, "file"),
            "truncated audio": (post(port, multipart([], audio[:300])), 400, "file"),
            "two files": (post(port, multipart([], audio) [:-len(b"--qattnboundary--\r\n")]
                               + multipart([], audio)), 400, "file"),
            "unknown field": (post(port, multipart([("beam_sise", "2")], audio)), 400, "beam_sise"),
            "a part without a name": (post(port, b"--qattnboundary\r\nContent-Disposition: form-data; name=file\r\n"
                                                 b"\r\nxx\r\n--qattnboundary--\r\n"), 400, None),
            "a part without Content-Disposition": (post(port, b"--qattnboundary\r\nContent-Type: text/plain\r\n"
                                                              b"\r\nxx\r\n--qattnboundary--\r\n"), 400, None),
            "repeated field": (post(port, multipart([("language", "en"), ("language", "en")], audio)), 400, "language"),
            "bad response_format": (post(port, multipart([("response_format", "xml")], audio)), 400, "response_format"),
            "bad temperature": (post(port, multipart([("temperature", "2")], audio)), 400, "temperature"),
            "NaN temperature": (post(port, multipart([("temperature", "nan")], audio)), 400, "temperature"),
            "bad beam_size": (post(port, multipart([("beam_size", "0")], audio)), 400, "beam_size"),
            "granularities without verbose_json": (
                post(port, multipart([("timestamp_granularities[]", "word")], audio)), 400, None),
            "stream with srt": (post(port, multipart([("stream", "true"), ("response_format", "srt")], audio)), 400, None),
            "unknown language": (post(port, multipart([("language", "xx")], audio)), 400, None),
            "translate on an English-only model": (
                post(port, multipart([], audio), path="/v1/audio/translations"), 400, None),
            "language on translations": (
                post(port, multipart([("language", "en")], audio), path="/v1/audio/translations"), 400, "language"),
            "malformed multipart": (post(port, b"--qattnboundary\r\nno headers at all"), 400, None),
            "chunked body over the limit": (chunked(port, multipart([], b"\0" * (1100 << 10))), 413, "file"),
        }
        for what, ((status, head, body), want, param) in cases.items():
            assert status == want, (what, status, body)
            assert want != 405 or "\r\nAllow: " in head, (what, head)
            e = error_of(body)
            assert e["param"] == param, (what, e)
            assert e["type"] == "invalid_request_error", (what, e)
    # the server is whole after them; fields of OpenAI's newer models are taken and ignored
    with Server() as srv:
        status, _, body = post(srv.port, multipart([("response_format", "text"), ("chunking_strategy", "auto"),
                                                    ("include[]", "logprobs")], audio))
        assert status == 200 and len(body.strip()) > 10, body
    with Server("--max-audio-s", "5") as srv:  # 6.4 s is refused before it is decoded
        status, _, body = post(srv.port, multipart([], audio))
        assert status == 413 and error_of(body)["code"] == "audio_too_long", body
    with Server("--max-upload-mb", "1") as srv:
        port = srv.port
        # Expect: 100-continue with a Content-Length over the limit: 413 before any body is sent
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 99999999\r\n\r\n")
            status, head, body = answer(s)
            assert status == 413 and "100 Continue" not in head, head
    assert srv.p.returncode == 0, srv.log


def test_transcripts_equal_the_cli():
    """curl's upload: json, text, srt and vtt equal what `qattn transcribe` writes for the same
    audio and options (its JSON file's text, its srt and vtt files)."""
    with Server() as srv:
        def curl(*fields):
            r = subprocess.run(["curl", "-sS", "--fail-with-body", "-F", f"file=@{SHORT}",
                                *[a for f in fields for a in ("-F", f)],
                                f"{srv.url}/v1/audio/transcriptions"], capture_output=True, text=True)
            assert r.returncode == 0, r.stdout + r.stderr
            return r.stdout
        want = json.loads(cli(SHORT, "json"))
        assert json.loads(curl("model=whisper-1"))["text"] == want["text"].strip()
        assert curl("response_format=text") == want["text"].strip() + "\n"
        assert curl("response_format=srt") == cli(SHORT, "srt")
        assert curl("response_format=vtt", "beam_size=1") == cli(SHORT, "vtt", "--beam-size", "1")
        srv.wait_log("POST /v1/audio/transcriptions 200 6.4")


def test_queue_full_is_503():
    """workers 1, queue 0: a request whose upload is still coming holds the one place; the
    next is answered 503 with Retry-After at once, and served once the place is free."""
    audio = open(SHORT, "rb").read()
    with Server("--workers", "1", "--queue", "0") as srv:
        body = multipart([], audio)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=60) as held:
            held.sendall((f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                          f"Content-Type: multipart/form-data; boundary=qattnboundary\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:1000])
            time.sleep(0.5)
            status, head, text = post(srv.port, body)
            assert status == 503 and "Retry-After: 1" in head, head
            assert error_of(text)["type"] == "server_error"
            held.sendall(body[1000:])
            status, _, text = answer(held)
            assert status == 200, text
        status, _, text = post(srv.port, body)
        assert status == 200, text


def test_hang_up_while_queued(longer_audio):
    """workers 1, queue 1: while a 10 min transcription runs, a queued client that hangs up
    gives its place back at once (its log line, cancelled, comes while the first still runs),
    so the next request is admitted, not refused; it is served once the first ends (here: its
    client hangs up too, so the test never waits out 10 min of audio, minutes under the
    sanitizers on a machine without AVX-512)."""
    def request(body):
        return (f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n"
                f"Content-Type: multipart/form-data; boundary=qattnboundary\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    def posts():
        return [line for _, line in list(srv.log) if line.startswith("POST ")]

    with Server("--workers", "1", "--queue", "1") as srv:
        long_body = multipart([("response_format", "text")], open(longer_audio, "rb").read())
        first = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
        first.sendall(request(long_body))
        time.sleep(1.0)
        body = multipart([("response_format", "text")], open(SHORT, "rb").read())
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
        s.sendall(request(body))
        time.sleep(0.5)
        assert posts() == [], f"the first request ended before the second could queue: {posts()}"
        s.close()
        t, line = srv.wait_log("cancelled")
        assert "499 0.00" in line, line  # left before its audio was read
        assert len(posts()) == 1, posts()  # the first still runs
        third = {}
        client = threading.Thread(target=lambda: third.update(r=post(srv.port, body)))
        client.start()
        time.sleep(1.0)
        assert client.is_alive() and len(posts()) == 1, posts()  # admitted: waiting, not refused
        first.close()  # the first transcription is cancelled; the worker takes the queued one
        client.join(timeout=300)
        assert third.get("r", (None,))[0] == 200, third


def test_api_key(tmp_path):
    """--api-key-file: no key or a wrong one is 401 (WWW-Authenticate: Bearer), the key 200."""
    key = tmp_path / "key"
    key.write_text("sk-local-test-key\n")
    audio = open(SHORT, "rb").read()
    with Server("--api-key-file", str(key)) as srv:
        body = multipart([("response_format", "text")], audio)
        models = lambda header: raw(srv.port, f"GET /v1/models HTTP/1.1\r\nHost: x\r\n{header}"  # noqa: E731
                                              "Connection: close\r\n\r\n".encode())[0]
        assert models("") == 401 and models("Authorization: bearer sk-local-test-key\r\n") == 200
        for header in ("", "Authorization: Bearer sk-local-test-kez\r\n",
                       "Authorization: Bearer sk-local-test-key-and-more\r\n", "Authorization: Basic x\r\n"):
            status, head, text = post(srv.port, body, extra=header)
            assert status == 401 and "WWW-Authenticate: Bearer" in head, head
            assert error_of(text)["code"] == "invalid_api_key"
        status, _, text = post(srv.port, body, extra="Authorization: Bearer sk-local-test-key\r\n")
        assert status == 200 and text.strip(), text


def test_hang_up_cancels(longer_audio):
    """A client that closes its connection while its 10 min transcription runs (beam 5): the
    log line says cancelled within a few seconds, and the worker is free again."""
    audio = open(longer_audio, "rb").read()
    with Server("--workers", "1") as srv:
        body = multipart([], audio)
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
        s.sendall((f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n"
                   f"Content-Type: multipart/form-data; boundary=qattnboundary\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
        time.sleep(1.0)
        closed = time.monotonic()
        s.close()
        t, line = srv.wait_log("cancelled")
        print(f"cancelled {t - closed:.2f} s after the hang-up: {line}")
        assert t - closed < 5 and "POST /v1/audio/transcriptions" in line
        status, _, text = post(srv.port, multipart([("response_format", "text")], open(SHORT, "rb").read()))
        assert status == 200, text


def test_timeout_is_504(longer_audio):
    """--timeout-s 1 and 10 min of audio: 504 with OpenAI's error object (and x-should-retry:
    false, so that the openai SDK does not send it again); a stream that times out after its
    200 ends with an error event."""
    with Server("--timeout-s", "1") as srv:
        audio = open(longer_audio, "rb").read()
        status, head, text = post(srv.port, multipart([], audio))
        assert status == 504 and error_of(text)["code"] == "timeout", text
        assert "x-should-retry: false" in head.lower(), head
        status, head, text = post(srv.port, multipart([("stream", "true")], audio))
        assert status == 200 and "text/event-stream" in head, head
        events = [json.loads(line[6:]) for line in text.decode().split("\r\n") if line.startswith("data: ")]
        assert events and events[-1]["error"]["code"] == "timeout", text


def test_sigterm_finishes_admitted_requests(longer_audio):
    """SIGTERM while a transcription runs: it is answered 200 in full, then the server exits 0
    and refuses connections."""
    audio = open(longer_audio, "rb").read()
    srv = Server()
    result = {}
    body = multipart([("response_format", "text"), ("beam_size", "1")], audio)
    worker = threading.Thread(target=lambda: result.update(r=post(srv.port, body)))
    worker.start()
    time.sleep(1.0)
    srv.p.send_signal(signal.SIGTERM)
    worker.join(timeout=300)
    status, _, text = result["r"]
    assert status == 200 and len(text.split()) > 100, text
    assert srv.p.wait(timeout=120) == 0, srv.log
    srv.reader.join(timeout=10)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=5)


def test_openai_sdk():
    """The official SDK (max_retries=0): every response format, word and segment
    granularities, the stream's events, and its error classes for a 400 and a 401."""
    import openai
    with Server() as srv:
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0)
        create = lambda **kw: client.audio.transcriptions.create(  # noqa: E731
            model="whisper-1", file=open(SHORT, "rb"), **kw)
        want = json.loads(cli(SHORT, "json"))
        text = want["text"].strip()
        assert create().text == text
        assert create(response_format="text").strip() == text
        assert create(response_format="srt") == cli(SHORT, "srt")
        assert create(response_format="vtt") == cli(SHORT, "vtt")
        v = create(response_format="verbose_json")
        assert v.text == text and v.language == "english" and abs(v.duration - 6.448) < 0.01
        assert [(s.text, s.start, s.end, s.tokens, s.avg_logprob) for s in v.segments] == \
            [(s["text"], s["start"], s["end"], s["tokens"], s["avg_logprob"]) for s in want["segments"]]
        worded = json.loads(cli(SHORT, "json", "--word-timestamps"))  # times follow the words
        v = create(response_format="verbose_json", timestamp_granularities=["segment", "word"])
        assert [(s.start, s.end) for s in v.segments] == [(s["start"], s["end"]) for s in worded["segments"]]
        assert [(w.word, w.start, w.end) for w in v.words] == \
            [(w["word"], w["start"], w["end"]) for s in worded["segments"] for w in s["words"]]
        assert len(v.words) >= 3
        events = list(create(stream=True))
        deltas = [e.delta for e in events if e.type == "transcript.text.delta"]
        done = [e for e in events if e.type == "transcript.text.done"]
        assert deltas and len(done) == 1 and done[0].text == text == "".join(deltas).strip()
        with pytest.raises(openai.BadRequestError, match="could not be read as audio"):
            client.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"not audio"))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_bounded_load():
    """4 clients at once, 3 requests each after a warm-up round, on 2 workers and a queue of
    8: every answer 200
    and the same text, nothing but the documented statuses; resident memory after the load
    within 2% of after a warm-up (not under the sanitizers, whose quarantine holds memory)."""
    audio = open(SHORT, "rb").read()
    body = multipart([("response_format", "text"), ("beam_size", "1")], audio)
    with Server("--workers", "2", "--queue", "8") as srv:
        want = post(srv.port, body)
        assert want[0] == 200

        def load(rounds):
            results = []
            def client():
                for _ in range(rounds):
                    results.append(post(srv.port, body))
            threads = [threading.Thread(target=client) for _ in range(4)]
            [t.start() for t in threads]
            [t.join(timeout=600) for t in threads]
            assert len(results) == 4 * rounds
            assert all(r[0] == 200 and r[2] == want[2] for r in results), [r[0] for r in results]
        # Memory is read once every request's log line is out: the server writes it after the
        # request's buffers are freed and trimmed, which can come after the client has its
        # answer (read sooner, a loaded machine showed the last request's 25 MB as growth).
        load(1)  # the warm-up: the workers' sessions and their threads' heaps made once
        srv.wait_log_count("POST /v1/audio/transcriptions 200", 5)
        warm = rss_kb(srv.p.pid)
        load(3)
        srv.wait_log_count("POST /v1/audio/transcriptions 200", 17)
        after = rss_kb(srv.p.pid)
        print(f"resident memory: {warm} kB after the warm-up, {after} kB after the load")
        if not SANITIZER_PRELOAD:  # steady to 0.1% (a request's buffers are 25 MB)
            assert after <= warm * 1.02
