"""Voice activity detection: qattn.VAD() is Silero VAD v6 computed by qattn (qattn_vad_* in
qattn.h), its speech spans faster-whisper's get_speech_timestamps with the same VadOptions."""
import ctypes
import os

import numpy as np

from . import _call, _lib, _Model, _Sized, load_audio, SAMPLE_RATE


class _VadOptions(_Sized):
    _fields_ = [("struct_size", ctypes.c_size_t), ("threshold", ctypes.c_double),
                ("neg_threshold", ctypes.c_double), ("min_speech_duration_ms", ctypes.c_int32),
                ("max_speech_duration_s", ctypes.c_double),
                ("min_silence_duration_ms", ctypes.c_int32), ("speech_pad_ms", ctypes.c_int32)]


class _Span(ctypes.Structure):
    _fields_ = [("start", ctypes.c_int64), ("end", ctypes.c_int64)]


_lib.qattn_vad_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
_lib.qattn_vad_free.argtypes = [ctypes.c_void_p]
_lib.qattn_vad_free.restype = None
_lib.qattn_vad_probability_count.argtypes = [ctypes.c_size_t]
_lib.qattn_vad_probability_count.restype = ctypes.c_size_t
_lib.qattn_vad_probabilities.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                         ctypes.c_void_p]
_lib.qattn_vad_default_options.restype = _VadOptions
_lib.qattn_vad_speech_spans.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                                        ctypes.POINTER(_VadOptions), ctypes.c_void_p,
                                        ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
_lib.qattn_vad_stream_create.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
_lib.qattn_vad_stream_feed.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                       ctypes.c_void_p, ctypes.c_size_t,
                                       ctypes.POINTER(ctypes.c_size_t)]
_lib.qattn_vad_stream_free.argtypes = [ctypes.c_void_p]
_lib.qattn_vad_stream_free.restype = None

# faster-whisper's VadOptions fields, in its order
VAD_OPTIONS = ("threshold", "neg_threshold", "min_speech_duration_ms", "max_speech_duration_s",
               "min_silence_duration_ms", "speech_pad_ms")


def _options(options):
    """faster-whisper's VadOptions as keywords (None where it takes its default)."""
    unknown = set(options) - set(VAD_OPTIONS)
    if unknown:
        raise TypeError(f"unknown VAD options {sorted(unknown)}; known: {', '.join(VAD_OPTIONS)}")
    o = _lib.qattn_vad_default_options()
    for name, value in options.items():
        if value is None:
            continue
        if name == "neg_threshold":
            o.neg_threshold = float(value)
        elif name in ("threshold", "max_speech_duration_s"):
            setattr(o, name, float(value))
        else:
            setattr(o, name, int(value))
    return o


def _samples(audio):
    if isinstance(audio, (str, bytes, os.PathLike)):
        audio = load_audio(audio)
    x = np.ascontiguousarray(np.asarray(audio, dtype=np.float32))
    if x.ndim != 1:
        raise ValueError(f"audio: expected 1-D samples at {SAMPLE_RATE} Hz, got shape {x.shape}")
    return x


class VAD(_Model):
    """Silero VAD v6: path None for the model that ships with qattn (or QATTN_VAD_MODEL).
    probabilities(audio): one per 512 samples as faster-whisper computes them;
    speech_timestamps(audio, **VadOptions): faster-whisper's get_speech_timestamps, a list of
    {"start": sample, "end": sample}."""
    _free = _lib.qattn_vad_free

    def __init__(self, path=None):
        handle = ctypes.c_void_p()
        _call(_lib.qattn_vad_load, None if path is None else os.fsencode(os.fspath(path)),
              ctypes.byref(handle))
        self._handle = handle

    def probabilities(self, audio):
        x = _samples(audio)
        out = np.empty(_lib.qattn_vad_probability_count(len(x)), np.float32)
        _call(_lib.qattn_vad_probabilities, self._handle, x.ctypes.data, len(x), out.ctypes.data)
        return out

    def speech_timestamps(self, audio, **options):
        x = _samples(audio)
        return speech_spans(self.probabilities(x), len(x), **options)


def speech_spans(probabilities, n_samples, **options):
    """The speech spans of n_samples samples whose VAD probabilities are given (faster-whisper's
    get_speech_timestamps after its model): [{"start": ..., "end": ...}] in samples."""
    p = np.ascontiguousarray(np.asarray(probabilities, dtype=np.float32))
    o, count = _options(options), ctypes.c_size_t()
    _call(_lib.qattn_vad_speech_spans, p.ctypes.data, len(p), n_samples, ctypes.byref(o), None, 0,
          ctypes.byref(count))
    spans = (_Span * max(count.value, 1))()
    _call(_lib.qattn_vad_speech_spans, p.ctypes.data, len(p), n_samples, ctypes.byref(o), spans,
          count.value, ctypes.byref(count))
    return [{"start": spans[i].start, "end": spans[i].end} for i in range(count.value)]


class VADStream(_Model):
    """The VAD over audio that arrives in pieces: feed(samples) returns the probabilities of the
    512-sample chunks it completes."""
    _free = _lib.qattn_vad_stream_free

    def __init__(self, vad):
        self._vad = vad
        handle = ctypes.c_void_p()
        _call(_lib.qattn_vad_stream_create, vad._handle, ctypes.byref(handle))
        self._handle, self._buffered = handle, 0

    def feed(self, audio):
        x = _samples(audio)
        out = np.empty((self._buffered + len(x)) // 512, np.float32)
        n = ctypes.c_size_t()
        _call(_lib.qattn_vad_stream_feed, self._handle, x.ctypes.data, len(x), out.ctypes.data,
              len(out), ctypes.byref(n))
        self._buffered = (self._buffered + len(x)) % 512
        return out[:n.value]
