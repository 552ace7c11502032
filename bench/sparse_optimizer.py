"""--optimizer sgd against nesterov on sparse (CSR) rows, each at its --lr auto: the gap above the optimum of the
objective after the default 5 epochs, and an epoch's time, side by side.

Plain sgd steps on the batch's columns alone; nesterov without --l1 does too where the columns outnumber a batch's
nonzeros over 4 times, catching the others up when a row touches them, and elsewhere steps on every weight, at
O(columns) a step on top of the batch's O(nonzeros). The ratio "columns / batch nonzeros" (the model's columns over
the nonzeros of a batch of 32 rows) says what that costs. The quality problems are small CSR files as AnnData writes
them: softmax over 200 columns of log counts at 4, 10 and 50 rows a weight (bench/wide_softmax.py's), 400
Zipf-distributed columns with 5 to 20 nonzeros a row (linear, logistic, 3-class softmax), 20 columns with one
nonzero a row whose values differ 10, 100 and 1,000 times in scale, 20 columns of Poisson counts of mean 2 (linear,
3-class softmax), and 2,000 "genes" at 10% density: rows dense enough to centre, so the defaults standardize them,
centred and scaled, where sgd and nesterov run unscaled (--no-standardize, as every sparse file trained before). The
gap is the objective (mean loss plus --l2's penalty on the weights of the columns as the model sees them, scaled or
not) of the model written above its optimum (L-BFGS on the same rows). The cost problems hold 4,000,000 nonzeros
each; an epoch's time is the median of epochs 2 to 3 from the model's history. The wide problems are bag-of-words
rows (binary, Zipf-distributed over 20,000 to 200,000 columns, no penalty but on two rows), where nesterov steps on
a batch's columns alone (kernels/lazymomentum.py): the objective on the rows trained on at the defaults, the loss on
a fifth of the rows held out, and the run's seconds.

    python bench/sparse_optimizer.py [--quick]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sgdcli import load_model  # noqa: E402
from wide_softmax import problem as wide_problem  # noqa: E402

BATCH = 32  # sgdcli's default --batch-size
OPTIMIZERS = ("sgd", "nesterov")
# the quality columns: --optimizer, and more ("auto": the defaults)
SETTINGS = (("sgd", "--no-standardize"), ("nesterov", "--no-standardize"), ("auto",))


def zipf(rng, rows: int, cols: int, lo: int, hi: int):
    """CSR rows of lo to hi nonzeros each (values 0.5 to 1.5) over ``cols`` Zipf-distributed columns."""
    p = 1.0 / np.arange(1, cols + 1) ** 1.1
    per = rng.integers(lo, hi + 1, rows)
    ind = [np.unique(rng.choice(cols, size=k, p=p / p.sum())) for k in per]
    indptr = np.r_[0, np.cumsum([len(i) for i in ind])]
    return sp.csr_matrix((rng.uniform(0.5, 1.5, indptr[-1]), np.concatenate(ind), indptr), shape=(rows, cols))


def labels(rng, X, model: str, classes: int = 2, scale: float = 1.0) -> np.ndarray:
    """Labels of ``model`` from true weights ``scale`` times standard normal ones on ``X``'s columns."""
    S = X @ (rng.standard_normal((X.shape[1], max(classes, 1))) * scale)
    if model == "linear":
        return S[:, 0] + 0.5 * rng.standard_normal(X.shape[0])
    if model == "logistic":
        S = np.c_[np.zeros(len(S)), S[:, 0] - np.median(S[:, 0])]
    P = np.exp(S - S.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    return (P.cumsum(1) > rng.random((len(S), 1))).argmax(1).astype(np.float64)


def quality_problems(quick: bool):
    """(name, --model, --l2, CSR X, y) of each quality problem."""
    rng = np.random.default_rng(7)
    out = []
    for per in (4, 10) if quick else (4, 10, 50):
        X, y = wide_problem(per * 201 * 10, seed=per)
        out.append((f"softmax 200 cols, {per} rows/weight", "softmax", 0.0, sp.csr_matrix(X), y))
    X = zipf(rng, 8000, 400, 5, 20)
    for model, k in (("linear", 1), ("logistic", 2), ("softmax", 3)):
        out.append((f"{model} 400 Zipf cols", model, 1e-3, X, labels(rng, X, model, k)))
    for S in (10,) if quick else (10, 100, 1000):  # the columns' values 1 to S times apart
        X = sp.random(20000, 20, density=0.05, format="csr", random_state=1,
                      data_rvs=lambda n: rng.uniform(0.5, 1.5, n))
        for model in ("linear", "logistic"):  # labels of the columns before scaling: the weights differ S times
            y = labels(rng, X, model)
            X_S = sp.csr_matrix(X @ sp.diags(np.logspace(0, np.log10(S), 20)))
            out.append((f"{model} 20 cols, 1 nnz/row, x1-{S}", model, 1e-4, X_S, y))
    X = sp.csr_matrix(rng.poisson(2.0, (8000, 20)).astype(np.float64))  # counts, 87% nonzero: dense rows as CSR
    for model, k in (("linear", 1), ("softmax", 3)):
        out.append((f"{model} 20 Poisson(2) cols, 87%", model, 1e-4, X, labels(rng, X.toarray() - 2.0, model, k)))
    if not quick:
        X = sp.random(20000, 2000, density=0.1, format="csr", random_state=2,
                      data_rvs=lambda n: np.log1p(rng.poisson(3, n) + 1.0))
        out.append(("logistic 2,000 genes, 10%", "logistic", 1e-4, X, labels(rng, X, "logistic", scale=0.05)))
    return out


def objective(model: str, X, y, W, b, l2: float) -> float:
    S = X @ W.T + b
    if model == "linear":
        loss = np.mean(0.5 * (S[:, 0] - y) ** 2)
    elif model == "logistic":
        loss = np.mean(np.logaddexp(0.0, S[:, 0]) - y * S[:, 0])
    else:
        top = S.max(1)
        loss = np.mean(top + np.log(np.exp(S - top[:, None]).sum(1)) - S[np.arange(len(y)), y.astype(int)])
    return float(loss + 0.5 * l2 * np.sum(W * W))


def optimum(model: str, X, y, l2: float) -> float:
    """The objective's minimum, by L-BFGS on its exact gradient."""
    n, d = X.shape
    k = int(y.max()) + 1 if model == "softmax" else 1
    onehot = np.eye(k)[y.astype(int)] if model == "softmax" else None

    def f(p):
        W, b = p[:k * d].reshape(k, d), p[k * d:]
        S = X @ W.T + b
        if model == "linear":
            R = S - y[:, None]
        elif model == "logistic":
            R = 1 / (1 + np.exp(-S)) - y[:, None]
        else:
            P = np.exp(S - S.max(1, keepdims=True))
            R = P / P.sum(1, keepdims=True) - onehot
        gW = (X.T @ R).T / n + l2 * W
        return objective(model, X, y, W, b, l2), np.r_[gW.ravel(), R.mean(0)]

    fit = minimize(f, np.zeros(k * (d + 1)), jac=True, method="L-BFGS-B",
                   options={"maxiter": 20000, "maxfun": 40000, "gtol": 1e-11, "ftol": 1e-15})
    return float(fit.fun)


def write(path: str, X, y) -> None:
    X = sp.csr_matrix(X, dtype=np.float32)
    with h5py.File(path, "w") as f:
        g = f.create_group("X")
        g.attrs["encoding-type"], g.attrs["encoding-version"], g.attrs["shape"] = "csr_matrix", "0.1.0", X.shape
        g["data"], g["indices"], g["indptr"] = X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64)
        f["y"] = y


def train(path: str, out: str, model: str, *args) -> dict | str:
    """The model ``sgdcli train`` wrote: its weights on the raw columns, its bias, the columns' scales (ones
    where not standardized) and its epochs' records."""
    ran = subprocess.run([sys.executable, "-m", "sgdcli", "train", path, "-o", out, "--model", model, "-q",
                          *map(str, args)], capture_output=True, text=True, check=False)
    if ran.returncode != 0:
        return f"exit {ran.returncode}"
    model = load_model(out)
    raw = model.raw_weights()
    scale = np.ones(raw.shape[1] - 1) if model.scale is None else np.asarray(model.scale, dtype=np.float64)
    return {"W": raw[:, :-1], "b": raw[:, -1], "scale": scale, "history": model.history}


def ratio(X) -> float:
    return X.shape[1] / (BATCH * X.nnz / X.shape[0])


def quality(folder: str, quick: bool) -> None:
    print(f"{'problem':38}{'cols/batch nnz':>15}" + "".join(f"{' '.join(s):>28}" for s in SETTINGS))
    out = os.path.join(folder, "m.h5")
    for name, model, l2, X, y in quality_problems(quick):
        path = os.path.join(folder, "q.h5")
        write(path, X, y)
        cells, best = [], {}
        for optimizer, *more in SETTINGS:
            fit = train(path, out, model, "--optimizer", optimizer, "--l2", l2, *more)
            if isinstance(fit, str):
                cells.append(fit)
                continue
            # --l2 penalizes the weights of the columns as the model sees them: scaled by their deviations
            # where standardized, so the objective is of the scaled columns, and so is its optimum
            Z = sp.csr_matrix(X.astype(np.float64) @ sp.diags(1 / fit["scale"]))
            key = tuple(fit["scale"])
            best.setdefault(key, optimum(model, Z, y, l2))
            gap = objective(model, Z, y, fit["W"] * fit["scale"], fit["b"], l2)
            cells.append(f"{100 * (gap / best[key] - 1):+.2f}%")
        print(f"{name:38}{ratio(X):15.2f}" + "".join(f"{c:>28}" for c in cells), flush=True)


def costs(folder: str, quick: bool) -> None:
    print(f"\n{'columns':>9}{'nnz/row':>8}{'classes':>8}{'cols/batch nnz':>15}"
          + "".join(f"{o + ' s/epoch':>17}" for o in OPTIMIZERS) + f"{'nesterov/sgd':>14}")
    rng = np.random.default_rng(3)
    total = 400_000 if quick else 4_000_000
    out = os.path.join(folder, "m.h5")
    for d, per in ((1000, 10), (10_000, 10), (10_000, 100), (100_000, 100), (1_000_000, 100)):
        rows = total // per
        X = sp.csr_matrix((rng.random(rows * per), np.sort(rng.integers(0, d, (rows, per)), axis=1).ravel(),
                           np.arange(rows + 1) * per), shape=(rows, d))
        for k, model in ((2, "logistic"), (10, "softmax")):
            path = os.path.join(folder, "c.h5")
            write(path, X, rng.integers(0, k, rows).astype(np.float64))
            secs = []
            for optimizer in OPTIMIZERS:
                fit = train(path, out, model, "--optimizer", optimizer, "--lr", 0.001, "--epochs", 3)
                secs.append(statistics.median(h["seconds"] for h in fit["history"][1:]))
            print(f"{d:9,}{per:8}{k:8}{ratio(X):15.2f}" + "".join(f"{s:17.3f}" for s in secs)
                  + f"{secs[1] / secs[0]:14.2f}", flush=True)


def words(rng, rows: int, cols: int, lo: int, hi: int):
    """Binary CSR rows of about lo to hi distinct columns each, drawn Zipf-distributed (exponent 1.1)."""
    cdf = np.cumsum(1.0 / np.arange(1, cols + 1) ** 1.1)
    per = rng.integers(lo, hi + 1, rows)
    ind = np.minimum(np.searchsorted(cdf / cdf[-1], rng.random(per.sum())), cols - 1)
    X = sp.csr_matrix((np.ones(per.sum()), ind, np.r_[0, np.cumsum(per)]), shape=(rows, cols))
    X.sum_duplicates()
    X.data[:] = 1.0
    return X


def wide(folder: str, quick: bool) -> None:
    print(f"\n{'problem':44}{'cols/batch nnz':>15}" + "".join(f"{o + ': train, held out, s':>30}" for o in OPTIMIZERS))
    rng = np.random.default_rng(11)
    rows = 20_000 if quick else 50_000
    out = os.path.join(folder, "m.h5")
    for cols, lo, hi, model, k, l2s in ((20_000, 10, 50, "linear", 1, (0.0,)),
                                        (20_000, 10, 50, "logistic", 2, (0.0, 1e-5, 1e-4)),
                                        (200_000, 50, 150, "logistic", 2, (0.0,)),
                                        (100_000, 5, 15, "logistic", 2, (0.0,)),
                                        (50_000, 20, 60, "softmax", 5, (0.0,))):
        X = words(rng, rows, cols, lo, hi)
        y = labels(rng, X, model, k, scale=0.5)
        cut = rows * 4 // 5
        path = os.path.join(folder, "w.h5")
        write(path, X[:cut], y[:cut])
        for l2 in l2s:  # "train": the objective, --l2's penalty included; held out: the loss
            cells = []
            for optimizer in OPTIMIZERS:
                fit = train(path, out, model, "--optimizer", optimizer, "--l2", l2)
                if isinstance(fit, str):
                    cells.append(fit)
                    continue
                losses = [objective(model, X[part], y[part], fit["W"], fit["b"], penalty)
                          for part, penalty in ((slice(cut), l2), (slice(cut, None), 0.0))]
                cells.append(f"{losses[0]:.4f}, {losses[1]:.4f}, {sum(h['seconds'] for h in fit['history']):.2f}")
            name = f"{model} {cols:,} cols, {lo}-{hi} nnz" + (f", --l2 {l2:g}" if l2 else "")
            print(f"{name:44}{ratio(X):15.1f}" + "".join(f"{c:>30}" for c in cells), flush=True)


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    print(__doc__.split("\n\n")[0])
    with tempfile.TemporaryDirectory() as folder:
        quality(folder, quick)
        costs(folder, quick)
        wide(folder, quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
