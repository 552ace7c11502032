"""Raw features (--no-standardize) against standardized ones, side by side in one run: how far above the optimum a
run ends, and whether it is told so (training/unscaled.py).

Each problem is trained with the API (the defaults but --no-standardize or not, the batch, one thread, 5 epochs)
and measured by its objective on all the training rows (mean loss, plus --l2's penalty on the weights the kernels
step: the raw ones under --no-standardize, the standardized ones else) against that objective's optimum (L-BFGS on
the standardized rows, the penalty carried over).  The last column is how many times as ill-conditioned as the
standardized rows' the raw rows' second moments are (with the bias's 1), and whether the raw run was warned
"drop --no-standardize".

Problems: scikit-learn's breast cancer (logistic, --l2 1e-3; raw features from 0.001 to 4,000) and diabetes
(linear, its unscaled features); 20,000 rows of 10 Gaussian features (logistic labels from true weights of norm 2,
linear targets with noise 1), as drawn, and offset by or scaled across powers of ten.

    python bench/unstandardized.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings

import h5py
import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sgdcli import TrainOptions, train  # noqa: E402
from sgdcli.training.fitwarnings import FitWarning  # noqa: E402

ROWS, FEATURES, EPOCHS = 20_000, 10, 5
BATCHES = (32, None)


def problems():
    from sklearn.datasets import load_breast_cancer, load_diabetes

    cancer, diabetes = load_breast_cancer(), load_diabetes(scaled=False)
    yield "breast cancer", "logistic", cancer.data, cancer.target.astype(float), 1e-3
    yield "diabetes", "linear", diabetes.data, diabetes.target.astype(float), 0.0
    rng = np.random.default_rng(0)
    X = rng.standard_normal((ROWS, FEATURES))
    w = rng.standard_normal(FEATURES)
    w *= 2 / np.linalg.norm(w)
    classes = (rng.random(ROWS) < 1 / (1 + np.exp(-(X @ w)))).astype(float)
    targets = X @ w + rng.standard_normal(ROWS)
    for name, rows in (("as drawn", X), ("× 3", 3 * X), ("+ 10", X + 10), ("+ 100", X + 100),
                       ("+ 10,000", X + 1e4), ("× 1 to 10", X * np.logspace(0, 1, FEATURES)),
                       ("× 0.01 to 100", X * np.logspace(-2, 2, FEATURES))):
        yield f"logistic, {name}", "logistic", rows, classes, 0.0
        yield f"linear, {name}", "linear", rows, targets, 0.0


def losses(model: str, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, s) - y * s if model == "logistic" else 0.5 * (s - y) ** 2


def optimum(model: str, X: np.ndarray, y: np.ndarray, l2: float, standardized: bool):
    """The objective's least value, and the objective of raw weights (features and bias, last)."""
    mean, std = X.mean(axis=0), X.std(axis=0)
    Z = (X - mean) / std
    penalty = l2 * (np.ones(X.shape[1]) if standardized else 1.0 / std**2)

    def f(t):
        s = Z @ t[:-1] + t[-1]
        r = 1 / (1 + np.exp(-s)) - y if model == "logistic" else s - y
        value = np.mean(losses(model, s, y)) + 0.5 * np.sum(penalty * t[:-1] ** 2)
        return value, np.append(Z.T @ r / len(y) + penalty * t[:-1], np.mean(r))

    best = minimize(f, np.zeros(Z.shape[1] + 1), jac=True, method="L-BFGS-B", tol=1e-15,
                    options={"maxiter": 100_000}).fun

    def of(W):
        stepped = W[:-1] * std if standardized else W[:-1]
        return float(np.mean(losses(model, X @ W[:-1] + W[-1], y)) + 0.5 * l2 * np.sum(stepped**2))

    return best, of


def uneven(X: np.ndarray) -> float:
    def condition(Z):
        values = np.linalg.eigvalsh(np.column_stack([Z, np.ones(len(Z))]).T @ np.column_stack([Z, np.ones(len(Z))]))
        return values[-1] / max(values[0], values[-1] * np.finfo(float).eps)

    return condition(X) / condition((X - X.mean(axis=0)) / X.std(axis=0))


def main() -> None:
    header = " ".join(f"{('batch ' + str(b) if b else 'full batch') + ': std, raw':>19}" for b in BATCHES)
    print(f"{'problem':<28} {header}  {'uneven':>8}   (gap above the optimum: standardized, raw; * warned)")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rows.h5")
        for name, model, X, y, l2 in problems():
            with h5py.File(path, "w") as f:
                f["X"], f["y"] = X.astype(np.float32), y.astype(np.float32)
            X = X.astype(np.float32).astype(np.float64)
            cells = []
            for batch in BATCHES:
                for standardize in (True, False):
                    best, of = optimum(model, X, y, l2, standardize)
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        m = train(path, TrainOptions(model=model, batch_size=batch, threads=1, epochs=EPOCHS, l2=l2,
                                                     standardize=standardize))
                    told = any(issubclass(w.category, FitWarning) and "drop --no-standardize" in str(w.message)
                               for w in caught)
                    cells.append(f"{of(m.raw_weights()[0]) / best - 1:>8.2%}{'*' if told else ' '}")
            print(f"{name:<28} {' '.join(cells)}  {uneven(X):>8.3g}", flush=True)


if __name__ == "__main__":
    main()
