"""An epoch's last, partial batch stepped by the mean of its rows (before) or by their sum over the batch size
(now: kernels/batches.py partial_divisor), side by side in one run.

Each problem: B · whole + left rows of FEATURES standard normal features and a score of unit variance (true
weights normal, of variance 1 / FEATURES); linear labels the score plus noise of deviation 0.5, logistic labels
drawn at the probability σ(2 · score): neither separable nor noiseless, so the optimum's loss is well above 0.
Each is trained with the API (the defaults but the batch, one thread, 5 epochs); "before" runs the same tree
with the partial batch's divisor its rows (``sgdcli.engine.epoch.partial_divisor`` wrapped here alone).  The gap
is the training loss (MSE, log loss) above the optimum of the same objective on the standardized features,
computed here.

    python bench/partial_batch.py [--seeds N]
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
from sgdcli.engine import epoch as epoch_mod  # noqa: E402

FEATURES = 50
# (batch, whole batches, rows left over)
CASES = ((1024, 1, 1), (1024, 2, 1), (1024, 1, 512), (256, 4, 1), (256, 10, 128), (32, 100, 1))


@contextlib.contextmanager
def mean_of_partial():
    """The partial batch's step as it was: the mean of its rows."""
    real = epoch_mod.partial_divisor
    epoch_mod.partial_divisor = lambda batch, rows, stepped: rows
    try:
        yield
    finally:
        epoch_mod.partial_divisor = real


def optimum(model: str, X: np.ndarray, y: np.ndarray) -> float:
    """The least mean loss of ``model`` (linear: squared error; logistic) on the standardized rows ``X``."""
    Z = np.column_stack([(X - X.mean(axis=0)) / X.std(axis=0), np.ones(len(X))])
    if model == "linear":
        theta = np.linalg.lstsq(Z, y, rcond=None)[0]
        return float(np.mean((Z @ theta - y) ** 2))
    theta = np.zeros(Z.shape[1])
    for _ in range(60):
        p = 1 / (1 + np.exp(-(Z @ theta)))
        theta -= np.linalg.solve((Z * (p * (1 - p))[:, None]).T @ Z + 1e-9 * np.eye(Z.shape[1]), Z.T @ (p - y))
    s = Z @ theta
    return float(np.mean(np.logaddexp(0, s) - y * s))


def main() -> None:
    seeds = seeds_from_args(__doc__)
    print(f"{'model':<9} {'batch':>5} {'rows':>7} {'gap before':>11} {'gap after':>10}  "
          f"(means over {seeds} seeds)")
    with tempfile.TemporaryDirectory() as tmp:
        for model in ("linear", "logistic"):
            for batch, whole, left in CASES:
                n = batch * whole + left
                gaps = {"before": [], "after": []}
                for seed in range(seeds):
                    rng = np.random.default_rng(seed)
                    X = rng.standard_normal((n, FEATURES)).astype(np.float32)
                    score = X @ (rng.standard_normal(FEATURES) / np.sqrt(FEATURES))
                    y = (score + 0.5 * rng.standard_normal(n) if model == "linear" else
                         (rng.random(n) < 1 / (1 + np.exp(-2.0 * score))).astype(np.float64))
                    path = os.path.join(tmp, "rows.h5")
                    with h5py.File(path, "w") as f:
                        f["X"], f["y"] = X, y
                    best = optimum(model, X.astype(np.float64), y)
                    for name in gaps:
                        with mean_of_partial() if name == "before" else contextlib.nullcontext():
                            m = train(path, TrainOptions(model=model, batch_size=batch, epochs=5, threads=1))
                        loss = evaluate(m, path)["mse" if model == "linear" else "log_loss"]
                        gaps[name].append(loss / best - 1)
                print(f"{model:<9} {batch:>5} {n:>7} {np.mean(gaps['before']):>11.2%} {np.mean(gaps['after']):>10.2%}",
                      flush=True)


if __name__ == "__main__":
    sys.exit(main())
