"""The WER tables of the README: python -m qattn.wer with every engine of qattn.wer.ENGINES on one model, after
writing whisper.cpp's f16 and q8_0 ggml files from the same CTranslate2 weights (as
convert-pt-to-ggml.py and whisper.cpp's quantize tool write them; tests/python/converted.py)
into --work, and a 2.4-minute espeak-ng recording (tests/python/speech.py's 72 s recording
twice, a second apart) for the long form, group "synthetic". Peer transcripts are cached in
--work/peers.json.

usage: PYTHONPATH=python:tests/python <test venv>/bin/python tools/accuracy/wer_peers.py
       MODEL_DIR [--work DIR] [qattn.wer options ...]"""
import argparse
import os

import numpy as np

import qattn

from qattn import wer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--work", default=os.path.join(os.path.expanduser("~"), ".cache", "qattn-wer"))
    a, rest = ap.parse_known_args()
    from converted import write_ggml
    from whisper_files import GGML_Q8_0
    name = os.path.basename(os.path.normpath(a.model))
    os.makedirs(a.work, exist_ok=True)
    ggml = {}
    for kind, qtype in (("f16", None), ("q8_0", GGML_Q8_0)):
        path = os.path.join(a.work, f"{name}-{kind}.bin")
        if not os.path.exists(path):
            # whisper.cpp computes its own log-mel with the file's filter bank: librosa's slaney
            # bank, as its convert-pt-to-ggml.py copies from Whisper's mel_filters.npz
            write_ggml(a.model, path + ".partial", qtype, qattn.mel_filters)
            os.replace(path + ".partial", path)
        ggml[kind] = path
    wer.main([a.model, "--engines", ",".join(wer.ENGINES), "--ggml-f16", ggml["f16"],
              "--ggml-q8_0", ggml["q8_0"], "--cache", os.path.join(a.work, "peers.json"),
              "--long-manifest", synthetic(a.work)] + rest)


def synthetic(work):
    """work/synthetic/manifest.tsv: the espeak-ng recording, made once (espeak-ng and sox
    write the same samples each time: no dither)."""
    from speech import make_transcription_clips, read_wav, write_wav
    d = os.path.join(work, "synthetic")
    manifest = os.path.join(d, "manifest.tsv")
    if not os.path.exists(manifest):
        os.makedirs(d, exist_ok=True)
        path, text = make_transcription_clips(d)["minutes"]
        audio, rate = read_wav(path)
        both = np.concatenate([audio, np.zeros(rate, np.float32), audio])
        write_wav(os.path.join(d, "espeak-2x.wav"), both, rate)
        with open(manifest + ".partial", "w") as f:
            f.write("path\tduration_s\tspeaker\tsource\tgroup\ttranscript\n")
            f.write(f"espeak-2x.wav\t{len(both) / rate:.3f}\tespeak-ng\tespeak-ng\tsynthetic\t{text} {text}\n")
        os.replace(manifest + ".partial", manifest)
    return manifest


if __name__ == "__main__":
    main()
