"""Voice activity detection (issue 28): qattn's Silero VAD against onnxruntime running the same
ONNX file on the same audio (probabilities within 1e-4), its speech spans against
faster-whisper's get_speech_timestamps with the same options (equal, where no probability lies
within that bound of a threshold), the stream against the whole, and bad model files refused.
Tests marked `peers` load onnxruntime or faster-whisper (the sanitizer run leaves them out)."""
import os

import numpy as np
import pytest

import qattn
from onnx_bytes import SILERO, model, tensor

peers = pytest.mark.peers
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
MODEL = os.path.join(ROOT, "models", "silero_vad_v6.onnx")
SPEECH = os.path.join(ROOT, "tests", "data", "speech")
BOUND = 1e-4


def recordings():
    """Recorded people (a monologue, a read clip, an 8 kHz digit run through the resampler),
    noise, silence, and lengths around the chunk (512) and the quirk of the last one."""
    out = {name: qattn.load_audio(os.path.join(SPEECH, name)) for name in (
        "mfa-spontaneous/acoustic_corpus.wav", "mfa-spontaneous/cold_corpus.wav",
        "librispeech-untranscribed/103-1240-0000.flac",
        "librispeech-untranscribed/1040-133433-0000.flac", "fsdd-digit-runs/fsdd-george_00.flac")}
    rng = np.random.default_rng(7)
    out["noise"] = (rng.standard_normal(16000 * 6) * 0.05).astype(np.float32)
    out["silence"] = np.zeros(16000 * 3, np.float32)
    speech = out["mfa-spontaneous/acoustic_corpus.wav"]
    for n in (1, 511, 512, 513, 16000 + 470):  # 470: the last chunk's last 64 samples zeroed
        out[f"first {n}"] = speech[:n].copy()
    return out


def onnxruntime_probabilities(audio):
    """The shipped file run by onnxruntime, fed as faster-whisper feeds it (vad.py
    SileroVADModel.__call__): padded to a multiple of 512 (with 1 to 512 zeros), each chunk
    after the previous one's last 64 samples, the last chunk's last 64 zeroed, h and c carried."""
    import onnxruntime
    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = opts.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(MODEL, sess_options=opts, providers=["CPUExecutionProvider"])
    padded = np.pad(audio, (0, 512 - len(audio) % 512)).astype(np.float32)
    chunks = padded.reshape(-1, 512)
    chunks[-1, -64:] = 0
    context = np.concatenate([np.zeros((1, 64), np.float32), chunks[:-1, -64:]])
    rows = np.concatenate([context, chunks], axis=1)
    h = c = np.zeros((1, 1, 128), np.float32)
    probs, h, c = session.run(None, {"input": rows, "h": h, "c": c})
    return probs.reshape(-1)


@pytest.fixture(scope="module")
def vad():
    return qattn.VAD()


@pytest.fixture(scope="module")
def audio():
    return recordings()


@peers
def test_probabilities_equal_onnxruntime(vad, audio):
    worst = 0.0
    for name, x in audio.items():
        ours, theirs = vad.probabilities(x), onnxruntime_probabilities(x)
        assert ours.shape == theirs.shape == (len(x) // 512 + 1,), name
        worst = max(worst, float(np.abs(ours - theirs).max()))
        assert np.abs(ours - theirs).max() <= BOUND, name
    print(f"largest difference from onnxruntime: {worst:.2e} (bound {BOUND})")


# faster-whisper's VadOptions as its users set them: the defaults, the batched pipeline's
# (min_silence_duration_ms=160, max_speech_duration_s=30), and short spans with thresholds moved
VAD_SETTINGS = [{}, dict(min_silence_duration_ms=160, max_speech_duration_s=30),
                dict(threshold=0.3, neg_threshold=0.2, min_speech_duration_ms=250,
                     max_speech_duration_s=4.0, min_silence_duration_ms=500, speech_pad_ms=100)]


def near_threshold(probs, options):
    thr = options.get("threshold", 0.5)
    neg = options.get("neg_threshold", max(thr - 0.15, 0.01))
    return bool(np.any(np.abs(probs - thr) <= BOUND) or np.any(np.abs(probs - neg) <= BOUND))


@peers
@pytest.mark.parametrize("options", VAD_SETTINGS, ids=["defaults", "batched", "short"])
def test_speech_spans_equal_faster_whisper(vad, audio, options):
    from faster_whisper.vad import VadOptions, get_speech_timestamps
    skipped = []
    for name, x in audio.items():
        if near_threshold(vad.probabilities(x), options):
            skipped.append(name)  # float rounding could move a decision: not compared
            continue
        assert vad.speech_timestamps(x, **options) == get_speech_timestamps(x, VadOptions(**options)), name
    print("within the bound of a threshold, not compared:", skipped)
    assert len(skipped) <= 2


@peers
def test_speech_spans_follow_faster_whisper_on_random_probabilities():
    """The state machine alone, on probabilities given to both (faster-whisper's model
    replaced by them): splits at max_speech_duration_s, short silences, paddings that meet."""
    import faster_whisper.vad as fv
    rng = np.random.default_rng(11)
    real_model = fv.get_vad_model
    # a split at max_speech_duration_s on a silent step, speech having come back after an
    # earlier pause: faster-whisper's split goes on to the silence test in that same step
    split = np.array([0.9] * 10 + [0.05] * 5 + [0.9] * 14 + [0.05] * 21, np.float32)
    cases = [(split, 50 * 512 - 100, dict(min_silence_duration_ms=200, max_speech_duration_s=1.0,
                                          speech_pad_ms=0))]
    for _ in range(300):
        n = int(rng.integers(1, 120 * 512))
        level = rng.choice([0.05, 0.4, 0.45, 0.9], size=n // 512 + 1)
        probs = np.clip(level + rng.normal(0, 0.08, size=level.shape), 0, 1).astype(np.float32)
        cases.append((probs, n, dict(threshold=float(rng.choice([0.5, 0.3])),
                                     min_speech_duration_ms=int(rng.choice([0, 250])),
                                     max_speech_duration_s=float(rng.choice([np.inf, 1.5, 3.0])),
                                     min_silence_duration_ms=int(rng.choice([0, 100, 2000])),
                                     speech_pad_ms=int(rng.choice([0, 30, 400])))))
    try:
        for case, (probs, n, options) in enumerate(cases):
            fv.get_vad_model = lambda probs=probs: (lambda padded: probs)
            want = fv.get_speech_timestamps(np.zeros(n, np.float32), fv.VadOptions(**options))
            assert qattn.speech_spans(probs, n, **options) == want, (case, options)
    finally:
        fv.get_vad_model = real_model


def test_stream_equals_whole(vad, audio):
    """Fed in pieces of any size: the probabilities of the whole audio, chunk for chunk (but
    the last, which the whole pads and zeroes), up to the order of the sums (the whole audio's
    chunks go through OpenBLAS 256 at a time, a stream's one at a time)."""
    x = audio["mfa-spontaneous/acoustic_corpus.wav"][:16000 * 5]
    stream, got = qattn.VADStream(vad), []
    i, sizes = 0, [1, 100, 511, 512, 513, 4000, 7]
    while i < len(x):
        n = sizes[len(got) % len(sizes)]
        got.append(stream.feed(x[i:i + n]))
        i += n
    got = np.concatenate(got)
    whole = vad.probabilities(x)
    assert len(got) == len(x) // 512
    print("stream against whole: max |difference|", np.abs(got - whole[:len(got)]).max())
    np.testing.assert_allclose(got, whole[:len(got)], rtol=0, atol=1e-5)


def test_bad_model_files(tmp_path):
    with pytest.raises(qattn.QattnFileNotFoundError):
        qattn.VAD(str(tmp_path / "missing.onnx"))
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x01junk that is no protobuf \xff\xff\xff")
    with pytest.raises(qattn.QattnValueError, match="ONNX"):
        qattn.VAD(str(tmp_path / "junk.onnx"))
    # every initializer as the network needs it but one: each fault named
    for name, bad, words in (("onnx::LSTM_210", (1, 512, 127), "onnx::LSTM_210"),
                             ("encoder.conv_layers.2.bias", None, "no initializer 'encoder.conv_layers.2.bias'"),
                             ("decoder.conv1d.bias", "nan", "not finite")):
        tensors = []
        for n, shape in SILERO.items():
            if n == name and bad is None:
                continue
            if n == name and bad == "nan":
                tensors.append(tensor(n, shape, [float("nan")] * int(np.prod(shape))))
            else:
                tensors.append(tensor(n, bad if n == name else shape))
        path = tmp_path / f"bad_{len(words)}.onnx"
        path.write_bytes(model(tensors))
        with pytest.raises(qattn.QattnValueError, match=words.replace("(", r"\(")):
            qattn.VAD(str(path))
    # the same initializers, all there and well shaped: loads (weights of zeros: p = sigmoid(b))
    path = tmp_path / "zeros.onnx"
    path.write_bytes(model([tensor(n, s, raw=n != "decoder.conv1d.bias") for n, s in SILERO.items()]))
    assert np.allclose(qattn.VAD(str(path)).probabilities(np.ones(1000, np.float32)), 0.5)


def test_cli_prints_the_spans(vad, tmp_path):
    """`qattn vad FILE` prints the API's spans in seconds (3 decimals), --json faster-whisper's
    dicts; the VadOptions are its flags; a missing file is one line and status 1."""
    import json
    import subprocess
    from conftest import BUILD
    path = os.path.join(SPEECH, "mfa-spontaneous", "acoustic_corpus.wav")
    options = dict(min_silence_duration_ms=160, max_speech_duration_s=30)
    want = vad.speech_timestamps(qattn.load_audio(path), **options)
    flags = ["--min-silence-duration-ms", "160", "--max-speech-duration-s", "30"]
    r = subprocess.run([os.path.join(BUILD, "qattn"), "vad", *flags, path], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"{s['start'] / 16000:.3f} {s['end'] / 16000:.3f}" for s in want]
    r = subprocess.run([os.path.join(BUILD, "qattn"), "vad", "--json", *flags, path], capture_output=True, text=True)
    assert json.loads(r.stdout) == [{"file": path, "speech_timestamps": want}] and len(want) > 3
    r = subprocess.run([os.path.join(BUILD, "qattn"), "vad", str(tmp_path / "none.wav")], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "none.wav" in r.stderr


@peers
def test_vad_filter_transcribes_as_faster_whisper():
    """vad_filter: a person speaking between long silences, transcribed as faster-whisper
    float32 transcribes it with vad_filter=True (its VadOptions defaults and a shorter
    min_silence_duration_ms): the same segments, times mapped back to the audio's to the
    10 ms, the same duration_after_vad; silence alone gives no segment."""
    from trained import model_dir
    from faster_whisper import WhisperModel
    d = model_dir("tiny.en")
    a = qattn.load_audio(os.path.join(SPEECH, "mfa-spontaneous", "acoustic_corpus.wav"))
    b = qattn.load_audio(os.path.join(SPEECH, "mfa-clips", "mfa_er.flac"))
    gap = lambda s: np.zeros(int(16000 * s), np.float32)  # noqa: E731
    x = np.concatenate([gap(4), a[:16000 * 10], gap(6), b, gap(3)])
    ours_model = qattn.Whisper(d, precision="f32", threads=2)
    fw = WhisperModel(d, device="cpu", compute_type="float32", cpu_threads=2)
    for options in ({}, dict(min_silence_duration_ms=500, speech_pad_ms=200)):
        ours, info = ours_model.transcribe(x, vad_filter=True, vad_parameters=options)
        ours = list(ours)
        theirs, their_info = fw.transcribe(x, vad_filter=True, vad_parameters=options)
        theirs = list(theirs)
        assert [(s.text, s.start, s.end) for s in ours] == [(s.text, s.start, s.end) for s in theirs], options
        assert len(ours) >= 3 and ours[0].start >= 3.5  # the first 4 s are silence, left out
        assert info.duration_after_vad == pytest.approx(their_info.duration_after_vad, abs=1e-9)
        assert info.duration == pytest.approx(len(x) / 16000) and info.duration_after_vad < info.duration
    silent, info = ours_model.transcribe(gap(8), vad_filter=True)
    assert list(silent) == [] and info.duration_after_vad == 0
