"""Storage a writer never wrote: rows that would read back as fill values.

A writer that pre-allocates a dataset and dies half-way (a crashed or killed
export job) leaves a file whose missing rows read as the fill value, zeros
by default: a model trained on them learns from data that never existed.
HDF5 allocates chunks when they are first written, so the chunks missing from
a dataset's chunk index are exactly the parts never written; a contiguous
dataset is allocated whole at its first write, so only one never written at
all can be told.  The check reads the chunk index only, never the data:
HDF5 counts the chunks (``get_num_chunks``) and only a dataset with chunks
missing has its index walked to find which.
"""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np


@dataclasses.dataclass(frozen=True)
class Unwritten:
    """The rows of a dataset (along its row axis) that were never written."""

    ranges: np.ndarray  # (k, 2) int64: [start, stop) row ranges, sorted, disjoint
    missing: int  # chunks never allocated (1 for a contiguous dataset never written)
    total: int  # chunks in all

    @property
    def rows(self) -> int:
        return int((self.ranges[:, 1] - self.ranges[:, 0]).sum())

    def message(self, where: str, unit: str = "row", allowed: bool = True) -> str:
        """The error: ``unit`` names what the dataset's first axis counts; ``allowed``: whether
        --allow-unwritten could read them (not the entries of a sparse matrix, whose fill values mean
        nothing)."""
        a, b = (int(v) for v in self.ranges[0])
        span = f"{unit} {a:,}" if b - a == 1 else f"{_plural(unit)} {a:,}–{b - 1:,}"
        more = f" and {self.rows - (b - a):,} more {_plural(unit)}" if len(self.ranges) > 1 else ""
        chunks = f"{self.missing:,} of {self.total:,} chunks unallocated" if self.total > 1 else "no storage allocated"
        return (f"{where}: {span}{more} were never written ({chunks}); the file looks incomplete"
                + (" (--allow-unwritten reads their fill values)" if allowed else ""))


def _plural(unit: str) -> str:
    return unit[:-1] + "ies" if unit.endswith("y") else unit + "s"


def unwritten(ds: h5py.Dataset, axis: int = 0) -> Unwritten | None:
    """The rows of ``ds`` along ``axis`` that were never written, or None if every row was."""
    if ds.shape is None or ds.size == 0 or ds.ndim == 0:  # no rows: empty, or a scalar
        return None
    n = int(ds.shape[axis])
    try:
        kind = ds.id.get_create_plist().get_layout()
        if kind == h5py.h5d.CONTIGUOUS:
            if ds.id.get_create_plist().get_external_count() > 0 or ds.id.get_storage_size() > 0:
                return None
            return Unwritten(np.array([[0, n]], dtype=np.int64), 1, 1)
        if kind != h5py.h5d.CHUNKED:
            return None  # compact (always allocated), virtual (its sources' business)
        grid = [-(-int(s) // int(c)) for s, c in zip(ds.shape, ds.chunks)]
        total = int(np.prod(grid, dtype=np.int64))
        allocated = ds.id.get_num_chunks()
        if allocated >= total:
            return None
        complete = _complete_bands(ds, axis, total // grid[axis])
    except (AttributeError, OSError, RuntimeError, ValueError, TypeError):
        return None  # no chunk queries in this HDF5: nothing can be told
    # the gaps between complete bands of chunk rows are the unwritten rows (no array over all the bands:
    # a declared 10^12 rows would not fit)
    rows = int(ds.chunks[axis])
    edges = np.concatenate(([-1], complete, [grid[axis]]))
    gap = np.flatnonzero(np.diff(edges) > 1)
    starts, stops = (edges[gap] + 1) * rows, np.minimum(edges[gap + 1] * rows, n)
    return Unwritten(np.column_stack([starts, stops]).astype(np.int64), total - int(allocated), total)


def _complete_bands(ds: h5py.Dataset, axis: int, per_band: int) -> np.ndarray:
    """The sorted indices of the bands of chunk rows (along ``axis``) whose ``per_band`` chunks are all allocated."""
    rows = int(ds.chunks[axis])
    offsets: list[int] = []
    if hasattr(ds.id, "chunk_iter"):
        ds.id.chunk_iter(lambda info: offsets.append(info.chunk_offset[axis]))
    else:
        for i in range(ds.id.get_num_chunks()):
            offsets.append(ds.id.get_chunk_info(i).chunk_offset[axis])
    bands, counts = np.unique(np.asarray(offsets, dtype=np.int64) // rows, return_counts=True)
    return bands[counts == per_band]


def _merged(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Sorted [start, stop) ranges with touching or overlapping ones joined."""
    if len(starts) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    order = np.argsort(starts, kind="stable")
    starts, stops = starts[order], stops[order]
    reach = np.maximum.accumulate(stops)
    first = np.concatenate(([True], starts[1:] > reach[:-1]))
    last = np.concatenate((first[1:], [True]))
    return np.column_stack([starts[first], reach[last]]).astype(np.int64)


def union_rows(found: list[Unwritten]) -> int:
    """Rows that are unwritten in any of ``found`` (datasets of the same table)."""
    if not found:
        return 0
    ranges = np.concatenate([u.ranges for u in found])
    merged = _merged(ranges[:, 0], ranges[:, 1])
    return int((merged[:, 1] - merged[:, 0]).sum())
