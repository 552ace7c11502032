"""Which rate averaged replicas (--parallel average) can take: measured against the optimum.

Each of R threads takes --sync-every K local steps of B rows between two
averagings.  For R = 2 and 4 and several K this trains the same data at:

- the --lr auto rate for a batch of B rows (what one thread picks) and for
  R·B rows, both given as an explicit rate with --lr-scaling none, and
  --lr auto itself (training/replicas.py: the rate for R·B rows, held at
  twice the rate for B rows where the models take more than one step
  between averagings);
- explicit rates × R and as given (--lr-scaling none), and with the default
  --lr-scaling replicas (× R, held at the rate --lr auto gives the models),

and prints each run's final training loss over the optimum's (least squares,
or scikit-learn's unpenalized logistic regression), or "diverged".

    python bench/average_rates.py DIR    # DIR: where the generated files go

Runs one training at a time; threads beyond the cores are oversubscribed but
train the same models.
"""

from __future__ import annotations

import dataclasses
import os
import sys

os.environ.setdefault("NUMBA_NUM_THREADS", "4")

import numpy as np  # noqa: E402

import sgdcli  # noqa: E402
from sgdcli.errors import DivergedError  # noqa: E402

FEATURES, EPOCHS = 20, 3
# (task, model, batch, explicit rates, rows, --sync-every values); None: the default, about 2^20 rows' worth
# (one averaging per epoch here).  A round costs milliseconds of set-up: batch 1 runs on few rows, and K = 1 at batch 32 only.
CASES = [("regression", "linear", 1, (0.01, 0.002), 4000, (4, 64, None)),
         ("binary", "logistic", 32, (0.5, 0.05), 20000, (1, 16, None))]


def read(path):
    import h5py

    with h5py.File(path, "r") as f:
        return f["X"][:].astype(np.float64), f["y"][:].astype(np.float64)


def loss_of(task, X, y, W):
    s = X @ W[0, :-1] + W[0, -1]
    if task == "regression":
        return float(np.mean(0.5 * (y - s) ** 2))
    return float(np.mean(np.logaddexp(0.0, s) - y * s))


def optimum(task, X, y):
    if task == "regression":
        A = np.column_stack([X, np.ones(len(X))])
        w = np.linalg.lstsq(A, y, rcond=None)[0]
        return loss_of(task, X, y, w[None, :])
    from sklearn.linear_model import LogisticRegression

    fit = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10000).fit(X, y)
    return loss_of(task, X, y, np.append(fit.coef_[0], fit.intercept_[0])[None, :])


def run(path, task, X, y, best, opts):
    try:
        model = sgdcli.train(path, opts)
    except DivergedError:
        return "diverged", None
    return f"{loss_of(task, X, y, model.raw_weights()) / best:.4g}", model.training["lr"]


def main(folder):
    for task, model, batch, rates, rows, syncs in CASES:
        path = os.path.join(folder, f"avg_{task}_{rows}.h5")
        if not os.path.exists(path):
            sgdcli.generate(path, task=task, rows=rows, features=FEATURES, seed=5)
        X, y = read(path)
        best = optimum(task, X, y)
        base = sgdcli.TrainOptions(model=model, batch_size=batch, epochs=EPOCHS, seed=1)
        one = sgdcli.train(path, dataclasses.replace(base, threads=1))
        lr_b = one.training["lr"]
        print(f"\n{task}, {rows} rows, --model {model}, batch {batch}, {EPOCHS} epochs, nesterov, cosine: "
              f"loss / optimum's {best:.5g}")
        print(f"one thread: auto rate {lr_b:.4g}: {loss_of(task, X, y, one.raw_weights()) / best:.4g}; "
              + ", ".join(f"--lr {lr:g}: {run(path, task, X, y, best, dataclasses.replace(base, lr=lr, threads=1))[0]}"
                          for lr in rates))
        print("| R | K | auto at B | auto at R·B | --lr auto | " + " | ".join(
            f"--lr {lr:g} × R | --lr {lr:g} as given | --lr {lr:g} replicas" for lr in rates) + " |")
        print("|---|---|---|---|---|" + "---|---|---|" * len(rates))
        for replicas in (2, 4):
            # the --lr auto rate for R·B rows: one thread's at that batch (cosine: the run's length does not count)
            lr_rb = sgdcli.train(path, dataclasses.replace(base, batch_size=replicas * batch, epochs=1, threads=1)
                                 ).training["lr"]
            for sync in syncs:
                opts = dataclasses.replace(base, threads=replicas, parallel="average", sync_every=sync)
                cells = []
                for lr in (lr_b, lr_rb):
                    loss, _ = run(path, task, X, y, best, dataclasses.replace(opts, lr=lr, lr_scaling="none"))
                    cells.append(f"{loss} ({lr:.3g})")
                loss, used = run(path, task, X, y, best, opts)
                cells.append(f"{loss} ({used:.3g})" if used is not None else loss)
                for lr in rates:
                    cells.append(run(path, task, X, y, best, dataclasses.replace(opts, lr=lr * replicas,
                                                                                  lr_scaling="none"))[0])
                    cells.append(run(path, task, X, y, best, dataclasses.replace(opts, lr=lr, lr_scaling="none"))[0])
                    loss, used = run(path, task, X, y, best, dataclasses.replace(opts, lr=lr))
                    cells.append(f"{loss} ({used:.3g})" if used is not None else loss)
                print(f"| {replicas} | {sync or 'default'} | " + " | ".join(cells) + " |", flush=True)

if __name__ == "__main__":
    main(sys.argv[1])
