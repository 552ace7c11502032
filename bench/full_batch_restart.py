"""Full batches with and without momentum's restart (kernels/optimizers.py ``_uphill``), side by side in one run.

Each problem is trained with the API at --batch-size full, the defaults otherwise (--optimizer auto: nesterov,
--lr auto: 1/L, the cosine schedule), one thread, at several --epochs, and measured by its objective over every
row against the optimum's (scikit-learn's LogisticRegression, lbfgs to 1e-10, on the same rows and penalty), and
whether the run was warned (a FitWarning).
Without the restart is ``kernel_config`` wrapped to say no batch is a full batch; with it is as shipped.

Problems: dense logistic of 300 features, where a full batch does not start at a fit of its sample
(training/start.py); softmax of 5 classes over 40 features, which does; and sparse rows, which do not (one-hot
fields, bag-of-words columns of Zipf frequencies, uniform values at 5% density) under --l2 1e-4, whose raw
weights the penalty is on.  Then --l1 on dense rows, whose classifiers' full batches start at the best
constant model (the fits of a sample fit no --l1 for them), measured in the model's standardized units against
the optimum by accelerated proximal gradient steps.  Then, why the restart is for full batches alone:
mini-batches on two of scikit-learn's datasets with it made to fire.

    python bench/full_batch_restart.py [--epochs E,E,...]
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
from sgdcli.training import runrate  # noqa: E402
from sgdcli.training.runlog import FitWarning  # noqa: E402


def problems(rng: np.random.Generator):
    """(name, X (dense array or scipy CSR), classes, model, --l2)."""
    from scipy import sparse

    X = rng.standard_normal((20_000, 300))
    yield "dense logistic, 300 features", X, X @ rng.standard_normal(300) / 10 + rng.logistic(size=20_000) > 0, \
        "logistic", 0.0
    X = rng.standard_normal((20_000, 40)) * rng.uniform(0.5, 2, 40)
    yield "dense softmax, 5 classes", X, np.argmax(X @ rng.standard_normal((40, 5)) / 3 + rng.gumbel(size=(
        20_000, 5)), 1), "softmax", 0.0

    def onehot(n, fields, levels):
        cols = rng.integers(0, levels, (n, fields)) + np.arange(fields) * levels
        return sparse.csr_matrix((np.ones(n * fields), (np.repeat(np.arange(n), fields), cols.ravel())),
                                 shape=(n, fields * levels))

    p = 1 / np.arange(1, 2001) ** 1.1
    cols = rng.choice(2000, size=(30_000, 20), p=p / p.sum())
    words = sparse.csr_matrix((np.ones(cols.size), (np.repeat(np.arange(30_000), 20), cols.ravel())),
                              shape=(30_000, 2000))
    for name, X in (("one-hot, 3 fields of 3", onehot(20_000, 3, 3)), ("one-hot, 8 fields of 10",
                    onehot(20_000, 8, 10)), ("one-hot, 4 fields of 100", onehot(40_000, 4, 100)),
                    ("bag of words, 2,000 columns", words), ("uniform sparse, 200 columns",
                    sparse.random(20_000, 200, density=0.05, format="csr", random_state=1))):
        X.sum_duplicates()
        X.sort_indices()
        z = X @ rng.standard_normal(X.shape[1])
        yield name, X, rng.random(X.shape[0]) < 1 / (1 + np.exp(-2 * (z - z.mean()) / z.std())), "logistic", 1e-4


def write(path: str, X, y: np.ndarray) -> None:
    with h5py.File(path, "w") as f:
        if isinstance(X, np.ndarray):
            f["X"] = X.astype(np.float32)
        else:
            g = f.create_group("X")
            g.attrs["shape"] = X.shape
            g["data"], g["indices"], g["indptr"] = X.data.astype(np.float32), X.indices, X.indptr
        f["y"] = y.astype(np.float32)


def objective(X, y: np.ndarray, W: np.ndarray, l2: float, l1: float = 0.0) -> float:
    """The mean log loss (softmax's cross-entropy) of weights ``W`` (outputs × features + bias) and the
    penalties, with X in the units of ``W``."""
    S = np.asarray(X @ W[:, :-1].T) + W[:, -1]
    if W.shape[0] == 1:
        loss = np.logaddexp(0, S[:, 0]) - y * S[:, 0]
    else:
        loss = np.logaddexp.reduce(S, axis=1) - S[np.arange(len(y)), y.astype(int)]
    return float(np.mean(loss)) + 0.5 * l2 * float(np.sum(W[:, :-1] ** 2)) + l1 * float(np.abs(W[:, :-1]).sum())


def lasso(Z: np.ndarray, y: np.ndarray, k: int, l1: float, steps: int = 5000) -> float:
    """The least objective under --l1 (the bias free), by accelerated proximal gradient steps at 1/L, restarted
    wherever the objective rose, on rows ``Z`` for ``k`` outputs (1: logistic; else softmax's classes)."""
    A = np.column_stack([Z, np.ones(len(y))])
    step = 1 / (0.5 * np.linalg.eigvalsh(A.T @ A / len(y)).max())  # a bound on either loss's curvature
    Y = np.eye(k)[y.astype(int)] if k > 1 else y[:, None]

    def grad(W):
        S = A @ W.T
        P = 1 / (1 + np.exp(-S)) if k == 1 else np.exp(S - np.logaddexp.reduce(S, axis=1, keepdims=True))
        return (P - Y).T @ A / len(y)

    W = np.zeros((k, A.shape[1]))
    ahead, t, f = W.copy(), 1.0, objective(Z, y, W, 0.0, l1)
    for _ in range(steps):
        new = ahead - step * grad(ahead)
        new[:, :-1] = np.sign(new[:, :-1]) * np.maximum(np.abs(new[:, :-1]) - step * l1, 0.0)
        f_new = objective(Z, y, new, 0.0, l1)
        if f_new > f:
            ahead, t = W.copy(), 1.0
            continue
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        ahead, W, t, f = new + (t - 1) / t_next * (new - W), new, t_next, f_new
    return f


def optimum(X, y: np.ndarray, l2: float) -> float:
    from sklearn.linear_model import LogisticRegression

    fit = LogisticRegression(C=1 / (len(y) * l2) if l2 else 1e8, tol=1e-10, max_iter=20_000).fit(X, y)
    W = np.column_stack([fit.coef_, fit.intercept_])
    return objective(X, y, W, l2)


def trained(path: str, config, **options):
    """The model of ``options`` (--batch-size full and one thread unless they say otherwise) with ``kernel_config``
    replaced by ``config``, and " warned" where the run gave a FitWarning."""
    shipped = runrate.kernel_config
    runrate.kernel_config = config
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m = train(path, TrainOptions(**{"batch_size": None, "threads": 1, **options}))
    finally:
        runrate.kernel_config = shipped
    return m, " warned" if any(issubclass(w.category, FitWarning) for w in caught) else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", default="5,20,60")
    args = parser.parse_args()
    epochs = [int(e) for e in args.epochs.split(",")]
    shipped = runrate.kernel_config

    def unrestarted(*a, **k):
        return shipped(*a, **{**k, "full_batch": False})

    rng = np.random.default_rng(0)
    print(f"{'problem':30s} {'epochs':>6s} {'without restart':>23s} {'with restart':>20s}  (above the optimum)")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.h5")
        for name, X, y, model, l2 in problems(rng):
            write(path, X, y)
            best = optimum(X, y, l2)
            for e in epochs:
                gaps = []
                for config in (unrestarted, shipped):
                    m, warned = trained(path, config, model=model, epochs=e, l2=l2)
                    gaps.append(f"{objective(X, y, m.raw_weights(), l2) / best - 1:+.3%}{warned}")
                print(f"{name:30s} {e:6d} {gaps[0]:>23s} {gaps[1]:>20s}", flush=True)
        lasso_runs(rng, path, shipped, unrestarted, epochs)
        mini_batches(path, shipped, epochs[:2])


def lasso_runs(rng: np.random.Generator, path: str, shipped, unrestarted, epochs: list[int]) -> None:
    """--l1 on dense rows: logistic of 300 features, 30 of which predict the label; of 100 features of several
    scales sharing one component; softmax of 5 classes over 40 features, 10 of which predict."""
    from sgdcli.model.standardize import multipliers

    n = 20_000
    X = rng.standard_normal((n, 300))
    w = np.append(rng.standard_normal(30), np.zeros(270))
    tables = [("logistic, 300 features", X, X @ w / 2 + rng.logistic(size=n) > 0, "logistic")]
    X = rng.standard_normal((n, 100)) * rng.uniform(0.5, 2, 100)
    tables.append(("logistic, 100 sharing one", X + 0.5 * X[:, :1], X[:, :10].sum(1) / 3 + rng.logistic(size=n) > 0,
                   "logistic"))
    X = rng.standard_normal((n, 40))
    W = np.vstack([rng.standard_normal((10, 5)), np.zeros((30, 5))])
    tables.append(("softmax, 5 classes, 40", X, np.argmax(X @ W / 2 + rng.gumbel(size=(n, 5)), 1), "softmax"))
    print(f"\n{'under --l1 (standardized units)':38s} {'epochs':>6s} {'without restart':>17s} {'with restart':>20s}")
    for name, X, y, model in tables:
        write(path, X, y)
        for l1 in (1e-3, 1e-2):
            best = None
            for e in epochs:
                gaps = []
                for config in (unrestarted, shipped):
                    m, warned = trained(path, config, model=model, epochs=e, l1=l1)
                    Z = (X.astype(np.float32).astype(np.float64) - m.center) * multipliers(m.scale)
                    best = lasso(Z, y, 1 if model == "logistic" else 5, l1) if best is None else best
                    W = np.column_stack([np.atleast_2d(m.weights), m.bias])
                    gaps.append(f"{objective(Z, y, W, 0.0, l1) / best - 1:+.3%}{warned}")
                print(f"{name + f', --l1 {l1:g}':38s} {e:6d} {gaps[0]:>17s} {gaps[1]:>20s}", flush=True)


def mini_batches(path: str, shipped, epochs: list[int]) -> None:
    """Why the restart is for full batches alone: at batch 32 on scikit-learn's breast cancer (logistic) and digits
    (softmax), raw features standardized by the defaults, --l2 1e-3 on the standardized weights, the restart made
    to fire on every batch (``kernel_config`` wrapped to say each is a full batch) against as shipped."""
    from sklearn import datasets

    from sgdcli.model.standardize import multipliers

    def restarted(*a, **k):
        return shipped(*a, **{**k, "full_batch": True})

    print(f"\n{'at batch 32 (not shipped)':30s} {'epochs':>6s} {'as shipped':>23s} {'restart every batch':>20s}")
    for name, model, (X, y) in (("breast cancer", "logistic", datasets.load_breast_cancer(return_X_y=True)),
                                ("digits", "softmax", datasets.load_digits(return_X_y=True))):
        write(path, X, y)
        best = None
        for e in epochs:
            gaps = []
            for config in (shipped, restarted):
                m, _ = trained(path, config, model=model, batch_size=32, epochs=e, l2=1e-3)
                Z = (X.astype(np.float32).astype(np.float64) - m.center) * multipliers(m.scale)
                best = optimum(Z, y, 1e-3) if best is None else best
                gaps.append(f"{objective(Z, y, np.column_stack([m.weights, m.bias]), 1e-3) / best - 1:+.3%}")
            print(f"{name:30s} {e:6d} {gaps[0]:>23s} {gaps[1]:>20s}", flush=True)


if __name__ == "__main__":
    main()
