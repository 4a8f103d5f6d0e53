"""faster-whisper's remaining transcribe options, each against faster-whisper 1.2.1 float32
with the same setting at temperature 0: repetition_penalty, no_repeat_ngram_size and
clip_timestamps on a recorded monologue (tiny.en); the language detection
(language_detection_segments, language_detection_threshold, all_language_probs, from the
first clip's start) and multilingual on German then Spanish speech (base, espeak-ng). Each
option must also change the output, or the equality would not test it."""
import os
import subprocess

import numpy as np
import pytest

import qattn

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPEECH = os.path.join(ROOT, "tests", "data", "speech")
GERMAN = ("Guten Morgen. Heute sprechen wir über das Wetter in Berlin und die Züge, die wieder "
          "einmal zu spät kommen. Der Zug nach München fährt um acht Uhr ab, aber niemand weiß, "
          "wann er ankommt.")
SPANISH = ("Buenos días. Hoy hablamos del tiempo en Madrid y de los trenes que llegan tarde otra "
           "vez. El tren a Barcelona sale a las ocho, pero nadie sabe cuándo llega.")


def ours(name):
    from trained import model_dir
    return qattn.Whisper(model_dir(name), precision="f32", threads=2)


def faster_whisper(name):
    from trained import model_dir
    from faster_whisper import WhisperModel
    return WhisperModel(model_dir(name), device="cpu", compute_type="float32", cpu_threads=2)


def run(model, x, **options):
    """(text, start, end) of each segment at temperature 0, and the info."""
    segments, info = model.transcribe(x, temperature=0.0, **options)
    return [(s.text, round(s.start, 3), round(s.end, 3)) for s in segments], info


@pytest.fixture(scope="module")
def monologue():
    return qattn.load_audio(os.path.join(SPEECH, "mfa-spontaneous", "acoustic_corpus.wav"))


@pytest.fixture(scope="module")
def two_languages(tmp_path_factory):
    """German in the first 30 s window (then silence), Spanish in the second."""
    parts = []
    for voice, text in (("de", GERMAN), ("es", SPANISH)):
        path = str(tmp_path_factory.mktemp("espeak") / f"{voice}.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-w", path, text], check=True)
        parts.append(qattn.load_audio(path))
    assert len(parts[0]) < 16000 * 30
    return np.concatenate([parts[0], np.zeros(16000 * 30 - len(parts[0]), np.float32), parts[1]])


@pytest.fixture(scope="module")
def tiny_ours():
    return ours("tiny.en")


@pytest.fixture(scope="module")
def tiny(tiny_ours):
    return tiny_ours, faster_whisper("tiny.en")


@pytest.fixture(scope="module")
def base():
    return ours("base"), faster_whisper("base")


@pytest.mark.peers
@pytest.mark.parametrize("options", [dict(repetition_penalty=1.3), dict(no_repeat_ngram_size=3),
                                     dict(no_repeat_ngram_size=1, beam_size=1),
                                     dict(clip_timestamps=[20, 24.5, 2, 10]),
                                     dict(clip_timestamps="5,12,17.25")],
                         ids=["repetition_penalty", "no_repeat_ngram", "no_repeat_1_greedy",
                              "clips_back", "clips_open_end"])
def test_decoding_option_equals_faster_whisper(tiny, monologue, options, _plain={}):
    ours, fw = tiny
    beam = options.get("beam_size", 5)
    if beam not in _plain:  # the output without the option, once per beam size
        _plain[beam] = run(ours, monologue, language="en", beam_size=beam)[0]
    plain = _plain[beam]
    mine, _ = run(ours, monologue, language="en", **options)
    theirs, _ = run(fw, monologue, language="en", **options)
    print(options, "faster-whisper:", theirs)
    assert mine == theirs
    assert mine != plain


def probabilities_close(mine, theirs):
    """Every language's probability within 1e-4 (the order of near-equal ones may differ)."""
    assert mine is not None and len(mine) == len(theirs)
    ours = dict(mine)
    assert max(abs(ours[code] - p) for code, p in theirs) < 1e-4
    assert [code for code, _ in mine[:3]] == [code for code, _ in theirs[:3]]


@pytest.mark.peers
def test_language_detection_equals_faster_whisper(base, two_languages):
    """The first window decides (German); past a threshold no window reaches, the first of
    equally voted languages with its own probability, but every language's probabilities from
    the last window (Spanish), as faster-whisper; from the first clip's start (Spanish). Short
    clips: only the detection is compared, the decoding is the other tests'."""
    ours, fw = base
    cases = [dict(clip_timestamps=[0, 1]),
             dict(clip_timestamps=[0, 1], language_detection_segments=2,
                  language_detection_threshold=0.999),
             dict(clip_timestamps=[30, 31])]
    found = []
    for options in cases:
        _, mine = run(ours, two_languages, **options)
        _, theirs = run(fw, two_languages, **options)
        print(options, "faster-whisper:", theirs.language, theirs.language_probability,
              theirs.all_language_probs[:3])
        assert mine.language == theirs.language
        assert abs(mine.language_probability - theirs.language_probability) < 1e-4
        probabilities_close(mine.all_language_probs, theirs.all_language_probs)
        found.append((mine.language, mine.all_language_probs[0][0]))
    assert found == [("de", "de"), ("de", "es"), ("es", "es")]


@pytest.mark.peers
def test_multilingual_equals_faster_whisper(base, two_languages):
    """Each window in its own language: the text as faster-whisper's, and the segments say
    which (German first, Spanish last)."""
    ours, fw = base
    segments, info = ours.transcribe(two_languages, temperature=0.0, multilingual=True)
    segments = list(segments)
    mine = [(s.text, round(s.start, 3), round(s.end, 3)) for s in segments]
    theirs, _ = run(fw, two_languages, multilingual=True)
    print("faster-whisper:", theirs)
    assert mine == theirs
    assert info.language == "de" and segments[0].language == "de" and segments[-1].language == "es"


def test_options_are_checked(tiny_ours):
    """Impossible values are errors naming the option; on an English-only model multilingual
    changes nothing and every segment is in English."""
    ours = tiny_ours
    x = np.zeros(16000, np.float32)
    for bad in (dict(repetition_penalty=0.0), dict(repetition_penalty=float("nan")),
                dict(no_repeat_ngram_size=-1), dict(language_detection_segments=0),
                dict(language_detection_threshold=1.5), dict(clip_timestamps=[-1.0, 2.0]),
                dict(clip_timestamps=[float("inf")])):
        name = next(iter(bad))
        with pytest.raises(ValueError, match=name):
            ours.transcribe(x, **bad)
    with pytest.raises(ValueError, match="clip_timestamps"):
        ours.transcribe(x, clip_timestamps="1,two")
    with pytest.raises(TypeError, match="clip_timestamps"):
        ours.transcribe(x, clip_timestamps=[{"start": 0, "end": 1}])
    a = qattn.load_audio(os.path.join(SPEECH, "mfa-clips", "mfa_er.flac"))
    segments = list(ours.transcribe(a, multilingual=True, beam_size=1)[0])
    assert segments and all(s.language == "en" for s in segments)
