"""Speech whose words are known: espeak-ng (Debian) reading fixed texts, written as 16 kHz
WAV files, one of them with noise added. The texts are this project's own."""
import os
import subprocess
import wave

import numpy as np

TEXTS = {
    "short": "The quick brown fox jumps over the lazy dog.",
    "numbers": "Please call me back at five o'clock, or send a message before the meeting on Tuesday.",
    "long": (  # about 40 seconds: more than one 30 second window
        "Every morning the small harbour town woke to the sound of gulls and engines. "
        "The fishermen checked their nets, the baker opened his shutters, and the children "
        "ran down the hill towards the school by the water. Nobody in the town could remember "
        "a winter as cold as the last one, when the sea froze along the edge of the pier and "
        "the boats stayed tied up for almost three weeks. Now the days were getting longer "
        "again, and the first tourists of the season had started to arrive with their cameras "
        "and their maps, asking the way to the old lighthouse on the cliff."),
}


GERMAN = ("Am Morgen fährt der Zug pünktlich um acht Uhr ab. Die Reisenden trinken Kaffee "
          "und lesen die Zeitung, während draußen die Felder vorbeiziehen.")


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def read_wav(path):
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768, w.getframerate()


def write_wav(path, audio, rate=16000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


def make_clips(directory):
    """{name: (path, text)}: each text read by espeak-ng at 16 kHz, and "noisy": the long one
    with white noise at 10 dB SNR."""
    clips = {}
    for name, text in TEXTS.items():
        raw = os.path.join(directory, name + "_22k.wav")
        sh("espeak-ng", "-v", "en-us", "-s", "160", "-w", raw, text)
        path = os.path.join(directory, name + ".wav")
        sh("sox", raw, "-D", "-r", "16000", path)  # -D: no dither (random), clips repeat exactly
        clips[name] = (path, text)
    audio, rate = read_wav(clips["long"][0])
    noise = np.random.default_rng(7).standard_normal(len(audio)).astype(np.float32)
    noise *= np.sqrt(np.mean(audio ** 2) / np.mean(noise ** 2) / 10 ** (10 / 10))
    path = os.path.join(directory, "noisy.wav")
    write_wav(path, audio + noise, rate)
    clips["noisy"] = (path, TEXTS["long"])
    return clips


def make_transcription_clips(directory):
    """make_clips' clips and, for transcription: "silence" (10 s of zeros), "german" (espeak-ng
    reading GERMAN), "minutes" (about two minutes: the long clip, the numbers clip and the long
    clip again, with a second of silence between them)."""
    clips = make_clips(directory)
    rate = 16000
    path = os.path.join(directory, "silence.wav")
    write_wav(path, np.zeros(10 * rate, np.float32), rate)
    clips["silence"] = (path, "")
    raw = os.path.join(directory, "german_22k.wav")
    sh("espeak-ng", "-v", "de", "-s", "150", "-w", raw, GERMAN)
    path = os.path.join(directory, "german.wav")
    sh("sox", raw, "-D", "-r", "16000", path)  # -D: no dither (random), clips repeat exactly
    clips["german"] = (path, GERMAN)
    gap = np.zeros(rate, np.float32)
    parts = [read_wav(clips[n][0])[0] for n in ("long", "numbers", "long")]
    path = os.path.join(directory, "minutes.wav")
    write_wav(path, np.concatenate([parts[0], gap, parts[1], gap, parts[2]]), rate)
    clips["minutes"] = (path, " ".join([TEXTS["long"], TEXTS["numbers"], TEXTS["long"]]))
    return clips
