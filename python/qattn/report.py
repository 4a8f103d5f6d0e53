"""Pictures of qattn's accuracy and speed (Debian's python3-matplotlib).

    PYTHONPATH=python /usr/bin/python3 -m qattn.report docs/images [--qattn build/qattn]

writes accuracy.png (the kernel's error histogram beside the quantization floor's, for the
seed's 64x64 test and the Whisper-base shape) and bench.png (`qattn bench --json`: each tier
against the float32 OpenBLAS baseline). --no-bench skips the benchmark (it takes ~30 s).
"""
import argparse
import json
import math
import os
import subprocess

import numpy as np

import qattn


def _attention(Q, K, V):
    """float64 softmax attention over (H, L, D)."""
    s = Q @ np.swapaxes(K, -1, -2) / math.sqrt(Q.shape[-1])
    p = np.exp(s - s.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)) @ V


def _case(shape, truncate):
    """DESIGN.md's protocols: np.random.seed(42), randn; max-abs int8 (truncating or
    rounding); the reference on the float inputs quantized by its own max-abs; the floor is
    exact attention on the int8 inputs, rounded."""
    np.random.seed(42)
    Q, K, V = (np.random.randn(*shape).astype(np.float32).astype(np.float64) for _ in range(3))
    Q, K, V = (x if x.ndim == 3 else x[None] for x in (Q, K, V))
    rnd = np.trunc if truncate else np.rint

    def quant(x):
        s = np.abs(x).max() / 127
        return np.clip(rnd(x / s), -128, 127).astype(np.int8), s

    (q, sq), (k, sk), (v, sv) = quant(Q), quant(K), quant(V)
    ref, so = quant(_attention(Q, K, V))
    floor = np.clip(np.rint(_attention(q * sq, k * sk, v * sv) / so), -128, 127)
    out = qattn.attention(q, k, v, sq, sk, sv, so)
    return (out.astype(int) - ref).ravel(), (floor.astype(int) - ref).ravel()


def accuracy_figure(path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [("seed's test, 64x64 (truncating)", (64, 64), True),
             ("Whisper base, 8 x 1500 x 64 (rounding)", (8, 1500, 64), False)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (title, shape, trunc) in zip(axes, cases):
        kernel, floor = _case(shape, trunc)
        lo, hi = min(kernel.min(), floor.min()), max(kernel.max(), floor.max())
        bins = np.arange(lo - 0.5, hi + 1.5)
        width = 0.4
        kh, _ = np.histogram(kernel, bins)
        fh, _ = np.histogram(floor, bins)
        centers = np.arange(lo, hi + 1)
        ax.bar(centers - width / 2, fh / fh.sum() * 100, width, label="floor (exact softmax, int8 inputs)")
        ax.bar(centers + width / 2, kh / kh.sum() * 100, width, label="qattn integer kernel")
        ax.set_yscale("log")
        ax.set_xlabel("error against the float reference (output LSB)")
        ax.set_ylabel("share of outputs (%)")
        ax.set_title(f"{title}\nMAE kernel {np.abs(kernel).mean():.3f}, floor {np.abs(floor).mean():.3f}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def bench_figure(path, qattn_cli):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = subprocess.run([qattn_cli, "bench", "--json", "--threads", "2"], capture_output=True,
                         text=True, check=True)
    runs = [r for r in json.loads(run.stdout)["runs"] if "tier" in r and "shape" in r]
    shapes = list(dict.fromkeys(r["shape"] for r in runs))
    tiers = list(dict.fromkeys(r["tier"] for r in runs))
    fig, ax = plt.subplots(figsize=(11, 4))
    width = 0.8 / (len(tiers) + 1)
    x = np.arange(len(shapes))
    floats = [next(r["float_ms"] for r in runs if r["shape"] == s) for s in shapes]
    ax.bar(x - 0.4 + width / 2, floats, width, label="float32 (OpenBLAS + softmax)", color="gray")
    for i, t in enumerate(tiers):
        ms = [next((r["ms"] for r in runs if r["shape"] == s and r["tier"] == t), 0) for s in shapes]
        ax.bar(x - 0.4 + width * (i + 1.5), ms, width, label=f"int8, {t}")
    ax.set_yscale("log")
    ax.set_xticks(x, shapes)
    ax.set_ylabel("ms per call, 2 threads (log scale)")
    ax.set_title("qattn bench: attention per call, lower is better")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--qattn", default=os.path.join(os.path.dirname(__file__), "..", "..", "build", "qattn"))
    ap.add_argument("--no-bench", action="store_true")
    args = ap.parse_args(argv)
    os.makedirs(args.outdir, exist_ok=True)
    accuracy_figure(os.path.join(args.outdir, "accuracy.png"))
    if not args.no_bench:
        bench_figure(os.path.join(args.outdir, "bench.png"), args.qattn)


if __name__ == "__main__":
    main()
