"""Audio in: decoding and resampling (libsndfile, libsoxr), Whisper's log-mel against a
torch.stft reference written here, and `qattn encode --wav` / `qattn mel` on real speech
made with espeak-ng, on every file kind, with the error cases."""
import math
import os
import subprocess

import numpy as np
import pytest
import torch

import qattn
from conftest import BUILD
from whisper_files import random_weights, write_hf

QATTN = os.path.join(BUILD, "qattn")
TEXT = ("Speech recognition turns spoken words into text. Whisper reads thirty seconds of "
        "sound at a time, as a picture of its frequencies. ") * 4


def hz_to_mel(f):
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, math.log(6.4) / 27.0
    f = np.asarray(f, float)
    return np.where(f < min_log_hz, f / f_sp,
                    min_log_hz / f_sp + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep)


def mel_to_hz(m):
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, math.log(6.4) / 27.0
    m = np.asarray(m, float)
    return np.where(m < min_log_hz / f_sp, m * f_sp, min_log_hz * np.exp(logstep * (m - min_log_hz / f_sp)))


def librosa_mel(n_mels, sr=16000, n_fft=400):
    """librosa.filters.mel (Slaney scale and norm), which Whisper's mel_filters.npz holds."""
    fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(sr / 2), n_mels + 2))
    fdiff, ramps = np.diff(mel_f), mel_f[:, None] - fftfreqs[None, :]
    w = np.zeros((n_mels, len(fftfreqs)))
    for i in range(n_mels):
        w[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    return (w * (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]).astype(np.float32)


def whisper_log_mel(audio, n_mels):
    """openai/whisper's log_mel_spectrogram, in torch."""
    stft = torch.stft(torch.from_numpy(audio), 400, 160, window=torch.hann_window(400),
                      return_complex=True)
    mel = torch.from_numpy(librosa_mel(n_mels)) @ (stft[..., :-1].abs() ** 2)
    log = torch.clamp(mel, min=1e-10).log10()
    log = torch.maximum(log, log.max() - 8.0)
    return ((log + 4.0) / 4.0).numpy()


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("audio")
    sh("espeak-ng", "-w", str(d / "speech.wav"), TEXT)  # 22.05 kHz
    sh("sox", str(d / "speech.wav"), "-e", "floating-point", str(d / "stereo.wav"), "remix", "1", "1v0.5")
    sh("sox", str(d / "speech.wav"), "-r", "44100", str(d / "speech44k.flac"))
    sh("sox", "-n", "-r", "16000", "-c", "1", str(d / "silence.wav"), "trim", "0", "3")
    sh("sox", str(d / "speech.wav"), str(d / "clip.wav"), "trim", "0", "0.2")
    sh("sox", str(d / "speech.wav"), str(d / "speech.ogg"))  # Ogg/Vorbis
    sh("sox", str(d / "speech.wav"), "-r", "48000", str(d / "speech48k.wav"))
    for fmt in ("opus", "mp3"):  # written by libsndfile itself, where it can
        r = subprocess.run([os.path.join(BUILD, "tests", "audio_convert"), str(d / "speech48k.wav"),
                            str(d / f"speech.{fmt}"), fmt], capture_output=True)
        assert r.returncode in (0, 77), r.stderr
    (d / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(range(64)))
    (d / "empty.wav").write_bytes(b"")
    return d


def test_speech_is_long_enough(files):
    audio = qattn.load_audio(files / "speech.wav")
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) > 31 * 16000  # two windows: resampling and a second window exercised


@pytest.mark.parametrize("n_mels", [80, 128])
def test_log_mel_matches_torch(files, n_mels):
    audio = qattn.load_audio(files / "speech.wav")
    ref = whisper_log_mel(audio, n_mels)
    out = qattn.log_mel(audio, n_mels)
    assert out.shape == ref.shape == (n_mels, len(audio) // 160)
    err = np.abs(out - ref).max()
    print(f"log-mel {n_mels}: max |error| {err:.2e}")
    assert err <= 1e-4


def test_mel_filters_match_librosa():
    for n in (80, 128):
        assert np.abs(qattn.mel_filters(n) - librosa_mel(n)).max() < 1e-7


def test_downmix_and_resampling(files):
    mono = qattn.load_audio(files / "speech.wav")
    stereo = qattn.load_audio(files / "stereo.wav")  # right = 0.5 left: the mean is 0.75 left
    assert stereo.shape == mono.shape
    assert np.abs(stereo - 0.75 * mono).max() < 1e-4
    flac = qattn.load_audio(files / "speech44k.flac")  # 22.05k -> 44.1k -> 16k
    n = min(len(flac), len(mono))
    assert abs(len(flac) - len(mono)) <= 2
    assert np.corrcoef(flac[:n], mono[:n])[0, 1] > 0.999


@pytest.mark.parametrize("fmt", ["ogg", "opus", "mp3"])
def test_compressed_formats(files, fmt):
    if not (files / f"speech.{fmt}").exists():
        pytest.skip(f"this libsndfile cannot write {fmt}")
    mono = qattn.load_audio(files / "speech.wav")
    other = qattn.load_audio(files / f"speech.{fmt}")
    # lossy codecs shift and shape the signal: compare energy envelopes of 0.1 s frames
    n = min(len(mono), len(other)) // 1600 * 1600
    assert n > 16000 * 20
    lag = int(np.argmax(np.correlate(other[:48000], mono[:16000], "valid")))
    env = lambda a: np.sqrt((a[:n - 1600].reshape(-1, 1600) ** 2).mean(1))
    assert np.corrcoef(env(mono), env(other[lag:lag + n]))[0, 1] > 0.95


def test_audio_declaring_hours_it_does_not_hold(tmp_path):
    """A WAV header whose data chunk claims about 37 hours, over 1 KB of samples: libsndfile
    counts the frames that are there, and nothing is allocated for what the header claims."""
    import struct
    header = (b"RIFF" + struct.pack("<I", 0xFFFFFFF0) + b"WAVEfmt " +
              struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) +
              b"data" + struct.pack("<I", 0xFFFFFFD0))
    (tmp_path / "liar.wav").write_bytes(header + bytes(1024))
    audio = qattn.load_audio(tmp_path / "liar.wav")  # 512 frames at 8 kHz
    assert len(audio) <= 2 * 512 + 16 and not audio.any()
    with pytest.raises(ValueError, match="n_mels"):
        qattn.mel_filters(0)
    with pytest.raises(ValueError, match="n_mels"):
        qattn.mel_filters(513)


def test_audio_errors(files):
    for name, words in (("corrupt.wav", "corrupt.wav"), ("empty.wav", "empty.wav"),
                        ("missing.wav", "missing.wav")):
        with pytest.raises(qattn.QattnError, match=words):
            qattn.load_audio(files / name)
    with pytest.raises(qattn.QattnError, match="at least 201"):
        qattn.log_mel(np.zeros(200, np.float32))
    with pytest.raises(TypeError):
        qattn.log_mel(np.zeros(1000, np.int16))
    with pytest.raises(ValueError, match="n_mels"):
        qattn.log_mel(np.zeros(1000, np.float32), n_mels=0)
    bad = np.zeros(1000, np.float32)
    bad[500] = np.nan
    with pytest.raises(qattn.QattnError, match="sample 500 is not finite"):
        qattn.log_mel(bad)
    with pytest.raises(TypeError):
        qattn.log_mel(np.zeros((2, 1000), np.float32))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return write_hf(tmp_path_factory.mktemp("m") / "tiny", "tiny", random_weights("tiny", seed=2))


def encode(model, wav, out, *extra):
    return subprocess.run([QATTN, "encode", "--model", str(model), "--wav", str(wav), "--out",
                           str(out), "--threads", "2", *extra], capture_output=True, text=True)


@pytest.mark.parametrize("name,windows", [("speech.wav", 2), ("stereo.wav", 2),
                                          ("speech44k.flac", 2), ("silence.wav", 1), ("clip.wav", 1)])
def test_encode_wav_every_kind(files, model, tmp_path, name, windows):
    r = encode(model, files / name, tmp_path / "enc.npy", "--quiet")
    assert r.returncode == 0, r.stderr
    out = np.load(tmp_path / "enc.npy")
    assert out.shape == (windows, 1500, 384) and np.isfinite(out).all()
    if name == "speech.wav":
        audio = qattn.load_audio(files / name)
        want = qattn.Encoder(model, "int8", threads=2).encode(whisper_windows(audio, 80, 3000))
        assert np.array_equal(out, want)


def whisper_windows(audio, n_mels, window):
    """Whisper's windowing written here (openai transcribe.py): the log-mel of the audio and
    30 s of zeros; window w is frames [w W, (w + 1) W) of it, zero (pad_or_trim) past the
    len(audio) // 160 frames that hold audio."""
    frames = len(audio) // 160
    mel = qattn.log_mel(np.concatenate([audio, np.zeros(480000, np.float32)]), n_mels)
    count = -(-frames // window)
    out = np.zeros((count, n_mels, window), np.float32)
    for w in range(count):
        part = mel[:, w * window:min((w + 1) * window, frames)]
        out[w, :, :part.shape[1]] = part
    return out


@pytest.mark.parametrize("size", ["ctx100", "ctx1600"])
def test_windows_are_the_models(files, tmp_path, size):
    """A model whose n_ctx is not 1500 gets windows of its own length, 2 n_ctx frames, from
    the CLI, the Python binding and the library alike (ctx1600 reads 3200 frames per window:
    a caller that assumed 3000 would read past its buffer, which the ASan run catches)."""
    model = write_hf(tmp_path / size, size, random_weights(size, seed=4))
    enc = qattn.Encoder(model, "int8", threads=2)
    window = 2 * enc.n_ctx
    audio = qattn.load_audio(files / "speech.wav")
    want_windows = whisper_windows(audio, 80, window)
    assert want_windows.shape[0] == -(-(len(audio) // 160) // window) >= 1
    assert np.array_equal(enc.windows(audio), want_windows)
    mel = qattn.log_mel_padded(audio, 80)
    assert np.array_equal(enc.windows(mel=mel, frames=len(audio) // 160), want_windows)
    r = encode(model, files / "speech.wav", tmp_path / "enc.npy", "--quiet")
    assert r.returncode == 0, r.stderr
    out = np.load(tmp_path / "enc.npy")
    assert out.shape == (want_windows.shape[0], enc.n_ctx, 64)
    assert np.array_equal(out, enc.encode(want_windows))
    with pytest.raises(qattn.QattnError, match="bands"):
        qattn.Encoder(model, "int8").windows(mel=np.zeros((128, 500), np.float32))
    assert enc.windows(mel=np.zeros((80, 0), np.float32)).shape == (0, 80, window)


def test_encode_wav_errors(files, model, tmp_path):
    for name in ("corrupt.wav", "empty.wav", "missing.wav"):
        r = encode(model, files / name, tmp_path / "x.npy")
        assert r.returncode != 0 and name in r.stderr and r.stderr.count("\n") == 1
        assert not (tmp_path / "x.npy").exists()


def test_mel_command(files, tmp_path):
    r = subprocess.run([QATTN, "mel", str(files / "speech.wav"), "--out", str(tmp_path / "m.npy"),
                        "--n-mels", "128"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    m = np.load(tmp_path / "m.npy")
    assert np.array_equal(m, qattn.log_mel(qattn.load_audio(files / "speech.wav"), 128))
    r = subprocess.run([QATTN, "mel", str(files / "corrupt.wav"), "--out", str(tmp_path / "m.npy")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "corrupt.wav" in r.stderr
    r = subprocess.run([QATTN, "mel", str(files / "clip.wav"), "--out", str(tmp_path / "x" / "m.npy")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "cannot create" in r.stderr
    r = subprocess.run([QATTN, "mel", str(files / "clip.wav")], capture_output=True, text=True)
    assert r.returncode == 2 and "--out" in r.stderr
