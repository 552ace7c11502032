"""Full-batch runs of adam, rmsprop and adagrad from the fit of their sample: --lr auto's rate for weights of size 1
(as shipped) against the rate raised to the size of the fitted weights (as before), side by side in one run.

A full-batch logistic or softmax run starts at the fit of its sample (training/start.py).  The adaptive
optimizers' rate is raised to the size of the weights fitted to the sample where that is over 1
(training/adaptivesize.py), the distance a model that starts at 0 travels; a run from the fit travels only from
the sample's optimum to that of all the rows.  "before" passes ``from_fit=False`` to the rate (wrapping
training/runrate.py's ``auto_rate``), which restores the raise.

Data: sample_data/multiclass.h5 and `sgdcli generate --task multiclass` files (20,000 rows, 8 features, seed 1;
softmax), and bench/class_weight.py's logistic problems of bench/fit_start.py (20,000 rows × 10 features, 2 seeds).
The defaults but the optimizer, a full batch and one thread; the gap is the final model's mean log loss over the
training rows above the optimum, computed in the script.

    python bench/adaptive_from_fit.py
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from class_weight import write  # noqa: E402
from fit_start import PROBLEMS, as_shipped, gap, softmax_optimum  # noqa: E402
from sgdcli import TrainOptions, evaluate, generate, train  # noqa: E402
from sgdcli.training import runrate  # noqa: E402

OPTIMIZERS = ("adam", "rmsprop", "adagrad")
SEEDS = 2


@contextlib.contextmanager
def raised_as_before():
    """The rate raised to the fitted weights' size, as for a run from 0."""
    real = runrate.auto_rate
    runrate.auto_rate = lambda *args, **kwargs: real(*args, **{**kwargs, "from_fit": False})
    try:
        yield
    finally:
        runrate.auto_rate = real


def both(measure) -> list[float]:
    """``measure()`` as shipped, then as before."""
    shipped = measure()
    with raised_as_before():
        return [shipped, measure()]


def main() -> None:
    warnings.simplefilter("ignore")
    print(f"{'problem':<34} {'optimizer':<9} {'shipped':>9} {'before':>9}   (gap above the optimum, full batch)")
    with tempfile.TemporaryDirectory() as tmp:
        files = {"softmax, sample_data/multiclass.h5": os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                                    "sample_data", "multiclass.h5")}
        for noise in (0.1, 1.0):
            for classes in (3, 6):
                path = os.path.join(tmp, f"classes{classes}-{noise}.h5")
                generate(path, task="multiclass", classes=classes, rows=20_000, features=8, noise=noise, seed=1)
                files[f"softmax, {classes} classes, noise {noise}"] = path
        for name, path in files.items():
            with h5py.File(path) as f:
                X, y = f["X"][()].astype(np.float64), f["y"][()].astype(np.int64)
            best = softmax_optimum(X, y)
            for optimizer in OPTIMIZERS:
                options = TrainOptions(model="softmax", batch_size="full", threads=1, optimizer=optimizer)
                gaps = both(lambda: evaluate(train(path, options), path)["log_loss"] / best - 1)
                print(f"{name:<34} {optimizer:<9} " + " ".join(f"{g:>9.2%}" for g in gaps), flush=True)
        path = os.path.join(tmp, "rows.h5")
        for name, (share, signal) in PROBLEMS.items():
            for optimizer in OPTIMIZERS:
                gaps = []
                for seed in range(SEEDS):
                    X, y, _ = write(path, share, seed=seed, rows=20_000, features=10, signal=signal)
                    gaps.append(both(lambda: gap(path, X, y, "full", {"optimizer": optimizer}, as_shipped)))
                print(f"{'logistic, ' + name:<34} {optimizer:<9} "
                      + " ".join(f"{g:>9.2%}" for g in np.mean(gaps, axis=0)), flush=True)


if __name__ == "__main__":
    main()
