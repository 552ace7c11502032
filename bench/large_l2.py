"""How far `--lr auto` ends from the exact optimum of the penalized objective as `--l2` grows, and how much of
that excess is the bias's.

Problems (ROWS × FEATURES Gaussian features with offsets and scales, so standardization matters): logistic on
balanced labels and on 1% positives, linear, and softmax on 4 classes (one of them rare).  Each trains with
the API (seed 0, one thread, 5 epochs) at every `--l2` of L2S and the options of each run, and is measured
by its objective on the training rows, the mean loss (kernels/losses.py's) plus (l2/2)·‖w‖² on the weights
as the model sees them, the bias's aside, against the exact optimum of that objective (Newton's method on the
standardized features with the bias).  A cell is the excess in percent; in parentheses, the excess left once
the bias alone is refitted to the model's weights (so the difference is the bias's share); `h` for each
halving after a blow-up.  Run it on two trees (PYTHONPATH) to compare them.

    python bench/large_l2.py [--only NAME,...] [--runs a,b,...] [--l2 1,100,...] [--rows N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings

import h5py
import numpy as np
from scipy.special import logsumexp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from problems import bias_for  # noqa: E402
from sgdcli import TrainOptions, train  # noqa: E402
from sgdcli.model.standardize import multipliers  # noqa: E402

ROWS = 20000
FEATURES = 10
L2S = (1e-4, 1.0, 100.0, 1e4, 1e6)
# name: (model, share of positives or of the rare class; None: balanced)
PROBLEMS = {"logistic": ("logistic", None), "logistic 1%": ("logistic", 0.01), "linear": ("linear", None),
            "softmax": ("softmax", None), "softmax 1%": ("softmax", 0.01)}
RUNS = {"defaults": {}, "sgd": {"optimizer": "sgd"}, "momentum": {"optimizer": "momentum"},
        "constant": {"schedule": "constant"}, "B1": {"batch_size": 1}, "B1 sgd": {"batch_size": 1, "optimizer": "sgd"},
        "full": {"batch_size": "full", "epochs": 50}, "average": {"average": True},
        "raw": {"standardize": False}, "adam": {"optimizer": "adam"}, "rmsprop": {"optimizer": "rmsprop"},
        "adagrad": {"optimizer": "adagrad"}, "2 threads": {"parallel": "average", "threads": 2}}


def write(path: str, name: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
    model, rare = PROBLEMS[name]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, FEATURES)) * np.exp(rng.uniform(-0.7, 1.1, FEATURES)) + rng.uniform(-2, 2, FEATURES)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    if model == "logistic":
        s = Z @ (rng.standard_normal(FEATURES) / np.sqrt(FEATURES))
        bias = 0.0 if rare is None else bias_for(s, rare)
        y = (rng.random(rows) < 1 / (1 + np.exp(-(s + bias)))).astype(np.int64)
    elif model == "linear":
        y = Z @ rng.standard_normal(FEATURES) + 3.0 + rng.standard_normal(rows)
    else:
        S = Z @ (rng.standard_normal((FEATURES, 4)) / np.sqrt(FEATURES))
        if rare is not None:
            S[:, 0] -= 4.0
        y = np.argmax(S + rng.gumbel(size=S.shape), axis=1).astype(np.int64)
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = X.astype(np.float32), y
    return X.astype(np.float32).astype(np.float64), y


def _grad_hess(model: str, S: np.ndarray, y: np.ndarray):
    """The mean loss of scores S (rows × outputs), its derivatives in the scores, and their curvatures (rows ×
    outputs × outputs)."""
    n = len(y)
    if model == "logistic":
        s = S[:, 0]
        p = 1 / (1 + np.exp(-s))
        return float(np.mean(np.logaddexp(0.0, s) - y * s)), (p - y)[:, None], (p * (1 - p))[:, None, None]
    if model == "linear":
        return float(np.mean(0.5 * (S[:, 0] - y) ** 2)), (S[:, 0] - y)[:, None], np.ones((n, 1, 1))
    P = np.exp(S - logsumexp(S, axis=1, keepdims=True))
    Y = np.eye(S.shape[1])[y]
    value = float(np.mean(logsumexp(S, axis=1) - S[np.arange(n), y]))
    return value, P - Y, P[:, :, None] * np.eye(S.shape[1])[None] - P[:, :, None] * P[:, None, :]


def objective(model: str, Z: np.ndarray, y: np.ndarray, W: np.ndarray, l2: float) -> float:
    return _grad_hess(model, Z @ W.T, y)[0] + 0.5 * l2 * float(np.sum(W[:, :-1] ** 2))


def newton(model: str, Z: np.ndarray, y: np.ndarray, l2: float, W: np.ndarray, only_bias: bool = False) -> np.ndarray:
    """The minimum of the objective from W (outputs × features + 1) by Newton's method with backtracking; with
    ``only_bias``, over the bias alone.  Softmax's classes share one redundant direction: a tiny ridge on the
    bias keeps the Hessian definite."""
    k, d = W.shape
    cols = [d - 1] if only_bias else list(range(d))
    penalty = np.full(d, l2)
    penalty[-1] = 1e-12 if model == "softmax" else 0.0
    value = objective(model, Z, y, W, l2)
    for _ in range(100):
        _, G, H = _grad_hess(model, Z @ W.T, y)
        Zc = Z[:, cols]
        grad = (G.T @ Zc / len(Z) + penalty[cols] * W[:, cols]).ravel()
        hess = np.einsum("nab,ni,nj->aibj", H, Zc, Zc).reshape(k * len(cols), k * len(cols)) / len(Z)
        hess += np.diag(np.tile(penalty[cols], k))
        step = -np.linalg.solve(hess, grad)
        dec = -float(grad @ step)
        if dec < 1e-20:
            break
        t = 1.0
        while t > 1e-10:
            trial = W.copy()
            trial[:, cols] += t * step.reshape(k, len(cols))
            tv = objective(model, Z, y, trial, l2)
            if tv <= value - 1e-4 * t * dec:
                break
            t /= 2
        else:
            break
        W, value = trial, tv
    return W


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=None)
    parser.add_argument("--runs", default="defaults")
    parser.add_argument("--l2", default=None)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    l2s = L2S if args.l2 is None else tuple(float(v) for v in args.l2.split(","))
    runs = {k: v for k, v in RUNS.items() if args.runs == "all" or k in args.runs.split(",")}
    with tempfile.TemporaryDirectory() as tmp:
        for run, options in runs.items():
            print(f"\n{run}: {options or 'the defaults'}\n")
            print("| problem | " + " | ".join(f"l2 {v:g}" for v in l2s) + " |")
            print("|---|" + "---|" * len(l2s))
            for name, (model, _) in PROBLEMS.items():
                if args.only and name not in args.only.split(","):
                    continue
                path = os.path.join(tmp, "d.h5")
                X, y = write(path, name, args.rows)
                k = 4 if model == "softmax" else 1
                optima: dict = {}
                cells = []
                for l2 in l2s:
                    opts = TrainOptions(model=model, seed=0, l2=l2, **{"epochs": args.epochs, "threads": 1, **options})
                    try:
                        fitted = train(path, opts)
                    except Exception as exc:  # noqa: BLE001  a blow-up is a result here
                        cells.append(f"error {str(exc)[:30]}")
                        continue
                    # the features as the model sees them (its standardization, or none), with the bias's column
                    Z = X if fitted.center is None else (X - fitted.center) * multipliers(fitted.scale)
                    Z = np.column_stack([Z, np.ones(len(X))])
                    key = (l2, fitted.center is None)
                    if key not in optima:
                        optima[key] = objective(model, Z, y, newton(model, Z, y, l2, np.zeros((k, Z.shape[1]))), l2)
                    best = optima[key]
                    W = np.column_stack([fitted.weights, fitted.bias]).astype(np.float64)
                    value = objective(model, Z, y, W, l2)
                    refit = objective(model, Z, y, newton(model, Z, y, l2, W, only_bias=True), l2)
                    halvings = fitted.training.get("lr_auto", {}).get("halvings", 0)
                    cells.append(f"{100 * (value - best) / best:.3g}% ({100 * (refit - best) / best:.2g}%)"
                                 + " h" * halvings)
                print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
