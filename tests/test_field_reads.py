"""A compound table's source reads whole rows, every field, and keeps its columns (data/sources.py): reading only
some fields (h5py's ``Dataset.fields``, or a compound memory type of them) leaks the data of every variable-length
field it leaves out, which HDF5 converts with the row and never frees (h5py issues #2374 and #1579)."""

import h5py
import numpy as np

from sgdcli.data.sources import Fields

ROWS, NOTE = 20_000, 2_000  # a note of 2,000 characters a row: 40 MB a pass


def anonymous() -> int:
    """The process's resident anonymous memory, bytes (Linux)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("RssAnon:"))


def test_reading_a_tables_features_leaves_no_memory_behind(tmp_path):
    """Three passes over the features of a table whose notes (text) are neither feature nor label: each pass
    leaked the notes (40 MB) where a read took the features' fields only."""
    rng = np.random.default_rng(0)
    table = np.zeros(ROWS, dtype=[("a", "f4"), ("notes", h5py.string_dtype()), ("b", "f4")])
    table["a"], table["b"] = rng.standard_normal((2, ROWS))
    table["notes"] = np.array([f"{k} " + "n" * (NOTE - 2) for k in range(10)], dtype=object)[rng.integers(0, 10, ROWS)]
    with h5py.File(tmp_path / "notes.h5", "w") as f:
        f.create_dataset("T", data=table)
    del table
    with h5py.File(tmp_path / "notes.h5") as f:
        source = Fields(f["T"], ["a", "b"], ["a", "b"])
        source.read(0, ROWS)  # (a first pass's allocations stay with the allocator)
        before = anonymous()
        for _ in range(3):
            for start in range(0, ROWS, 5_000):
                block = source.read(start, start + 5_000)
        grown = anonymous() - before
    assert block.shape == (5_000, 2)
    assert grown < 20 << 20, grown  # (120 MB: three passes' notes)
