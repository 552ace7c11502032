"""How far poisson's `--lr auto` ends from the optimum, and how often it blows up first, where counts grow with
the features.

Each problem is 20,000 rows of 10 standard normal features with counts y ~ Poisson(exp(A·x0 + 0.3·x1)) (A = 0.5,
1, 2, 3: heavier tails as A grows), and the counts of bench/adaptive.py (exp(1 + x·w), w of norm 1) and of
tests/test_fit_warnings.py (exp(x·w), w ~ N(0, 0.9²) on 8 features).  Each trains at the defaults (nesterov,
batch 32, cosine, 5 epochs), at batch 256, with sgd, and for 20 epochs, and reports the mean Poisson deviance of
the model on its rows over scikit-learn's PoissonRegressor optimum (unpenalized) and the halvings after blow-ups.
Run it on two trees (PYTHONPATH) to compare them.

    python bench/poisson_curvature.py [--only NAME]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings

import h5py
import numpy as np
from sklearn.linear_model import PoissonRegressor
from sklearn.metrics import mean_poisson_deviance

from sgdcli import TrainOptions, evaluate, train

RUNS = {"defaults": {}, "batch 256": {"batch_size": 256}, "sgd": {"optimizer": "sgd"}, "20 epochs": {"epochs": 20}}


def problems(rng_seed: int = 0):
    for a in (0.5, 1.0, 2.0, 3.0):
        rng = np.random.default_rng(rng_seed)
        X = rng.standard_normal((20000, 10)).astype(np.float32)
        yield f"A = {a:g}", X, rng.poisson(np.exp(a * X[:, 0] + 0.3 * X[:, 1])).astype(float)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20000, 10)).astype(np.float32)
    w = rng.standard_normal(10)
    yield "adaptive.py", X, rng.poisson(np.exp(1.0 + X @ (w / np.linalg.norm(w)))).astype(float)
    rng = np.random.default_rng(41)
    X = rng.normal(size=(5000, 8)).astype(np.float32)
    yield "fit_warnings", X, rng.poisson(np.exp(X @ (rng.normal(size=8) * 0.9))).astype(float)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print("| problem | mean count | max | " + " | ".join(RUNS) + " |")
    print("|---|---|---|" + "---|" * len(RUNS))
    with tempfile.TemporaryDirectory() as tmp:
        for name, X, y in problems():
            if args.only and args.only not in name:
                continue
            path = os.path.join(tmp, "p.h5")
            with h5py.File(path, "w") as f:
                f["X"], f["y"] = X, y
            best = mean_poisson_deviance(y, PoissonRegressor(alpha=0, max_iter=1000).fit(X, y).predict(X))
            cells = []
            for kw in RUNS.values():
                try:
                    m = train(path, TrainOptions(model="poisson", threads=1, **kw))
                    ratio = evaluate(m, path)["deviance"] / best
                    cells.append(f"{ratio:.3f} ({m.training['lr_auto']['halvings']})")
                except Exception as exc:  # a run that gave up: its error's class
                    cells.append(type(exc).__name__)
            print(f"| {name} | {y.mean():.3g} | {y.max():.0f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
