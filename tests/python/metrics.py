"""Error metrics of an int8 output against an int8 reference, as `qattn check` reports them."""
import numpy as np


def compare(out, ref):
    a = out.astype(np.float64).ravel()
    b = ref.astype(np.float64).ravel()
    err = np.abs(a - b)
    return {
        "corr": float(np.corrcoef(a, b)[0, 1]),
        "mae": float(err.mean()),
        "within1": float((err <= 1).mean()),
        "within5": float((err <= 5).mean()),
        "max_err": int(err.max()),
        "range": (int(a.min()), int(a.max())),
        "ref_range": (int(b.min()), int(b.max())),
    }
