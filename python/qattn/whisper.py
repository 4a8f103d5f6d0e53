"""Speech to text: qattn.Whisper(path).transcribe(audio) -> (segments, info), shaped like
faster-whisper's WhisperModel.transcribe (the same defaults, segments a lazy generator;
docs/transcribe.md), and qattn.Session for audio that arrives in pieces."""
import ctypes
import math
import weakref
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

from . import _lib, _call, _error, _EncoderParams, _Model, _Sized, _STATUS
from .vad import _options as _vad_options, _samples, _VadOptions, VAD


class _Word(ctypes.Structure):
    _fields_ = [("start", ctypes.c_double), ("end", ctypes.c_double), ("word", ctypes.c_char_p),
                ("probability", ctypes.c_float)]


class _Segment(_Sized):
    _fields_ = [("struct_size", ctypes.c_size_t), ("id", ctypes.c_int32), ("seek", ctypes.c_int32), ("start", ctypes.c_double),
                ("end", ctypes.c_double), ("text", ctypes.c_char_p),
                ("tokens", ctypes.POINTER(ctypes.c_int32)), ("n_tokens", ctypes.c_int32),
                ("temperature", ctypes.c_float), ("avg_logprob", ctypes.c_float),
                ("compression_ratio", ctypes.c_float), ("no_speech_prob", ctypes.c_float),
                ("words", ctypes.POINTER(_Word)), ("n_words", ctypes.c_int32),
                ("language", ctypes.c_char * 16)]


_SEGMENT_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(_Segment), ctypes.c_void_p)
_PROGRESS_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_double, ctypes.c_double, ctypes.c_void_p)


class _Params(_Sized):
    _fields_ = [("struct_size", ctypes.c_size_t), ("language", ctypes.c_char_p), ("task", ctypes.c_int32),
                ("beam_size", ctypes.c_int32), ("best_of", ctypes.c_int32),
                ("patience", ctypes.c_float), ("length_penalty", ctypes.c_float),
                ("temperature", ctypes.c_float), ("temperature_increment", ctypes.c_float),
                ("compression_ratio_threshold", ctypes.c_float),
                ("log_prob_threshold", ctypes.c_float), ("no_speech_threshold", ctypes.c_float),
                ("condition_on_previous_text", ctypes.c_int32),
                ("prompt_reset_on_temperature", ctypes.c_float),
                ("suppress_blank", ctypes.c_int32), ("without_timestamps", ctypes.c_int32),
                ("max_initial_timestamp", ctypes.c_float), ("max_new_tokens", ctypes.c_int32),
                ("seed", ctypes.c_uint64),
                ("on_segment", _SEGMENT_CALLBACK), ("on_segment_user", ctypes.c_void_p),
                ("on_progress", _PROGRESS_CALLBACK), ("on_progress_user", ctypes.c_void_p),
                ("initial_prompt", ctypes.c_char_p), ("prefix", ctypes.c_char_p),
                ("hotwords", ctypes.c_char_p), ("vad_filter", ctypes.c_int32),
                ("vad_parameters", _VadOptions), ("vad", ctypes.c_void_p),
                ("word_timestamps", ctypes.c_int32), ("prepend_punctuations", ctypes.c_char_p),
                ("append_punctuations", ctypes.c_char_p), ("alignment_heads", ctypes.c_char_p),
                ("hallucination_silence_threshold", ctypes.c_float),
                ("clip_timestamps", ctypes.POINTER(ctypes.c_double)),
                ("n_clip_timestamps", ctypes.c_int32), ("repetition_penalty", ctypes.c_float),
                ("no_repeat_ngram_size", ctypes.c_int32), ("multilingual", ctypes.c_int32),
                ("language_detection_segments", ctypes.c_int32),
                ("language_detection_threshold", ctypes.c_float), ("batch_size", ctypes.c_int32)]


class _LanguageProbability(ctypes.Structure):
    _fields_ = [("language", ctypes.c_char * 16), ("probability", ctypes.c_float)]


class _Info(_Sized):
    _fields_ = [("struct_size", ctypes.c_size_t), ("language", ctypes.c_char * 16), ("language_probability", ctypes.c_float),
                ("duration", ctypes.c_double), ("n_segments", ctypes.c_int32),
                ("duration_after_vad", ctypes.c_double), ("n_language_probs", ctypes.c_int32),
                ("all_language_probs", _LanguageProbability * 128)]


_lib.qattn_whisper_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(_EncoderParams),
                                    ctypes.POINTER(ctypes.c_void_p)]
_lib.qattn_whisper_free.argtypes = [ctypes.c_void_p]
_lib.qattn_whisper_free.restype = None
_lib.qattn_whisper_is_multilingual.argtypes = [ctypes.c_void_p]
_lib.qattn_whisper_suppressed_tokens.argtypes = [ctypes.c_void_p, ctypes.c_int,
                                                 ctypes.POINTER(ctypes.POINTER(ctypes.c_int32))]
_lib.qattn_whisper_suppressed_tokens.restype = ctypes.c_int32
_lib.qattn_transcribe_default_params.restype = _Params
_lib.qattn_whisper_transcribe.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                          ctypes.POINTER(_Params), ctypes.POINTER(ctypes.c_void_p)]
_lib.qattn_transcript_get_info.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Info)]
_lib.qattn_transcript_segment.argtypes = [ctypes.c_void_p, ctypes.c_int32]
_lib.qattn_transcript_segment.restype = ctypes.POINTER(_Segment)
_lib.qattn_transcript_free.argtypes = [ctypes.c_void_p]
_lib.qattn_transcript_free.restype = None
_lib.qattn_session_create.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Params),
                                      ctypes.POINTER(ctypes.c_void_p)]
_lib.qattn_session_feed.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
_lib.qattn_session_finish.argtypes = [ctypes.c_void_p]
_lib.qattn_session_next.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.POINTER(_Segment))]
_lib.qattn_session_get_info.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Info)]
_lib.qattn_session_cancel.argtypes = [ctypes.c_void_p]
_lib.qattn_session_cancel.restype = None
_lib.qattn_session_free.argtypes = [ctypes.c_void_p]
_lib.qattn_session_free.restype = None


@dataclass
class Word:
    """A word of a segment (word_timestamps=True), as faster-whisper's Word."""
    start: float
    end: float
    word: str
    probability: float


@dataclass
class Segment:
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: List[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    words: Optional[List[Word]] = None  # word_timestamps=True: a list (maybe empty)
    language: Optional[str] = None  # its window's language (multilingual: detected on it)


@dataclass
class TranscriptionInfo:
    language: str
    language_probability: float
    duration: float
    duration_after_vad: float = None
    # a detected language: [(code, probability)] of every language, likeliest first; None
    # when it was given or the model is English-only
    all_language_probs: Optional[List[Tuple[str, float]]] = None


def _segment(s, words=False):
    """A C segment -> Segment; words: whether word_timestamps was asked (faster-whisper gives
    None without, a list with)."""
    return Segment(s.id, s.seek, s.start, s.end, s.text.decode("utf-8"),
                   [s.tokens[i] for i in range(s.n_tokens)], s.temperature, s.avg_logprob,
                   s.compression_ratio, s.no_speech_prob,
                   [Word(w.start, w.end, w.word.decode("utf-8"), w.probability)
                    for w in (s.words[i] for i in range(s.n_words))] if words else None,
                   s.language.decode())


def _temperatures(temperature):
    """faster-whisper's temperature argument (a number or an evenly spaced list from it up to
    1.0) -> (first, increment)."""
    if isinstance(temperature, (int, float)):
        return float(temperature), 0.0
    t = [float(x) for x in temperature]
    if not t:
        raise ValueError("temperature: an empty list")
    step = t[1] - t[0] if len(t) > 1 else 0.0
    expected = [t[0] + i * step for i in range(len(t))]
    if any(abs(a - b) > 1e-6 for a, b in zip(t, expected)) or (len(t) > 1 and abs(t[-1] - 1.0) > 1e-6):
        raise ValueError("temperature: a list must step evenly up to 1.0, e.g. [0.0, 0.2, ..., 1.0]")
    return t[0], step


def _clip_timestamps(clips):
    """faster-whisper's clip_timestamps ("0", "start,end,...", or a list of seconds) -> a C
    array of doubles, or None for all of the audio (its "0", the default)."""
    if isinstance(clips, str):
        if clips.strip() == "0":
            return None
        try:
            clips = [float(t) for t in clips.split(",")] if clips.strip() else []
        except ValueError:
            raise ValueError(f"clip_timestamps: expected seconds separated by commas, got {clips!r}") from None
    if isinstance(clips, (list, tuple)) and all(isinstance(t, (int, float)) for t in clips):
        if not clips:
            return None
        return (ctypes.c_double * len(clips))(*clips)
    raise TypeError("clip_timestamps must be a str of comma-separated seconds or a list of numbers "
                    f"(faster-whisper's BatchedInferencePipeline's dicts are not taken), got {clips!r}")


def _params(language=None, task="transcribe", beam_size=5, best_of=5, patience=1.0,
            length_penalty=1.0, temperature=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
            compression_ratio_threshold=2.4, log_prob_threshold=-1.0, no_speech_threshold=0.6,
            condition_on_previous_text=True, prompt_reset_on_temperature=0.5,
            suppress_blank=True, without_timestamps=False, max_initial_timestamp=1.0,
            max_new_tokens=None, seed=0, on_segment=None, on_progress=None,
            initial_prompt=None, prefix=None, hotwords=None, vad_filter=False, vad_parameters=None,
            vad_model=None, word_timestamps=False, prepend_punctuations="\"'“¿([{-",
            append_punctuations="\"'.。,，!！?？:：”)]}、", alignment_heads=None,
            hallucination_silence_threshold=None, clip_timestamps="0", repetition_penalty=1.0,
            no_repeat_ngram_size=0, multilingual=False, language_detection_threshold=0.5,
            language_detection_segments=1, batch_size=0):
    """faster-whisper's transcribe options -> (_Params, what must outlive the C calls, the
    callbacks' errors, and a list on_segment's stops are noted in)."""
    if task not in ("transcribe", "translate"):
        raise ValueError(f"task must be 'transcribe' or 'translate', got {task!r}")
    first, step = _temperatures(temperature)
    p = _lib.qattn_transcribe_default_params()
    p.language = language.encode() if language else None
    p.task = 0 if task == "transcribe" else 1
    p.beam_size, p.best_of, p.patience, p.length_penalty = beam_size, best_of, patience, length_penalty
    p.temperature, p.temperature_increment = first, step
    p.compression_ratio_threshold = compression_ratio_threshold or 0.0
    p.log_prob_threshold = math.nan if log_prob_threshold is None else log_prob_threshold
    p.no_speech_threshold = math.nan if no_speech_threshold is None else no_speech_threshold
    p.condition_on_previous_text = int(bool(condition_on_previous_text))
    p.prompt_reset_on_temperature = prompt_reset_on_temperature
    p.suppress_blank, p.without_timestamps = int(bool(suppress_blank)), int(bool(without_timestamps))
    p.max_initial_timestamp = max_initial_timestamp
    p.max_new_tokens = max_new_tokens or 0
    p.seed = seed
    for name, text in (("initial_prompt", initial_prompt), ("prefix", prefix), ("hotwords", hotwords)):
        if text is not None and not isinstance(text, str):
            raise TypeError(f"{name} must be a str, got {type(text).__name__}")
        if text is not None and "\0" in text:
            raise ValueError(f"{name}: a NUL character")
        setattr(p, name, None if text is None else text.encode("utf-8"))
    p.word_timestamps = int(bool(word_timestamps))
    clips = _clip_timestamps(clip_timestamps)
    p.clip_timestamps = clips if clips is not None else None
    p.n_clip_timestamps = len(clips) if clips is not None else 0
    p.repetition_penalty, p.no_repeat_ngram_size = repetition_penalty, no_repeat_ngram_size
    p.multilingual = int(bool(multilingual))
    p.language_detection_segments = language_detection_segments
    p.language_detection_threshold = language_detection_threshold
    p.batch_size = batch_size
    p.hallucination_silence_threshold = (math.nan if hallucination_silence_threshold is None
                                         else hallucination_silence_threshold)
    for name, text in (("prepend_punctuations", prepend_punctuations),
                       ("append_punctuations", append_punctuations), ("alignment_heads", alignment_heads)):
        if text is not None and (not isinstance(text, str) or "\0" in text):
            raise ValueError(f"{name} must be a str without NUL characters, got {text!r}")
        setattr(p, name, None if text is None else text.encode("utf-8"))
    p.vad_filter = int(bool(vad_filter))
    if vad_parameters is not None:  # a dict, or faster-whisper's VadOptions
        if not isinstance(vad_parameters, dict):
            vad_parameters = {k: getattr(vad_parameters, k) for k in
                              ("threshold", "neg_threshold", "min_speech_duration_ms",
                               "max_speech_duration_s", "min_silence_duration_ms", "speech_pad_ms")}
        p.vad_parameters = _vad_options(vad_parameters)
    if vad_model is not None:
        if not isinstance(vad_model, VAD):
            raise TypeError(f"vad_model must be a qattn.VAD, got {type(vad_model).__name__}")
        p.vad = vad_model._handle
    errors, keep, stops = [], [], []
    if on_segment is not None:
        def segment_cb(seg, _user):
            try:
                if on_segment(_segment(seg.contents, word_timestamps)) is False:
                    stops.append(True)
                    return 1
                return 0
            except BaseException as e:  # stop the run; re-raised by the caller
                errors.append(e)
                return 1
        p.on_segment = _SEGMENT_CALLBACK(segment_cb)
        keep.append(p.on_segment)
    if on_progress is not None:
        def progress_cb(done, total, _user):
            if not errors:
                try:
                    on_progress(done, total)
                except BaseException as e:
                    errors.append(e)
        p.on_progress = _PROGRESS_CALLBACK(progress_cb)
        keep.append(p.on_progress)
    if vad_model is not None:
        keep.append(vad_model)  # the C params point at it
    if clips is not None:
        keep.append(clips)
    return p, keep, errors, stops


class Session(_Model):
    """A transcription session (qattn_session_* in qattn.h): feed(samples) as audio arrives
    (float32, 16 kHz mono, pieces of any size), finish() when no more comes, and pull the
    segments as they are decoded: next_segment() returns one, or None while it needs more
    audio first; iterating gives those that can be decoded now (all of them after finish).
    cancel() may be called from any thread: the running or next call raises QattnCancelled.
    The options are transcribe's. Before finish a window is decoded once its 30 s are fed,
    with Whisper's loudness floor at the loudest audio so far (qattn.h says when that
    differs from transcribing everything at once)."""

    _free = _lib.qattn_session_free

    def __init__(self, model, **options):
        if model._handle is None:
            raise ValueError("this Whisper model has been closed")
        self._model = model  # closing the model closes its sessions first (Whisper.close)
        self._params, self._keep, self._errors, self._stops = _params(**options)
        handle = ctypes.c_void_p()
        _call(_lib.qattn_session_create, model._handle, ctypes.byref(self._params), ctypes.byref(handle))
        self._handle, self.done = handle, False
        model._sessions.add(self)

    def _live(self):
        if self._handle is None:
            raise ValueError("this Session has been closed (or its model was)")
        return self._handle

    def feed(self, audio):
        samples = _samples(audio)
        _call(_lib.qattn_session_feed, self._live(), samples.ctypes.data, len(samples))

    def finish(self):
        _call(_lib.qattn_session_finish, self._live())

    def next_segment(self) -> Optional["Segment"]:
        """The next segment, or None when more audio (or finish) is needed first; after the
        last segment, None with .done set."""
        if self.done:
            return None
        seg = ctypes.POINTER(_Segment)()
        status = _lib.qattn_session_next(self._live(), ctypes.byref(seg))
        if self._errors:  # a callback raised: the session stopped there
            raise self._errors.pop(0)
        if status == _STATUS["OK"]:
            return _segment(seg.contents, bool(self._params.word_timestamps))
        if status == _STATUS["DONE"]:
            self.done = True
            return None
        if status == _STATUS["AGAIN"]:
            return None
        if status == _STATUS["CANCELLED"] and self._stops:
            self.done = True  # on_segment returned False: the segments so far were given
            return None
        raise _error(status)

    def __iter__(self) -> Iterator["Segment"]:
        while (seg := self.next_segment()) is not None:
            yield seg

    @property
    def info(self) -> "TranscriptionInfo":
        info = _Info()
        _call(_lib.qattn_session_get_info, self._live(), ctypes.byref(info))
        probs = [(info.all_language_probs[i].language.decode(), info.all_language_probs[i].probability)
                 for i in range(info.n_language_probs)]
        return TranscriptionInfo(info.language.decode(), info.language_probability, info.duration,
                                 info.duration_after_vad, probs or None)

    def cancel(self):
        if self._handle is not None:
            _lib.qattn_session_cancel(self._handle)


def _generate(session, first):
    """The segments of a finished session, lazily; closing or dropping the generator frees
    the session (cancelling whatever it would still decode)."""
    try:
        if first is not None:
            yield first
        yield from session
    finally:
        session.close()


class Whisper(_Model):
    """A whole Whisper model for speech to text: a CTranslate2 directory (as faster-whisper
    uses), a Hugging Face directory or a whisper.cpp ggml file (f32/f16). precision: "int8"
    (INT8 encoder and decoder GEMMs) or "f32". threads: None or 0 for one per CPU."""
    _free = _lib.qattn_whisper_free

    def __init__(self, path, precision="int8", threads=None):
        self._sessions = weakref.WeakSet()  # live sessions: the C model must outlive them
        self._load(_lib.qattn_whisper_load, path, precision, threads)
        self.is_multilingual = bool(_lib.qattn_whisper_is_multilingual(self._handle))

    def close(self):
        """Frees the model, and first every session still open on it (a transcribe generator
        not run to its end included: it stops there)."""
        for session in list(getattr(self, "_sessions", ())):
            session.close()
        super().close()

    def suppressed_tokens(self, at_begin=False):
        """The token ids the decoding suppresses at every step (faster-whisper's
        get_suppressed_tokens(tokenizer, [-1])), or those suppressed at the first step besides
        (at_begin), sorted."""
        ids = ctypes.POINTER(ctypes.c_int32)()
        n = _lib.qattn_whisper_suppressed_tokens(self._handle, int(at_begin), ctypes.byref(ids))
        return tuple(sorted(set(ids[:n])))

    def session(self, **options) -> Session:
        """A Session on this model (transcribe's options) for audio that arrives in pieces."""
        return Session(self, **options)

    def transcribe(self, audio, **options) -> Tuple[Iterator[Segment], TranscriptionInfo]:
        """audio: a path (any format load_audio reads) or float32 samples at 16 kHz mono.
        Returns (segments, info) as faster-whisper does: segments a generator that decodes
        window by window as it is consumed (list(segments) to run it all), info known at once
        (on a multilingual model without `language`, the first window is decoded here to
        detect it). Options, with faster-whisper's names and defaults: language, task,
        beam_size, best_of, patience, length_penalty, temperature, compression_ratio_threshold,
        log_prob_threshold, no_speech_threshold, condition_on_previous_text,
        prompt_reset_on_temperature, suppress_blank, without_timestamps, max_initial_timestamp,
        max_new_tokens, seed, initial_prompt, prefix, hotwords (text; initial_prompt as token
        ids is not taken), vad_filter and vad_parameters (a dict of VadOptions' fields, or a
        faster_whisper VadOptions), vad_model (a qattn.VAD; default: the shipped one),
        word_timestamps, prepend_punctuations, append_punctuations, alignment_heads,
        hallucination_silence_threshold, clip_timestamps ("0", "start,end,..." or a list of
        seconds), repetition_penalty, no_repeat_ngram_size, multilingual,
        language_detection_threshold, language_detection_segments, and
        on_segment(seg) (returning False stops), on_progress(done_s, total_s)."""
        samples = _samples(audio)
        session = Session(self, **options)
        try:
            session.feed(samples)
            session.finish()
            first = None
            if self.is_multilingual and options.get("language") in (None, "", "auto"):
                first = session.next_segment()  # the language is detected on the first window
            info = session.info
        except BaseException:
            session.close()
            raise
        return _generate(session, first), info


class BatchedInferencePipeline:
    """faster-whisper's BatchedInferencePipeline over a qattn.Whisper: transcribe(audio,
    batch_size=8, ...) cuts the speech the VAD finds into chunks of up to 30 s and decodes
    batch_size of them side by side (qattn.h, batch_size), with the pipeline's defaults:
    vad_filter=True, VAD min_silence_duration_ms=160 and max_speech_duration_s=30 (a
    vad_parameters dict takes VadOptions' defaults for what it leaves out, and 30 s as the
    longest speech, as faster-whisper), without_timestamps=True. clip_timestamps, a list of
    {"start": s, "end": s} dicts as the pipeline's, makes each clip a chunk (the VAD is not
    run); with vad_filter=False and no clips the whole audio is one chunk. Unlike
    faster-whisper's, every chunk keeps the temperature fallback (temperature is the same list
    as transcribe's) and the no-speech skip, and a chunk longer than 30 s is decoded to its end,
    window after window. Segments and info as Whisper.transcribe's."""

    def __init__(self, model: Whisper):
        if not isinstance(model, Whisper):
            raise TypeError(f"model must be a qattn.Whisper, got {type(model).__name__}")
        self.model = model

    def transcribe(self, audio, batch_size=8, vad_filter=True, vad_parameters=None,
                   without_timestamps=True, clip_timestamps=None,
                   **options) -> Tuple[Iterator[Segment], TranscriptionInfo]:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if clip_timestamps:
            try:
                clips = [float(t) for c in clip_timestamps for t in (c["start"], c["end"])]
            except (TypeError, KeyError, ValueError):
                raise TypeError("clip_timestamps must be a list of {'start': seconds, 'end': "
                                f"seconds}} dicts, got {clip_timestamps!r}") from None
            return self.model.transcribe(audio, batch_size=batch_size, clip_timestamps=clips,
                                         without_timestamps=without_timestamps, **options)
        if vad_parameters is None:
            vad_parameters = dict(min_silence_duration_ms=160, max_speech_duration_s=30)
        else:
            if not isinstance(vad_parameters, dict):
                vad_parameters = {k: getattr(vad_parameters, k) for k in
                                  ("threshold", "neg_threshold", "min_speech_duration_ms",
                                   "min_silence_duration_ms", "speech_pad_ms")}
            vad_parameters = dict(vad_parameters, max_speech_duration_s=30)
        return self.model.transcribe(audio, batch_size=batch_size, vad_filter=bool(vad_filter),
                                     vad_parameters=vad_parameters,
                                     without_timestamps=without_timestamps, **options)
