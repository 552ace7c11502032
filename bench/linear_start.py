"""Where a fresh mini-batch linear model starts: the labels' mean, or the least-squares fit of the run's sample
(training/start.py ``fitted``), side by side in one run.

Each problem is trained with the API (the defaults but the batch, one thread) and measured by its mean squared
error over every row against the least-squares optimum (numpy's lstsq on the rows and the bias's 1), and whether
the run was warned.  The labels' mean is ``training.run.fitted`` wrapped to find no fit; the fit is as shipped.

Problems: polynomial features (t to t⁶ on [0, 3]; t to t⁵ on [0, 10] beside 5 noise features), sensors of one
quantity (30 and 220 of them), pairs of near-duplicate measurements whose label is their difference, and
well-conditioned rows (Gaussian features of spreads 0.5 to 3; one lognormal feature; 2,000 rows).

    python bench/linear_start.py [--rows N] [--batches B,B,...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sgdcli import TrainOptions, train  # noqa: E402
from sgdcli.training import run as run_mod  # noqa: E402


def problems(rows: int, rng: np.random.Generator):
    t = rng.uniform(0, 3, rows)
    yield "t to t⁶", np.stack([t ** k for k in range(1, 7)], 1), np.sin(2 * t) + 0.1 * rng.standard_normal(rows)
    t, q = rng.uniform(0, 10, rows), rng.standard_normal((rows, 5))
    yield ("t to t⁵, 5 noise", np.hstack([np.stack([t ** k for k in range(1, 6)], 1), q]),
           3 * np.sin(t) + q @ rng.standard_normal(5) + 0.5 * rng.standard_normal(rows))
    for d in (30, 220):
        X = rng.standard_normal((rows, 1)) + 0.02 * rng.standard_normal((rows, d))
        yield f"{d} sensors", X, X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(rows)
    base = rng.standard_normal((rows, 5))
    X = np.repeat(base, 2, 1) + 0.02 * rng.standard_normal((rows, 10))
    w = np.zeros(10)
    w[0::2], w[1::2] = 40, -40
    yield "duplicate pairs", X, X @ w + 0.3 * rng.standard_normal(rows)
    X = rng.standard_normal((rows, 10)) * rng.uniform(0.5, 3, 10)
    yield "Gaussian", X, X @ rng.standard_normal(10) + rng.standard_normal(rows)
    X = rng.standard_normal((rows, 10))
    X[:, 0] = rng.lognormal(0, 2.5, rows)
    yield "lognormal feature", X, X @ np.append(0.01, np.ones(9)) + rng.standard_normal(rows)
    X = rng.standard_normal((2000, 10))
    yield "2,000 rows", X, X @ rng.standard_normal(10) + 2 * rng.standard_normal(2000)


def gap(path: str, X: np.ndarray, y: np.ndarray, best: float, batch: int) -> tuple[float, bool]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = train(path, TrainOptions(model="linear", batch_size=batch, threads=1))
    W = model.raw_weights()[0]
    return 0.5 * np.mean((X @ W[:-1] + W[-1] - y) ** 2) / best - 1, bool(caught)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batches", default="1,32,256")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    real = run_mod.fitted
    print(f"{'problem':18s} {'batch':>5s}  {'from the mean':>15s}  {'from the fit':>15s}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, X, y in problems(args.rows, np.random.default_rng(1)):
            X = X.astype(np.float32)
            path = os.path.join(tmp, "rows.h5")
            with h5py.File(path, "w") as f:
                f["X"], f["y"] = X, y
            X = X.astype(np.float64)
            Z = np.column_stack([X, np.ones(len(y))])
            best = 0.5 * np.mean((Z @ np.linalg.lstsq(Z, y, rcond=None)[0] - y) ** 2)
            for batch in batches:
                cells = []
                for fit in (False, True):
                    run_mod.fitted = real if fit else (lambda *a, **kw: None)
                    try:
                        g, warned = gap(path, X, y, best, batch)
                    finally:
                        run_mod.fitted = real
                    cells.append(f"{g:+9.3%} {'warned' if warned else '      '}")
                print(f"{name:18s} {batch:5d}  {cells[0]}  {cells[1]}", flush=True)


if __name__ == "__main__":
    main()
