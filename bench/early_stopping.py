"""When early stopping's patience should count: from the first epoch, or once the schedule's rate has decayed.

On bench/problems.py's four noisy problems, --epochs 50 --val-fraction 0.1
--early-stopping under the default cosine schedule, it counts patience from
every epoch (as sgdcli did before 2026-12-04), from half the peak rate, and
from a twentieth (training/early_stopping.py, SETTLED_SHARE), and prints
each model's loss on all rows over the optimum's, minus 1, with the epochs
run; then the same 50 epochs without early stopping.

    python bench/early_stopping.py DIR    # DIR: where the generated files go

scikit-learn is in the test extra.
"""

from __future__ import annotations

import math
import sys

from problems import loss_of, noisy_files

import sgdcli
from sgdcli.training import early_stopping

EPOCHS = 50


def main(folder: str) -> None:
    shares = (("every epoch", math.inf), ("from half the peak", 0.5),
              ("from a twentieth", early_stopping.SETTLED_SHARE))
    chosen = early_stopping.SETTLED_SHARE
    print("| problem | " + " | ".join(name for name, _ in shares) + " | no early stopping |")
    print("|---|" + "---|" * (len(shares) + 1))
    for name, model, path, X, y, best in noisy_files(folder, "early_stopping"):
        cells = []
        for stopping, share in [(True, share) for _, share in shares] + [(False, chosen)]:
            early_stopping.SETTLED_SHARE = share
            trained = sgdcli.train(path, sgdcli.TrainOptions(model=model, epochs=EPOCHS, val_fraction=0.1, seed=3,
                                                             early_stopping=stopping))
            gap = loss_of(model, X, y, trained.raw_weights()) / best - 1
            cells.append(f"{100 * gap:+.2f}% ({len(trained.history)} epochs)")
        early_stopping.SETTLED_SHARE = chosen
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")  # a benchmark reports what it measures, not what each run would be told
    main(sys.argv[1])
