"""What Whisper does over silence, music and noise, and the options against it: speech with
long pauses, pure silence, sox-synthesized chords and noise, each transcribed plain, with
vad_filter, with word_timestamps + hallucination_silence_threshold and with both, equal to
faster-whisper float32 under the same options; and the speech around the pauses kept.
Temperature 0 only: above it both sample, with different generators."""
import os
import subprocess

import numpy as np
import pytest

import qattn
from qattn.wer import score

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPEECH = os.path.join(ROOT, "tests", "data", "speech")
# plain transcription is held to faster-whisper by test_transcribe.py already
OPTIONS = [{"vad_filter": True},
           {"word_timestamps": True, "hallucination_silence_threshold": 2.0},
           {"vad_filter": True, "word_timestamps": True, "hallucination_silence_threshold": 2.0}]
IDS = ["vad", "hallucination", "vad+hallucination"]
_RUNS = {}


def reference(name):
    with open(os.path.join(SPEECH, "manifest.tsv")) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if cols[0] == name:
                return cols[5]
    raise KeyError(name)


def sox(*effect, seconds=20):
    """seconds of sox synth output at 16 kHz mono as float32."""
    out = subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer",
                          "-t", "raw", "-", "synth", str(seconds), *effect], check=True,
                         capture_output=True).stdout
    return np.frombuffer(out, "<i2").astype(np.float32) / 32768


@pytest.fixture(scope="module")
def inputs():
    a = qattn.load_audio(os.path.join(SPEECH, "mfa-spontaneous", "acoustic_corpus.wav"))
    b = qattn.load_audio(os.path.join(SPEECH, "mfa-clips", "mfa_er.flac"))
    gap = lambda s: np.zeros(int(16000 * s), np.float32)  # noqa: E731
    chords = np.concatenate([sox("sine", "261.63", "sine", "329.63", "sine", "392", "vol", "0.3", seconds=10),
                             sox("sine", "220", "sine", "277.18", "sine", "329.63", "vol", "0.3", seconds=10)])
    noise = sox("pinknoise", "vol", "0.2", seconds=10)
    return {
        "pauses": np.concatenate([a[:16000 * 10], gap(6), b, gap(6), a[16000 * 10:16000 * 20]]),
        "silence": gap(20),
        "chords": np.concatenate([chords[:16000 * 10], b, chords[16000 * 10:]]),
        "noise": np.concatenate([noise, b, noise]),
    }


@pytest.fixture(scope="module")
def ours():
    from trained import model_dir
    return qattn.Whisper(model_dir("tiny.en"), precision="f32", threads=2)


@pytest.fixture(scope="module")
def models(ours):
    from trained import model_dir
    from faster_whisper import WhisperModel
    d = model_dir("tiny.en")
    return ours, WhisperModel(d, device="cpu", compute_type="float32", cpu_threads=2)


def segments(model, x, options, name=None):
    """(text, start, end, words) of each segment at temperature 0; runs with a name are kept
    for the module's other tests."""
    key = (id(model), name, repr(sorted(options.items())))
    if name is not None and key in _RUNS:
        return _RUNS[key]
    out = list(model.transcribe(x, language="en", temperature=0.0, **options)[0])
    _RUNS[key] = [(s.text, round(s.start, 6), round(s.end, 6),
                   None if s.words is None else [(w.word, round(w.start, 6), round(w.end, 6))
                                                 for w in s.words])
                  for s in out]
    return _RUNS[key]


# every input with vad_filter and with the threshold; both at once on the pauses only (the
# other inputs hold no speech for the VAD to keep apart: a minute of tests saved)
CASES = [(name, o, f"{i}-{name}") for name in ("pauses", "silence", "chords", "noise")
         for o, i in zip(OPTIONS, IDS) if i != "vad+hallucination" or name == "pauses"]


@pytest.mark.peers
@pytest.mark.parametrize("name,options", [c[:2] for c in CASES], ids=[c[2] for c in CASES])
def test_equal_to_faster_whisper(models, inputs, name, options):
    ours, fw = models
    theirs = segments(fw, inputs[name], options, name)
    mine = segments(ours, inputs[name], options, name)
    print(name, options, "faster-whisper:", [t[0] for t in theirs])
    assert mine == theirs


@pytest.mark.peers
def test_threshold_changes_the_output(ours, inputs):
    """The threshold acts on these inputs (or the equalities above would not test it): on
    the chords it drops a segment in silence and decoding goes on from after it. (Marked with
    the peers: a whole minute of transcription under the sanitizers would be too long.)"""
    x = inputs["chords"]
    plain = segments(ours, x, {"word_timestamps": True})
    dropped = segments(ours, x, {"word_timestamps": True, "hallucination_silence_threshold": 2.0}, "chords")
    print("without:", [s[0] for s in plain], "with:", [s[0] for s in dropped])
    assert dropped != plain


@pytest.mark.peers
@pytest.mark.parametrize("options", OPTIONS[1:], ids=IDS[1:])
def test_speech_around_pauses_kept(models, inputs, options):
    """WER of the speech with 8 s and 10 s pauses in it no worse than of the same speech
    without them (the options must not cut words)."""
    ours, _ = models
    a = qattn.load_audio(os.path.join(SPEECH, "mfa-spontaneous", "acoustic_corpus.wav"))
    b = qattn.load_audio(os.path.join(SPEECH, "mfa-clips", "mfa_er.flac"))
    # the first 20 s of the monologue with the clip inside: the reference is the monologue's
    # whole text and the clip's, so both sides miss the same words past 20 s
    ref = " ".join([reference("mfa-spontaneous/acoustic_corpus.wav"), reference("mfa-clips/mfa_er.flac")])
    text = lambda x, name=None: "".join(s[0] for s in segments(ours, x, options, name))  # noqa: E731
    joined = np.concatenate([a[:16000 * 10], b, a[16000 * 10:16000 * 20]])
    with_pauses = score(ref, text(inputs["pauses"], "pauses"))
    without = score(ref, text(joined))
    print(options, "WER with pauses", with_pauses.wer, "without", without.wer)
    assert with_pauses.wer <= without.wer + 1e-9


def test_threshold_is_checked(ours):
    """A negative or absurd threshold is a ValueError naming it; None is off."""
    x = np.zeros(16000, np.float32)
    for bad in (-1.0, 1e9, float("inf")):
        with pytest.raises(ValueError, match="hallucination_silence_threshold"):
            ours.transcribe(x, word_timestamps=True, hallucination_silence_threshold=bad)
    assert list(ours.transcribe(x, word_timestamps=True, hallucination_silence_threshold=None)[0]) == []
