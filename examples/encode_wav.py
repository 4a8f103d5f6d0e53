"""Encode an audio file's 30 s windows with qattn and print the shape and the time taken.
usage: PYTHONPATH=python /usr/bin/python3 examples/encode_wav.py MODEL AUDIO"""
import sys
import time

import qattn

model, path = sys.argv[1], sys.argv[2]
enc = qattn.Encoder(model, precision="int8")
audio = qattn.load_audio(path)
batch = enc.windows(audio)  # Whisper's windows: the model's length, zero past the audio
start = time.perf_counter()
features = enc.encode(batch)
print(f"{path}: {len(audio) / 16000:.1f} s of audio -> {features.shape} in "
      f"{(time.perf_counter() - start) * 1000:.0f} ms")
