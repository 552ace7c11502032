"""Labels in chunks taller than the features': held whole, or read in blocks of their chunks, on a sorted file.

A file sorted by label (200,000 x 20 binary rows of `sgdcli generate --noise
1`, stable sort) is written with X in gzip chunks of 1,024 rows and the
labels in gzip chunks of 8,192 rows (what h5py's own chunking of a
compressed column of that length gives, about), and again with the labels
contiguous (read in place: the runs are X's chunks).  Each trains at two
--memory budgets with the labels held whole (what sgdcli does where a
quarter of the budget holds them: data/held.py) and read in blocks of
their chunks (what it did before, and still does where the budget cannot
spare them), once per seed; the test log loss is over that of the same rows
in random order at the same --memory.  Raw figures go to
bench/results/<date>-held-labels.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import warnings

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import datasets  # noqa: E402
from run import HERE, PLAIN, cpu_model  # noqa: E402

from sgdcli import TrainOptions, evaluate, generate, train  # noqa: E402
from sgdcli.data.table import Table  # noqa: E402

ROWS, TEST_ROWS, FEATURES = 200_000, 40_000, 20
X_CHUNK, Y_CHUNK = 1_024, 8_192
MEMORY = (8, 16)  # MiB: a quarter of each holds the labels (1.6 MB)
SEEDS = (0, 1, 2)
LR, BATCH = 0.05, 256


def files() -> dict:
    """The random-order file, the sorted file with tall label chunks and with contiguous labels, the test file."""
    d = datasets.bench_dir()
    paths = {name: os.path.join(d, f"held-{name}.h5") for name in ("random", "tall", "plain", "test")}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    source = os.path.join(d, "held-source.h5")
    generate(source, task="binary", rows=ROWS + TEST_ROWS, features=FEATURES, noise=1.0, seed=11, contiguous=True)
    with h5py.File(source) as f:
        X, y = f["X"][()], f["y"][()]
    by_label = np.argsort(y[:ROWS], kind="stable")
    gzip = {"compression": "gzip", "compression_opts": 1}
    layouts = {"random": (slice(0, ROWS), None, None), "tall": (by_label, (X_CHUNK, FEATURES), (Y_CHUNK,)),
               "plain": (by_label, (X_CHUNK, FEATURES), None), "test": (slice(ROWS, None), None, None)}
    for name, (rows, x_chunks, y_chunks) in layouts.items():
        with h5py.File(paths[name] + ".part", "w") as out:
            out.create_dataset("X", data=X[rows], chunks=x_chunks, **(gzip if x_chunks else {}))
            out.create_dataset("y", data=y[rows], chunks=y_chunks, **(gzip if y_chunks else {}))
        os.replace(paths[name] + ".part", paths[name])
    os.remove(source)
    return paths


def case(path: str, test: str, memory: int, held: bool) -> dict:
    """The test log loss per seed, the runs per window and the median epoch time; ``held``: False reads the
    labels in blocks of their chunks (every table's ``hold([])``, as the threads of --parallel average do)."""
    hold = Table.hold
    if not held:
        Table.hold = lambda table, roles=None: hold(table, [])
    try:
        losses, seconds = [], []
        for seed in SEEDS:
            model = train(path, TrainOptions(model="logistic", lr=LR, batch_size=BATCH, epochs=1, seed=seed,
                                             memory=memory << 20, **PLAIN))
            losses.append(evaluate(model, test)["log_loss"])
            seconds += [h["seconds"] for h in model.history]
    finally:
        Table.hold = hold
    return {"log_losses": losses, "epoch_s": float(np.median(seconds)), "shuffle": model.training.get("shuffle")}


def main(argv=None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    warnings.simplefilter("ignore")  # (one epoch on raw features, on purpose: the fits' warnings say so)
    paths = files()
    results = {}
    for memory in MEMORY:
        results[f"random, --memory {memory}M"] = case(paths["random"], paths["test"], memory, True)
        results[f"labels contiguous, --memory {memory}M"] = case(paths["plain"], paths["test"], memory, True)
        results[f"labels held, --memory {memory}M"] = case(paths["tall"], paths["test"], memory, True)
        results[f"labels in blocks, --memory {memory}M"] = case(paths["tall"], paths["test"], memory, False)
    lines = [f"{'case':<36} {'runs x rows':>14} {'x random':>9} {'worst x':>8} {'epoch s':>8}"]
    for name, r in results.items():
        base = results[f"random, --memory {name.rsplit(' ', 1)[1]}"]
        ratios = [a / b for a, b in zip(r["log_losses"], base["log_losses"])]
        runs = f"{r['shuffle']['window_extents']} x {r['shuffle']['extent_rows']:,}"
        lines.append(f"{name:<36} {runs:>14} {np.mean(r['log_losses']) / np.mean(base['log_losses']):9.3f} "
                     f"{max(ratios):8.3f} {r['epoch_s']:8.3f}")
    lines.append(f"x random: mean test log loss over seeds {', '.join(map(str, SEEDS))} over the random-order file's "
                 "at the same --memory; runs x rows: runs per window x rows a run; epoch s: median, warm cache")
    table = "\n".join(lines)
    print(table)
    record = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "cpu": cpu_model(),
              "cores": os.cpu_count(), "python": platform.python_version(), "results": results, "table": table}
    with open(os.path.join(HERE, "results", f"{record['date'].replace(':', '')}-held-labels.json"), "w") as fh:
        json.dump(record, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
