"""The label pass of a classifier's run (engine/passes.py ``label_pass``): its labels' values counted by one
compiled pass against the values already found (model/labels.py ``tally``), or by sorting every block
(``np.unique``, as before), side by side in one run, with one epoch of the same file for scale.

Each file is ROWS × FEATURES float32 Gaussian features and labels of a given kind, written contiguous; the pass
and the epoch (one thread, batch 256) are timed over REPEATS runs each, the least kept.

    python bench/label_pass.py [--rows N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings

import h5py
import numpy as np

from sgdcli import TrainOptions, train
from sgdcli.data.table import Table
from sgdcli.engine import passes
from sgdcli.model import labels as labels_mod

ROWS = 4_000_000
FEATURES = 10
REPEATS = 3
BLOCK_ROWS = 1 << 18
# name: (model, labels of n rows from a generator)
KINDS = {
    "binary, 2% positives": ("logistic", lambda rng, n: (rng.random(n) < 0.02).astype(np.float32)),
    "10 classes": ("softmax", lambda rng, n: rng.integers(0, 10, n).astype(np.float32)),
    "100 classes": ("softmax", lambda rng, n: rng.integers(0, 100, n).astype(np.float32)),
}


def sorted_tally(labels: np.ndarray, known: np.ndarray):
    """Every block sorted, as before."""
    return np.unique(labels, return_inverse=True, return_counts=True)


def best(run) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def label_pass(path: str, model: str) -> float:
    with Table(path) as table:
        spans = [(a, min(a + BLOCK_ROWS, table.n_rows)) for a in range(0, table.n_rows, BLOCK_ROWS)]
        return best(lambda: passes.label_pass(table, spans, BLOCK_ROWS, TrainOptions(model=model)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the labels here are noise
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.rows, FEATURES)).astype(np.float32)
    print(f"{'labels':<22} {'sorted':>8} {'tally':>8} {'ratio':>6} {'epoch':>8}   ({args.rows:,} rows x {FEATURES} "
          f"features; seconds, the least of {REPEATS})")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model, draw) in KINDS.items():
            path = os.path.join(tmp, "rows.h5")
            with h5py.File(path, "w") as f:
                f["X"], f["y"] = X, draw(rng, args.rows)
            label_pass(path, model)  # the kernels loaded
            shipped = labels_mod.tally
            labels_mod.tally = sorted_tally
            try:
                before = label_pass(path, model)
            finally:
                labels_mod.tally = shipped
            after = label_pass(path, model)
            epoch = best(lambda: train(path, TrainOptions(model=model, epochs=1, threads=1, batch_size=256)))
            print(f"{name:<22} {before:>8.3f} {after:>8.3f} {before / after:>6.1f} {epoch:>8.3f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
