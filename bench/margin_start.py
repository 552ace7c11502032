"""Where a fresh full batch of squared_hinge or modified_huber starts: 0, or the fit of the run's sample
(training/start.py ``fitted``, training/marginfit.py), side by side in one run.

Each problem is bench/fit_start.py's (bench/class_weight.py's data: ROWS × FEATURES Gaussian features, positives a
given share of the rows, the true weights of a given norm) and nearly collinear features (six columns of one signal,
as the tests' ``collinear_classes``), trained with the API (a full batch, one thread, the defaults but the options
of its case) and measured by its objective over every training row (the mean loss, weighted as trained, and --l2's
penalty on the standardized weights) against the optimum of that objective (L-BFGS here). Two starts:

- from 0: ``training.run.fitted`` wrapped to find no fit for these two models (the start before the fit);
- from the fit, as shipped.

The column "warned" counts the runs of that start told the model may be far from the optimum.

    python bench/margin_start.py [--seeds N] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import warnings

import h5py
import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from class_weight import write  # noqa: E402
from fit_start import PROBLEMS as SHARES  # noqa: E402
from sgdcli import TrainOptions, train  # noqa: E402
from sgdcli.training import run as run_mod  # noqa: E402

ROWS = 20_000
FEATURES = 10
MODELS = ("squared_hinge", "modified_huber")
CASES = {"defaults (5 epochs)": {}, "--epochs 20": {"epochs": 20}, "--l2 1e-3": {"l2": 1e-3},
         "--class-weight balanced": {"class_weight": "balanced"}, "--optimizer adam": {"optimizer": "adam"},
         "--optimizer rmsprop": {"optimizer": "rmsprop"},
         "--optimizer sgd --schedule constant": {"optimizer": "sgd", "schedule": "constant"},
         "--average": {"average": True}}


@contextlib.contextmanager
def from_zero():
    """No fit of the sample for the two: they start at 0."""
    real = run_mod.fitted
    run_mod.fitted = lambda model, *args, **kwargs: None if model in MODELS else real(model, *args, **kwargs)
    try:
        yield
    finally:
        run_mod.fitted = real


def collinear(path: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((ROWS, FEATURES))
    X[:, :6] = rng.standard_normal((ROWS, 1)) + 0.05 * rng.standard_normal((ROWS, 6))
    score = 20 * (X[:, 0] - X[:, 1]) + X[:, 2] + X[:, 6]
    y = (2 * score / score.std() + rng.logistic(size=ROWS) > 0).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = X.astype(np.float32), y
    return X.astype(np.float32).astype(np.float64), y.astype(np.float64)


def objective(model: str, Z: np.ndarray, sign: np.ndarray, v: np.ndarray, l2: float):
    """The objective of standardized weights and bias (last), and its gradient."""
    def f(theta):
        m = sign * (Z @ theta[:-1] + theta[-1])
        loss, slope = np.maximum(1 - m, 0) ** 2, -2 * np.maximum(1 - m, 0)
        if model == "modified_huber":
            loss, slope = np.where(m < -1, -4 * m, loss), np.where(m < -1, -4.0, slope)
        g = v * slope * sign / v.sum()
        value = float(v @ loss / v.sum() + 0.5 * l2 * theta[:-1] @ theta[:-1])
        return value, np.append(Z.T @ g + l2 * theta[:-1], g.sum())
    return f


def excess(model: str, path: str, X: np.ndarray, y: np.ndarray, options: dict, start) -> tuple[float, bool]:
    """How far above the optimum a full batch from ``start`` ends, and whether it was told it may be far."""
    with start(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = train(path, TrainOptions(model=model, batch_size="full", threads=1, **options))
    v = np.ones(len(y))
    if options.get("class_weight") == "balanced":
        v = np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))
    Z = (X - m.center) / m.scale
    f = objective(model, Z, 2 * y - 1, v, options.get("l2", 0.0))
    best = minimize(f, np.zeros(X.shape[1] + 1), jac=True, method="L-BFGS-B",
                    options={"maxiter": 100_000, "ftol": 1e-15, "gtol": 1e-12}).fun
    told = any("may be far from the optimum" in str(w.message) for w in caught)
    return f(np.append(m.weights[0], m.bias[0]))[0] / best - 1, told


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--json", default=None, help="write every run's result to this file")
    args = parser.parse_args()
    starts = {"from 0": from_zero, "from the fit": contextlib.nullcontext}
    problems = {**{name: (share, signal) for name, (share, signal) in SHARES.items()}, "collinear": None}
    rows = []
    print(f"{'problem':<15} {'model':<15} {'case':<36} " + " ".join(f"{name:>13} warned" for name in starts)
          + f"   (above the optimum, means over {args.seeds} seeds)")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rows.h5")
        for name, problem in problems.items():
            for seed in range(args.seeds):
                X, y = (collinear(path, seed) if problem is None else
                        write(path, problem[0], seed=seed, rows=ROWS, features=FEATURES, signal=problem[1])[:2])
                for model in MODELS:
                    for case, options in CASES.items():
                        for start, context in starts.items():
                            gap, told = excess(model, path, X, y, options, context)
                            rows.append({"problem": name, "seed": seed, "model": model, "case": case, "start": start,
                                         "excess": gap, "warned": told})
            for model in MODELS:
                for case in CASES:
                    mine = [[r for r in rows if (r["problem"], r["model"], r["case"], r["start"]) ==
                             (name, model, case, start)] for start in starts]
                    print(f"{name:<15} {model:<15} {case:<36} " + " ".join(
                        f"{np.mean([r['excess'] for r in runs]):>13.2%} {sum(r['warned'] for r in runs):>6}"
                        for runs in mine), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    sys.exit(main())
