"""Features whose spread sits in a few rows, divided by more than their deviation (model/standardize.py
``divisors``) against divided by their deviation alone: each run's objective above the least-squares optimum,
side by side, and the moments pass's time with its third and fourth powers against a read of the same rows.

Linear models at the defaults (momentum 0.9, batch 32, 5 epochs, --lr auto), trained in this process twice:
as they are, and with ``training/setup.divided`` returning the deviations.  The problems: a Gaussian feature
beside a column nonzero in 3 rows and one nonzero in 2% of them (20,000 and 200,000 rows); simulated
single-cell counts (10,000 cells, 1,500 genes expressed at rates from 0.03% to 90%, labels the cell type's code);
and controls with no rare column, of one Gaussian feature, two exponential ones and three log-normal ones
(200,000 rows).  The optimum is NumPy's least squares on the raw rows (the objective without --l2 is the same
in any units).  A run that diverges prints "diverged".  Raw figures go to
bench/results/<date>-heavy-features.json.

    python bench/heavy_features.py [--quick]
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import sys
import tempfile
import time

import h5py
import numpy as np

from sgdcli import TrainOptions, train
from sgdcli.errors import DivergedError
from sgdcli.model.standardize import RunningMoments
from sgdcli.training import setup


def rare(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    X = np.column_stack([rng.standard_normal(n), np.zeros(n), (rng.random(n) < 0.02) * 1.0])
    X[rng.choice(n, 3, replace=False), 1] = 1.0
    return X, X @ [1.0, -2.0, 0.5] + rng.standard_normal(n)


def cells(rng) -> tuple[np.ndarray, np.ndarray]:
    n, genes, types = 10_000, 1_500, 6
    kind = rng.integers(0, types, n)
    rate = np.exp(rng.uniform(np.log(0.0003), np.log(0.9), genes))
    mean = np.exp(rng.normal(0, 1, genes))[None, :] * np.exp(rng.normal(0, 0.7, (types, genes)))[kind]
    X = np.where(rng.random((n, genes)) < rate, rng.poisson(3 * mean) + 1, 0)
    return X.astype(np.float64), kind.astype(np.float64)


def control(columns, rng) -> tuple[np.ndarray, np.ndarray]:
    X = columns(rng)
    return X, X @ rng.standard_normal(X.shape[1]) + rng.standard_normal(len(X))


def problems(quick: bool):
    rng = np.random.default_rng(0)
    yield "Gaussian, 3-row and 2% columns, 20,000 rows", rare(20_000, rng)
    if not quick:
        yield "the same, 200,000 rows", rare(200_000, rng)
    yield "single-cell counts, 10,000 x 1,500", cells(rng)
    n = 50_000 if quick else 200_000
    yield "control: 1 Gaussian", control(lambda r: r.standard_normal((n, 1)), rng)
    yield "control: 2 exponential", control(lambda r: r.exponential(size=(n, 2)), rng)
    yield "control: 3 log-normal", control(lambda r: r.lognormal(size=(n, 3)), rng)


def excess(path: str, X: np.ndarray, y: np.ndarray, optimum: float) -> float:
    """The model's objective on its rows over the optimum, less 1; NaN where it diverged."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            model = train(path, TrainOptions(model="linear"))
    except DivergedError:
        return float("nan")
    W = model.raw_weights()[0]
    return float(0.5 * np.mean((X @ W[:-1] + W[-1] - y) ** 2) / optimum - 1)


def moments_seconds(X: np.ndarray) -> tuple[float, float]:
    """The best of 5 of the moments pass over ``X`` (float32), and of NumPy's sum of its values: a read."""
    X = X.astype(np.float32)
    rows = np.arange(len(X), dtype=np.int64)
    RunningMoments(X.shape[1]).update(X[:10], rows[:10])  # compiled
    passes, reads = [], []
    for _ in range(5):
        start = time.perf_counter()
        RunningMoments(X.shape[1]).update(X, rows)
        passes.append(time.perf_counter() - start)
        start = time.perf_counter()
        X.sum()
        reads.append(time.perf_counter() - start)
    return min(passes), min(reads)


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    deviations = lambda table, opts, facts, *rest: facts.std  # noqa: E731 -- the divisors before
    divided, results = setup.divided, []
    print(f"{'problem':46}{'divided by more':>16}{'by the deviation':>18}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for name, (X, y) in problems(quick):
            path = os.path.join(folder, "p.h5")
            with h5py.File(path, "w") as f:
                f["X"], f["y"] = X.astype(np.float32), y.astype(np.float32)
            X, y = X.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)
            A = np.column_stack([X, np.ones(len(X))])
            theta = np.linalg.lstsq(A, y, rcond=None)[0]
            optimum = float(0.5 * np.mean((A @ theta - y) ** 2))
            setup.divided = divided
            more = excess(path, X, y, optimum)
            setup.divided = deviations
            try:
                plain = excess(path, X, y, optimum)
            finally:
                setup.divided = divided
            cell = lambda gap: "diverged" if gap != gap else f"{100 * gap:+.3f}%"  # noqa: E731
            print(f"{name:46}{cell(more):>16}{cell(plain):>18}{plain / more if more > 0 else float('nan'):8.3g}",
                  flush=True)
            results.append({"problem": name, "optimum": optimum, "divided": more, "deviation": plain})
    rng = np.random.default_rng(1)
    rows = 100_000 if quick else 400_000
    pass_s, read_s = moments_seconds(rng.standard_normal((rows, 100)))
    print(f"\nmoments pass over {rows:,} rows of 100 float32 columns in memory: {pass_s:.4f} s; NumPy's sum of "
          f"their values, a read: {read_s:.4f} s; ratio {pass_s / read_s:.2f}")
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                       f"{datetime.date.today().isoformat()}-heavy-features.json")
    with open(out, "w") as f:
        json.dump({"quick": quick, "problems": results, "moments_s": pass_s, "read_s": read_s}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
