"""Encode an audio file's 30 s windows with qattn and print the shape and the time taken.
usage: PYTHONPATH=python /usr/bin/python3 examples/encode_wav.py MODEL AUDIO"""
import sys
import time

import numpy as np

import qattn

model, path = sys.argv[1], sys.argv[2]
enc = qattn.Encoder(model, precision="int8")
audio = qattn.load_audio(path)
windows = max(1, -(-len(audio) // 480000))
mel = qattn.log_mel(np.concatenate([audio, np.zeros(480000, np.float32)]), enc.n_mels)
batch = np.stack([mel[:, w * 3000:(w + 1) * 3000] for w in range(windows)])
start = time.perf_counter()
features = enc.encode(batch)
print(f"{path}: {len(audio) / 16000:.1f} s of audio -> {features.shape} in "
      f"{(time.perf_counter() - start) * 1000:.0f} ms")
