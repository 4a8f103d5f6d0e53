"""qattn: integer-only attention (int8 in, int32 accumulation, integer softmax, int8 out).

A ctypes binding over the C library (include/qattn.h). The library is looked up, in order:
  1. the install prefix: for an installed package (in site- or dist-packages), the nearest
     directory above it with lib/libqattn.so (cmake --install and pip install to one prefix);
  2. the path in the environment variable QATTN_LIBRARY;
  3. the build tree of this checkout (build/libqattn.so next to python/);
  4. the system's library path (ctypes.util.find_library("qattn")).
"""

import ctypes
import ctypes.util
import numbers
import os

import numpy as np

__all__ = ["QattnError", "QattnValueError", "QattnFileNotFoundError", "QattnMemoryError",
           "QattnCancelled", "quantize", "attention", "attention_float", "Encoder", "Decoder", "Vocabulary", "Tokenizer", "load_audio",
           "log_mel", "log_mel_padded", "mel_filters", "library_path", "Whisper", "BatchedInferencePipeline", "Segment", "Word",
           "TranscriptionInfo", "Session", "QattnOSError", "VAD", "VADStream", "speech_spans"]


class QattnError(Exception):
    """A call the C library refused: the message is the library's, .status its qattn_status
    code (include/qattn.h). The subclasses below are also the Python exceptions callers
    already catch for the same kind of failure."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class QattnValueError(QattnError, ValueError):
    """Bad input: an argument, a value, a malformed model file."""


class QattnFileNotFoundError(QattnError, FileNotFoundError):
    """A file or directory that does not exist."""


class QattnMemoryError(QattnError, MemoryError):
    """The library ran out of memory."""


class QattnOSError(QattnError, OSError):
    """A file that exists but could not be read, mapped or decoded."""


class QattnCancelled(QattnError):
    """The work was cancelled (Session.cancel from another thread)."""


# qattn_status -> the exception raised for it (the C enum, include/qattn.h)
_STATUS = {"OK": 0, "ERR_NULL": 1, "ERR_SIZE": 2, "ERR_HEAD_DIM": 3, "ERR_TOO_MANY_KEYS": 4,
           "ERR_SCALE": 5, "ERR_KV_LEN": 6, "ERR_NOMEM": 7, "ERR_VALUE": 8, "ERR_ISA": 9,
           "ERR_IO": 10, "ERR_MODEL": 11, "ERR_ARG": 12, "CANCELLED": 13, "ERR_NOT_FOUND": 14,
           "DONE": 100, "AGAIN": 101}
_ERRORS = {7: QattnMemoryError, 10: QattnOSError, 13: QattnCancelled, 14: QattnFileNotFoundError}


def _installed_prefix_libraries(here):
    parts = here.split(os.sep)
    if "site-packages" not in parts and "dist-packages" not in parts:
        return
    multiarch = getattr(__import__("sys").implementation, "_multiarch", "")
    d = here
    while os.path.dirname(d) != d:
        d = os.path.dirname(d)
        for libdir in ("lib", "lib64", os.path.join("lib", multiarch)):
            path = os.path.join(d, libdir, "libqattn.so")
            if os.path.exists(path):
                yield path
                return


def _candidates():
    here = os.path.dirname(os.path.abspath(__file__))
    yield from _installed_prefix_libraries(here)
    env = os.environ.get("QATTN_LIBRARY")
    if env:
        yield env
    yield os.path.join(here, "..", "..", "build", "libqattn.so")
    found = ctypes.util.find_library("qattn")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path), os.path.abspath(path) if os.sep in path else path
        except OSError as e:
            tried.append(f"{path} ({e})")
    raise ImportError(
        "qattn: cannot find the qattn shared library; looked in: "
        + ("; ".join(tried) or "QATTN_LIBRARY (unset), build/libqattn.so, system paths")
        + ". Build it with the README's command, or set QATTN_LIBRARY to its path."
    )


_lib, library_path = _load()


def _check_version():
    from ._version import __version__ as wanted
    _lib.qattn_version.restype = ctypes.c_char_p
    found = _lib.qattn_version().decode()
    if found.split(".")[:2] != wanted.split(".")[:2]:
        raise ImportError(f"qattn: the library at {library_path} is version {found}; this binding "
                          f"is for {wanted} (MAJOR.MINOR must match). Rebuild it (README), or set "
                          f"QATTN_LIBRARY to a build of {wanted}.")
    return found


__version__ = _check_version()


class _Sized(ctypes.Structure):
    """A growing struct of qattn.h: struct_size, its first member, set to this sizeof."""

    def __init__(self, *args, **kwargs):
        super().__init__(ctypes.sizeof(self), *args, **kwargs)


class _Desc(_Sized):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("heads", ctypes.c_int32),
        ("len_q", ctypes.c_int32),
        ("len_k", ctypes.c_int32),
        ("head_dim", ctypes.c_int32),
        ("scale_q", ctypes.POINTER(ctypes.c_float)),
        ("scale_k", ctypes.POINTER(ctypes.c_float)),
        ("scale_v", ctypes.POINTER(ctypes.c_float)),
        ("scale_out", ctypes.POINTER(ctypes.c_float)),
        ("causal", ctypes.c_int32),
        ("kv_len", ctypes.POINTER(ctypes.c_int32)),
        ("threads", ctypes.c_int32),
        ("isa", ctypes.c_int32),
    ]


_lib.qattn_last_error.restype = ctypes.c_char_p
_lib.qattn_quantize_f32.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_float, ctypes.c_void_p]
_lib.qattn_attention_s8.argtypes = [ctypes.POINTER(_Desc)] + [ctypes.c_void_p] * 4
_lib.qattn_attention_f32.argtypes = [ctypes.POINTER(_Desc)] + [ctypes.c_void_p] * 4


class _EncoderParams(_Sized):
    _fields_ = [("struct_size", ctypes.c_size_t), ("precision", ctypes.c_int32),
                ("threads", ctypes.c_int32), ("isa", ctypes.c_int32)]


class _EncoderInfo(_Sized):
    _fields_ = [("struct_size", ctypes.c_size_t)] + [
        (name, ctypes.c_int32) for name in ("n_mels", "n_ctx", "n_state", "n_heads", "n_layers")]


_lib.qattn_encoder_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(_EncoderParams),
                                    ctypes.POINTER(ctypes.c_void_p)]
_lib.qattn_encoder_get_info.argtypes = [ctypes.c_void_p, ctypes.POINTER(_EncoderInfo)]
_lib.qattn_encoder_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p]
_lib.qattn_encoder_free.argtypes = [ctypes.c_void_p]
_lib.qattn_encoder_free.restype = None
class _DecoderInfo(_Sized):
    _fields_ = [("struct_size", ctypes.c_size_t)] + [
        (name, ctypes.c_int32) for name in ("n_vocab", "n_text_ctx", "n_state", "n_heads", "n_layers")]


_lib.qattn_decoder_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(_EncoderParams),
                                    ctypes.POINTER(ctypes.c_void_p)]
_lib.qattn_decoder_get_info.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DecoderInfo)]
_lib.qattn_decoder_logits.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32,
                                      ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p]
_lib.qattn_decoder_begin.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32,
                                     ctypes.POINTER(ctypes.c_void_p)]
_lib.qattn_decoder_step.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p]
_lib.qattn_decoder_state_free.argtypes = [ctypes.c_void_p]
_lib.qattn_decoder_state_free.restype = None
_lib.qattn_decoder_free.argtypes = [ctypes.c_void_p]
_lib.qattn_decoder_free.restype = None
_lib.qattn_vocabulary_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
_lib.qattn_vocabulary_size.argtypes = [ctypes.c_void_p]
_lib.qattn_vocabulary_size.restype = ctypes.c_int32
_lib.qattn_vocabulary_id.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_lib.qattn_vocabulary_id.restype = ctypes.c_int32
_lib.qattn_vocabulary_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32,
                                         ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
_lib.qattn_vocabulary_free.argtypes = [ctypes.c_void_p]
_lib.qattn_vocabulary_free.restype = None
_lib.qattn_tokenizer_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
_lib.qattn_tokenizer_encode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                                        ctypes.c_int32, ctypes.POINTER(ctypes.c_int32)]
_lib.qattn_tokenizer_free.argtypes = [ctypes.c_void_p]
_lib.qattn_tokenizer_free.restype = None
_lib.qattn_audio_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.POINTER(ctypes.c_float)),
                                  ctypes.POINTER(ctypes.c_size_t)]
_lib.qattn_audio_free.argtypes = [ctypes.c_void_p]
_lib.qattn_audio_free.restype = None
_lib.qattn_log_mel_frames.argtypes = [ctypes.c_size_t]
_lib.qattn_log_mel_frames.restype = ctypes.c_size_t
_lib.qattn_log_mel.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int32, ctypes.c_int32,
                               ctypes.c_void_p]
_lib.qattn_mel_filters.argtypes = [ctypes.c_int32, ctypes.c_void_p]
_lib.qattn_log_mel_padded_frames.argtypes = [ctypes.c_size_t]
_lib.qattn_log_mel_padded_frames.restype = ctypes.c_size_t
_lib.qattn_log_mel_padded.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int32,
                                      ctypes.c_int32, ctypes.c_void_p]
_lib.qattn_encoder_window_count.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_lib.qattn_encoder_window_count.restype = ctypes.c_size_t
_lib.qattn_encoder_windows.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32,
                                       ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
                                       ctypes.c_int32, ctypes.c_void_p]

def _error(status):
    """The exception for a failed call's status, with the library's message."""
    message = _lib.qattn_last_error().decode() or f"qattn status {status}"
    return _ERRORS.get(status, QattnValueError)(message, status)


def _call(fn, *args):
    status = fn(*args)
    if status != 0:
        raise _error(status)


def _array(x, name, accepts, dtype_text):
    """x itself if it is a C-contiguous numpy array whose dtype `accepts`; else an error."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array of {dtype_text}, got {type(x).__name__}")
    if not accepts(x.dtype):
        raise TypeError(f"{name} must be {dtype_text}, got dtype {x.dtype}")
    if not x.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous; pass np.ascontiguousarray({name})")
    return x


def _heads_view(x, name):
    if x.ndim == 2:
        return x[np.newaxis]
    if x.ndim == 3:
        return x
    raise ValueError(f"{name} must have shape (L, D) or (H, L, D), got {x.shape}")


def _scales(value, heads, name):
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        values = [float(value)] * heads
    else:
        try:
            values = [float(s) for s in value]
        except TypeError:
            raise TypeError(f"{name} must be a float or a sequence of {heads} floats") from None
        if len(values) != heads:
            raise ValueError(f"{name} has {len(values)} entries, expected one per head ({heads})")
    arr = np.asarray(values, dtype=np.float32)
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        raise ValueError(f"{name} must be finite and > 0, got {values[int(np.argmax(bad))]}")
    return arr


def _threads(threads):
    """None or 0: one thread per CPU (the C library's 0); else a count."""
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 0:
        raise ValueError(f"threads must be None, 0 (one per CPU) or a positive integer, got {threads!r}")
    return int(threads)


def _ptr(a, ctype):
    return a.ctypes.data_as(ctypes.POINTER(ctype))


def quantize(x, scale):
    """Round x / scale to nearest (ties to even) and saturate to [-128, 127]; int8 array.

    x is converted to float32 (the library's input type); NaN quantizes to 0.
    """
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"x must be a floating-point array, got dtype {x.dtype}")
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"scale must be a float, got {type(scale).__name__}")
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty(x32.shape, dtype=np.int8)
    _call(_lib.qattn_quantize_f32, x32.ctypes.data, x32.size, float(scale), out.ctypes.data)
    return out


def _shapes(q, k, v):
    q3, k3, v3 = _heads_view(q, "q"), _heads_view(k, "k"), _heads_view(v, "v")
    if not (q.ndim == k.ndim == v.ndim):
        raise ValueError(f"q, k, v must all be 2-D or all 3-D, got {q.shape}, {k.shape}, {v.shape}")
    if k3.shape != v3.shape:
        raise ValueError(f"k and v must have the same shape, got {k.shape} and {v.shape}")
    if q3.shape[0] != k3.shape[0] or q3.shape[2] != k3.shape[2]:
        raise ValueError(f"q {q.shape} and k {k.shape} disagree on heads or head dimension")
    for name, a in (("q", q3), ("k", k3)):
        if 0 in a.shape:
            raise ValueError(f"{name} has an empty dimension: {a.shape}")
    return q3, k3, v3


def _causal(causal):
    if causal == "bottom_right":
        return 2
    if causal in (True, False, None, "top_left"):
        return 1 if causal else 0
    raise ValueError(f"causal must be False, True (top-left) or 'bottom_right', got {causal!r}")


def _desc(q3, k3, causal, threads, kv_len):
    heads, len_q, d = q3.shape
    desc = _Desc(heads=heads, len_q=len_q, len_k=k3.shape[1], head_dim=d,
                 causal=_causal(causal), threads=_threads(threads))
    keep = []
    if kv_len is not None:
        lens = np.asarray([kv_len] * heads if np.ndim(kv_len) == 0 else kv_len)
        if lens.dtype.kind not in "iu" or lens.shape != (heads,):
            raise ValueError(f"kv_len must be an integer or {heads} integers")
        lens = lens.astype(np.int32)
        desc.kv_len = _ptr(lens, ctypes.c_int32)
        keep.append(lens)
    return desc, keep


def attention(q, k, v, scale_q, scale_k, scale_v, scale_out, causal=False, threads=None,
              kv_len=None):
    """Integer attention: int8 q (Lq, D) or (H, Lq, D), k and v (Lk, D) or (H, Lk, D).

    Each scale is a float or a sequence of H floats (per head). causal: True (or "top_left")
    for query i to see keys j <= i; "bottom_right" for j <= i + valid - Lq (the queries are
    the last Lq positions of the valid keys, as a decoder's new tokens after its cache).
    kv_len: an int or H ints, keys at or past it are padding. threads: None for one
    per CPU. The result is the same, bit for bit, for any thread count and on every
    instruction-set tier (QATTN_ISA forces one). Returns int8 shaped as q.
    """
    for name, a in (("q", q), ("k", k), ("v", v)):
        _array(a, name, lambda t: t == np.int8, "int8")
    q3, k3, v3 = _shapes(q, k, v)
    heads = q3.shape[0]
    scales = [_scales(s, heads, n) for s, n in
              ((scale_q, "scale_q"), (scale_k, "scale_k"), (scale_v, "scale_v"), (scale_out, "scale_out"))]
    desc, keep = _desc(q3, k3, causal, threads, kv_len)
    desc.scale_q, desc.scale_k, desc.scale_v, desc.scale_out = (_ptr(s, ctypes.c_float) for s in scales)
    out = np.empty(q.shape, dtype=np.int8)
    _call(_lib.qattn_attention_s8, ctypes.byref(desc), q.ctypes.data, k.ctypes.data,
          v.ctypes.data, out.ctypes.data)
    del keep
    return out


def attention_float(Q, K, V, causal=False, threads=None):
    """Float attention through the integer kernel: float32 in, per-head max-abs int8
    quantization, integer kernel, float32 out (output scale = the head's V scale)."""
    arrays = []
    for name, a in (("Q", Q), ("K", K), ("V", V)):
        _array(a, name, lambda t: t.kind == "f", "floating-point")
        arrays.append(np.ascontiguousarray(a, dtype=np.float32))
    q3, k3, _ = _shapes(*arrays)
    desc, _keep = _desc(q3, k3, causal, threads, None)
    out = np.empty(arrays[0].shape, dtype=np.float32)
    _call(_lib.qattn_attention_f32, ctypes.byref(desc), *(a.ctypes.data for a in arrays),
          out.ctypes.data)
    return out


_PRECISIONS = {"int8": 0, "f32": 1}


class _Model:
    """A loaded C object: freed by close(), by `with`, or when collected."""
    _free = None  # the C function that frees the handle

    def _load(self, load, path, precision, threads):
        """Opens the model at path with the C loader `load` (precision "int8" or "f32")."""
        if precision not in _PRECISIONS:
            raise ValueError(f"precision must be 'int8' or 'f32', got {precision!r}")
        params = _EncoderParams(_PRECISIONS[precision], _threads(threads), 0)  # isa 0: auto
        handle = ctypes.c_void_p()
        _call(load, os.fsencode(os.fspath(path)), ctypes.byref(params), ctypes.byref(handle))
        self._handle = handle

    def close(self):
        if getattr(self, "_handle", None) is not None:
            type(self)._free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class Encoder(_Model):
    """A Whisper encoder loaded from a Hugging Face directory, a model.safetensors file (with
    config.json beside it) or a whisper.cpp ggml-*.bin file (f32/f16).

    precision: "int8" (INT8 GEMMs and the integer attention kernel) or "f32" (float
    reference). threads: None for one per CPU.
    """

    _free = _lib.qattn_encoder_free

    def __init__(self, path, precision="int8", threads=None):
        self._load(_lib.qattn_encoder_load, path, precision, threads)
        info = _EncoderInfo()
        _call(_lib.qattn_encoder_get_info, self._handle, ctypes.byref(info))
        self.n_mels, self.n_ctx, self.n_state = info.n_mels, info.n_ctx, info.n_state
        self.n_heads, self.n_layers = info.n_heads, info.n_layers
        self.precision = precision

    def encode(self, mel):
        """mel: float array (n_mels, 2 * n_ctx) or (batch, n_mels, 2 * n_ctx); returns float32
        (n_ctx, n_state) or (batch, n_ctx, n_state)."""
        if self._handle is None:
            raise ValueError("this Encoder has been closed")
        mel = np.asarray(mel)
        if mel.dtype.kind != "f":
            raise TypeError(f"mel must be a floating-point array, got dtype {mel.dtype}")
        frames = 2 * self.n_ctx
        if mel.ndim not in (2, 3) or mel.shape[-2:] != (self.n_mels, frames):
            raise ValueError(f"mel must have shape ({self.n_mels}, {frames}) or "
                             f"(batch, {self.n_mels}, {frames}), got {mel.shape}")
        batch = 1 if mel.ndim == 2 else mel.shape[0]
        if batch < 1:
            raise ValueError("mel has an empty batch")
        m = np.ascontiguousarray(mel, dtype=np.float32)
        out = np.empty((batch, self.n_ctx, self.n_state), dtype=np.float32)
        _call(_lib.qattn_encoder_run, self._handle, m.ctypes.data, batch, out.ctypes.data)
        return out[0] if mel.ndim == 2 else out

    def windows(self, audio=None, mel=None, frames=None, threads=None):
        """Whisper's windows of the encoder's input, float32 (windows, n_mels, 2 * n_ctx),
        ready for encode(): from 16 kHz mono `audio` of any length (its log_mel_padded), or
        from a log-mel `mel` (n_mels, N) of which the first `frames` (default N) hold audio.
        Window i is frames [i W, (i + 1) W), W = 2 * n_ctx from the model, zero past the
        audio; there are ceil(frames / W) of them."""
        if self._handle is None:
            raise ValueError("this Encoder has been closed")
        if (audio is None) == (mel is None):
            raise ValueError("pass exactly one of audio or mel")
        if audio is not None:
            audio = np.asarray(audio)
            frames = len(audio) // 160 if audio.ndim == 1 else None
            mel = log_mel_padded(audio, self.n_mels, threads)
        mel = np.asarray(mel)
        if mel.dtype.kind != "f" or mel.ndim != 2:
            raise TypeError(f"mel must be a 2-D floating-point array, got {mel.dtype} {mel.shape}")
        m = np.ascontiguousarray(mel, dtype=np.float32)
        frames = m.shape[1] if frames is None else frames
        if isinstance(frames, bool) or not isinstance(frames, numbers.Integral) or not 0 <= frames <= m.shape[1]:
            raise ValueError(f"frames must be an integer in [0, {m.shape[1]}], got {frames!r}")
        count = _lib.qattn_encoder_window_count(self._handle, frames)
        out = np.empty((count, self.n_mels, 2 * self.n_ctx), dtype=np.float32)
        if count:
            _call(_lib.qattn_encoder_windows, self._handle, m.ctypes.data, m.shape[0], frames,
                  m.shape[1], 0, count, out.ctypes.data)
        return out



class Decoder(_Model):
    """The Whisper decoder of a model (the text side), int8 (the default: INT8 GEMMs with
    16-bit activations, the integer attention) or f32.

    logits(features, tokens): features float (n_audio, n_state), the encoder output of one
    window; tokens a sequence of ints; returns float32 (len(tokens), n_vocab), position i
    seeing tokens 0..i.
    """

    _free = _lib.qattn_decoder_free

    def __init__(self, path, precision="int8", threads=None):
        self._load(_lib.qattn_decoder_load, path, precision, threads)
        info = _DecoderInfo()
        _call(_lib.qattn_decoder_get_info, self._handle, ctypes.byref(info))
        self.n_vocab, self.n_text_ctx, self.n_state = info.n_vocab, info.n_text_ctx, info.n_state
        self.n_heads, self.n_layers = info.n_heads, info.n_layers

    def _features(self, features):
        if self._handle is None:
            raise ValueError("this Decoder has been closed")
        f = np.asarray(features)
        if f.dtype.kind != "f" or f.ndim != 2 or f.shape[1] != self.n_state:
            raise ValueError(f"features must be float (n_audio, {self.n_state}), got {f.dtype} {f.shape}")
        return np.ascontiguousarray(f, dtype=np.float32)

    def _tokens(self, tokens):
        t = np.asarray(tokens)
        if t.ndim != 1 or t.dtype.kind not in "iu" or not 1 <= len(t) <= self.n_text_ctx:
            raise ValueError(f"tokens must be 1 to {self.n_text_ctx} integers, got {t.dtype} {t.shape}")
        return np.ascontiguousarray(t, dtype=np.int32)

    def begin(self, features):
        """A token-by-token decoding state over one window's encoder output: its
        step(tokens) appends tokens and returns the last one's logits (n_vocab,)."""
        f = self._features(features)
        handle = ctypes.c_void_p()
        _call(_lib.qattn_decoder_begin, self._handle, f.ctypes.data, f.shape[0], ctypes.byref(handle))
        return _DecoderState(self, handle)

    def logits(self, features, tokens):
        f, t = self._features(features), self._tokens(tokens)
        out = np.empty((len(t), self.n_vocab), dtype=np.float32)
        _call(_lib.qattn_decoder_logits, self._handle, f.ctypes.data, f.shape[0], t.ctypes.data,
              len(t), out.ctypes.data)
        return out



class _DecoderState(_Model):
    _free = _lib.qattn_decoder_state_free

    def __init__(self, decoder, handle):
        self._decoder, self._handle = decoder, handle  # the decoder outlives its states

    def step(self, tokens):
        t = self._decoder._tokens(tokens)
        out = np.empty(self._decoder.n_vocab, dtype=np.float32)
        _call(_lib.qattn_decoder_step, self._handle, t.ctypes.data, len(t), out.ctypes.data)
        return out


class Vocabulary(_Model):
    """A model's vocabulary (a CTranslate2 or Hugging Face directory, a ggml file): len(),
    id("<|endoftext|>"), decode(ids) -> str (the text tokens' bytes joined and decoded as
    UTF-8, invalid sequences as U+FFFD)."""
    _free = _lib.qattn_vocabulary_free

    def __init__(self, model_dir):
        handle = ctypes.c_void_p()
        _call(_lib.qattn_vocabulary_load, os.fsencode(os.fspath(model_dir)), ctypes.byref(handle))
        self._handle = handle

    def __len__(self):
        return _lib.qattn_vocabulary_size(self._handle)

    def id(self, token):
        return _lib.qattn_vocabulary_id(self._handle, token.encode())

    def decode(self, ids):
        t = np.ascontiguousarray(np.asarray(ids, dtype=np.int64).astype(np.int32))
        length = ctypes.c_size_t()
        _call(_lib.qattn_vocabulary_decode, self._handle, t.ctypes.data, len(t), None, 0, ctypes.byref(length))
        buf = ctypes.create_string_buffer(length.value + 1)
        _call(_lib.qattn_vocabulary_decode, self._handle, t.ctypes.data, len(t), buf, len(buf), ctypes.byref(length))
        return buf.raw[:length.value].decode("utf-8")


class Tokenizer(_Model):
    """A model directory's tokenizer.json: encode(text) -> token ids, as faster-whisper's
    Tokenizer.encode (byte-level BPE; added tokens such as "<|en|>" written in the text become
    their ids)."""
    _free = _lib.qattn_tokenizer_free

    def __init__(self, model_dir):
        handle = ctypes.c_void_p()
        _call(_lib.qattn_tokenizer_load, os.fsencode(os.fspath(model_dir)), ctypes.byref(handle))
        self._handle = handle

    def encode(self, text):
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        if b"\0" in data:
            raise ValueError("text: a NUL character")
        n = ctypes.c_int32()
        _call(_lib.qattn_tokenizer_encode, self._handle, data, None, 0, ctypes.byref(n))
        ids = (ctypes.c_int32 * max(n.value, 1))()
        _call(_lib.qattn_tokenizer_encode, self._handle, data, ids, n.value, ctypes.byref(n))
        return list(ids[:n.value])


SAMPLE_RATE = 16000


def load_audio(path):
    """Decode an audio file (WAV, FLAC, Ogg/Vorbis, Opus, MP3, ... via libsndfile), average its
    channels and resample to 16 kHz (libsoxr): float32 mono."""
    ptr = ctypes.POINTER(ctypes.c_float)()
    count = ctypes.c_size_t()
    _call(_lib.qattn_audio_load, os.fsencode(os.fspath(path)), ctypes.byref(ptr), ctypes.byref(count))
    try:
        return np.ctypeslib.as_array(ptr, shape=(count.value,)).copy() if count.value else np.zeros(0, np.float32)
    finally:
        _lib.qattn_audio_free(ptr)


def _n_mels(n_mels):
    if isinstance(n_mels, bool) or not isinstance(n_mels, numbers.Integral) or not 1 <= n_mels <= 512:
        raise ValueError(f"n_mels must be an integer in [1, 512] (Whisper uses 80 or 128), got {n_mels!r}")
    return int(n_mels)


def _log_mel(audio, n_mels, threads, frames_of, compute):
    audio = np.asarray(audio)
    if audio.dtype.kind != "f" or audio.ndim != 1:
        raise TypeError(f"audio must be a 1-D floating-point array, got {audio.dtype} {audio.shape}")
    a = np.ascontiguousarray(audio, dtype=np.float32)
    n_mels = _n_mels(n_mels)
    out = np.empty((n_mels, frames_of(a.size)), dtype=np.float32)
    _call(compute, a.ctypes.data, a.size, n_mels, _threads(threads), out.ctypes.data)
    return out


def log_mel(audio, n_mels=80, threads=None):
    """Whisper's log-mel spectrogram of 16 kHz mono float audio: (n_mels, len(audio) // 160)."""
    return _log_mel(audio, n_mels, threads, _lib.qattn_log_mel_frames, _lib.qattn_log_mel)


def log_mel_padded(audio, n_mels=80, threads=None):
    """Whisper's log-mel for windowing: the spectrogram of the audio followed by 30 s of
    silence, (n_mels, len(audio) // 160 + 3000); the first len(audio) // 160 frames hold the
    audio. Encoder.windows() cuts it into the model's windows."""
    return _log_mel(audio, n_mels, threads, _lib.qattn_log_mel_padded_frames, _lib.qattn_log_mel_padded)


def mel_filters(n_mels=80):
    """The mel filter bank (n_mels, 201), as librosa.filters.mel(sr=16000, n_fft=400)."""
    out = np.empty((_n_mels(n_mels), 201), dtype=np.float32)
    _call(_lib.qattn_mel_filters, out.shape[0], out.ctypes.data)
    return out


from .whisper import BatchedInferencePipeline, Session, Whisper, Segment, TranscriptionInfo, Word  # noqa: E402  (needs the names above)
from .vad import VAD, VADStream, speech_spans  # noqa: E402
