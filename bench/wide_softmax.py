"""Softmax with few rows a weight: how far ``--lr auto``'s rate leaves a run from the optimum, against 3 and 10
times that rate, side by side.

Each problem is 10 classes over 200 features, log counts on 5% of the entries (as single-cell data holds them),
with its labels drawn from a softmax of weights of norm about 11 a class; the rows are 4, 10 and 50 per weight
(2,010 weights); and the 4-a-weight problem again with weights of norm
about 4 and 1.4 a class (noisier labels, an optimum nearer the start).  The sparse files are CSR groups as AnnData writes them (sgdcli scales, does not centre, and
trains with sgd); the 4-a-weight problem is also written dense (standardized, momentum).  No fit of the sample
sets the rate here: it holds more weights than training/gradientnoise.py fits (FIT_UP_TO), so --lr auto is the
worst case's, 1 / (c · (λmax + trace / B')).  Each run is 5 or 20 epochs at the defaults but --lr; the gap is its
training log loss above scikit-learn's unpenalized optimum of the same rows.

    python bench/wide_softmax.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from problems import optimum  # noqa: E402

FEATURES, CLASSES, DENSITY = 200, 10, 0.05
ROWS_PER_WEIGHT = (4, 10, 50)
MULTIPLES = (1, 3, 10)
EPOCHS = (5, 20)
WEAK = (0.3, 0.1)  # the true weights' scale of the noisier problems (0.8 elsewhere)


def problem(rows: int, seed: int, scale: float = 0.8):
    """(X dense float32, y) of one problem: its true weights ``scale`` times standard normal ones."""
    rng = np.random.default_rng(seed)
    X = np.zeros((rows, FEATURES), dtype=np.float32)
    at = rng.random((rows, FEATURES)) < DENSITY
    X[at] = np.log1p(rng.poisson(3, at.sum()) + 1.0)
    S = X @ (rng.standard_normal((FEATURES, CLASSES)) * scale)
    P = np.exp(S - S.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    return X, (P.cumsum(1) > rng.random((rows, 1))).argmax(1).astype(np.float64)


def write(path: str, X: np.ndarray, y: np.ndarray, sparse: bool) -> None:
    with h5py.File(path, "w") as f:
        if sparse:
            rows, cols = np.nonzero(X)
            g = f.create_group("X")
            g.attrs["encoding-type"], g.attrs["encoding-version"], g.attrs["shape"] = "csr_matrix", "0.1.0", X.shape
            g["data"], g["indices"] = X[rows, cols], cols.astype(np.int64)
            g["indptr"] = np.r_[0, np.cumsum(np.bincount(rows, minlength=len(X)))].astype(np.int64)
        else:
            f["X"] = X
        f["y"] = y


def sgdcli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sgdcli", *map(str, args)], capture_output=True, text=True,
                          check=False)


def auto_rate(path: str, out: str) -> float:
    ran = sgdcli("train", path, "-o", out, "--model", "softmax", "--epochs", "1", "--verbose")
    line = next(line for line in ran.stderr.splitlines() if "--lr auto:" in line)
    return float(line.split("--lr auto:")[1].split("=")[0])


def gap(path: str, out: str, lr: float, epochs: int, best: float) -> str:
    ran = sgdcli("train", path, "-o", out, "--model", "softmax", "--lr", lr, "--epochs", epochs, "-q")
    if ran.returncode != 0:
        return f"exit {ran.returncode}"
    loss = json.loads(sgdcli("evaluate", out, path, "--json").stdout)["log_loss"]
    return f"{100 * (loss / best - 1):+.1f}%" + (" W" if "warning" in ran.stderr else "")


def main() -> int:
    print(__doc__.split("\n\n")[0])
    head = "problem".ljust(28) + "auto rate".rjust(10) + "".join(
        f"{f'x{m}, {e} ep':>14}" for m in MULTIPLES for e in EPOCHS)
    print(head)
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "m.h5")
        cases = [(per, 0.8) for per in ROWS_PER_WEIGHT] + [(ROWS_PER_WEIGHT[0], scale) for scale in WEAK]
        for k, (per, scale) in enumerate(cases):
            X, y = problem(per * (FEATURES + 1) * CLASSES, seed=k, scale=scale)
            best = optimum("softmax", X.astype(np.float64), y)
            for sparse in (True, False) if per == ROWS_PER_WEIGHT[0] else (True,):
                path = os.path.join(folder, f"p{k}{'s' if sparse else 'd'}.h5")
                write(path, X, y, sparse)
                lr = auto_rate(path, out)
                cells = [gap(path, out, m * lr, e, best) for m in MULTIPLES for e in EPOCHS]
                name = f"{per} a weight, {'sparse' if sparse else 'dense'}" + (f", x{scale}" if scale != 0.8 else "")
                print(name.ljust(28) + f"{lr:10.4g}" + "".join(f"{c:>14}" for c in cells), flush=True)
    print("W: the run warned at its end that it may be far from the optimum")
    return 0


if __name__ == "__main__":
    sys.exit(main())
