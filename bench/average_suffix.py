"""What --average's running mean should cover: every iterate, or the last half of a run's updates.

On four problems (softmax of 20 classes, logistic with 1% positives,
labels about 1e6, near-collinear features) and four schedules, it trains the
same options three ways and prints each model's loss over the optimum's
(scikit-learn's unpenalized logistic regression, or least squares), minus 1:

- the last iterate (no --average);
- --average as a mean of every iterate (the running mean from update 1, as
  sgdcli's --average was before 2026-12-04; the kernels' average_start
  patched to 0);
- --average as sgdcli runs it: the mean of the last half of the updates
  (kernels/state.py, average_start).

    python bench/average_suffix.py DIR    # DIR: where the generated files go

scikit-learn is in the test extra.
"""

from __future__ import annotations

import dataclasses
import sys

from problems import loss_of, noisy_files

import sgdcli
from sgdcli.kernels import state

SCHEDULES = (("constant", 5), ("cosine", 5), ("constant", 1), ("constant", 20))


def main(folder: str) -> None:
    suffix = state.average_start
    print("| problem | schedule | epochs | last iterate | mean of every iterate | mean of the last half |")
    print("|---|---|---|---|---|---|")
    for name, model, path, X, y, best in noisy_files(folder, "average_suffix"):
        for schedule, epochs in SCHEDULES:
            opts = sgdcli.TrainOptions(model=model, schedule=schedule, epochs=epochs, seed=3, val_fraction=0.0)
            cells = []
            for average, start in ((False, suffix), (True, lambda total: 0), (True, suffix)):
                state.average_start = start
                W = sgdcli.train(path, dataclasses.replace(opts, average=average)).raw_weights()
                cells.append(f"{100 * (loss_of(model, X, y, W) / best - 1):+.2f}%")
            state.average_start = suffix
            print(f"| {name} | {schedule} | {epochs} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")  # a benchmark reports what it measures, not what each run would be told
    main(sys.argv[1])
