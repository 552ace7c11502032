"""`--lr auto`'s rate and the validation loss of runs under `--val-fraction`, with the run's sample
(training/sampling.py) holding the rows held out as before, and leaving them out as now.

Each problem is a file of `sgdcli generate` (ROWS × FEATURES, seed 0), trained with the API (the defaults but for
the model, --val-fraction FRACTION, one thread, 5 epochs) at each --seed.  "before" runs the same tree with the
run's sample built without the rows held out known (``training.run.Sample`` wrapped here alone).  A row gives the
sample's rows, the rate and the last epoch's validation loss, before and after, the means over the seeds.

    python bench/sample_held_out.py [--rows N] [--features N] [--seeds N] [--fraction F]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np

from sgdcli import TrainOptions, train
from sgdcli.training import run as run_mod
from sgdcli.training import sampling

ROWS = 50_000
FEATURES = 20
FRACTION = 0.2
# name: (generate's --task and --noise, the model trained)
PROBLEMS = {"binary, noise 0.1": ("binary", 0.1, "logistic"), "binary, noise 1": ("binary", 1.0, "logistic"),
            "regression": ("regression", 0.1, "linear"), "regression, huber": ("regression", 0.1, "huber"),
            "multiclass": ("multiclass", 0.1, "softmax")}


@contextlib.contextmanager
def leaky_sample():
    """The run's sample as it was: of every row of its runs, held out or not."""
    made = run_mod.Sample
    run_mod.Sample = lambda table, memory, held_out=None: made(table, memory)
    try:
        yield
    finally:
        run_mod.Sample = made


def measured(path: str, model: str, seed: int, fraction: float) -> tuple[int, float, float]:
    """The rows of the run's sample, its --lr auto and its last validation loss."""
    rows, labels = [], sampling.Sample.labels

    def counted(self):
        value = labels(self)
        rows.append(len(value))
        return value

    sampling.Sample.labels = counted
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model_ = train(path, TrainOptions(model=model, val_fraction=fraction, seed=seed, threads=1))
    finally:
        sampling.Sample.labels = labels
    return rows[0], model_.training["lr_auto"]["lr"], model_.history[-1]["val_loss"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--features", type=int, default=FEATURES)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--fraction", type=float, default=FRACTION)
    args = parser.parse_args()
    print("| problem | model | sample rows before / after | rate before | rate after | val loss before | "
          "val loss after |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (task, noise, model) in PROBLEMS.items():
            path = os.path.join(tmp, f"{task}-{noise}.h5")
            subprocess.run([sys.executable, "-m", "sgdcli", "generate", path, "--task", task, "--noise", str(noise),
                            "--rows", str(args.rows), "--features", str(args.features), "--seed", "0"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cells = {"before": [], "after": []}
            for seed in range(args.seeds):
                with leaky_sample():
                    cells["before"].append(measured(path, model, seed, args.fraction))
                cells["after"].append(measured(path, model, seed, args.fraction))
            before, after = (np.mean(cells[when], axis=0) for when in ("before", "after"))
            print(f"| {name} | {model} | {before[0]:,.0f} / {after[0]:,.0f} | {before[1]:.4g} | {after[1]:.4g} | "
                  f"{before[2]:.5g} | {after[2]:.5g} |", flush=True)


if __name__ == "__main__":
    main()
