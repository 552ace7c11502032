"""How close `--lr auto` puts adam, rmsprop and adagrad to their best rate, on dense and sparse problems.

Each problem trains with only --model and --optimizer (5 epochs, batch 32,
unless its name says otherwise), at `--lr auto` and at auto's rate times
1/9, 1/3, 3 and 9, and reports the test loss (log loss; poisson: deviance)
of auto's model over the best of the five: 1.00 is auto at the best of the
grid, and the grid's best factor says which way a better rate lies.  The
problems span 20 to 20,000 features, dense rows and sparse ones of 20 to
1,000 nonzeros, 200 to 200,000 rows, 70 to 100,000 updates, logistic,
softmax and poisson; scikit-learn's digits and breast cancer are the real
data (a seeded quarter held out), and two dense problems' rows times 1,000
stand for raw features under --no-standardize.  Synthetic rows: `sgdcli generate` (dense,
--noise 1), and sparse rows of Gaussian values at random columns whose
labels follow a linear model plus unit noise.
Raw figures go to bench/results/<date>-adaptive.json.

    python bench/adaptive.py [--quick] [--only TEXT]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import sys
import tempfile
import warnings

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import HERE, cpu_model  # noqa: E402

from sgdcli import TrainOptions, evaluate, generate, train  # noqa: E402

OPTIMIZERS = ("adam", "rmsprop", "adagrad")
FACTORS = (1 / 9, 1 / 3, 1.0, 3.0, 9.0)
TEST_ROWS = 20000
QUICK = ("dense 500 n20000", "dense 2000 n5000", "sparse 5000/300 n20000", "digits", "breast cancer")


def dense(tmp: str, task: str, rows: int, features: int) -> tuple[str, str]:
    """``sgdcli generate`` files: training rows, and test rows of the same model."""
    train_path, test_path = f"{tmp}/{task}-{rows}-{features}.h5", f"{tmp}/{task}-test-{features}.h5"
    if not os.path.exists(train_path):
        generate(train_path, task=task, rows=rows, features=features, noise=1.0, seed=features)
    if not os.path.exists(test_path):
        generate(test_path, task=task, rows=TEST_ROWS, features=features, noise=1.0, seed=features,
                 data_seed=10**6 + features)
    return train_path, test_path


def sparse(tmp: str, rows: int, features: int, nonzeros: int, classes: int = 2) -> tuple[str, str]:
    """CSR files (data, indices, indptr and a shape attribute) of ``nonzeros`` Gaussian values a row at random
    columns, labelled by a linear model of scores of standard deviation about 2 plus unit Gaussian noise."""
    shape = f"{features}-{nonzeros}-{classes}"
    paths = f"{tmp}/sparse-{rows}-{shape}.h5", f"{tmp}/sparse-test-{shape}.h5"
    if not os.path.exists(paths[0]):
        W = np.random.default_rng(features).standard_normal((features, 1 if classes == 2 else classes))
        W *= 2 / np.sqrt(nonzeros)
        for path, n, seed in ((paths[0], rows, 1), (paths[1], TEST_ROWS, 2)):
            rng = np.random.default_rng(seed)
            indices = np.sort(np.stack([rng.choice(features, nonzeros, replace=False) for _ in range(n)]), axis=1)
            data = rng.standard_normal(n * nonzeros).astype(np.float32)
            S = np.zeros((n, W.shape[1]))
            for k in range(W.shape[1]):
                S[:, k] = (data.reshape(n, nonzeros) * W[indices, k]).sum(axis=1)
            S += rng.standard_normal(S.shape)
            y = (S[:, 0] > 0) if classes == 2 else S.argmax(axis=1)
            with h5py.File(path, "w") as f:
                g = f.create_group("X")
                g["data"], g["indices"], g["indptr"] = data, indices.ravel(), np.arange(n + 1) * nonzeros
                g.attrs["shape"] = (n, features)
                f["y"] = y.astype(np.float64)
    return paths


def counts(tmp: str, rows: int, features: int) -> tuple[str, str]:
    """Poisson counts of mean exp(1 + x·w), x standard normal, w of norm about 1/2."""
    paths = f"{tmp}/poisson-{rows}-{features}.h5", f"{tmp}/poisson-test-{features}.h5"
    if not os.path.exists(paths[0]):
        w = np.random.default_rng(features).standard_normal(features) * 0.5 / np.sqrt(features)
        for path, n, seed in ((paths[0], rows, 1), (paths[1], TEST_ROWS, 2)):
            rng = np.random.default_rng(seed)
            X = rng.standard_normal((n, features)).astype(np.float32)
            with h5py.File(path, "w") as f:
                f["X"], f["y"] = X, rng.poisson(np.exp(1.0 + X @ w)).astype(np.float64)
    return paths


def scaled(tmp: str, rows: int, features: int, scale: float) -> tuple[str, str]:
    """``dense`` files with every feature multiplied by ``scale``: raw features, for --no-standardize."""
    paths = f"{tmp}/scaled-{rows}-{features}.h5", f"{tmp}/scaled-test-{features}.h5"
    if not os.path.exists(paths[0]):
        for source, path in zip(dense(tmp, "binary", rows, features), paths):
            with h5py.File(source) as f, h5py.File(path, "w") as g:
                g["X"], g["y"] = f["X"][()] * np.float32(scale), f["y"][()]
    return paths


def real(tmp: str, name: str) -> tuple[str, str]:
    """scikit-learn's digits or breast cancer, raw features, a seeded quarter held out."""
    from sklearn.datasets import load_breast_cancer, load_digits

    paths = f"{tmp}/{name}.h5", f"{tmp}/{name}-test.h5"
    if not os.path.exists(paths[0]):
        data = (load_digits if name == "digits" else load_breast_cancer)()
        held = np.random.default_rng(0).random(len(data.target)) < 0.25
        for path, keep in zip(paths, (~held, held)):
            with h5py.File(path, "w") as f:
                f["X"], f["y"] = data.data[keep].astype(np.float32), data.target[keep].astype(np.float64)
    return paths


def problems(tmp: str, quick: bool) -> list[tuple[str, str, tuple[str, str], dict]]:
    """(name, model, (train, test), options beyond --model and --optimizer)."""
    out = []
    for d in (20, 64, 200, 500, 2000):
        out.append((f"dense {d} n20000", "logistic", lambda d=d: dense(tmp, "binary", 20000, d), {}))
    for n, d in ((2000, 200), (5000, 500), (5000, 2000), (80000, 2000), (200000, 200)):
        out.append((f"dense {d} n{n}", "logistic", lambda n=n, d=d: dense(tmp, "binary", n, d), {}))
    for d, nnz, n in ((5000, 50, 20000), (5000, 300, 20000), (20000, 1000, 20000), (50000, 20, 100000)):
        out.append((f"sparse {d}/{nnz} n{n}", "logistic", lambda n=n, d=d, nnz=nnz: sparse(tmp, n, d, nnz), {}))
    for epochs in (1, 20):
        out.append((f"dense 500 n20000 epochs {epochs}", "logistic", lambda: dense(tmp, "binary", 20000, 500),
                    {"epochs": epochs}))
        out.append((f"sparse 5000/300 n20000 epochs {epochs}", "logistic", lambda: sparse(tmp, 20000, 5000, 300),
                    {"epochs": epochs}))
    for batch in (1, 256):
        out.append((f"dense 200 n20000 batch {batch}", "logistic", lambda: dense(tmp, "binary", 20000, 200),
                    {"batch_size": batch}))
        out.append((f"sparse 5000/50 n20000 batch {batch}", "logistic", lambda: sparse(tmp, 20000, 5000, 50),
                    {"batch_size": batch}))
    for d in (200, 2000):
        out.append((f"softmax dense {d} n20000", "softmax", lambda d=d: dense(tmp, "multiclass", 20000, d), {}))
    out.append(("softmax sparse 5000/300 n20000", "softmax", lambda: sparse(tmp, 20000, 5000, 300, 3), {}))
    for d in (500, 2000):
        out.append((f"poisson dense {d} n20000", "poisson", lambda d=d: counts(tmp, 20000, d), {}))
    for d in (20, 200):
        out.append((f"raw dense {d} × 1000 n20000, --no-standardize", "logistic",
                    lambda d=d: scaled(tmp, 20000, d, 1000.0), {"standardize": False}))
    out.append(("digits", "softmax", lambda: real(tmp, "digits"), {"l2": 1e-3}))
    out.append(("breast cancer", "logistic", lambda: real(tmp, "cancer"), {"l2": 1e-3}))
    return [p for p in out if not quick or p[0] in QUICK]


def test_loss(model, path: str, name: str) -> float:
    return evaluate(model, path)["deviance" if name == "poisson" else "log_loss"]


def _train(path: str, opts: TrainOptions):
    """A model, or None where the rate diverged (a result here, not a failure)."""
    with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return train(path, opts)
        except Exception:  # noqa: BLE001  DivergedError at the larger factors
            return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{len(QUICK)} of the problems")
    parser.add_argument("--only", metavar="TEXT", help="the problems whose name holds TEXT")
    args = parser.parse_args()
    results: dict = {}
    lines = [f"{'problem':<38} {'optimizer':<9} {'auto lr':>9} {'auto loss':>10} {'best factor':>11} "
             f"{'auto / best':>11}"]
    print(lines[0], flush=True)
    with tempfile.TemporaryDirectory(dir=os.environ.get("SGDCLI_BENCH_DIR")) as tmp:
        for name, model, files, extra in problems(tmp, args.quick):
            if args.only is not None and args.only not in name:
                continue
            train_path, test_path = files()
            for optimizer in OPTIMIZERS:
                base = dict(model=model, optimizer=optimizer, threads=1) | extra
                auto = _train(train_path, TrainOptions(**base))
                if auto is None:
                    results[f"{name}: {optimizer}"] = {"error": "diverged at --lr auto"}
                    continue
                lr = auto.training["lr"]
                loss = {}
                for factor in FACTORS:
                    m = auto if factor == 1.0 else _train(train_path, TrainOptions(**base, lr=lr * factor))
                    loss[factor] = test_loss(m, test_path, model) if m is not None else float("inf")
                best = min(loss, key=loss.get)
                results[f"{name}: {optimizer}"] = {"lr": lr, "trace": auto.training["lr_auto"]["trace"],
                                                   "updates": auto.training["updates"],
                                                   "loss": {f"{f:.4g}": v for f, v in loss.items()}}
                line = (f"{name:<38} {optimizer:<9} {lr:9.3g} {loss[1.0]:10.4f} {best:11.3g} "
                        f"{loss[1.0] / loss[best]:11.3f}")
                lines.append(line)
                print(line, flush=True)
    ratios = {opt: [r["loss"]["1"] / min(r["loss"].values()) for k, r in results.items()
                    if k.endswith(f": {opt}") and "loss" in r] for opt in OPTIMIZERS}
    for opt, values in ratios.items():
        if values:
            line = (f"{opt}: auto / best over {len(values)} problems: mean {np.mean(values):.3f}, "
                    f"worst {max(values):.3f}")
            lines.append(line)
            print(line)
    record = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "cpu": cpu_model(),
              "quick": args.quick, "results": results, "table": "\n".join(lines)}
    suffix = "-quick-adaptive" if args.quick or args.only else "-adaptive"
    with open(os.path.join(HERE, "results", f"{record['date'].replace(':', '')}{suffix}.json"), "w") as fh:
        json.dump(record, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
