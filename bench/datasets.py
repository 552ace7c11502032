"""The benchmark's data, generated once into SGDCLI_BENCH_DIR and reused.

The main set is binary logistic data (4,000,000 x 100 float32, 1.6 GB; a tenth
with --quick) in three layouts of the same values, plus a 200,000-row test set
drawn from the same model (generated together, then split).
"""

from __future__ import annotations

import os
import shutil

import h5py
import numpy as np

from sgdcli import generate

ROWS, QUICK_ROWS = 4_000_000, 400_000
TEST_ROWS, QUICK_TEST_ROWS = 200_000, 20_000
FEATURES = 100
SEED = 7
COPY_ROWS = 1 << 16


def bench_dir() -> str:
    path = os.environ.get("SGDCLI_BENCH_DIR", "/tmp/sgdcli-bench")
    os.makedirs(path, exist_ok=True)
    return path


def _copy(source: str, path: str, start: int, stop: int, chunk_rows: int | None = None, gzip: bool = False) -> str:
    """Rows [start, stop) of ``source`` into ``path``: contiguous, or chunked (and gzip level 1)."""
    if os.path.exists(path):
        return path
    print(f"writing {path} ...", flush=True)
    tmp = path + ".part"
    with h5py.File(source) as src, h5py.File(tmp, "w") as dst:
        for name in ("X", "y"):
            ds = src[name]
            layout = {}
            if chunk_rows:
                layout = {"chunks": (chunk_rows, *ds.shape[1:]), **({"compression": "gzip", "compression_opts": 1} if gzip else {})}
            out = dst.create_dataset(name, shape=(stop - start, *ds.shape[1:]), dtype=ds.dtype, **layout)
            for s in range(start, stop, COPY_ROWS):
                e = min(s + COPY_ROWS, stop)
                out[s - start : e - start] = ds[s:e]
    shutil.move(tmp, path)
    return path


def datasets(quick: bool, scale: int = 1) -> dict:
    """Paths of the train layouts and the test set; ``scale`` > 1 gives only a larger contiguous file."""
    d = bench_dir()
    rows = (QUICK_ROWS if quick else ROWS) * scale
    test_rows = QUICK_TEST_ROWS if quick else TEST_ROWS
    tag = f"{rows // 1000}k"
    source = os.path.join(d, f"all-{tag}.h5")
    if not os.path.exists(source):
        print(f"generating {source} ...", flush=True)
        generate(source, task="binary", rows=rows + test_rows, features=FEATURES, noise=1.0, seed=SEED, contiguous=True)
    if scale != 1:  # the memory check needs size, not a split: use the generated file as it is
        return {"contiguous": source}
    return {
        "contiguous": _copy(source, os.path.join(d, f"train-{tag}-contiguous.h5"), 0, rows),
        "chunked": _copy(source, os.path.join(d, f"train-{tag}-chunked.h5"), 0, rows, chunk_rows=8192),
        "gzip": _copy(source, os.path.join(d, f"train-{tag}-gzip.h5"), 0, rows, chunk_rows=8192, gzip=True),
        "test": _copy(source, os.path.join(d, f"test-{tag}.h5"), rows, rows + test_rows),
    }


def csv_of(source: str, rows: int) -> str:
    """The first ``rows`` rows of ``source`` as CSV (header, label last), for timing ``convert``."""
    path = os.path.join(bench_dir(), f"{os.path.splitext(os.path.basename(source))[0]}-{rows // 1000}k.csv")
    if os.path.exists(path):
        return path
    print(f"writing {path} ...", flush=True)
    tmp = path + ".part"
    with h5py.File(source) as f, open(tmp, "w") as fh:
        d = f["X"].shape[1]
        fh.write(",".join([f"f{j}" for j in range(d)] + ["label"]) + "\n")
        for s in range(0, rows, COPY_ROWS):
            e = min(s + COPY_ROWS, rows)
            np.savetxt(fh, np.column_stack([f["X"][s:e], f["y"][s:e]]), delimiter=",", fmt="%.9g")
    shutil.move(tmp, path)
    return path
