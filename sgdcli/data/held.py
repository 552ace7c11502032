"""Labels and weights held in memory whole, where their storage would set the height of every block.

A table's blocks and the page shuffle's extents are whole read units of every
dataset read (data/table.py ``unit_rows``, data/wholechunks.py): a label
column compressed in chunks taller than the features' own unit makes every
block that many rows of every feature.  h5py chunks a million cell names of
a Loom file a few thousand to a chunk, and ``convert`` writes 65,536 labels
to a chunk beside a CSR matrix, so two blocks of those rows of a wide matrix
can take more than the whole budget, and the extents that the shuffle
permutes are as coarse as the labels' chunks.  A label takes 8 bytes a row
as read: such a column is read whole once, at its first read, and its rows
are then taken from memory, anywhere, as those of a memory-mapped column
are.  Only where the columns held take at most 1/HELD_SHARE of --memory
and the blocks fit beside them (data/budget.py ``Needs.choice``), which
then do without those bytes (``Table.block_rows``); a longer column is read
in blocks of whole chunks as before.
"""

from __future__ import annotations

import threading

import numpy as np

HELD_SHARE = 4  # the columns held take at most 1/HELD_SHARE of --memory: the blocks keep the rest
PIECE_ROWS = 1 << 16  # a column held is read in whole read units of about this many rows at a time


def candidates(units: dict[str, int], x_unit: int) -> list[str]:
    """Of the columns ``units`` (the labels' and weights' read units by role; 1 where they are read anywhere in
    place), those worth holding: read in units taller than X's (``x_unit`` rows), which would make the
    table's blocks and the page shuffle's extents that tall."""
    return [role for role, unit in units.items() if unit > x_unit]


class HeldColumn:
    """A reader of one value a row (columns.ColumnReader, sources.ComposedReader; ``inner``) that reads its
    ``n_rows`` rows whole at the first read, from whichever thread, and then reads them from memory."""

    unit_rows = 1
    random_access = True
    zero_copy = True  # ``read`` returns a view of the values held, as a memory-mapped column's map

    def __init__(self, inner, n_rows: int):
        self.inner, self.n_rows = inner, n_rows
        self.dtype, self.layout = inner.dtype, inner.layout
        self._values: np.ndarray | None = None
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return self.n_rows * self.dtype.itemsize

    def values(self) -> np.ndarray:
        """Every row's value: read at the first call."""
        if self._values is None:
            with self._lock:
                if self._values is None:
                    self._values = self._read()
        return self._values

    def _read(self) -> np.ndarray:
        """Every row of ``inner``, in pieces of whole read units (a compressed chunk is decoded once)."""
        values = np.empty(self.n_rows, dtype=self.dtype)
        unit = max(1, self.inner.unit_rows)
        piece = unit * max(1, PIECE_ROWS // unit)
        for start in range(0, self.n_rows, piece):
            stop = min(start + piece, self.n_rows)
            got = self.inner.read(start, stop, values[start:stop])
            if not np.may_share_memory(got, values):  # (a view of a map, say)
                values[start:stop] = got.reshape(-1)
        return values

    def read(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows [start, stop): a view of the values held."""
        return self.values()[start:stop]

    def read_ranges(self, ranges: list[tuple[int, int]], out: np.ndarray) -> np.ndarray:
        """The row ranges laid end to end in ``out``."""
        values, at = self.values(), 0
        for start, stop in ranges:
            out[at:at + stop - start] = values[start:stop]
            at += stop - start
        return out[:at]

    def take(self, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The rows ``rows``, in that order, into ``out`` (at least ``len(rows)``) where given."""
        values = self.values()
        if out is None:
            return values[rows]
        return np.take(values, rows, out=out[:len(rows)])

    def preload(self, start: int, stop: int) -> None:
        pass

    def close(self) -> None:
        self._values = None
        self.inner.close()
