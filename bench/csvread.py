"""Converting CSV text: megabytes of text a second, side by side in one run.

Data: 100 numeric features and a 0/1 label, 50,000 rows (10,000 with --quick), written two ways by
pandas' ``to_csv``: with every digit of the float64 values (its default, up to 17 significant digits)
and with 6 (``float_format="%.6g"``).  Each round, in turn:

- ``wc -l`` on the file: the disk's (here: the page cache's) limit, as a program reads it;
- ``pandas.read_csv(chunksize=65,536)``, each chunk's values summed: what a user would write instead;
- the plain reader of the release before issue 21 (the csv module, a ``float()`` per field, into
  float64 blocks), reproduced here, without writing;
- ``sgdcli convert`` with the plain reader (the compiled tokenizer) and with pyarrow's, when installed,
  in-process and warmed up once (the kernels compiled), writing the HDF5 file.

Prints the median MB/s of each, and the ratios the issue asks for: the plain reader against the old one
(target >= 10x), the best reader's MB/s (target >= 200), each path against the fastest (within 3x), and
both against ``wc -l`` and pandas.  Raw figures go to bench/results/<date>-csv.json.

    python bench/csvread.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import csv
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import datasets  # noqa: E402
from run import save_record  # noqa: E402

FEATURES, SEED = 100, 0


def write_files(rows: int) -> dict[str, str]:
    import pandas as pd

    out = {}
    for name, fmt in (("all digits", None), ("6 digits", "%.6g")):
        path = os.path.join(datasets.bench_dir(), f"csv-{rows // 1000}k-{'full' if fmt is None else '6g'}.csv")
        if not os.path.exists(path):
            print(f"writing {path} ...", flush=True)
            rng = np.random.default_rng(SEED)
            X = rng.standard_normal((rows, FEATURES))
            frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(FEATURES)])
            frame["label"] = (X[:, 0] + rng.logistic(size=rows) > 0).astype(int)
            frame.to_csv(path + ".part", index=False, float_format=fmt)
            os.replace(path + ".part", path)
        out[name] = path
    return out


def wc(path: str) -> None:
    subprocess.run(["wc", "-l", path], check=True, capture_output=True)


def pandas_chunks(path: str) -> None:
    import pandas as pd

    total = 0.0
    for chunk in pd.read_csv(path, chunksize=65536):
        total += float(chunk.to_numpy().sum())


def old_plain_reader(path: str) -> None:
    """The per-field reader convert had before issue 21: csv rows, float() on every field, float64 blocks."""
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        width = len(next(reader))
        X = np.zeros((65536, width - 1))
        k = 0
        for row in reader:
            for j in range(width - 1):
                X[k, j] = float(row[j])
            float(row[-1])
            k += 1
            if k == len(X):
                k = 0


def convert(path: str, engine: str, tmp: str) -> None:
    from sgdcli import convert as sgdcli_convert

    out = os.path.join(tmp, f"{engine}.h5")
    result = sgdcli_convert(path, out, engine=engine)
    assert result.engine == engine, result.engine
    os.remove(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rows = 10_000 if args.quick else 50_000
    files = write_files(rows)
    try:
        importlib.import_module("pyarrow.csv")  # imported to learn whether it can be
        engines = ["python", "pyarrow"]
    except ImportError:
        engines = ["python"]
    record = {"rows": rows, "features": FEATURES, "files": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in files.items():
            size = os.path.getsize(path)
            cases = {"wc -l": lambda: wc(path), "pandas read_csv, chunks": lambda: pandas_chunks(path),
                     "old plain reader (per field)": lambda: old_plain_reader(path)}
            for engine in engines:
                cases[f"sgdcli convert, {engine}"] = lambda engine=engine: convert(path, engine, tmp)
                convert(path, engine, tmp)  # warm-up: kernels compiled or loaded, the file in the page cache
            seconds = {case: [] for case in cases}
            for r in range(args.rounds):
                for case, fn in cases.items():
                    t0 = time.perf_counter()
                    fn()
                    seconds[case].append(time.perf_counter() - t0)
                print(f"{name}: round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
            mbs = {case: size / statistics.median(s) / 1e6 for case, s in seconds.items()}
            record["files"][name] = {"bytes": size, "seconds": seconds, "mb_per_s": mbs}
            best = max(mbs[f"sgdcli convert, {e}"] for e in engines)
            print(f"\n{name}: {size / 1e6:.0f} MB of CSV, {rows:,} rows x {FEATURES + 1} columns (median of "
                  f"{args.rounds})")
            for case, value in mbs.items():
                print(f"  {case:32s} {value:8.1f} MB/s")
            plain = mbs["sgdcli convert, python"]
            print(f"  plain reader / old plain reader  {plain / mbs['old plain reader (per field)']:8.1f}x  "
                  "(target >= 10x)")
            print(f"  best sgdcli reader               {best:8.1f} MB/s (target >= 200)")
            for engine in engines:
                print(f"  {engine + ' / best':32s} {mbs[f'sgdcli convert, {engine}'] / best:8.2f}   (within 3x: >= 0.33)")
            print(f"  plain reader / pandas chunks     {plain / mbs['pandas read_csv, chunks']:8.2f}x")
            print(f"  best sgdcli reader / wc -l       {best / mbs['wc -l']:8.3f}")
    print(f"\nraw figures: {save_record('csv', args.quick, **record)}")


if __name__ == "__main__":
    main()
