"""How far settled full-batch weighted logistic runs end above a fit of their sample, against what the end check
(training/fullbatch.py) adds back for the fit's optimism.

Each problem is class_weight.py's logistic data (ROWS rows, FEATURES Gaussian features, the given share of
positives) trained with the API at --batch-size full, --threads 1 and EPOCHS epochs (enough to settle), with its
weights (--class-weight, or --sample-weight w: lognormal).  On the run's sample (the rows training/sampling.py
reads, m of them) it prints, averaged over the seeds:

- fit: the least weighted loss on the sample, Σ v·ℓ / m (Newton's method; v the rows' weights, of mean 1 over
  the training rows, as training weighs them);
- optimism: the loss on the sample of the optimum over all n rows, less fit: what the check must add back;
- p/2 · (1/m − 1/n), and that times Σv²/Σv over the sample's rows: the check's optimism before and after;
- run: the run's loss on the sample, less fit; and its loss over all rows above the optimum's, in percent.

    python bench/full_batch_weights.py [--only NAME] [--seeds N] [--epochs N] [--rows N] [--features N]
        [--signal S]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from class_weight import row_weights, write  # noqa: E402
from sgdcli import TrainOptions, train  # noqa: E402
from sgdcli.data.table import Table  # noqa: E402
from sgdcli.options import DEFAULT_MEMORY  # noqa: E402
from sgdcli.training.sampling import sample_spans  # noqa: E402

ROWS = 20_000
FEATURES = 60
EPOCHS = 300
SIGNAL = 8.0
PROBLEMS = {  # name: (share of positives, weights as class_weight.row_weights takes them)
    "10% unweighted": (0.10, None),
    "10% balanced": (0.10, "balanced"),
    "10% 1=5": (0.10, "0=1,1=5"),
    "10% lognormal w": (0.10, "lognormal"),
}


def losses(Z: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
    s = Z @ theta
    return np.logaddexp(0, s) - y * s


def fit(Z: np.ndarray, y: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The weights (the bias last, Z's column of ones) of the least Σ v·ℓ, by Newton's method."""
    theta = np.zeros(Z.shape[1])
    value = v @ losses(Z, y, theta)
    for _ in range(100):
        p = 1 / (1 + np.exp(-(Z @ theta)))
        g = Z.T @ (v * (p - y))
        H = (Z * (v * p * (1 - p))[:, None]).T @ Z
        step = -np.linalg.solve(H, g)
        if -(g @ step) < 1e-12 * len(Z):
            break
        t = 1.0
        while t > 1e-10 and v @ losses(Z, y, theta + t * step) > value + 1e-4 * t * (g @ step):
            t /= 2
        theta = theta + t * step
        value = v @ losses(Z, y, theta)
    return theta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="comma-separated problems")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--features", type=int, default=FEATURES)
    parser.add_argument("--signal", type=float, default=SIGNAL, help="the norm of the true weights")
    args = parser.parse_args()
    print("| problem | Σv²/Σv | fit | optimism | p/2·(1/m−1/n) | × Σv²/Σv | run − fit | run above optimum "
          "| told |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in (args.only.split(",") if args.only else PROBLEMS):
            share, weights = PROBLEMS[name]
            cells = []
            for seed in range(args.seeds):
                path = os.path.join(tmp, f"{seed}.h5")
                X, y, sample = write(path, share, seed, args.rows, args.features, args.signal)
                v = row_weights(y, sample, weights)
                v = v * len(v) / v.sum()  # mean 1 over the training rows, as training weighs them
                extra = ({"sample_weight": "w"} if weights == "lognormal" else
                         {"class_weight": weights} if weights else {})
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    model = train(path, TrainOptions(model="logistic", batch_size="full", epochs=args.epochs,
                                                     threads=1, seed=0, **extra))
                told = [str(c.message) for c in caught if "estimated by a fit" in str(c.message)]
                with Table(path) as table:
                    rows = np.concatenate([np.arange(a, b) for a, b in sample_spans(table, DEFAULT_MEMORY)])
                Z = np.column_stack([X, np.ones(len(X))])
                n, m, p = len(X), len(rows), Z.shape[1]
                best = fit(Z, y, v)
                here = fit(Z[rows], y[rows], v[rows])
                on_sample = lambda theta: float(v[rows] @ losses(Z[rows], y[rows], theta) / m)  # noqa: E731
                run = model.raw_weights()[0]
                optimism = 0.5 * p * (1 / m - 1 / n)
                spread = float(np.sum(v[rows] ** 2) / np.sum(v[rows]))
                above = (v @ losses(Z, y, run)) / (v @ losses(Z, y, best)) - 1
                cells.append((spread, on_sample(here), on_sample(best) - on_sample(here), optimism,
                              optimism * spread, on_sample(run) - on_sample(here), above,
                              told[0].split(" is ")[1].split(" above")[0] if told else "—"))
            mean = np.mean([c[:7] for c in cells], axis=0)
            print(f"| {name} | {mean[0]:.2f} | {mean[1]:.4f} | {mean[2]:.2e} | {mean[3]:.2e} | {mean[4]:.2e} | "
                  f"{mean[5]:.2e} | {100 * mean[6]:.2f}% | {', '.join(c[7] for c in cells)} |", flush=True)


if __name__ == "__main__":
    main()
