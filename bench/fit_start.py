"""Where a fresh logistic model starts: the labels' log-odds, or the fit of the run's sample (training/start.py
``fitted``), side by side in one run.

Each problem is bench/class_weight.py's data (ROWS × FEATURES Gaussian features, positives a given share of the
rows, the true weights of a given norm), trained with the API (the defaults but the batch and the options of its
case, one thread, 5 epochs) and measured by its mean log loss on the training rows (weighted as trained) against
the optimum of that objective (Newton's method here; L-BFGS under --l2).  Three starts:

- log-odds: the weights at 0, the bias at the labels' log-odds (``training.run.fitted`` wrapped to find no fit);
- as shipped: the fit of the sample for full batches, the log-odds for mini-batches;
- fit everywhere: the fit of the sample for every batch (``training.run.start_weights`` wrapped here alone), which
  is what the mini-batch rows weigh the shipped choice against.

Then softmax on full batches, from 0 (``training.run.fitted`` wrapped to find no fit) and from the fit as shipped:
sample_data/multiclass.h5 and `sgdcli generate --task multiclass` files (20,000 rows, 8 features, seed 1), the
gap against scikit-learn's unpenalized LogisticRegression on the standardized features.

    python bench/fit_start.py [--seeds N] [--full-only | --mini-only] [--rows N] [--batches B,B,...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from class_weight import objective, optimum, write  # noqa: E402
from sgdcli import TrainOptions, train  # noqa: E402
from sgdcli.training import run as run_mod  # noqa: E402
from sgdcli.training import start as start_mod  # noqa: E402

ROWS = 20_000
FEATURES = 10
# name: (share of positives, norm of the true weights)
PROBLEMS = {"1% weak": (0.01, 1.0), "2% strong": (0.02, 6.0), "10%": (0.10, 2.0), "balanced noisy": (0.5, 1.0),
            "separable": (0.5, 10.0)}
BATCHES = ("full", 1024, 256, 32)
FULL_CASES = {"--l2 1e-3": {"l2": 1e-3}, "--class-weight balanced": {"class_weight": "balanced"},
              "--optimizer adam": {"optimizer": "adam"},
              "--optimizer sgd --schedule constant": {"optimizer": "sgd", "schedule": "constant"},
              "--average": {"average": True}, "--epochs 50": {"epochs": 50}}


@contextlib.contextmanager
def log_odds(l2: float):
    """No fit of the sample found: logistic starts at the labels' log-odds, softmax at 0."""
    real = run_mod.fitted
    run_mod.fitted = lambda *args, **kwargs: None
    try:
        yield
    finally:
        run_mod.fitted = real


@contextlib.contextmanager
def as_shipped(l2: float):
    yield


@contextlib.contextmanager
def fit_everywhere(l2: float):
    """Every fresh logistic run starts at the fit of its sample under ``l2``: the weights from ``start_weights``,
    the bias instead of the log-odds (the labels here are 0 and 1, the class of each its value)."""
    real_weights, real_odds, held = run_mod.start_weights, run_mod.log_odds, {}

    def weights(model, quantile, drawn, center, scale, weights_of, memory):
        start = real_weights(model, quantile, drawn, center, scale, weights_of, memory)
        fit = start_mod.fitted("logistic", drawn, lambda raw: raw.astype(np.int64), 2, center, scale, weights_of, l2)
        if fit is not None:
            start[:], held["bias"] = fit, fit[-1]
        return start

    def odds(*args, **kwargs):
        bias, loss = real_odds(*args, **kwargs)
        return held.pop("bias", bias), loss

    run_mod.start_weights, run_mod.log_odds = weights, odds
    try:
        yield
    finally:
        run_mod.start_weights, run_mod.log_odds = real_weights, real_odds


def ridge_optimum(X: np.ndarray, y: np.ndarray, l2: float) -> tuple[float, callable]:
    """The least mean log loss plus l2/2 · ‖w‖² on the standardized rows, and that objective of raw weights."""
    from scipy.optimize import minimize

    mean, std = X.mean(axis=0), X.std(axis=0)
    Z = (X - mean) / std

    def f(t):
        s = Z @ t[:-1] + t[-1]
        p = 1 / (1 + np.exp(-s))
        value = np.mean(np.logaddexp(0, s) - y * s) + 0.5 * l2 * t[:-1] @ t[:-1]
        return value, np.append(Z.T @ (p - y) / len(y) + l2 * t[:-1], np.mean(p - y))

    best = minimize(f, np.zeros(Z.shape[1] + 1), jac=True, method="L-BFGS-B", tol=1e-14).fun
    return best, lambda W: f(np.append(W[:-1] * std, W[-1] + W[:-1] @ mean))[0]


def gap(path: str, X: np.ndarray, y: np.ndarray, batch, options: dict, start) -> float:
    v = np.ones(len(y))
    if options.get("class_weight") == "balanced":
        v = np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))
    l2 = options.get("l2", 0.0)
    if l2:
        best, of = ridge_optimum(X, y, l2)
    else:
        best = optimum(X, y, v)
        of = lambda W: objective(X, y, v, W)  # noqa: E731
    with start(l2):
        m = train(path, TrainOptions(model="logistic", batch_size=batch, threads=1, **{"epochs": 5, **options}))
    return of(m.raw_weights()[0]) / best - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--full-only", action="store_true", help="only the full-batch cases")
    parser.add_argument("--mini-only", action="store_true", help="only the mini-batches at the defaults (no softmax)")
    parser.add_argument("--rows", type=int, default=ROWS, help=f"rows of each problem (default {ROWS:,})")
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)), help="the batch sizes, 'full' for one")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    starts = {"log-odds": log_odds, "as shipped": as_shipped, "fit everywhere": fit_everywhere}
    batches = [b if b == "full" else int(b) for b in args.batches.split(",")]
    cases = [(batch, "defaults", {}) for batch in batches if (batch == "full") != args.mini_only
             and (batch == "full" or not args.full_only)]
    cases += [("full", name, options) for name, options in FULL_CASES.items() if not args.mini_only]
    print(f"{'problem':<15} {'batch':>5} {'case':<36} " + " ".join(f"{name:>14}" for name in starts)
          + f"   (gap above the optimum, means over {args.seeds} seeds)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (share, signal) in PROBLEMS.items():
            for batch, label, options in cases:
                gaps = {start: [] for start in starts}
                for seed in range(args.seeds):
                    path = os.path.join(tmp, "rows.h5")
                    X, y, _ = write(path, share, seed=seed, rows=args.rows, features=FEATURES, signal=signal)
                    for start, context in starts.items():
                        if start == "fit everywhere" and batch == "full":
                            gaps[start].append(gaps["as shipped"][-1])  # the same run
                            continue
                        gaps[start].append(gap(path, X, y, batch, options, context))
                print(f"{name:<15} {batch:>5} {label:<36} "
                      + " ".join(f"{np.mean(gaps[start]):>14.2%}" for start in starts), flush=True)
        if not args.mini_only:
            softmax_rows(tmp)


def softmax_optimum(X: np.ndarray, y: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression

    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    P = LogisticRegression(C=1e10, tol=1e-12, max_iter=20_000).fit(Z, y).predict_proba(Z)
    return float(-np.mean(np.log(P[np.arange(len(y)), y])))


def softmax_rows(tmp: str) -> None:
    import h5py

    from sgdcli import evaluate, generate

    files = {"sample_data/multiclass.h5": os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                       "sample_data", "multiclass.h5")}
    for noise in (0.1, 1.0):
        for classes in (3, 6):
            path = os.path.join(tmp, f"classes{classes}-{noise}.h5")
            generate(path, task="multiclass", classes=classes, rows=ROWS, features=8, noise=noise, seed=1)
            files[f"{classes} classes, noise {noise}"] = path
    print(f"\n{'softmax, full batch':<32} {'case':<22} {'from 0':>10} {'from the fit':>13}")
    for name, path in files.items():
        with h5py.File(path) as f:
            X, y = f["X"][()].astype(np.float64), f["y"][()].astype(np.int64)
        best = softmax_optimum(X, y)
        for label, options in (("defaults", {}), ("--optimizer adam", {"optimizer": "adam"}),
                               ("--epochs 50", {"epochs": 50})):
            gaps = []
            for start in (log_odds, as_shipped):
                with start(0.0):
                    m = train(path, TrainOptions(model="softmax", batch_size="full", threads=1, **options))
                gaps.append(evaluate(m, path)["log_loss"] / best - 1)
            print(f"{name:<32} {label:<22} {gaps[0]:>10.2%} {gaps[1]:>13.2%}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
