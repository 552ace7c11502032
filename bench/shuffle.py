"""The page shuffle on a file sorted by label: test loss against the same rows in random order, and epoch times.

Binary logistic data (3,000,000 x 32 float32; a tenth with --quick) is
written four ways: as generated (random order), sorted by label
(contiguous), sorted by label in 8,192-row chunks (read in place), and sorted
by label in gzip chunks (decoded, so shuffled in runs of whole chunks).  Every
case trains with the same options, once per seed of SEEDS, and is scored on a
separate test set drawn from the same model; the target holds when the mean
loss over the seeds is within 2% of the random-order file's.  The last table varies --page-rows on the sorted
contiguous file: the dial between mixing and read speed.  Raw figures go to
bench/results/<date>-shuffle.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import datasets  # noqa: E402
from run import HERE, PLAIN, cpu_model  # noqa: E402

from sgdcli import TrainOptions, evaluate, generate, train  # noqa: E402

ROWS, QUICK_ROWS = 3_000_000, 300_000
TEST_ROWS, QUICK_TEST_ROWS = 200_000, 20_000
FEATURES = 32
LR = 0.05
PAGE_ROWS = (1, 4, 16, 64, 256, 4096)
SEEDS = (0, 1, 2, 3, 4)  # each case is trained once per seed: one run's loss on a sorted file depends on its last batches


def files(quick: bool) -> dict:
    """The training files (random order and three sorted layouts) and the test file, made once."""
    d = datasets.bench_dir()
    rows, test_rows = (QUICK_ROWS, QUICK_TEST_ROWS) if quick else (ROWS, TEST_ROWS)
    tag = f"sorted-{rows // 1000}k"
    paths = {name: os.path.join(d, f"{tag}-{name}.h5") for name in ("random", "sorted", "sorted-chunked",
                                                                     "sorted-gzip", "test")}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    source = os.path.join(d, f"{tag}-source.h5")
    print(f"generating {source} ...", flush=True)
    generate(source, task="binary", rows=rows + test_rows, features=FEATURES, noise=1.0, seed=11, contiguous=True)
    with h5py.File(source) as f:
        X, y = f["X"][()], f["y"][()]
    by_label = np.argsort(y[:rows], kind="stable")
    layouts = {
        "random": (slice(0, rows), {}),
        "sorted": (by_label, {}),
        "sorted-chunked": (by_label, {"chunks": True}),
        "sorted-gzip": (by_label, {"chunks": True, "compression": "gzip", "compression_opts": 1}),
        "test": (slice(rows, rows + test_rows), {}),
    }
    for name, (rows_of, options) in layouts.items():
        print(f"writing {paths[name]} ...", flush=True)
        with h5py.File(paths[name] + ".part", "w") as out:
            Xs, ys = X[rows_of], y[rows_of]
            chunked = options.pop("chunks", False)
            out.create_dataset("X", data=Xs, chunks=(8192, FEATURES) if chunked else None, **options)
            out.create_dataset("y", data=ys, chunks=(8192,) if chunked else None, **options)
        os.replace(paths[name] + ".part", paths[name])
    os.remove(source)
    return paths


def warm(path: str) -> None:
    """Read the file once, so that no case pays for the disk (the cases are warm-cache figures)."""
    with h5py.File(path) as f:
        for name in ("X", "y"):
            ds = f[name]
            for s in range(0, ds.shape[0], 1 << 18):
                ds[s:s + (1 << 18)]


def case(path: str, test: str, batch: int, epochs: int, **options) -> dict:
    """The mean over SEEDS of the test loss and accuracy, and the median epoch time."""
    warm(path)
    runs = []
    for seed in SEEDS:
        model = train(path, TrainOptions(model="logistic", lr=LR, batch_size=batch, epochs=epochs, seed=seed,
                                         **{**PLAIN, **options}))
        runs.append((evaluate(model, test), [h["seconds"] for h in model.history]))
    return {"log_loss": float(np.mean([r[0]["log_loss"] for r in runs])),
            "log_losses": [r[0]["log_loss"] for r in runs],
            "accuracy": float(np.mean([r[0]["accuracy"] for r in runs])),
            "epoch_s": float(np.median([s for r in runs for s in r[1]])),
            "rows": model.history[0]["rows"], "shuffle": model.training.get("shuffle")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x less data, for development")
    args = ap.parse_args(argv)
    paths = files(args.quick)
    test = paths["test"]
    results: dict = {}
    for batch, epochs in ((256, 1), (32, 3)):
        for name in ("random", "sorted", "sorted-chunked", "sorted-gzip"):
            results[f"{name}, batch {batch}, {epochs} epoch(s)"] = case(paths[name], test, batch, epochs)
        results[f"sorted, batch {batch}, {epochs} epoch(s), --no-shuffle"] = case(paths["sorted"], test, batch,
                                                                                 epochs, shuffle=False)
    for page in PAGE_ROWS:
        results[f"sorted, batch 256, 1 epoch(s), --page-rows {page}"] = case(paths["sorted"], test, 256, 1,
                                                                             page_rows=page)
        results[f"random, batch 256, 1 epoch(s), --page-rows {page}"] = case(paths["random"], test, 256, 1,
                                                                             page_rows=page)
    table = render(results)
    print(table)
    record = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(), "cores": os.cpu_count(), "quick": args.quick, "python": platform.python_version(),
        "results": results, "table": table,
    }
    name = f"{record['date'].replace(':', '')}{'-quick' if args.quick else ''}-shuffle.json"
    with open(os.path.join(HERE, "results", name), "w") as fh:
        json.dump(record, fh, indent=2)
    return 0


def render(r: dict) -> str:
    """Each case's mean test loss over the random-order file's at the same options (the target is <= 1.02)."""
    lines = [f"{'case':<52} {'log loss':>9} {'x random':>9} {'worst x':>8} {'accuracy':>9} {'epoch s':>8}  target"]
    for name, s in r.items():
        batch_epochs, _, extra = name.partition(", ")[2].partition(", --")
        base = r.get(f"random, {batch_epochs}" + (f", --{extra}" if extra.startswith("page-rows") else ""))
        ratio = s["log_loss"] / base["log_loss"] if base else float("nan")
        worst = max(a / b for a, b in zip(s["log_losses"], base["log_losses"])) if base else float("nan")
        target = ""
        if name.startswith("sorted") and "--" not in name:
            target = f"{ratio:.3f} <= 1.02: {'holds' if ratio <= 1.02 else 'MISSED'}"
        lines.append(f"{name:<52} {s['log_loss']:9.4f} {ratio:9.3f} {worst:8.3f} {s['accuracy']:9.4f} "
                     f"{s['epoch_s']:8.3f}  {target}")
    lines.append(f"log loss: mean over seeds {', '.join(map(str, SEEDS))}; x random: over that of the random-order "
                 "file at the same options; worst x: the largest of the per-seed ratios; epoch s: warm cache, median")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
