"""Centred sparse rows through the dense kernels, a piece at a time made dense, against the O(nonzeros) kernel
that centres them, and against the dense copy of the rows: an epoch's seconds, side by side.

CSR files of Poisson counts with 1% to 30% of their columns nonzero (every share where the rows are centred
by default: training/autooptimizer.py ``dense_enough``), 2,000 and 20,000 columns, a linear model (one output)
and a 5-class softmax, at batch 32 (the default) and 256, each trained for 5 epochs at the defaults
(standardized, so the rows are centred) three ways in this process: by the dense kernels
(``autooptimizer.DENSIFIED_SHARE`` set to 0), by the centring kernel (set past 1), and on the dense copy of
the rows.  Every problem holds 24 million values dense (12,000 rows of 2,000 columns), so an epoch reads and
computes the same on each.  Prints the median of epochs 2 to 5 of each, and the ratio of the centring
kernel's to the dense kernels': above 1 the dense kernels are faster, which is where DENSIFIED_SHARE should
send the rows.  Raw figures go to bench/results/<date>-densified.json.

    python bench/densified.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile

import h5py
import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import save_record  # noqa: E402

from sgdcli import train  # noqa: E402
from sgdcli.options import TrainOptions  # noqa: E402
from sgdcli.training import autooptimizer  # noqa: E402

VALUES = 24_000_000  # dense values a problem holds
EPOCHS = 5  # the first is left out: its windows are read cold
SHARES = (0.01, 0.03, 0.05, 0.1, 0.2, 0.3)
QUICK_SHARES = (0.03, 0.1, 0.3)


def write(path: str, X: np.ndarray, y: np.ndarray, dense: bool) -> str:
    with h5py.File(path, "w") as f:
        if dense:
            f["X"] = X
        else:
            M = sp.csr_matrix(X)
            g = f.create_group("X")
            g["data"], g["indices"], g["indptr"] = M.data, M.indices, M.indptr
            g.attrs["shape"] = M.shape
        f["y"] = y
    return path


def problem(tmp: str, columns: int, share: float, model: str, rng) -> tuple[str, str]:
    """Poisson counts with ``share`` of the values nonzero, and a target of a linear model of them."""
    rows = VALUES // columns
    X = rng.poisson(-np.log1p(-share), (rows, columns)).astype(np.float32)
    W = rng.standard_normal((columns, 5)) / np.sqrt(share * columns)
    scores = X @ W
    if model == "softmax":
        y = np.argmax(scores + rng.gumbel(size=scores.shape), axis=1).astype(np.int64)
    else:
        y = scores[:, 0] + rng.standard_normal(rows)
    return write(os.path.join(tmp, "c.h5"), X, y, False), write(os.path.join(tmp, "d.h5"), X, y, True)


def epoch_seconds(path: str, model: str, batch: int, share: float | None = None) -> float:
    """The median seconds of epochs 2 to EPOCHS; ``share``: DENSIFIED_SHARE for this run."""
    kept = autooptimizer.DENSIFIED_SHARE
    if share is not None:
        autooptimizer.DENSIFIED_SHARE = share
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            m = train(path, TrainOptions(model=model, batch_size=batch, epochs=EPOCHS))
    finally:
        autooptimizer.DENSIFIED_SHARE = kept
    return statistics.median(h["seconds"] for h in m.history[1:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 columns, batch 32, three shares")
    args = ap.parse_args()
    widths, batches, shares = ((2000,), (32,), QUICK_SHARES) if args.quick else ((2000, 20000), (32, 256), SHARES)
    rng = np.random.default_rng(0)
    rows = []
    print(f"{'columns':>7} {'nonzero':>7} {'model':>7} {'batch':>5} | {'dense kernels':>13} {'centring':>9} "
          f"{'dense copy':>10} | centring / dense kernels")
    for columns in widths:
        for share in shares:
            for model in ("linear", "softmax"):
                with tempfile.TemporaryDirectory() as tmp:
                    csr, dense = problem(tmp, columns, share, model, rng)
                    for batch in batches:
                        pieces = epoch_seconds(csr, model, batch, 0.0)
                        centring = epoch_seconds(csr, model, batch, 2.0)
                        copy = epoch_seconds(dense, model, batch)
                        rows.append({"columns": columns, "share": share, "model": model, "batch": batch,
                                     "densified": pieces, "centring": centring, "dense_copy": copy})
                        print(f"{columns:>7} {share:>7.0%} {model:>7} {batch:>5} | {pieces:>12.3f}s {centring:>8.3f}s "
                              f"{copy:>9.3f}s | {centring / pieces:.2f}", flush=True)
    print(f"DENSIFIED_SHARE: {autooptimizer.DENSIFIED_SHARE:.0%}")
    print(f"\nraw figures: {save_record('densified', args.quick, runs=rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
