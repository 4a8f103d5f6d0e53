"""Where the int8 encoder's error enters on the trained models: for each depth L, the model
cut after L layers (written as a CTranslate2 file from the trained weights, final LayerNorm
kept) runs through qattn int8 and CTranslate2 int8, and both are compared with the torch
float64 encoder cut the same way, on the first window of each espeak-ng clip. Prints a table
and draws docs/images/trained_int8_error.png.

usage: PYTHONPATH=python:tests/python <test venv>/bin/python tools/accuracy/trained_report.py [OUT.png]
(the test venv and the models: tests/models/fetch.py)"""
import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "python"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import qattn  # noqa: E402
from speech import make_clips  # noqa: E402
from trained import MODELS, hf_encoder_weights, model_dir, read_ct2  # noqa: E402
from whisper_files import compare, ct2_bytes, ct2_names, torch_encoder  # noqa: E402


def truncated(weights, layers):
    w = {k: v for k, v in weights.items() if not k.startswith("layers.") or int(k.split(".")[1]) < layers}
    return w


def main():
    import ctranslate2
    out_png = sys.argv[1] if len(sys.argv) > 1 else "docs/images/trained_int8_error.png"
    tmp = tempfile.mkdtemp()
    clips = make_clips(tmp)
    results = {}
    for name in MODELS:
        d = model_dir(name)
        variables = read_ct2(os.path.join(d, "model.bin"))
        full, layers = hf_encoder_weights(variables)
        # CTranslate2 builds the decoder too: the file keeps the model's own decoder variables
        decoder = [(k, np.asarray(v, np.float16) if np.asarray(v).dtype.kind == "f" else np.asarray(v),
                    4 if np.asarray(v).dtype.kind == "f" else {1: 1, 2: 2, 4: 3}[np.asarray(v).dtype.itemsize])
                   for k, v in variables.items() if k.startswith("decoder/") and k != "decoder/projection/weight"]
        enc = qattn.Encoder(d, "f32")
        mel = np.stack([enc.windows(qattn.load_audio(p))[0] for p, _ in clips.values()])
        dims = (enc.n_mels, enc.n_state, enc.n_heads)
        rows = []
        for depth in range(1, layers + 1):
            w = truncated(full, depth)
            ref = torch_encoder(w, (*dims, depth), mel)
            cut = os.path.join(tmp, f"{name}_{depth}")
            os.makedirs(cut, exist_ok=True)
            blob, _ = ct2_bytes(ct2_names({k: np.asarray(v, np.float32) for k, v in w.items()}), dims[2],
                                "float32", extra=decoder)
            open(os.path.join(cut, "model.bin"), "wb").write(blob)
            for f in os.listdir(d):
                if f.startswith(("vocabulary", "config", "tokenizer")):
                    shutil.copy(os.path.join(d, f), cut)
            ours = compare(qattn.Encoder(cut, "int8", threads=2).encode(mel), ref)
            engine = ctranslate2.models.Whisper(cut, device="cpu", compute_type="int8", intra_threads=2)
            theirs = compare(np.array(engine.encode(ctranslate2.StorageView.from_array(mel))), ref)
            rows.append((depth, ours, theirs))
            print(f"{name:8s} layers {depth}: qattn int8 cos {ours['cosine']:.5f} worst {ours['min_cosine']:.4f} "
                  f"frob {ours['frobenius']:.4f} | CTranslate2 int8 cos {theirs['cosine']:.5f} "
                  f"worst {theirs['min_cosine']:.4f} frob {theirs['frobenius']:.4f}", flush=True)
        results[name] = rows
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key, label in ((axes[0], "frobenius", "relative Frobenius error"), (axes[1], "min_cosine", "worst frame cosine")):
        for name, rows in results.items():
            depth = [r[0] for r in rows]
            ax.plot(depth, [r[1][key] for r in rows], "o-", label=f"qattn int8, {name}")
            ax.plot(depth, [r[2][key] for r in rows], "s--", label=f"CTranslate2 int8, {name}")
        ax.set_xlabel("encoder layers kept")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("int8 encoders against float64 on trained Whisper and espeak-ng speech")
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    print("wrote", out_png)


if __name__ == "__main__":
    main()
