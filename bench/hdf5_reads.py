"""Reads of many spans of rows through HDF5: one union of them a read, against the reads chunks.reads cuts.

Tables stored the ways other tools store them (pandas' blocks and tables,
a dataset per column, MATLAB's and Loom's transposed matrices) are read
through HDF5 (data/sources.py ``read_union``), and the page shuffle reads
each window as many random runs of whole chunks.  This program writes
1,000,000 x 20 float32 rows as 1-D columns and as matrices, contiguous,
chunked and gzip-compressed, with chunks of 64 and 1,365 rows (h5py's and
PyTables' sizes for such files), and a transposed gzip matrix of 20 x 64
chunks (loompy's 64 x 64, its 20 genes), and reads the same sorted random spans both ways: runs
of one chunk and of four (the shuffle's), and single rows, one per chunk
(the rate's sample, a --val file's rows).  It prints the union's time over
the cut reads' (above 1: the cut reads are faster), best of ROUNDS each.

    python bench/hdf5_reads.py
"""

from __future__ import annotations

import os
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import datasets  # noqa: E402
from run import save_record  # noqa: E402

from sgdcli.data import chunks, hdf5  # noqa: E402
from sgdcli.data.sources import read_union  # noqa: E402

ROWS, FEATURES, ROUNDS = 1_000_000, 20, 3
# (runs, rows a run): runs spaced a chunk or more apart, sorted as a window's are
SHAPES = {"runs of 1 chunk": (400, 1), "runs of 4 chunks": (100, 4), "single rows": (4000, 0)}


def write(path: str) -> list[tuple[str, str, int]]:
    """The datasets: (what, name, the rows' axis)."""
    cases = []
    X = np.random.default_rng(0).random((ROWS, FEATURES), dtype=np.float32)
    with h5py.File(path, "w") as f:
        f["column"], f["matrix"] = X[:, 0], X
        cases += [("1-D contiguous", "column", 0), ("2-D contiguous", "matrix", 0)]
        for rows in (64, 1365):
            for gzip in (False, True):
                kind, compression = ("gzip", "gzip") if gzip else ("chunked", None)
                f.create_dataset(f"column-{kind}-{rows}", data=X[:, 0], chunks=(rows,), compression=compression)
                f.create_dataset(f"matrix-{kind}-{rows}", data=X, chunks=(rows, FEATURES), compression=compression)
                cases += [(f"1-D {kind}, {rows} rows a chunk", f"column-{kind}-{rows}", 0),
                          (f"2-D {kind}, {rows} rows a chunk", f"matrix-{kind}-{rows}", 0)]
        f.create_dataset("loom", data=X.T.copy(), chunks=(FEATURES, 64), compression="gzip")
        cases.append(("2-D gzip transposed, 64 a chunk", "loom", 1))
    return cases


def union(ds, spans, axis):
    """What read_union did before chunks.reads: every span in one read, CHUNKS_PER_READ chunks at most."""
    cut = chunks.reads
    chunks.reads = lambda ds, spans, axis=0: chunks.capped(ds, [(a, b) for a, b in spans if b > a], axis)
    try:
        return read_union(ds, spans, axis)
    finally:
        chunks.reads = cut


def best(read, ds, spans, axis) -> float:
    times = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        read(ds, spans, axis)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    path = os.path.join(datasets.bench_dir(), "hdf5-reads.h5")
    cases = write(path)
    rng = np.random.default_rng(1)
    lines = [f"{'dataset':<36}" + "".join(f"{shape:>18}" for shape in SHAPES)]
    results = {}
    with hdf5.open_file(path) as f:
        for what, name, axis in cases:
            ds = f[name]
            unit = int(ds.chunks[axis]) if ds.chunks else 64
            row = results[what] = {}
            for shape, (count, chunks_a_run) in SHAPES.items():
                span = unit * max(chunks_a_run, 1)
                starts = np.sort(rng.permutation(ROWS // span)[:count]) * span
                spans = [(int(a), int(a) + (span if chunks_a_run else 1)) for a in starts]
                np.testing.assert_array_equal(union(ds, spans, axis), read_union(ds, spans, axis))
                row[shape] = best(union, ds, spans, axis) / best(read_union, ds, spans, axis)
            lines.append(f"{what:<36}" + "".join(f"{row[shape]:>18.2f}" for shape in SHAPES))
    os.remove(path)
    table = "union over cut reads (above 1: the cut reads are faster)\n" + "\n".join(lines)
    print(table)
    save_record("hdf5-reads", False, results=results, table=table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
