"""Word error rate on recorded speech, engines side by side.

Scoring follows the Whisper paper's protocol (Radford et al. 2022, appendix C): reference and
hypothesis both pass Whisper's English text normalizer (PyPI whisper-normalizer, the same
EnglishTextNormalizer as openai-whisper's), and jiwer counts substitutions, deletions and
insertions over the words. A set's WER is the sum of its files' errors over the sum of their
reference words (not a mean of per-file rates). Digit runs are scored on their digit sequence:
every digit, written ("7") or spoken ("seven", "oh"), one word, since Whisper writes a run as
"7, 3, 1" or "731" at will and the normalizer maps the two differently.

The drift of an engine is the WER of its int8 transcript against its own float transcript.

Engines (each given the file, so each decodes and resamples it its own way: qattn with
libsndfile + libsoxr, faster-whisper with PyAV; whisper.cpp takes qattn's 16 kHz samples):
  qattn-f32, qattn-int8            qattn.Whisper, faster-whisper's decoding defaults
  faster-whisper-float32, -int8    faster_whisper.WhisperModel on the same CTranslate2 directory
  whisper.cpp-f16, -q8_0           pywhispercpp on ggml files written from the same weights
  qattn-int8-batched,              each BatchedInferencePipeline with its defaults (VAD chunks,
  faster-whisper-int8-batched      no timestamps, no previous text), batch_size 8
  qattn-int8-batched-timestamps    qattn's pipeline with timestamps (a chunk's unfinished last
                                   segment decoded again, as the sequential path does)
  qattn-int8-vad                   qattn-int8 on the speech the pipelines keep (vad_filter with
                                   their VAD options: 160 ms of silence, 30 s of speech)
All with language "en", beam 5, temperature fallback 0.0 (+0.2) ... 1.0, previous-text prompt
on. faster-whisper and qattn fall back on compression ratio > 2.4 or average log-probability
< -1; whisper.cpp's fallback is entropy-based (entropy_thold 2.4, logprob_thold -1.0, as its
defaults), the nearest it offers.

The CLI (python -m qattn.wer --help) runs a set (a manifest.tsv as tests/data/speech has),
short files and the long-form recordings built from them, and prints the tables; outputs can
be cached (--cache), keyed by engine, engine version (qattn's: the sha256 of the library it
loaded), model sha256, file sha256 and options.
"""
import argparse
import csv
import hashlib
import json
import os
import re
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

DIGIT_WORDS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
               "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
FLOAT_OF = {"qattn-int8": "qattn-f32", "faster-whisper-int8": "faster-whisper-float32",
            "whisper.cpp-q8_0": "whisper.cpp-f16"}
ENGINES = ("qattn-f32", "qattn-int8", "faster-whisper-float32", "faster-whisper-int8",
           "whisper.cpp-f16", "whisper.cpp-q8_0", "qattn-int8-batched", "faster-whisper-int8-batched",
           "qattn-int8-vad", "qattn-int8-batched-timestamps")
# the batched engines: each BatchedInferencePipeline with its defaults (VAD chunks, no
# timestamps), batch_size 8
BATCH_SIZE = 8
GROUPS = ("transcribed", "digits", "untranscribed")
# a group of long-form recordings given beside the set (--long-manifest), e.g. wer_peers.py's
# 2.4-minute espeak-ng recording
EXTRA_GROUPS = ("synthetic",)
OPTIONS = {"language": "en", "beam_size": 5, "temperature": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
           "condition_on_previous_text": True}


# ---------------------------------------------------------------- scoring

_normalizer = None


def normalize(text: str) -> str:
    """Whisper's English normalization (lower case, no punctuation or fillers, numbers and
    spellings standardized)."""
    global _normalizer
    if _normalizer is None:
        from whisper_normalizer.english import EnglishTextNormalizer
        _normalizer = EnglishTextNormalizer()
    return _normalizer(text)


def digit_sequence(text: str) -> str:
    """The digits a text says, one word each: "Seven, 31 oh." -> "7 3 1 0"."""
    out = []
    for word in re.findall(r"[a-z]+|\d", text.lower()):
        if word.isdigit():
            out.append(word)
        elif word in DIGIT_WORDS:
            out.append(DIGIT_WORDS[word])
    return " ".join(out)


def words_of(text: str, digits: bool = False) -> str:
    return digit_sequence(text) if digits else normalize(text)


@dataclass
class Score:
    words: int = 0  # reference words
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    files: int = 0
    seconds: float = 0.0  # audio
    compute: float = 0.0  # engine's wall time

    @property
    def errors(self):
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self):
        return self.errors / self.words if self.words else (0.0 if not self.errors else float("inf"))

    @property
    def rtf(self):
        return self.compute / self.seconds if self.seconds else float("nan")

    def add(self, other: "Score"):
        for f in ("words", "substitutions", "deletions", "insertions", "files", "seconds", "compute"):
            setattr(self, f, getattr(self, f) + getattr(other, f))
        return self


def score(reference: str, hypothesis: str, digits: bool = False) -> Score:
    """The errors of one hypothesis against one reference, both normalized here."""
    import jiwer
    ref, hyp = words_of(reference, digits), words_of(hypothesis, digits)
    if not ref.split():
        return Score(insertions=len(hyp.split()), files=1)
    if not hyp.split():
        return Score(words=len(ref.split()), deletions=len(ref.split()), files=1)
    o = jiwer.process_words(ref, hyp)
    return Score(words=o.hits + o.substitutions + o.deletions, substitutions=o.substitutions,
                 deletions=o.deletions, insertions=o.insertions, files=1)


# ---------------------------------------------------------------- the set

@dataclass
class Item:
    name: str  # path relative to the set, or long:<name>
    path: str
    group: str
    transcript: str
    duration: float
    speaker: str = ""

    @property
    def digits(self):
        return self.group == "digits"


def load_set(root: str, groups: Sequence[str] = GROUPS, limit: Optional[int] = None,
             manifest: str = "manifest.tsv", every: int = 1) -> List[Item]:
    """The items of root/manifest in the given groups: every `every`-th file of a group, at
    most limit of each."""
    with open(os.path.join(root, manifest), newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    items, count, seen = [], {}, {}
    for r in rows:
        if r["group"] not in groups:
            continue
        seen[r["group"]] = seen.get(r["group"], 0) + 1
        if (seen[r["group"]] - 1) % every or (limit is not None and count.get(r["group"], 0) >= limit):
            continue
        count[r["group"]] = count.get(r["group"], 0) + 1
        items.append(Item(r["path"], os.path.join(root, r["path"]), r["group"], r["transcript"],
                          float(r["duration_s"]), r["speaker"]))
    return items


def _read_pcm(path):
    """(rate, int16 samples) of a 16-bit mono file at its own rate: WAV by the wave module,
    anything else (FLAC) by sox (qattn.load_audio would resample to 16 kHz)."""
    if path.endswith(".wav"):
        with wave.open(path) as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise ValueError(f"{path}: expected 16-bit mono")
            return w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2")
    import subprocess
    rate = int(subprocess.run(["soxi", "-r", path], check=True, capture_output=True, text=True).stdout)
    raw = subprocess.run(["sox", path, "-t", "raw", "-e", "signed", "-b", "16", "-c", "1", "-"],
                         check=True, capture_output=True).stdout
    return rate, np.frombuffer(raw, "<i2")


def join_long(items: Sequence[Item], name: str, directory: str, pause_s: float = 1.0) -> Item:
    """One recording of items joined in order with pause_s of silence between, written as a
    WAV at their common rate (the digits stay 8 kHz), its reference the references joined."""
    parts, rate = [], None
    for it in items:
        r, pcm = _read_pcm(it.path)
        if rate is not None and r != rate:
            raise ValueError(f"{it.name}: {r} Hz among {rate} Hz files")
        rate = r
        if parts:
            parts.append(np.zeros(round(pause_s * rate), np.int16))
        parts.append(pcm)
    audio = np.concatenate(parts)
    path = os.path.join(directory, re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".wav")
    with wave.open(path, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes(audio.tobytes())
    return Item("long:" + name, path, items[0].group, " ".join(it.transcript for it in items).strip(),
                len(audio) / rate, items[0].speaker)


def long_form(items: Sequence[Item], directory: str, minutes: float = 5.0) -> List[Item]:
    """The long-form recordings of a set: the transcribed non-digit files (MFA monologue and
    clips, pocketsphinx) joined into recordings of about `minutes`, each speaker's digit runs
    joined, and the untranscribed files joined into recordings of about `minutes`."""
    out = []
    for group in GROUPS:
        members = [it for it in items if it.group == group]
        if group == "digits":
            chunks = {}
            for it in members:
                chunks.setdefault(it.speaker, []).append(it)
            batches = [(f"digits-{s}", c) for s, c in sorted(chunks.items())]
        else:
            batches, current, total = [], [], 0.0
            for it in members:
                current.append(it)
                total += it.duration
                if total >= minutes * 60:
                    batches.append((f"{group}-{len(batches)}", current))
                    current, total = [], 0.0
            if current:
                batches.append((f"{group}-{len(batches)}", current))
        out += [join_long(b, n, directory) for n, b in batches if b]
    return out


# ---------------------------------------------------------------- engines

@dataclass
class Engine:
    name: str
    version: str
    model_sha256: str
    transcribe: Callable  # a path, or float32 samples at 16 kHz -> the text
    options: Dict = field(default_factory=dict)


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _model_sha(model_dir):
    path = model_dir if os.path.isfile(model_dir) else os.path.join(model_dir, "model.bin")
    return file_sha256(path) if os.path.exists(path) else "?"


def make_engine(name: str, model: str, threads: int = 2, ggml: Optional[Dict[str, str]] = None,
                options: Dict = OPTIONS) -> Engine:
    """An engine by name (ENGINES) on a CTranslate2 directory `model`; whisper.cpp engines take
    their ggml file from ggml[kind]."""
    o = dict(options)
    if name.endswith("-batched-timestamps"):  # qattn's pipeline with timestamps: re-seeks
        o["without_timestamps"] = False
        name = name[:-len("-timestamps")]
    batched = name.endswith("-batched")
    if batched:  # the pipelines take no previous text
        name_of_model = name[:-len("-batched")]
        o.pop("condition_on_previous_text", None)
        o["batch_size"] = BATCH_SIZE
    elif name.endswith("-vad"):  # the sequential path on the speech the pipelines keep
        name_of_model = name[:-len("-vad")]
        o.update(vad_filter=True, vad_parameters=dict(min_silence_duration_ms=160,
                                                      max_speech_duration_s=30))
    else:
        name_of_model = name
    if name.startswith("qattn-"):
        import qattn
        m = qattn.Whisper(model, precision=name_of_model.split("-")[1], threads=threads)
        if batched:
            m = qattn.BatchedInferencePipeline(m)
        # keyed by the library's bytes: its version does not change with the code under work
        version = f"qattn {qattn.__version__} library sha256 {file_sha256(qattn.library_path)}"
        return Engine(name + ("-timestamps" if o.get("without_timestamps") is False else ""),
                      version, _model_sha(model),
                      lambda p: "".join(s.text for s in m.transcribe(p, **o)[0]), o)
    if name.startswith("faster-whisper-"):
        from faster_whisper import BatchedInferencePipeline, WhisperModel
        m = WhisperModel(model, device="cpu", compute_type=name_of_model.rsplit("-", 1)[1],
                         cpu_threads=threads)
        if batched:
            m = BatchedInferencePipeline(m)
        return Engine(name, _version("faster-whisper") + "/ctranslate2 " + _version("ctranslate2"),
                      _model_sha(model), lambda p: "".join(s.text for s in m.transcribe(p, **o)[0]), o)
    if name.startswith("whisper.cpp-"):
        kind = name.split("-", 1)[1]
        if not ggml or kind not in ggml:
            raise ValueError(f"{name}: no ggml file given for {kind}")
        return _whisper_cpp(name, ggml[kind], threads, o)
    raise ValueError(f"unknown engine {name!r}; known: {', '.join(ENGINES)}")


def _version(package):
    from importlib.metadata import version, PackageNotFoundError
    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def _whisper_cpp(name, path, threads, o):
    import qattn
    from pywhispercpp.model import Model
    temps = list(o["temperature"])
    params = dict(n_threads=threads, language=o["language"], print_progress=False,
                  print_realtime=False, print_timestamps=False,
                  beam_search={"beam_size": o["beam_size"], "patience": -1.0},
                  temperature=temps[0], temperature_inc=(temps[1] - temps[0]) if len(temps) > 1 else 0.0,
                  entropy_thold=2.4, logprob_thold=-1.0, no_context=not o["condition_on_previous_text"])
    settings = dict(params, strategy="beam search", flash_attn="library default",
                    state="a new model for each file")

    def transcribe(p):
        # A whisper.cpp state keeps the last text it decoded as the next call's prompt (its
        # prompt_past) unless no_context is set, which would also drop the prompt between
        # the windows of one file: a model of its own for each file, so that no file starts
        # with the previous file's words, as the other engines' transcribe calls do not.
        m = Model(path, params_sampling_strategy=1, redirect_whispercpp_logs_to=None, **params)
        return " ".join(s.text.strip() for s in m.transcribe(
            qattn.load_audio(p) if isinstance(p, str) else p))
    return Engine(name, "pywhispercpp " + _version("pywhispercpp"), file_sha256(path),
                  transcribe, settings)


class Cache:
    """Transcripts keyed by engine, version, model sha256, file sha256 and options, in a JSON
    file (None: no cache)."""

    def __init__(self, path: Optional[str]):
        self.path = path
        self.data = {}
        if path and os.path.exists(path):
            with open(path) as f:
                self.data = json.load(f)

    @staticmethod
    def key(engine: Engine, file_hash: str):
        return hashlib.sha256(json.dumps([engine.name, engine.version, engine.model_sha256, file_hash,
                                          engine.options], sort_keys=True, default=str).encode()).hexdigest()

    def get(self, key):
        return self.data.get(key)

    def put(self, key, value):
        if self.path:
            self.data[key] = value
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.data, f)
            os.replace(tmp, self.path)


def run(engine: Engine, items: Sequence[Item], cache: Optional[Cache] = None,
        progress: Optional[Callable[[str], None]] = None,
        audio: Optional[Dict[str, np.ndarray]] = None) -> Dict[str, dict]:
    """{item name: {"text": ..., "seconds": compute}} of one engine over items. audio: 16 kHz
    samples per item name, given to the engine instead of the file (every engine then hears
    the same samples: same_input)."""
    out = {}
    for it in items:
        if audio is not None:
            source = audio[it.name]
            digest = "samples:" + hashlib.sha256(np.ascontiguousarray(source, np.float32).tobytes()).hexdigest()
        else:
            source, digest = it.path, (file_sha256(it.path) if cache else None)
        key = Cache.key(engine, digest) if cache else None
        hit = cache.get(key) if cache else None
        if hit is None:
            t = time.perf_counter()
            text = engine.transcribe(source)
            hit = {"text": text, "seconds": time.perf_counter() - t}
            if cache:
                cache.put(key, hit)
        out[it.name] = hit
        if progress:
            progress(f"{engine.name} {it.name}: {hit['text'][:60]!r}")
    return out


# ---------------------------------------------------------------- tables

def same_input(items: Sequence[Item]) -> Dict[str, np.ndarray]:
    """Each file decoded and resampled to 16 kHz once, by faster-whisper's decode_audio (PyAV),
    for run(audio=...): engines compared on the same samples, so a difference is one of models
    and decoding, not of resamplers (qattn's libsoxr and PyAV's differ on the 8 kHz digits)."""
    from faster_whisper import decode_audio
    return {it.name: decode_audio(it.path) for it in items}


def wer_of(items: Sequence[Item], texts: Dict[str, dict], against: Optional[Dict[str, dict]] = None) -> Score:
    """The summed score of texts over items: against the references, or against another
    engine's texts (the drift) when `against` is given."""
    total = Score()
    for it in items:
        ref = against[it.name]["text"] if against is not None else it.transcript
        s = score(ref, texts[it.name]["text"], it.digits)
        s.seconds, s.compute = it.duration, texts[it.name]["seconds"]
        total.add(s)
    return total


def identical_share(items: Sequence[Item], a: Dict[str, dict], b: Dict[str, dict]) -> List[str]:
    """The names of the items whose normalized transcripts differ between a and b."""
    return [it.name for it in items
            if words_of(a[it.name]["text"], it.digits) != words_of(b[it.name]["text"], it.digits)]


def tables(items: Sequence[Item], results: Dict[str, Dict[str, dict]], title: str) -> str:
    """Markdown: WER (S/D/I) and RTF per group and engine; the drift of each int8 engine
    against its float; the files where qattn f32 and faster-whisper float32 differ."""
    lines = [f"### {title}", "", "| group | files | words | " + " | ".join(results) + " |",
             "| --- | --- | --- | " + " | ".join("---" for _ in results) + " |"]
    for group in GROUPS + EXTRA_GROUPS:
        members = [it for it in items if it.group == group and it.transcript]
        if not members:
            continue
        cells = []
        for name, texts in results.items():
            s = wer_of(members, texts)
            cells.append(f"{100 * s.wer:.2f}% ({s.substitutions}/{s.deletions}/{s.insertions}) rtf {s.rtf:.3f}")
        lines.append(f"| {group} | {len(members)} | {sum(len(words_of(m.transcript, m.digits).split()) for m in members)} | "
                     + " | ".join(cells) + " |")
    lines += ["", "drift (int8 against the same engine's float, WER with S/D/I):", "",
              "| group | " + " | ".join(k for k in FLOAT_OF if k in results and FLOAT_OF[k] in results) + " |",
              "| --- | " + " | ".join("---" for k in FLOAT_OF if k in results and FLOAT_OF[k] in results) + " |"]
    for group in GROUPS + EXTRA_GROUPS:
        members = [it for it in items if it.group == group]
        if not members:
            continue
        cells = []
        for k, f in FLOAT_OF.items():
            if k in results and f in results:
                s = wer_of(members, results[k], results[f])
                cells.append(f"{100 * s.wer:.2f}% ({s.substitutions}/{s.deletions}/{s.insertions})")
        if cells:
            lines.append(f"| {group} | " + " | ".join(cells) + " |")
    if "qattn-f32" in results and "faster-whisper-float32" in results:
        differ = identical_share(items, results["qattn-f32"], results["faster-whisper-float32"])
        between = wer_of(items, results["qattn-f32"], results["faster-whisper-float32"])
        lines += ["", f"qattn f32 = faster-whisper float32 (normalized): {len(items) - len(differ)} of "
                  f"{len(items)} files; WER between the two {100 * between.wer:.2f}%"]
        for name in differ:
            lines.append(f"- {name}: fw {results['faster-whisper-float32'][name]['text'].strip()!r} / "
                         f"qattn {results['qattn-f32'][name]['text'].strip()!r}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m qattn.wer", description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="a CTranslate2 model directory (faster-whisper's)")
    ap.add_argument("--set", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "speech"),
                    help="a directory with manifest.tsv (default: the repository's tests/data/speech)")
    ap.add_argument("--engines", default="qattn-f32,qattn-int8,faster-whisper-float32,faster-whisper-int8",
                    help=f"comma-separated, of: {', '.join(ENGINES)}")
    ap.add_argument("--ggml-f16", help="whisper.cpp's f16 ggml file of the same model")
    ap.add_argument("--ggml-q8_0", help="whisper.cpp's q8_0 ggml file of the same model")
    ap.add_argument("--groups", default=",".join(GROUPS))
    ap.add_argument("--limit", type=int, help="at most this many files of each group")
    ap.add_argument("--every", type=int, default=1, help="every N-th file of each group")
    ap.add_argument("--form", choices=("short", "long", "both"), default="both")
    ap.add_argument("--long-minutes", type=float, default=5.0)
    ap.add_argument("--long-manifest", help="a manifest.tsv of more long-form recordings (paths "
                    "relative to it), added to the long form as they are")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", help="a JSON file caching every engine's transcripts")
    ap.add_argument("--json", help="write every transcript and score here")
    ap.add_argument("--same-input", action="store_true",
                    help="give every engine the same 16 kHz samples (faster-whisper's decode_audio) "
                         "instead of the file each decodes its own way")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    items = load_set(a.set, a.groups.split(","), a.limit, every=a.every)
    if not items:
        ap.error(f"no files in {a.set} for groups {a.groups}")
    with tempfile.TemporaryDirectory(prefix="qattn-wer-") as work:  # the long-form joins
        _measure(a, items, work)


def _measure(a, items, work):
    forms = {}
    if a.form in ("short", "both"):
        forms["short"] = items
    if a.form in ("long", "both"):
        forms["long"] = long_form(items, work, a.long_minutes)
        if a.long_manifest:
            forms["long"] += load_set(os.path.dirname(os.path.abspath(a.long_manifest)),
                                      GROUPS + EXTRA_GROUPS, manifest=os.path.basename(a.long_manifest))
    ggml = {k: v for k, v in (("f16", a.ggml_f16), ("q8_0", a.ggml_q8_0)) if v}
    cache = Cache(a.cache)
    say = (lambda m: print(m, file=sys.stderr)) if a.verbose else None
    results = {form: {} for form in forms}
    engines_used = []
    audio = {form: same_input(its) for form, its in forms.items()} if a.same_input else {}
    for name in a.engines.split(","):
        engine = make_engine(name, a.model, a.threads, ggml)
        engines_used.append({"engine": engine.name, "version": engine.version, "options": engine.options})
        for form, its in forms.items():
            results[form][name] = run(engine, its, cache, say, audio.get(form))
        del engine
    print(f"model {a.model} (sha256 {_model_sha(a.model)[:12]}), {a.threads} threads, input: "
          + ("the same samples for every engine (PyAV)" if a.same_input else "each engine decodes the file"))
    for e in engines_used:
        print(f"- {e['engine']}: {e['version']}; {json.dumps(e['options'], default=str)}")
    for form, its in forms.items():
        print(tables(its, results[form], f"{form}-form ({len(its)} recordings, "
                     f"{sum(i.duration for i in its) / 60:.1f} min)"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"engines": engines_used, "results": results,
                       "items": {form: [vars(i) for i in its] for form, its in forms.items()}}, f, indent=1, default=str)


if __name__ == "__main__":
    main()
