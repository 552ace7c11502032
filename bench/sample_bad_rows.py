"""`--lr auto`'s rate and the gap above the optimum of logistic runs under `--bad-rows skip`, with the run's sample
(training/sampling.py) holding the rows training skips (their bad values zeroed) as before, and leaving them out as
now, side by side in one run.

Each problem: ROWS × FEATURES standard normal features (the first three times as large), logistic labels of random
true weights, and a share of the rows missing their second feature (NaN).  Each is trained with the API (the
defaults but --bad-rows skip, one thread, 5 epochs) at each batch.  "before" runs the same tree with the run's
sample built without --bad-rows skip known (``training.run.Sample`` wrapped here alone).  The gap is the training
log loss over the good rows above their optimum (Newton's method on the standardized good rows, in this script).

    python bench/sample_bad_rows.py [--seeds N]
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from problems import seeds_from_args  # noqa: E402
from sgdcli import TrainOptions, evaluate, train  # noqa: E402
from sgdcli.training import run as run_mod  # noqa: E402

ROWS = 20_000
FEATURES = 10
SHARES = (0.1, 0.3, 0.5)
BATCHES = (32, 256, "full")


@contextlib.contextmanager
def bad_rows_sampled():
    """The run's sample as it was: every row of its runs, bad or not."""
    made = run_mod.Sample
    run_mod.Sample = lambda *args, skip_bad=False, **kwargs: made(*args, **kwargs)
    try:
        yield
    finally:
        run_mod.Sample = made


def optimum(X: np.ndarray, y: np.ndarray) -> float:
    """The least mean logistic loss of weights and a bias on the standardized rows ``X``, by Newton's method."""
    Z = np.column_stack([(X - X.mean(axis=0)) / X.std(axis=0), np.ones(len(X))])
    theta = np.zeros(Z.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(Z @ theta)))
        theta -= np.linalg.solve((Z * (p * (1 - p))[:, None]).T @ Z, Z.T @ (p - y))
    s = Z @ theta
    return float(np.mean(np.logaddexp(0, s) - y * s))


def problem(tmp: str, share: float, seed: int) -> tuple[str, str, float]:
    """The file to train on, a file of its good rows alone, and their optimum's loss."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((ROWS, FEATURES))
    X[:, 0] *= 3.0
    y = (rng.random(ROWS) < 1 / (1 + np.exp(-(X @ rng.standard_normal(FEATURES))))).astype(np.float64)
    X = X.astype(np.float32)
    bad = rng.random(ROWS) < share
    X[bad, 1] = np.nan
    path, good = os.path.join(tmp, "bad.h5"), os.path.join(tmp, "good.h5")
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = X, y
    with h5py.File(good, "w") as f:
        f["X"], f["y"] = X[~bad], y[~bad]
    return path, good, optimum(X[~bad].astype(np.float64), y[~bad])


def main() -> None:
    seeds = seeds_from_args(__doc__)
    print(f"{'bad rows':>8} {'batch':>6} {'lr before':>10} {'lr after':>10} {'gap before':>11} {'gap after':>10} "
          f"{'after/before':>12}  (means over {seeds} seeds)")
    with tempfile.TemporaryDirectory() as tmp:
        for share in SHARES:
            for batch in BATCHES:
                out = {"before": [], "after": []}
                for seed in range(seeds):
                    path, good, best = problem(tmp, share, seed)
                    for name in out:
                        with bad_rows_sampled() if name == "before" else contextlib.nullcontext():
                            m = train(path, TrainOptions(model="logistic", bad_rows="skip", threads=1,
                                                         batch_size=batch, epochs=5))
                        out[name].append((m.training["lr_auto"]["lr"], evaluate(m, good)["log_loss"] / best - 1))
                (lr0, gap0), (lr1, gap1) = (np.mean(out[name], axis=0) for name in ("before", "after"))
                print(f"{share:>8.0%} {batch:>6} {lr0:>10.4g} {lr1:>10.4g} {gap0:>11.3%} {gap1:>10.3%} "
                      f"{gap1 / gap0:>12.3f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
