"""The end check of a full batch that started at the fit of its sample (training/fullbatch.py ``from_fit``),
side by side with the rule it replaced, on the runs it is for.

Each logistic problem is bench/class_weight.py's data (Gaussian features, positives a given share of the rows,
the true weights of a given norm), trained with the API at the defaults but a full batch, one thread and the
optimizer of its case; each softmax problem, three classes of which one is rare (``softmax_problems``).
Printed for each run: how far above the optimum (computed on every row) it ended; the estimate the end check
makes of that, from the gradient of the last step on every row and the curvature of the run's sample (half the
Newton decrement, ``gradientnoise.newton_gap``; "far" where a Newton step would take off more than the loss;
"*" where the sample holds fewer rows of a class than weights of a class, and the estimate is the decrement
along the directions of its curvature that it tells); whether the check warned (over fullbatch.NEAR); and whether the
rule it replaced would have: the loss still falling by over fitwarnings.FALLING over the second half of the
epochs.  With
--advice, each run warned to lower --batch-size or raise --epochs is run again both ways: at the default batch
size, and a full batch of 10 times the epochs.

    python bench/full_batch_gradient.py [--seeds N] [--quick] [--advice]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import warnings

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from class_weight import objective, optimum, write  # noqa: E402
from sgdcli import TrainOptions, evaluate, train  # noqa: E402
from sgdcli.training import fitwarnings, gradientnoise  # noqa: E402
from sgdcli.training.fullbatch import NEAR  # noqa: E402

# (rows, features, share of positives, norm of the true weights, optimizer)
RARE = [(1_000_000, 60, share, signal, "auto") for share in (0.0005, 0.001, 0.002, 0.005) for signal in (6.0, 2.0)]
COMMON = [(100_000, features, share, signal, "auto") for features in (10, 50) for share in (0.02, 0.5)
          for signal in (6.0, 1.0)]
WIDE = [(100_000, features, share, signal, "auto") for features in (100, 150) for share, signal in ((0.01, 2.0),
                                                                                                  (0.02, 6.0))]
# softmax: what the third class's score is lowered by (bench/full_batch_gradient.py softmax_problems)
SOFTMAX_RARE = (20.0, 28.0, 34.0)
ADAPTIVE = [(100_000, 50, 0.02, 6.0, optimizer) for optimizer in ("adam", "rmsprop", "adagrad")]


def estimate(seen: dict, history: list[dict]) -> float:
    """The end check's estimate of the gap, from what newton_gap returned (its spy's ``seen``)."""
    if "half" not in seen:
        return float("nan")
    loss = history[-1]["train_loss"]
    best = loss - seen["half"]
    return (loss + seen["change"]) / best - 1 if best > 0 else float("inf")


def logistic_problems(path: str, cases, seeds: int):
    """(name, seed, options, the gap of a model above the optimum) of each logistic case, its rows at ``path``."""
    for rows, features, share, signal, optimizer in cases:
        for seed in range(seeds):
            X, y, _ = write(path, share, seed=seed, rows=rows, features=features, signal=signal)
            v = np.ones(len(y))
            best = optimum(X, y, v)
            yield (f"{share:.2%} of {signal:g}, {rows:,} x {features}, {optimizer}", seed,
                   {"model": "logistic", "optimizer": optimizer},
                   lambda m, X=X, y=y, v=v, best=best: objective(X, y, v, m.raw_weights()[0]) / best - 1)


def softmax_problems(path: str, seeds: int):
    """Three classes of Gumbel noise on strong features, the third's bias lowered until it is rare, against
    scikit-learn's unpenalized LogisticRegression on the standardized features."""
    from sklearn.linear_model import LogisticRegression

    rows, features = 300_000, 30
    for lowered in SOFTMAX_RARE:
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            X = rng.standard_normal((rows, features)).astype(np.float32)
            scores = X @ (1.5 * rng.standard_normal((3, features))).T - np.array([0.0, 0.0, lowered])
            y = (scores + rng.gumbel(size=(rows, 3))).argmax(axis=1)
            with h5py.File(path, "w") as f:
                f["X"], f["y"] = X, y.astype(np.float32)
            Z = (X - X.mean(axis=0)) / X.std(axis=0)
            P = LogisticRegression(C=1e10, tol=1e-10, max_iter=5000).fit(Z, y).predict_proba(Z)
            best = float(-np.mean(np.log(P[np.arange(rows), y])))
            yield (f"softmax, {np.mean(y == 2):.3%} rare, {rows:,} x {features}", seed, {"model": "softmax"},
                   lambda m, best=best: evaluate(m, path)["log_loss"] / best - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="only the 100,000-row problems")
    parser.add_argument("--advice", action="store_true", help="run the warned runs again as the warning advises")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    seen: dict = {}
    real = gradientnoise.newton_gap

    def spy(*a, **k):
        seen["half"], seen["change"], seen["whole"] = real(*a, **k)
        return seen["half"], seen["change"], seen["whole"]

    gradientnoise.newton_gap = spy
    print(f"{'problem':<40} {'seed':>4} {'gap':>9} {'estimate':>9} {'warned':>7} {'old rule':>9}")
    counts = {"far": [0, 0, 0], "near": [0, 0, 0]}  # runs, warned now, warned by the old rule
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rows.h5")
        problems = itertools.chain(logistic_problems(path, COMMON + ADAPTIVE + WIDE, args.seeds),
                                   () if args.quick else logistic_problems(path, RARE, args.seeds),
                                   () if args.quick else softmax_problems(path, args.seeds))
        for name, seed, options, gap_of in problems:
            seen.clear()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model = train(path, TrainOptions(batch_size="full", threads=1, **options))
            gap = gap_of(model)
            told = [str(w.message) for w in caught if isinstance(w.message, fitwarnings.FitWarning)]
            losses = [r["train_loss"] for r in model.history]
            half = (len(losses) - 1) // 2
            old = losses[half] - losses[-1] > fitwarnings.FALLING * abs(losses[half])
            tally = counts["far" if gap > NEAR else "near"]
            tally[0], tally[1], tally[2] = tally[0] + 1, tally[1] + bool(told), tally[2] + old
            guess = estimate(seen, model.history)
            shown = "far" if guess == np.inf else f"{'' if seen.get('whole', True) else '*'}{guess:.2%}"
            print(f"{name:<40} {seed:>4} {gap:>9.2%} {shown:>9} {'yes' if told else 'no':>7} "
                  f"{'yes' if old else 'no':>9}", flush=True)
            if args.advice and any("lower --batch-size" in text for text in told):
                mini = train(path, TrainOptions(threads=1, **options))
                longer = train(path, TrainOptions(batch_size="full", threads=1, epochs=10 * TrainOptions().epochs,
                                                  **options))
                print(f"{'':<45} as advised: the default batch {gap_of(mini):.2%}, 10 times the epochs "
                      f"{gap_of(longer):.2%}", flush=True)
    for kind, (runs, now, before) in counts.items():
        print(f"runs {kind} (gap {'over' if kind == 'far' else 'at most'} {NEAR:.0%}): {runs}; warned {now}, "
              f"by the old rule {before}")


if __name__ == "__main__":
    sys.exit(main())
