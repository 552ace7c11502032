"""How far `--lr auto` ends from the exact optimum under the schedules that do not decay, on low- and high-noise
data, and with the adaptive optimizers' defaults.

Each problem is written to HDF5 (`sgdcli.data.generate.generate` for the binary, regression and multiclass ones,
counts of exp(0.5 + x·w) for poisson), trained with the API at 5 epochs (seed 0, one thread) and measured by its
objective on the training rows (the mean loss of kernels/losses.py; poisson's mean deviance) against the exact
optimum of that objective (scipy L-BFGS on the standardized features with the bias; --l2 on the weights as
the model sees them, the bias's aside).  A cell is the
excess in percent, with `h` for each halving after a blow-up.  Run it on two trees (PYTHONPATH) to compare them.

    python bench/constant_noise.py [--only NAME] [--rows N] [--runs a,b,...]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings

import h5py
import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

from sgdcli import TrainOptions, train
from sgdcli.data.generate import generate

ROWS = 20000
FEATURES = 10
# name: (model, generate's task, noise, the data's features and seed where not FEATURES and 0)
PROBLEMS = {
    "logistic low": ("logistic", "binary", 0.1, {}),
    "logistic low 50f": ("logistic", "binary", 0.1, {"features": 50}),
    "logistic low s1": ("logistic", "binary", 0.1, {"seed": 1}),
    "logistic 0.2": ("logistic", "binary", 0.2, {}),
    "logistic 0.3": ("logistic", "binary", 0.3, {}),
    "logistic medium": ("logistic", "binary", 1.0, {}),
    "logistic 2": ("logistic", "binary", 2.0, {}),
    "logistic high": ("logistic", "binary", 4.0, {}),
    "linear low": ("linear", "regression", 0.1, {}),
    "linear high": ("linear", "regression", 3.0, {}),
    "softmax low": ("softmax", "multiclass", 0.1, {}),
    "softmax low s1": ("softmax", "multiclass", 0.1, {"seed": 1}),
    "softmax": ("softmax", "multiclass", 1.0, {}),
    "poisson": ("poisson", None, 0.0, {}),
    "huber": ("huber", "regression", 1.0, {}),
}
RUNS = {f"{schedule} B{batch}": {"schedule": schedule, "batch_size": batch}
        for schedule in ("constant", "step", "cosine") for batch in (1, 32, 256)}
RUNS["sgd constant B32"] = {"optimizer": "sgd", "schedule": "constant", "batch_size": 32}
RUNS["constant B32 --l2 1e-3"] = {"schedule": "constant", "batch_size": 32, "l2": 1e-3}
RUNS.update({f"{opt} {schedule}": {"optimizer": opt, "schedule": schedule}
             for opt in ("adam", "adagrad", "rmsprop") for schedule in ("cosine", "constant", "invscaling")})


def write(path: str, name: str, rows: int) -> None:
    model, task, noise, data = PROBLEMS[name]
    if task is not None:
        generate(path, task=task, rows=rows, features=data.get("features", FEATURES), classes=4, noise=noise,
                 seed=data.get("seed", 0))
        return
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, FEATURES)).astype(np.float32)
    w = rng.standard_normal(FEATURES)
    y = rng.poisson(np.exp(0.5 + X @ (0.5 * w / np.linalg.norm(w)))).astype(float)
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = X, y


def objective(model: str, S: np.ndarray, y: np.ndarray, epsilon: float = 0.1) -> float:
    """The mean loss of scores S (rows × outputs) against labels y: kernels/losses.py's definitions, poisson's
    as the mean deviance."""
    if model == "logistic":
        s = S[:, 0]
        return float(np.mean(np.logaddexp(0.0, s) - y * s))
    if model == "linear":
        return float(np.mean(0.5 * (S[:, 0] - y) ** 2))
    if model == "huber":
        r = np.abs(S[:, 0] - y)
        return float(np.mean(np.where(r <= epsilon, 0.5 * r * r, epsilon * r - 0.5 * epsilon**2)))
    if model == "softmax":
        return float(np.mean(logsumexp(S, axis=1) - S[np.arange(len(y)), y.astype(int)]))
    if model == "poisson":
        mu = np.exp(S[:, 0])
        return float(np.mean(2 * (np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0.0) - (y - mu))))
    raise ValueError(model)


def optimum(model: str, X: np.ndarray, y: np.ndarray, l2: float = 0.0) -> float:
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    Z = np.column_stack([Z, np.ones(len(Z))])
    k = int(y.max()) + 1 if model == "softmax" else 1
    d = Z.shape[1]
    onehot = np.eye(k)[y.astype(int)] if model == "softmax" else None

    def f(theta):
        W = theta.reshape(k, d)
        S = Z @ W.T
        value = objective(model, S, y)
        if model == "logistic":
            G = (1 / (1 + np.exp(-S[:, 0])) - y)[:, None]
        elif model == "linear":
            G = (S[:, 0] - y)[:, None]
        elif model == "huber":
            G = np.clip(S[:, 0] - y, -0.1, 0.1)[:, None]
        elif model == "softmax":
            G = np.exp(S - logsumexp(S, axis=1, keepdims=True)) - onehot
        else:
            G = (2 * (np.exp(S[:, 0]) - y))[:, None]
        penalty = np.full((k, d), l2)
        penalty[:, -1] = 0.0  # the bias is not penalised
        return value + 0.5 * float(np.sum(penalty * W**2)), (G.T @ Z / len(Z) + penalty * W).ravel()

    best = minimize(f, np.zeros(k * d), jac=True, method="L-BFGS-B",
                    options={"maxiter": 20000, "gtol": 1e-12, "ftol": 1e-15, "maxcor": 30})
    return float(best.fun)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=None)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--runs", default=None)
    parser.add_argument("--lr-times", type=float, default=None, help="an explicit rate: auto's times this")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    runs = {k: v for k, v in RUNS.items() if args.runs is None or k in args.runs.split(",")}
    print("| problem | optimum | " + " | ".join(runs) + " |")
    print("|---|---|" + "---|" * len(runs))
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model, _, _, _) in PROBLEMS.items():
            if args.only and name not in args.only.split(","):
                continue
            path = os.path.join(tmp, "d.h5")
            write(path, name, args.rows)
            with h5py.File(path, "r") as f:
                X, y = f["X"][:].astype(np.float64), f["y"][:].astype(np.float64)
            best = {0.0: optimum(model, X, y)}
            cells = []
            for options in runs.values():
                l2 = options.get("l2", 0.0)
                if l2 and model == "poisson":  # the deviance is twice the loss: another penalised optimum
                    cells.append("–")
                    continue
                if l2 not in best:
                    best[l2] = optimum(model, X, y, l2)
                opts = TrainOptions(model=model, epochs=5, seed=0, threads=1, **options)
                if args.lr_times is not None:
                    auto = train(path, opts).training["lr_auto"]["lr"]
                    opts = TrainOptions(model=model, epochs=5, seed=0, threads=1, lr=auto * args.lr_times,
                                        lr_scaling="none", **options)
                fitted = train(path, opts)
                W = fitted.raw_weights()
                value = objective(model, X @ W[:, :-1].T + W[:, -1], y) + 0.5 * l2 * float(np.sum(fitted.weights**2))
                halvings = fitted.training.get("lr_auto", {}).get("halvings", 0)
                cells.append(f"{100 * (value - best[l2]) / best[l2]:.3g}%" + " h" * halvings)
            print(f"| {name} | {best[0.0]:.4g} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
