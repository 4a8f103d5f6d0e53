"""The transcription session (qattn.h qattn_session_*, qattn.Session) and what 0.2.0 changed
around it: audio fed in pieces gives the one-call segments, a session cancelled from another
thread stops within a bounded number of steps, transcribe's segments are a lazy generator that
frees its session when dropped, the exceptions carry the library's status, int8 is the default
everywhere, and the binding refuses a library of another MAJOR.MINOR."""
import ctypes
import gc
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import qattn
from conftest import ROOT, python_env
from speech import make_transcription_clips
from trained import model_dir

heavy = pytest.mark.heavy


@pytest.fixture(scope="module")
def model():
    return qattn.Whisper(model_dir("tiny.en"), precision="int8", threads=2)


@pytest.fixture(scope="module")
def minutes(tmp_path_factory):
    """The 72 s espeak-ng recording (three windows and more), and its one-call segments."""
    path, _ = make_transcription_clips(str(tmp_path_factory.mktemp("speech")))["minutes"]
    return qattn.load_audio(path)


def fields(segments):
    return [(s.id, s.seek, s.start, s.end, s.text, s.tokens, s.temperature, s.avg_logprob,
             s.no_speech_prob) for s in segments]


@heavy
def test_pieces_then_finish_equal_one_call(model, minutes):
    """Fed in 0.37 s pieces, finished, then pulled: exactly the segments of transcribing the
    whole recording at once, ids from 1 (the log-mel computed piece by piece is the whole
    audio's, value for value)."""
    whole, info = model.transcribe(minutes, beam_size=1)
    whole = list(whole)
    assert len(whole) >= 4
    piece = int(0.37 * 16000)
    s = model.session(beam_size=1)
    for i in range(0, len(minutes), piece):
        s.feed(minutes[i:i + piece])
    assert s.info.duration == pytest.approx(info.duration)
    s.finish()
    assert fields(list(s)) == fields(whole) and s.done
    assert [seg.id for seg in whole] == list(range(1, len(whole) + 1))
    s.close()


@heavy
def test_pulled_while_fed_nearly_equal_one_call(model, minutes):
    """Pulled as the pieces come: a window is decoded once its 30 s are fed, before finish,
    with Whisper's loudness floor at the loudest audio so far; here the same tokens and
    timestamps as one call, the log-probabilities within 0.01 (the floor moved later)."""
    whole = list(model.transcribe(minutes, beam_size=1)[0])
    piece = int(0.37 * 16000)
    s = model.session(beam_size=1)
    early = []
    for i in range(0, len(minutes), piece):
        s.feed(minutes[i:i + piece])
        early += list(s)
    assert early, "no window was decoded before finish"
    assert s.next_segment() is None and not s.done  # more audio, or finish, wanted
    s.finish()
    got = early + list(s)
    assert s.done
    assert [(g.tokens, g.start, g.end) for g in got] == [(w.tokens, w.start, w.end) for w in whole]
    assert [g.avg_logprob for g in got] == pytest.approx([w.avg_logprob for w in whole], abs=0.01)
    s.close()


@heavy
def test_feed_everything_then_pull_equals_one_call(model, minutes):
    s = qattn.Session(model, beam_size=1)
    s.feed(minutes)
    s.finish()
    assert fields(list(s)) == fields(list(model.transcribe(minutes, beam_size=1)[0]))


@heavy
def test_cancel_from_another_thread_stops_soon(model, minutes):
    """cancel() while a pull decodes: that pull raises QattnCancelled well before the window
    could have finished, and every later call does too."""
    s = qattn.Session(model, beam_size=5)
    s.feed(np.tile(minutes, 3))
    s.finish()
    t0 = time.perf_counter()
    first = s.next_segment()  # a whole window: how long one takes here
    window = time.perf_counter() - t0
    assert first is not None
    timer = threading.Timer(0.05, s.cancel)
    timer.start()
    t0 = time.perf_counter()
    with pytest.raises(qattn.QattnCancelled):
        while True:
            s.next_segment()
    stopped = time.perf_counter() - t0
    timer.join()
    with pytest.raises(qattn.QattnCancelled):
        s.feed(minutes[:1600])
    print(f"a window took {window:.2f} s; cancelled after {stopped:.2f} s")
    s.close()


@heavy
def test_segments_are_lazy_and_dropping_them_frees_the_session(model, minutes):
    """The generator decodes a window when it is consumed: one segment costs one window, not
    the recording; closing it (or dropping it) frees the session."""
    t0 = time.perf_counter()
    segments, info = model.transcribe(np.tile(minutes, 4), beam_size=1)
    returned = time.perf_counter() - t0
    first = next(segments)
    assert first.id == 1 and info.language == "en"
    t0 = time.perf_counter()
    whole = list(model.transcribe(minutes, beam_size=1)[0])
    one_recording = time.perf_counter() - t0
    assert returned < one_recording / 2, (returned, one_recording)
    segments.close()
    with pytest.raises(StopIteration):
        next(segments)
    assert whole[0].text == first.text


@heavy
def test_every_thread_count_transcribes_alike(minutes):
    """int8 at 1, 2 and 3 threads: the same segments and words, bit for bit (every kernel
    splits its work so that a thread count does not change a sum's order)."""
    def run(threads):
        m = qattn.Whisper(model_dir("tiny.en"), precision="int8", threads=threads)
        segments = list(m.transcribe(minutes[:40 * 16000], word_timestamps=True)[0])
        return fields(segments), [(w.word, w.start, w.end, w.probability) for s in segments for w in s.words]
    two = run(2)
    assert len(two[1]) > 50
    assert run(1) == two and run(3) == two


def test_closing_the_model_closes_its_sessions(minutes):
    """A generator still open when its model is closed stops with a clear error, not a
    use of freed memory (the model closes its sessions first)."""
    m = qattn.Whisper(model_dir("tiny.en"), precision="int8", threads=2)
    with m:
        segments, _ = m.transcribe(minutes, beam_size=1)
        session = m.session()
    with pytest.raises(ValueError, match="closed"):
        next(segments)
    with pytest.raises(ValueError, match="closed"):
        session.feed(minutes[:1600])


def test_errors_carry_status_and_python_types(tmp_path):
    with pytest.raises(qattn.QattnFileNotFoundError) as e:
        qattn.load_audio(str(tmp_path / "nothing.wav"))
    assert isinstance(e.value, FileNotFoundError) and e.value.status == 14
    with pytest.raises(FileNotFoundError):
        qattn.Whisper(str(tmp_path / "no_model"))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(qattn.QattnOSError) as e:
        qattn.load_audio(str(bad))
    assert e.value.status == 10 and not isinstance(e.value, FileNotFoundError)
    with pytest.raises(qattn.QattnValueError) as e:
        qattn.quantize(np.ones(3, np.float32), -1.0)
    assert isinstance(e.value, ValueError) and e.value.status == 5
    assert not issubclass(qattn.QattnError, ValueError)


def test_int8_is_the_default_everywhere():
    """qattn.Decoder(path) is int8 as qattn.Encoder and qattn.Whisper are (it was f32):
    its logits are the int8 decoder's bit for bit, not the f32 one's."""
    d = model_dir("tiny.en")
    enc = qattn.Encoder(d, threads=2)
    mel = qattn.log_mel(np.random.default_rng(1).standard_normal(16000 * 5).astype(np.float32) * 0.1)
    mel = np.pad(mel, ((0, 0), (0, 3000 - mel.shape[1])))
    features = enc.encode(mel)
    tokens = [50257, 50362, 314, 716]
    default = qattn.Decoder(d, threads=2).logits(features, tokens)
    assert np.array_equal(default, qattn.Decoder(d, precision="int8", threads=2).logits(features, tokens))
    assert not np.array_equal(default, qattn.Decoder(d, precision="f32", threads=2).logits(features, tokens))


def test_binding_refuses_another_minor_version(tmp_path):
    """A library whose MAJOR.MINOR is not the binding's is refused at import, naming both."""
    fake = tmp_path / "qattn_fake"
    (fake / "qattn").mkdir(parents=True)
    src = os.path.join(ROOT, "python", "qattn")
    for f in os.listdir(src):
        if f.endswith(".py"):
            text = open(os.path.join(src, f)).read()
            if f == "_version.py":
                text = text.replace(qattn.__version__, "0.1.0")
            (fake / "qattn" / f).write_text(text)
    r = subprocess.run([sys.executable, "-c", "import qattn"], capture_output=True, text=True,
                       env=python_env(PYTHONPATH=str(fake)))
    assert r.returncode != 0 and "MAJOR.MINOR" in r.stderr and qattn.__version__ in r.stderr, r.stderr
