"""How far `--lr auto` ends from the optimum of the weighted objective on rare positives, with `--class-weight
balanced` and with explicit weights.

Each problem is logistic data of ROWS rows and FEATURES Gaussian features whose positives are a given share of
the rows (the bias of the true model set so; its weights of norm SIGNAL), written to HDF5 with a sample-weight dataset ``w``.  Each run
trains with the API (seed 0, one thread, 5 epochs, cosine unless the run says otherwise) and is measured by its
weighted mean log loss on the training rows against the exact optimum of that objective (Newton's method on the
raw features with the bias: without --l2 the optimum's loss does not depend on how the features are scaled).
A cell is the excess in percent, with `h` for each halving after a blow-up.  Run it on two trees (PYTHONPATH)
to compare them.

    python bench/class_weight.py [--only NAME] [--runs a,b,...] [--seeds N] [--rows N] [--features N] [--signal S]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from problems import bias_for  # noqa: E402
from sgdcli import TrainOptions, train  # noqa: E402

ROWS = 100_000
FEATURES = 50
SIGNAL = 4.0  # the norm of the true weights: how far the positives stand apart
# name: (share of positives, the weights: "balanced" (--class-weight), "C=W,..." (--class-weight), "lognormal"
# (--sample-weight w, heavy-tailed weights of median 1), None (no weights))
PROBLEMS = {
    "1% balanced": (0.01, "balanced"),
    "0.1% balanced": (0.001, "balanced"),
    "1% 1=20": (0.01, "0=1,1=20"),
    "0.1% 1=100": (0.001, "0=1,1=100"),
    "1% lognormal w": (0.01, "lognormal"),
    "1% unweighted": (0.01, None),
    "0.1% unweighted": (0.001, None),
}
RUNS = {
    "B32": {},
    "B256": {"batch_size": 256},
    "full": {"batch_size": None, "epochs": 100},
    "B32 constant": {"schedule": "constant"},
    "B32 sgd": {"optimizer": "sgd"},
}


def write(path: str, share: float, seed: int = 0, rows: int = ROWS, features: int = FEATURES, signal: float = SIGNAL
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features)).astype(np.float32)
    w = rng.standard_normal(features)
    w *= signal / np.linalg.norm(w)
    score = X.astype(np.float64) @ w
    bias = bias_for(score, share)
    y = (rng.random(rows) < 1 / (1 + np.exp(-(score + bias)))).astype(np.float32)
    sample = np.exp(1.5 * rng.standard_normal(rows)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["X"], f["y"], f["w"] = X, y, sample
    return X.astype(np.float64), y.astype(np.float64), sample.astype(np.float64)


def row_weights(y: np.ndarray, sample: np.ndarray, weights: str | None) -> np.ndarray:
    if weights is None:
        return np.ones(len(y))
    if weights == "lognormal":
        return sample
    if weights == "balanced":
        counts = {c: np.sum(y == c) for c in (0.0, 1.0)}
        return np.where(y == 1, len(y) / (2 * counts[1.0]), len(y) / (2 * counts[0.0]))
    given = dict(item.split("=") for item in weights.split(","))
    return np.where(y == 1, float(given.get("1", 1)), float(given.get("0", 1)))


def objective(X: np.ndarray, y: np.ndarray, v: np.ndarray, theta: np.ndarray) -> float:
    s = X @ theta[:-1] + theta[-1]
    return float(np.sum(v * (np.logaddexp(0, s) - y * s)) / np.sum(v))


def optimum(X: np.ndarray, y: np.ndarray, v: np.ndarray) -> float:
    """The weighted mean log loss at the optimum, by Newton's method with a backtracking line search."""
    Z = np.column_stack([X, np.ones(len(X))])
    theta, value = np.zeros(Z.shape[1]), objective(X, y, v, np.zeros(Z.shape[1]))
    total = v.sum()
    for _ in range(100):
        p = 1 / (1 + np.exp(-(Z @ theta)))
        g = Z.T @ (v * (p - y)) / total
        H = (Z * (v * p * (1 - p))[:, None]).T @ Z / total
        step = -np.linalg.solve(H, g)
        if -(g @ step) < 1e-15:
            break
        t = 1.0
        while t > 1e-10 and objective(X, y, v, theta + t * step) > value + 1e-4 * t * (g @ step):
            t /= 2
        theta, value = theta + t * step, objective(X, y, v, theta + t * step)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="comma-separated problems")
    parser.add_argument("--runs", default=None, help="comma-separated runs")
    parser.add_argument("--seeds", type=int, default=1, help="data seeds to average the excess over")
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--features", type=int, default=FEATURES)
    parser.add_argument("--signal", type=float, default=SIGNAL, help="the norm of the true weights")
    args = parser.parse_args()
    problems = args.only.split(",") if args.only else list(PROBLEMS)
    runs = args.runs.split(",") if args.runs else list(RUNS)
    print("| problem | " + " | ".join(runs) + " |")
    print("|---|" + "---|" * len(runs))
    with tempfile.TemporaryDirectory() as tmp:
        for name in problems:
            share, weights = PROBLEMS[name]
            cells = {run: [] for run in runs}
            for seed in range(args.seeds):
                path = os.path.join(tmp, f"{seed}.h5")
                X, y, sample = write(path, share, seed, args.rows, args.features, args.signal)
                v = row_weights(y, sample, weights)
                best = optimum(X, y, v)
                for run in runs:
                    extra = dict(RUNS[run])
                    if weights == "lognormal":
                        extra["sample_weight"] = "w"
                    elif weights is not None:
                        extra["class_weight"] = weights
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        model = train(path, TrainOptions(model="logistic", seed=0, threads=1, **extra))
                    W = model.raw_weights()[0]
                    gap = objective(X, y, v, W) / best - 1
                    halvings = (model.training.get("lr_auto") or {}).get("halvings", 0) or 0
                    warned = "W" if any("optimum" in str(c.message) for c in caught) else ""
                    cells[run].append((gap, halvings, warned))
            row = []
            for run in runs:
                gaps = [c[0] for c in cells[run]]
                marks = "h" * max(c[1] for c in cells[run]) + ("W" if any(c[2] for c in cells[run]) else "")
                row.append(f"{100 * np.mean(gaps):+.2f}%{(' ' + marks) if marks else ''}")
            print(f"| {name} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
