"""Good models without tuning: sgdcli's defaults on small real datasets with raw features, against the optimum.

scikit-learn's breast-cancer (logistic, --l2 1e-3: training log loss against
the exact optimum of the same objective), digits (softmax, --l2 1e-3: test
accuracy on a seeded quarter held out) and diabetes (linear: training MSE
against least squares), written to HDF5 with their raw features.  Each case
trains with only --model, --l2 and --epochs (5 and 20) plus the options its
name gives, and is set against scikit-learn's SGDClassifier/SGDRegressor
defaults (alpha = the same L2) on standardized features, its best case.

Then, on the bench data (bench/datasets.py; --quick: a tenth), what the
defaults cost and whether averaged replicas keep their quality: the time
--lr auto takes to choose against one epoch (contiguous and gzip), the run
time the standardization pass adds, and the test log loss of one epoch on
--parallel average with 2 threads and on --dask local:2 against one thread,
at batch 256 and 4096, all at default options.
Raw figures go to bench/results/<date>[-quick]-defaults.json.

    python bench/defaults.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import io
import os
import sys
import tempfile

import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import datasets as bench_datasets  # noqa: E402
from run import MEMORY_BUDGET, save_record  # noqa: E402

from sgdcli import DaskOptions, TrainOptions, evaluate, train  # noqa: E402
from sgdcli.data.table import Table  # noqa: E402
from sgdcli.training import rate  # noqa: E402

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


def small_datasets(results: dict) -> list[str]:
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
    return lines


def _quiet_train(path: str, opts: TrainOptions, **kw):
    with contextlib.redirect_stderr(io.StringIO()):
        return train(path, opts, **kw)


def bench_data(quick: bool, results: dict) -> list[str]:
    """What the defaults cost on the bench data, and averaged replicas at default options."""
    paths = bench_datasets.datasets(quick)
    test = paths["test"]
    lines = ["", f"bench data ({'quick' if quick else 'full'}), defaults, one epoch:"]
    for layout in ("contiguous", "gzip"):
        opts = TrainOptions(epochs=1, batch_size=256, memory=MEMORY_BUDGET)
        epoch = _quiet_train(paths[layout], opts).history[0]["seconds"]
        with Table(paths[layout]) as table:
            d = table.n_features
            choose = []
            for _ in range(3):
                t0 = time.perf_counter()
                rate.auto_rate(table, "logistic", np.zeros(d), np.ones(d), 256, "nesterov", 0.9)
                choose.append(time.perf_counter() - t0)
        results[f"lr auto, {layout}"] = {"choose_s": min(choose), "epoch_s": epoch}
        lines.append(f"  --lr auto on {layout}: {min(choose):.3f} s to choose, {100 * min(choose) / epoch:.1f}% of "
                     f"an epoch ({epoch:.2f} s)")
    walls = {}
    for standardize in (False, True):
        t0 = time.perf_counter()
        _quiet_train(paths["contiguous"], TrainOptions(epochs=1, batch_size=256, memory=MEMORY_BUDGET,
                                                       standardize=standardize))
        walls[standardize] = time.perf_counter() - t0
    results["standardize"] = {"wall_s": walls[True], "without_s": walls[False]}
    lines.append(f"  standardization: run {walls[True]:.2f} s against {walls[False]:.2f} s with --no-standardize")
    try:
        importlib.import_module("distributed")  # imported to learn whether it can be

        dask_ok = True
    except ImportError:
        dask_ok = False
    for batch in (256, 4096):
        base = TrainOptions(epochs=1, batch_size=batch, memory=MEMORY_BUDGET)
        runs = {"1 thread": _quiet_train(paths["contiguous"], dataclasses.replace(base, threads=1)),
                "--parallel average, 2 threads": _quiet_train(paths["contiguous"],
                                                              dataclasses.replace(base, threads=2, parallel="average"))}
        if dask_ok:
            runs["--dask local:2"] = _quiet_train(paths["contiguous"], dataclasses.replace(base, threads=1),
                                                  dask=DaskOptions("local:2"))
        loss = {name: evaluate(m, test)["log_loss"] for name, m in runs.items()}
        results[f"replicas, batch {batch}"] = loss
        for name, value in loss.items():
            lines.append(f"  batch {batch:<5} {name:<30} test log loss {value:.4f}  ({value / loss['1 thread']:.4f}× "
                         "one thread)")
    if not dask_ok:
        lines.append("  (--dask rows need the dask extra)")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the bench data")
    args = parser.parse_args()
    results: dict = {}
    lines = small_datasets(results)
    print("\n".join(lines), flush=True)
    more = bench_data(args.quick, results)
    print("\n".join(more), flush=True)
    save_record("defaults", args.quick, results=results, table="\n".join(lines + more))
    return 0


if __name__ == "__main__":
    sys.exit(main())
