"""The layouts other tools write, against the same rows as a plain matrix: epoch time and model.

Binary logistic data (1,000,000 x 20 float32; a tenth with --quick) is
written as a plain contiguous X/y (read memory-mapped), a pandas frame in
fixed and in table format, a group of one 1-D dataset per column, a
MATLAB-style transposed matrix, and a Loom file (loompy's: genes x cells in
gzip chunks of 64 x 64, read transposed through HDF5).  Each trains the same options (plain SGD at
a constant rate, batch 256, two epochs), interleaved over ROUNDS rounds;
the table gives the median epoch time and its ratio to the plain file's, and
the test log loss (the same rows; a chunked layout is shuffled in runs of its
chunks, so its model differs a little).  Raw figures go to bench/results/<date>-layouts.json.

    python bench/layouts.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import warnings

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import datasets  # noqa: E402
from run import PLAIN, save_record  # noqa: E402

from sgdcli import TrainOptions, evaluate, train  # noqa: E402

ROWS, QUICK_ROWS, FEATURES, ROUNDS = 1_000_000, 100_000, 20, 3
OPTIONS = dict(epochs=2, batch_size=256, lr=0.05, **PLAIN)
CASES = {
    "plain X/y (memory-mapped)": ("plain", {}),
    "pandas fixed format": ("fixed", {"x": "df", "label_column": "label"}),
    "pandas table format": ("table", {"x": "df", "label_column": "label"}),
    "group of 1-D columns": ("group", {}),
    "MATLAB (stored transposed)": ("matlab", {}),
    "Loom (gzip 64 x 64, genes x cells)": ("loom", {"x": "matrix", "y": "col_attrs/label"}),
}


def files(quick: bool) -> dict:
    import loompy
    import pandas as pd

    d = datasets.bench_dir()
    rows = QUICK_ROWS if quick else ROWS
    paths = {name: os.path.join(d, f"layouts-{rows // 1000}k-{name}.h5")
             for name in ("plain", "fixed", "table", "group", "matlab", "loom", "test")}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    rng = np.random.default_rng(0)
    w = rng.standard_normal(FEATURES)
    X = rng.standard_normal((rows + 50_000, FEATURES)).astype(np.float32)
    y = (X @ w / np.sqrt(FEATURES) + rng.standard_normal(len(X)) > 0).astype(np.int64)
    Xt, yt, X, y = X[rows:], y[rows:], X[:rows], y[:rows]
    names = [f"f{j}" for j in range(FEATURES)]
    with h5py.File(paths["plain"], "w") as f:
        f["X"], f["y"] = X, y
    with h5py.File(paths["test"], "w") as f:
        f["X"], f["y"] = Xt, yt
    frame = pd.DataFrame(X, columns=names)
    frame["label"] = y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame.to_hdf(paths["fixed"], key="df", format="fixed")
        frame.to_hdf(paths["table"], key="df", format="table")
    with h5py.File(paths["group"], "w", track_order=True) as f:
        group = f.create_group("X", track_order=True)
        for j, name in enumerate(names):
            group.create_dataset(name, data=X[:, j])
        f["y"] = y
    with h5py.File(paths["matlab"], "w") as f:
        f.create_dataset("X", data=X.T.copy()).attrs["MATLAB_class"] = b"single"
        f["y"] = y
    loompy.create(paths["loom"], X.T.copy(), {"Gene": np.array(names)}, {"label": y})
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x less data")
    args = ap.parse_args(argv)
    try:
        paths = files(args.quick)
    except ImportError:
        print("bench/layouts.py needs pandas, tables and loompy (the test extra); skipped")
        return 0
    times: dict = {name: [] for name in CASES}
    losses: dict = {}
    with contextlib.redirect_stderr(io.StringIO()):
        train(paths["plain"], TrainOptions(**OPTIONS))  # compile before timing
        for _ in range(ROUNDS):
            for name, (key, extra) in CASES.items():
                model = train(paths[key], TrainOptions(**OPTIONS, **extra))
                times[name] += [h["seconds"] for h in model.history]
                losses[name] = evaluate(model, paths["test"])["log_loss"]
    base = float(np.median(times["plain X/y (memory-mapped)"]))
    lines = [f"{'layout':<34} {'epoch s':>8} {'x plain':>8} {'test log loss':>14}"]
    results = {}
    for name in CASES:
        med = float(np.median(times[name]))
        results[name] = {"epoch_s": med, "ratio": med / base, "log_loss": losses[name], "epochs": times[name]}
        lines.append(f"{name:<34} {med:8.3f} {med / base:8.2f} {losses[name]:14.4f}")
    table = "\n".join(lines)
    print(table)
    save_record("layouts", args.quick, results=results, table=table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
