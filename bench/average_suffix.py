"""What --average's running mean should cover: every iterate, or the last half of a run's updates.

On four problems (softmax of 20 classes, logistic with 1% positives,
labels about 1e6, near-collinear features) and four schedules, it trains the
same options three ways and prints each model's loss over the optimum's
(scikit-learn's unpenalized logistic regression, or least squares), minus 1:

- the last iterate (no --average);
- --average as a mean of every iterate (the running mean from update 1, as
  sgdcli's --average was before 2026-12-04; the kernels' average_start
  patched to 0);
- --average as sgdcli runs it: the mean of the last half of the updates
  (kernels/state.py, average_start).

    python bench/average_suffix.py DIR    # DIR: where the generated files go

scikit-learn is in the test extra.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np

import sgdcli
from sgdcli.kernels import state

ROWS = 20000
SCHEDULES = (("constant", 5), ("cosine", 5), ("constant", 1), ("constant", 20))


def problems(rng):
    """(name, --model, X, y) of each problem."""
    Z = rng.standard_normal((ROWS, 20))
    S = Z @ (rng.standard_normal((20, 20)) * 0.8)
    P = np.exp(S - S.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    yield "softmax, 20 classes", "softmax", Z, (P.cumsum(1) > rng.random((ROWS, 1))).argmax(1).astype(float)
    Z = rng.standard_normal((ROWS, 20))
    p = 1 / (1 + np.exp(-(Z @ (rng.standard_normal(20) * 0.5) - 6.2)))
    yield "logistic, 1% positives", "logistic", Z, (rng.random(ROWS) < p).astype(float)
    Z = rng.standard_normal((ROWS, 10))
    yield "linear, labels about 1e6", "linear", Z, 1e6 + Z @ (rng.standard_normal(10) * 1000) + \
        rng.standard_normal(ROWS) * 500
    Z = rng.standard_normal((ROWS, 5))
    X = np.c_[Z, Z[:, 0], Z[:, 1] * 2 + 1e-3 * rng.standard_normal(ROWS), Z[:, 2] + Z[:, 3]]
    yield "linear, near-collinear", "linear", X, Z @ [1., -1, .5, .5, 2] + rng.standard_normal(ROWS)


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


def main(folder: str) -> None:
    import h5py

    suffix = state.average_start
    print("| problem | schedule | epochs | last iterate | mean of every iterate | mean of the last half |")
    print("|---|---|---|---|---|---|")
    for k, (name, model, X, y) in enumerate(problems(np.random.default_rng(21))):
        path = os.path.join(folder, f"average_suffix_{k}.h5")
        with h5py.File(path, "w") as f:
            f["X"], f["y"] = X.astype(np.float32), y
        X = X.astype(np.float32).astype(np.float64)
        best = optimum(model, X, y)
        for schedule, epochs in SCHEDULES:
            opts = sgdcli.TrainOptions(model=model, schedule=schedule, epochs=epochs, seed=3, val_fraction=0.0)
            cells = []
            for average, start in ((False, suffix), (True, lambda total: 0), (True, suffix)):
                state.average_start = start
                W = sgdcli.train(path, dataclasses.replace(opts, average=average)).raw_weights()
                cells.append(f"{100 * (loss_of(model, X, y, W) / best - 1):+.2f}%")
            state.average_start = suffix
            print(f"| {name} | {schedule} | {epochs} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")  # a benchmark reports what it measures, not what each run would be told
    main(sys.argv[1])
