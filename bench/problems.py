"""Pieces of the benchmarks' synthetic problems that several scripts share (class_weight.py, large_l2.py,
average_suffix.py, early_stopping.py)."""

from __future__ import annotations

import numpy as np


def bias_for(score: np.ndarray, share: float) -> float:
    """The bias at which logistic labels of ``score`` plus it are positive ``share`` of the rows on average: the
    mean probability rises with the bias, so bisection finds it (within [-30, 30], far beyond any share a
    benchmark asks for; 64 halvings leave less than the float64 spacing of such a bias)."""
    lo, hi = -30.0, 30.0
    for _ in range(64):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.mean(1 / (1 + np.exp(-(score + mid)))) < share else (lo, mid)
    return (lo + hi) / 2


def seeds_from_args(doc: str, default: int = 2) -> int:
    """The ``--seeds N`` of a benchmark whose docstring is ``doc`` (its first line, the description), with the
    runs' warnings silenced: a benchmark reports what it measures, not what each run would be told."""
    import argparse
    import warnings

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=default)
    seeds = parser.parse_args().seeds
    warnings.simplefilter("ignore")
    return seeds


def noisy_problems(rng, rows: int = 20000):
    """(name, --model, X, y) of four problems whose stochastic steps end far from the optimum at a large rate:
    softmax of 20 classes, logistic with 1% positives, labels about 1e6, near-collinear features."""
    Z = rng.standard_normal((rows, 20))
    S = Z @ (rng.standard_normal((20, 20)) * 0.8)
    P = np.exp(S - S.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    yield "softmax, 20 classes", "softmax", Z, (P.cumsum(1) > rng.random((rows, 1))).argmax(1).astype(float)
    Z = rng.standard_normal((rows, 20))
    p = 1 / (1 + np.exp(-(Z @ (rng.standard_normal(20) * 0.5) - 6.2)))
    yield "logistic, 1% positives", "logistic", Z, (rng.random(rows) < p).astype(float)
    Z = rng.standard_normal((rows, 10))
    yield "linear, labels about 1e6", "linear", Z, 1e6 + Z @ (rng.standard_normal(10) * 1000) + \
        rng.standard_normal(rows) * 500
    Z = rng.standard_normal((rows, 5))
    X = np.c_[Z, Z[:, 0], Z[:, 1] * 2 + 1e-3 * rng.standard_normal(rows), Z[:, 2] + Z[:, 3]]
    yield "linear, near-collinear", "linear", X, Z @ [1., -1, .5, .5, 2] + rng.standard_normal(rows)


def loss_of(model: str, X, y, W) -> float:
    """The mean loss of raw weights ``W`` (classes × features + 1) on ``X``, ``y``."""
    S = X @ W[:, :-1].T + W[:, -1]
    if model == "linear":
        return float(np.mean(0.5 * (S[:, 0] - y) ** 2))
    if model == "logistic":
        return float(np.mean(np.logaddexp(0.0, S[:, 0]) - y * S[:, 0]))
    top = S.max(1)
    return float(np.mean(top + np.log(np.exp(S - top[:, None]).sum(1)) - S[np.arange(len(y)), y.astype(int)]))


def optimum(model: str, X, y) -> float:
    if model == "linear":
        A = np.c_[X, np.ones(len(X))]
        return loss_of(model, X, y, np.linalg.lstsq(A, y, rcond=None)[0][None, :])
    from sklearn.linear_model import LogisticRegression

    fit = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10000).fit(X, y)
    return loss_of(model, X, y, np.c_[fit.coef_, fit.intercept_])


def noisy_files(folder: str, prefix: str):
    """``noisy_problems`` written to ``folder`` (float32 X, as sgdcli reads it): (name, --model, path, X as
    read, y, the optimum's mean loss) of each."""
    import os

    import h5py

    for k, (name, model, X, y) in enumerate(noisy_problems(np.random.default_rng(21))):
        path = os.path.join(folder, f"{prefix}_{k}.h5")
        with h5py.File(path, "w") as f:
            f["X"], f["y"] = X.astype(np.float32), y
        X = X.astype(np.float32).astype(np.float64)
        yield name, model, path, X, y, optimum(model, X, y)
