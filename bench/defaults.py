"""Good models without tuning: sgdcli's defaults on small real datasets with raw features, against the optimum.

scikit-learn's breast-cancer (logistic, --l2 1e-3: training log loss against
the exact optimum of the same objective), digits (softmax, --l2 1e-3: test
accuracy on a seeded quarter held out) and diabetes (linear: training MSE
against least squares), written to HDF5 with their raw features.  Each case
trains with only --model, --l2 and --epochs (5 and 20) plus the options its
name gives, and is set against scikit-learn's SGDClassifier/SGDRegressor
defaults (alpha = the same L2) on standardized features, its best case.
Raw figures go to bench/results/<date>-defaults.json.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import HERE, cpu_model  # noqa: E402

from sgdcli import TrainOptions, evaluate, train  # noqa: E402

EPOCHS = (5, 20)


def datasets(tmp: str) -> dict:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits

    out = {}
    for name, loader, model, l2 in (("breast cancer", load_breast_cancer, "logistic", 1e-3),
                                    ("digits", load_digits, "softmax", 1e-3),
                                    ("diabetes", load_diabetes, "linear", 0.0)):
        data = loader()
        X, y = data.data.astype(np.float32), data.target
        test = None
        if name == "digits":
            held = np.random.default_rng(0).random(len(y)) < 0.25
            test, X, y = _write(tmp, f"{model}-test", X[held], y[held]), X[~held], y[~held]
        out[name] = {"model": model, "l2": l2, "X": X, "y": y, "train": _write(tmp, model, X, y), "test": test}
    return out


def _write(tmp: str, name: str, X: np.ndarray, y: np.ndarray) -> str:
    path = os.path.join(tmp, f"{name}.h5")
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = X, y
    return path


def standardized(X: np.ndarray) -> np.ndarray:
    Xd = X.astype(np.float64)
    std = Xd.std(axis=0)
    return (Xd - Xd.mean(axis=0)) / np.where(std > 0, std, 1.0)


def optimum(case: dict) -> float:
    """The training figure at the exact optimum of sgdcli's objective (standardized features)."""
    Z, y = standardized(case["X"]), case["y"]
    if case["model"] == "linear":
        A = np.column_stack([Z, np.ones(len(Z))])
        theta = np.linalg.lstsq(A, y, rcond=None)[0]
        return float(np.mean((A @ theta - y) ** 2))
    from sklearn.linear_model import LogisticRegression

    fit = LogisticRegression(C=1.0 / (len(y) * case["l2"]), tol=1e-12, max_iter=100_000).fit(Z, y)
    p = fit.predict_proba(Z)
    return float(-np.mean(np.log(p[np.arange(len(y)), np.searchsorted(fit.classes_, y)])))


def figure(case: dict, model) -> float:
    if case["test"] is not None:
        return evaluate(model, case["test"])["accuracy"]
    return evaluate(model, case["train"])["mse" if case["model"] == "linear" else "log_loss"]


def sklearn_figure(case: dict, epochs: int) -> float:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier, SGDRegressor

    Z, y = standardized(case["X"]), case["y"]
    alpha = case["l2"] or 1e-4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if case["model"] == "linear":
            fit = SGDRegressor(alpha=alpha, max_iter=epochs, tol=None, random_state=0).fit(Z, y)
            return float(np.mean((fit.predict(Z) - y) ** 2))
        fit = SGDClassifier(loss="log_loss", alpha=alpha, max_iter=epochs, tol=None, random_state=0).fit(Z, y)
    if case["test"] is not None:
        with h5py.File(case["test"]) as f:
            Xt, yt = f["X"][()], f["y"][()]
        mean, std = case["X"].astype(np.float64).mean(axis=0), case["X"].astype(np.float64).std(axis=0)
        return float(np.mean(fit.predict((Xt - mean) / np.where(std > 0, std, 1.0)) == yt))
    p = np.clip(fit.predict_proba(Z), 1e-15, 1.0)
    return float(-np.mean(np.log(p[np.arange(len(y)), np.searchsorted(fit.classes_, y)])))


OLD = {"lr": 0.01, "optimizer": "sgd", "schedule": "constant", "standardize": False}  # the defaults until issue 16


def configs(case: dict) -> dict:
    """Name -> extra TrainOptions: the defaults, one change at a time, and the defaults they replaced."""
    return {
        "defaults": {},
        "--optimizer sgd": {"optimizer": "sgd"},
        "--optimizer momentum": {"optimizer": "momentum"},
        "--schedule constant": {"schedule": "constant"},
        "--average": {"average": True},
        "--no-standardize": {"standardize": False},
        "--optimizer adam": {"optimizer": "adam"},
        "--optimizer rmsprop": {"optimizer": "rmsprop"},
        "--optimizer adagrad": {"optimizer": "adagrad"},
        "old defaults (--lr 0.01 sgd constant)": OLD,
        "old defaults --standardize": {**OLD, "standardize": True},
    }


def main() -> int:
    results: dict = {}
    lines = [f"{'dataset':<14} {'case':<40} " + " ".join(f"{f'{e} epochs':>10}" for e in EPOCHS) + "  optimum / target"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, case in datasets(tmp).items():
            best = None if case["test"] is not None else optimum(case)
            target = "test accuracy >= 0.94" if best is None else f"{best:.4f} (within {'5' if case['model'] == 'linear' else '10'}%)"
            for label, extra in configs(case).items():
                row = []
                for epochs in EPOCHS:
                    try:
                        m = train(case["train"], TrainOptions(model=case["model"], l2=case["l2"], epochs=epochs,
                                                              **extra))
                        row.append(figure(case, m))
                    except Exception as exc:  # a diverged default is a result here  # noqa: BLE001
                        row.append(float("nan"))
                        results.setdefault("errors", []).append(f"{name}, {label}, {epochs}: {exc}")
                results[f"{name}: {label}"] = row
                lines.append(f"{name:<14} {label:<40} " + " ".join(f"{v:10.4f}" for v in row) + f"  {target}")
            row = [sklearn_figure(case, e) for e in EPOCHS]
            results[f"{name}: scikit-learn SGD defaults"] = row
            lines.append(f"{name:<14} {'scikit-learn SGD defaults (standardized)':<40} "
                         + " ".join(f"{v:10.4f}" for v in row))
    lines.append("figures: breast cancer training log loss, digits test accuracy, diabetes training MSE; "
                 "nan: diverged")
    table = "\n".join(lines)
    print(table)
    record = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "cpu": cpu_model(),
              "results": results, "table": table}
    with open(os.path.join(HERE, "results", f"{record['date'].replace(':', '')}-defaults.json"), "w") as fh:
        json.dump(record, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
