"""Word error rate on recorded human speech (issue 26), against faster-whisper run in the same
test on the same files: qattn f32 transcribes as faster-whisper float32 does, qattn int8 makes
no more errors than faster-whisper int8 and drifts from its own float no further than
faster-whisper's int8 drifts from its float, and an 8 kHz digit run goes through qattn's
resampler as well as through faster-whisper's.

A bounded subset of tests/data/speech (every STRIDE-th file of a group, chosen before any
result was seen), tiny.en, 2 threads; the whole set is a benchmark (tools/accuracy/wer_peers.py).
The scoring itself (qattn.wer) is checked first on hand-counted alignments."""
import os

import pytest

from trained import model_dir
from qattn import wer

SET = os.path.join(os.path.dirname(__file__), "..", "data", "speech")
# every STRIDE-th file of each group: 8 transcribed clips (0.9 min), 2 digit runs of two
# speakers at 8 kHz (0.6 min), 4 LibriSpeech files (0.8 min)
STRIDE = {"transcribed": 7, "digits": 31, "untranscribed": 32}
peers = pytest.mark.peers


# ---------------------------------------------------------------- the scoring, by hand

def test_score_counts_substitutions_deletions_insertions():
    s = wer.score("the cat sat on the mat", "the bat sat on the mat today")
    assert (s.words, s.substitutions, s.deletions, s.insertions) == (6, 1, 0, 1)
    s = wer.score("red green blue", "red blue")
    assert (s.words, s.substitutions, s.deletions, s.insertions) == (3, 0, 1, 0)
    assert wer.score("", "noise").insertions == 1 and wer.score("a b", "").deletions == 2


def test_normalizer_makes_spelling_and_punctuation_not_count():
    # Whisper's English normalizer: case, punctuation, British spellings, spoken numbers
    assert wer.score("Hello, world! The colour is grey.", "hello world the color is gray").errors == 0
    assert wer.score("I have twenty five apples", "I have 25 apples.").errors == 0
    assert wer.score("Hello world", "Hello word").errors == 1


def test_digit_runs_count_every_digit():
    # Whisper writes a run as "7, 3, 1" or "731" or in words; each digit is one word
    assert wer.digit_sequence("Seven, 31 oh. Nine!") == "7 3 1 0 9"
    s = wer.score("seven three one", "7, 3, 1.", digits=True)
    assert (s.words, s.errors) == (3, 0)
    s = wer.score("seven three one", "731 8", digits=True)
    assert (s.words, s.insertions) == (3, 1)
    s = wer.score("seven three one", "seventy-three one", digits=True)  # "seventy" is no digit
    assert (s.deletions, s.errors) == (1, 1)  # 7 deleted


def test_set_is_whole_and_long_form_keeps_the_words(tmp_path):
    items = wer.load_set(SET)
    groups = {g: [i for i in items if i.group == g] for g in wer.GROUPS}
    assert {g: len(v) for g, v in groups.items()} == {"transcribed": 55, "digits": 60, "untranscribed": 126}
    assert all(os.path.exists(i.path) for i in items)
    assert all(i.transcript for i in groups["transcribed"] + groups["digits"])
    assert all(len(wer.digit_sequence(i.transcript).split()) == 25 for i in groups["digits"])
    every = wer.load_set(SET, ["digits"], every=31)  # the 1st and the 32nd
    assert [i.name for i in every] == [groups["digits"][0].name, groups["digits"][31].name]
    digits = [i for i in groups["digits"] if i.speaker == groups["digits"][0].speaker][:2]
    joined = wer.long_form(digits, str(tmp_path))
    assert len(joined) == 1
    assert joined[0].transcript.split() == (digits[0].transcript + " " + digits[1].transcript).split()
    assert abs(joined[0].duration - sum(i.duration for i in digits) - 1.0) < 0.01  # one 1 s pause


# ---------------------------------------------------------------- against faster-whisper

def subset():
    return [i for g, step in STRIDE.items() for i in wer.load_set(SET, [g], every=step)]


@pytest.fixture(scope="module")
def results():
    d = model_dir("tiny.en")
    try:
        import faster_whisper  # noqa: F401
    except ImportError:
        pytest.fail("faster-whisper is not importable: run the suite with the test venv's python "
                    "(tests/models/fetch.py; ./dev test does)")
    items = subset()
    # "own": each engine given the file; "same": the f32 engines given the same samples of the
    # 8 kHz digit runs, so that their comparison is of the models and the decoding, not of two
    # resamplers (the other files are 16 kHz: both engines read the same samples from them)
    digits = [i for i in items if i.group == "digits"]
    audio = wer.same_input(digits)
    out = {"items": items, "own": {}, "same": {}}
    for name in ("qattn-f32", "qattn-int8", "faster-whisper-float32", "faster-whisper-int8"):
        engine = wer.make_engine(name, d, threads=2)
        out["own"][name] = wer.run(engine, items)
        if name in ("qattn-f32", "faster-whisper-float32"):
            out["same"][name] = dict(out["own"][name], **wer.run(engine, digits, audio=audio))
    return out


def of(results, group):
    return [i for i in results["items"] if i.group == group]


@peers
def test_f32_equals_faster_whisper_float32_on_real_speech(results):
    items, same = results["items"], results["same"]
    differ = wer.identical_share(items, same["qattn-f32"], same["faster-whisper-float32"])
    shown = [(n, same["faster-whisper-float32"][n]["text"], same["qattn-f32"][n]["text"]) for n in differ]
    # one may differ: a near-tie in the beam, or a temperature fallback, where the two sample
    # from different random generators
    assert len(differ) <= 1, f"{len(differ)} of {len(items)} files differ: {shown}"


@peers
@pytest.mark.parametrize("group", ["transcribed", "digits"])
def test_int8_makes_no_more_errors_than_faster_whisper_int8(results, group):
    own = results["own"]
    ours = wer.wer_of(of(results, group), own["qattn-int8"])
    theirs = wer.wer_of(of(results, group), own["faster-whisper-int8"])
    assert ours.wer <= theirs.wer + 0.01, (ours, theirs)


@peers
def test_int8_drifts_from_float_no_more_than_faster_whisper(results):
    items, own = of(results, "untranscribed"), results["own"]
    ours = wer.wer_of(items, own["qattn-int8"], own["qattn-f32"])
    theirs = wer.wer_of(items, own["faster-whisper-int8"], own["faster-whisper-float32"])
    one_word = 1 / ours.words
    assert ours.wer <= max(theirs.wer, 0.01) + one_word, (ours, theirs)


@peers
def test_8khz_digit_run_through_the_resampler(results):
    # the FLAC files are 8 kHz: qattn reads them with libsndfile and resamples with libsoxr,
    # faster-whisper with PyAV; each is given the file
    runs, own = of(results, "digits"), results["own"]
    assert runs and all(r.path.endswith(".flac") for r in runs)
    for precision, peer in (("f32", "float32"), ("int8", "int8")):
        ours = wer.wer_of(runs, own[f"qattn-{precision}"])
        theirs = wer.wer_of(runs, own[f"faster-whisper-{peer}"])
        assert ours.errors <= theirs.errors + 1 and ours.wer <= 0.1, (precision, ours, theirs)


@peers
def test_whisper_cpp_files_do_not_share_a_prompt(tmp_path):
    """The whisper.cpp engine transcribes a digit run after a spoken clip as it does alone: a
    whisper.cpp state keeps its last text as the next call's prompt, which once turned the
    digit runs of the README's whisper.cpp columns into the previous file's words."""
    from converted import write_ggml
    from whisper_files import GGML_Q8_0
    import qattn
    path = str(tmp_path / "tiny.en-q8_0.bin")
    write_ggml(model_dir("tiny.en"), path, GGML_Q8_0, qattn.mel_filters)
    items = wer.load_set(SET)
    spoken = next(i for i in items if i.group == "transcribed")
    digits = next(i for i in items if i.group == "digits")
    engine = wer.make_engine("whisper.cpp-q8_0", model_dir("tiny.en"), 2, {"q8_0": path})
    engine.transcribe(spoken.path)
    after = engine.transcribe(digits.path)
    alone = wer.make_engine("whisper.cpp-q8_0", model_dir("tiny.en"), 2, {"q8_0": path}).transcribe(digits.path)
    assert after == alone and sum(c.isdigit() for c in alone) >= 20, (after, alone)
