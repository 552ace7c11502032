"""How far `--lr auto` (the default cosine schedule) ends from the optimum on balanced and unbalanced logistic
labels, with the fit of the rate's sample (training/gradientnoise.py) penalizing the bias as before (RIDGE over
the rows fitted) and as now (BIAS_RIDGE, training's none).

Each problem is bench/class_weight.py's data (ROWS × FEATURES Gaussian features, positives a given share of the
rows, the true weights of norm SIGNAL: 10 for nearly separable labels, 1 for noisy ones), trained with the API
(seed 0, one thread, 5 epochs, the defaults but for the batch) and measured by its mean log loss on the training
rows against the optimum of that loss (class_weight.optimum: Newton's method on all the rows, unpenalized).
"before" runs the same tree with the bias's ridge set back to RIDGE over the rows of each fit, by wrapping
``classifierfit.newton`` here alone.  A cell is the excess in percent, the mean over the seeds (`h` for each
halving after a blow-up); the last column is the after's rate over the before's (their geometric mean).

    python bench/l2_balance.py [--seeds N] [--rows N] [--features N] [--only NAME,...] [--batches 32,256]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from class_weight import objective, optimum, write  # noqa: E402
from sgdcli import TrainOptions, train  # noqa: E402
from sgdcli.training import classifierfit  # noqa: E402

ROWS = 20_000
FEATURES = 10
# name: (share of positives, norm of the true weights)
PROBLEMS = {f"{label} {name}": (share, signal)
            for label, signal in (("separable-ish", 10.0), ("noisy", 1.0))
            for name, share in (("balanced", 0.5), ("5%", 0.05), ("1%", 0.01))}


@contextlib.contextmanager
def old_bias_ridge():
    """The fit as it was: RIDGE over the rows fitted on the bias too."""
    fit = classifierfit.newton

    def penalized(Z, *args, **kwargs):
        classifierfit.BIAS_RIDGE = classifierfit.RIDGE / len(Z)
        return fit(Z, *args, **kwargs)

    kept = classifierfit.BIAS_RIDGE
    classifierfit.newton = penalized
    try:
        yield
    finally:
        classifierfit.newton, classifierfit.BIAS_RIDGE = fit, kept


def run(path: str, batch: int, X: np.ndarray, y: np.ndarray) -> tuple[float, int, float]:
    """The trained model's mean log loss on the rows, its halvings, and its --lr auto."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = train(path, TrainOptions(model="logistic", seed=0, threads=1, batch_size=batch))
    auto = model.training.get("lr_auto") or {}
    return objective(X, y, np.ones(len(y)), model.raw_weights()[0]), auto.get("halvings", 0) or 0, auto["lr"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--features", type=int, default=FEATURES)
    parser.add_argument("--only", default=None, help="comma-separated problems")
    parser.add_argument("--batches", default="32,256")
    args = parser.parse_args()
    problems = args.only.split(",") if args.only else list(PROBLEMS)
    batches = [int(b) for b in args.batches.split(",")]
    print("| problem | positives | batch | before | after | rate after / before |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in problems:
            share, signal = PROBLEMS[name]
            cells = {(batch, when): [] for batch in batches for when in ("before", "after")}
            positives = []
            for seed in range(args.seeds):
                path = os.path.join(tmp, f"{seed}.h5")
                X, y, _ = write(path, share, seed, args.rows, args.features, signal)
                positives.append(y.mean())
                best = optimum(X, y, np.ones(len(y)))
                for batch in batches:
                    with old_bias_ridge():
                        before = run(path, batch, X, y)
                    after = run(path, batch, X, y)
                    for when, (loss, halvings, lr) in (("before", before), ("after", after)):
                        cells[batch, when].append((loss / best - 1, halvings, lr))
            for batch in batches:
                row = []
                for when in ("before", "after"):
                    gaps = cells[batch, when]
                    marks = " " + "h" * max(c[1] for c in gaps) if any(c[1] for c in gaps) else ""
                    row.append(f"{100 * np.mean([c[0] for c in gaps]):.3g}%{marks}")
                ratio = np.exp(np.mean([np.log(a[2] / b[2]) for a, b in zip(cells[batch, "after"],
                                                                            cells[batch, "before"])]))
                print(f"| {name} | {100 * np.mean(positives):.2g}% | {batch} | " + " | ".join(row)
                      + f" | {ratio:.3g} |", flush=True)


if __name__ == "__main__":
    main()
