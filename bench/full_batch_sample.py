"""How large a full batch's sample is, whose fit the run starts at: SAMPLE_ROWS (4,096) rows, or as shipped
(training/start.py ``fit_sample_rows``: up to FIT_SAMPLE_ROWS where the fit is narrow), side by side in one run;
and, with --wide, fits of 65 to FIT_WIDE weights and of rare classes: the run from no fit (the log-odds, as runs
of more than 64 weights started before), from the fit whatever its rows of each class, and as shipped (the fit
where each class has CLASS_ROWS_PER_WEIGHT rows in the sample per weight); with --linear, full-batch linear runs
of 100 to 600 features, independent or sharing five factors: the sample FIT_WORK alone sizes (4,096 rows from
256 weights up) against the shipped one (LINEAR_ROWS_PER_WEIGHT rows a weight, as many as --memory holds), with
whether the end check warned each (fullbatch.from_fit).

Each logistic problem is bench/class_weight.py's data (Gaussian features, positives a given share of the rows,
the true weights of a given norm), trained with the API at the defaults but a full batch, one thread and the
options of its case, and measured by its mean log loss on the training rows (weighted as trained) against the
optimum of that objective (Newton's method).  The linear problem is Gaussian features, the labels their sum under
unit noise, measured by the mean squared error against least squares'.  Softmax is `sgdcli generate --task
multiclass`, against scikit-learn's unpenalized LogisticRegression on the standardized features.  Each run's
wall time, set-up included, is printed beside its gap: the larger sample costs its fit, once a run.

    python bench/full_batch_sample.py [--seeds N] [--quick | --wide | --linear]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import warnings

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from class_weight import objective, optimum, row_weights, write  # noqa: E402
from fit_start import log_odds  # noqa: E402
from sgdcli import TrainOptions, evaluate, generate, train  # noqa: E402
from sgdcli.training import run as run_mod  # noqa: E402
from sgdcli.training import start  # noqa: E402
from sgdcli.data.table import Table  # noqa: E402
from sgdcli.options import DEFAULT_MEMORY  # noqa: E402
from sgdcli.training import sampling  # noqa: E402
from sgdcli.training.runlog import FitWarning  # noqa: E402
from sgdcli.training.sampling import SAMPLE_ROWS  # noqa: E402

# name: (share of positives, norm of the true weights)
PROBLEMS = {"1% weak": (0.01, 1.0), "2% strong": (0.02, 6.0), "10%": (0.10, 2.0), "balanced noisy": (0.5, 1.0),
            "separable": (0.5, 10.0)}
CASES = {"defaults": {}, "--class-weight balanced": {"class_weight": "balanced"},
         "--optimizer adam": {"optimizer": "adam"}}
# (rows, features) of the logistic problems; --quick keeps the first
SHAPES = ((100_000, 10), (100_000, 50), (1_000_000, 10))
WIDE_SHAPES = ((100_000, 100), (100_000, 150), (100_000, 250))
RARE = {f"{share:.2%} {name}": (share, signal) for share in (0.0002, 0.0005, 0.001, 0.002)
        for name, signal in (("strong", 6.0), ("weak", 2.0))}
RARE_SHAPES = ((1_000_000, 60),)


@contextlib.contextmanager
def any_rows():
    """The fit whatever the rows of each class in the sample."""
    real = start.CLASS_ROWS_PER_WEIGHT
    start.CLASS_ROWS_PER_WEIGHT = 0.0
    try:
        yield
    finally:
        start.CLASS_ROWS_PER_WEIGHT = real


@contextlib.contextmanager
def as_shipped():
    yield


@contextlib.contextmanager
def small_sample():
    """The full batch's sample asked for SAMPLE_ROWS rows, as every run's was before."""
    real = run_mod.fit_sample_rows
    run_mod.fit_sample_rows = lambda *args: SAMPLE_ROWS
    try:
        yield
    finally:
        run_mod.fit_sample_rows = real


def timed(path: str, options: dict):
    start = time.perf_counter()
    model = train(path, TrainOptions(batch_size="full", threads=1, **options))
    return model, time.perf_counter() - start


def side_by_side(path: str, options: dict, gap) -> tuple[float, float, float, float]:
    """The gaps and wall times of the run from the small sample's fit and from the shipped one's."""
    with small_sample():
        small, small_time = timed(path, options)
    shipped, shipped_time = timed(path, options)
    return gap(small), gap(shipped), small_time, shipped_time


def show(name: str, case: str, results: list[tuple[float, float, float, float]]) -> None:
    a, b, s, t = np.mean(results, axis=0)
    print(f"{name:<36} {case:<26} {a:>9.2%} {b:>9.2%} {s:>8.2f}s {t:>8.2f}s {t / s:>6.2f}", flush=True)


def logistic_rows(tmp: str, seeds: int, shapes) -> None:
    for rows, features in shapes:
        for name, (share, signal) in PROBLEMS.items():
            for case, options in CASES.items():
                results = []
                for seed in range(seeds):
                    path = os.path.join(tmp, "rows.h5")
                    X, y, _ = write(path, share, seed=seed, rows=rows, features=features, signal=signal)
                    v = row_weights(y, y, options.get("class_weight"))
                    best = optimum(X, y, v)
                    results.append(side_by_side(path, {"model": "logistic", **options},
                                                lambda m: objective(X, y, v, m.raw_weights()[0]) / best - 1))
                show(f"logistic {name}, {rows:,} x {features}", case, results)


def wide_rows(tmp: str, seeds: int) -> None:
    starts = {"no fit": lambda: log_odds(0.0), "any rows": any_rows, "shipped": as_shipped}
    print(f"{'problem':<36} {'rare rows in the sample':>24} " + " ".join(f"{name:>9}" for name in starts)
          + f"   (gaps above the optimum, means over {seeds} seeds)")
    for shapes, problems in ((WIDE_SHAPES, PROBLEMS), (RARE_SHAPES, RARE)):
        for rows, features in shapes:
            for name, (share, signal) in problems.items():
                gaps, rare = {label: [] for label in starts}, []
                for seed in range(seeds):
                    path = os.path.join(tmp, "rows.h5")
                    X, y, _ = write(path, share, seed=seed, rows=rows, features=features, signal=signal)
                    v = np.ones(len(y))
                    best = optimum(X, y, v)
                    for label, context in starts.items():
                        with context():
                            model = train(path, TrainOptions(model="logistic", batch_size="full", threads=1))
                        gaps[label].append(objective(X, y, v, model.raw_weights()[0]) / best - 1)
                    with Table(path) as table:
                        sampled = sampling.sample_spans(table, DEFAULT_MEMORY, start.fit_sample_rows(
                            "logistic", table, 2, DEFAULT_MEMORY))
                    rare.append(min(np.bincount(y[np.concatenate([np.arange(a, b) for a, b in sampled])]
                                                .astype(np.int64), minlength=2)))
                per_weight = ", ".join(f"{r / (features + 1):.2f}" for r in rare)
                print(f"{f'{name}, {rows:,} x {features}':<36} {per_weight + ' a weight':>24} "
                      + " ".join(f"{np.mean(gaps[label]):>9.2%}" for label in starts), flush=True)


def linear_rows(tmp: str, seeds: int) -> None:
    rows, features = 100_000, 50
    results = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((rows, features)).astype(np.float32)
        y = (X.sum(axis=1) + rng.standard_normal(rows)).astype(np.float32)
        path = os.path.join(tmp, "linear.h5")
        with h5py.File(path, "w") as f:
            f["X"], f["y"] = X, y
        Z = np.column_stack([X, np.ones(rows)]).astype(np.float64)
        best = float(np.mean((Z @ np.linalg.lstsq(Z, y, rcond=None)[0] - y) ** 2))
        results.append(side_by_side(path, {"model": "linear"},
                                    lambda m: evaluate(m, path)["mse"] / best - 1))
    show(f"linear, {rows:,} x {features}", "defaults", results)


@contextlib.contextmanager
def work_alone():
    """A linear fit's sample sized by FIT_WORK alone, as before LINEAR_ROWS_PER_WEIGHT."""
    real = start.LINEAR_ROWS_PER_WEIGHT
    start.LINEAR_ROWS_PER_WEIGHT = 0
    try:
        yield
    finally:
        start.LINEAR_ROWS_PER_WEIGHT = real


def wide_linear_rows(tmp: str, seeds: int) -> None:
    """Labels a linear function of the features under unit noise, the features Gaussian (``shared`` 0) or five
    factors' loadings plus their own noise (1: correlated, the curvature's largest direction far above the
    others), against least squares on every row."""
    rows = 100_000
    print(f"{'problem':<36} {'sample rows':>13} {'gap before':>10} {'shipped':>9} {'time':>9} {'time':>9} "
          f"{'ratio':>6} {'warned':>7}   (means over {seeds} seeds; warned: before, shipped)")
    for shared in (0.0, 1.0):
        for features in (100, 200, 300, 400, 600):
            results, warned, sampled = [], [0, 0], []
            for seed in range(seeds):
                rng = np.random.default_rng(seed)
                X = (shared * rng.standard_normal((rows, 5)) @ rng.standard_normal((5, features))
                     + rng.standard_normal((rows, features))).astype(np.float32)
                y = (X @ (rng.standard_normal(features) / np.sqrt(features)) + rng.standard_normal(rows))
                path = os.path.join(tmp, "linear.h5")
                with h5py.File(path, "w") as f:
                    f["X"], f["y"] = X, y.astype(np.float32)
                Z = np.column_stack([X, np.ones(rows)]).astype(np.float64)
                best = float(np.mean((Z @ np.linalg.lstsq(Z, y, rcond=None)[0] - y) ** 2))
                figures = []
                for i, context in enumerate((work_alone, as_shipped)):
                    with context(), warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        model, seconds = timed(path, {"model": "linear"})
                        with Table(path) as table:
                            sampled.append(start.fit_sample_rows("linear", table, 2, DEFAULT_MEMORY))
                    weights = np.asarray(model.raw_weights()[0]).ravel()
                    figures.append((float(np.mean((Z @ weights - y) ** 2)) / best - 1, seconds))
                    warned[i] += any(issubclass(w.category, FitWarning) for w in caught)
                results.append((figures[0][0], figures[1][0], figures[0][1], figures[1][1]))
            a, b, s, t = np.mean(results, axis=0)
            name = f"linear {'correlated' if shared else 'independent'}, {rows:,} x {features}"
            print(f"{name:<36} {f'{sampled[0]:,} / {sampled[1]:,}':>13} {a:>10.2%} {b:>9.2%} {s:>8.2f}s {t:>8.2f}s "
                  f"{t / s:>6.2f} {f'{warned[0]}, {warned[1]}':>7}", flush=True)


def softmax_rows(tmp: str, seeds: int) -> None:
    from sklearn.linear_model import LogisticRegression

    rows = 100_000
    for noise in (0.1, 1.0):
        results = []
        for seed in range(seeds):
            path = os.path.join(tmp, "classes.h5")
            generate(path, task="multiclass", classes=3, rows=rows, features=8, noise=noise, seed=seed + 1)
            with h5py.File(path) as f:
                X, y = f["X"][()].astype(np.float64), f["y"][()].astype(np.int64)
            Z = (X - X.mean(axis=0)) / X.std(axis=0)
            P = LogisticRegression(C=1e10, tol=1e-12, max_iter=20_000).fit(Z, y).predict_proba(Z)
            best = float(-np.mean(np.log(P[np.arange(rows), y])))
            results.append(side_by_side(path, {"model": "softmax"},
                                        lambda m: evaluate(m, path)["log_loss"] / best - 1))
        show(f"softmax 3 classes, noise {noise}, {rows:,} x 8", "defaults", results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help=f"only the {SHAPES[0][0]:,}-row logistic problems")
    parser.add_argument("--wide", action="store_true", help="only fits of over 64 weights, and rare classes")
    parser.add_argument("--linear", action="store_true", help="only linear fits of 100 to 600 features")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        if args.wide:
            wide_rows(tmp, args.seeds)
            return
        if args.linear:
            wide_linear_rows(tmp, args.seeds)
            return
        print(f"{'problem':<36} {'case':<26} {'gap 4,096':>9} {'shipped':>9} {'time':>9} {'time':>9} {'ratio':>6}"
              f"   (gaps above the optimum, means over {args.seeds} seeds)")
        logistic_rows(tmp, args.seeds, SHAPES[:1] if args.quick else SHAPES)
        if not args.quick:
            linear_rows(tmp, args.seeds)
            softmax_rows(tmp, args.seeds)


if __name__ == "__main__":
    sys.exit(main())
