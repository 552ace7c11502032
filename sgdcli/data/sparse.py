"""CSR matrices stored the way AnnData (and scipy writers) store them, read by row ranges (issue 18, WIP).

A group with datasets ``data`` (the nonzero values), ``indices`` (their
columns) and ``indptr`` (where each row's entries start, rows + 1 of them),
and attributes ``encoding-type: csr_matrix`` and ``shape`` (rows, columns).
Rows [a, b) are the entries indptr[a] .. indptr[b]: reading them costs one
read of ``indptr`` and one of each of ``data`` and ``indices``, whatever the
column count, so memory is bounded by the nonzeros in flight.
"""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np

from sgdcli.data import layout as layout_mod
from sgdcli.data.sources import BufferedReader
from sgdcli.errors import InputError, first_line


@dataclasses.dataclass(frozen=True)
class CsrRows:
    """Rows of a CSR matrix laid end to end: row r is entries indptr[r] .. indptr[r + 1] of data/indices."""

    data: np.ndarray  # float32
    indices: np.ndarray  # int64 columns
    indptr: np.ndarray  # int64, rows + 1, from 0

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    def finite_rows(self) -> np.ndarray:
        """Per row: are all its values finite?"""
        ok = np.ones(self.n_rows, dtype=np.bool_)
        bad = np.flatnonzero(~np.isfinite(self.data))
        ok[np.searchsorted(self.indptr, bad, side="right") - 1] = False
        return ok

    def dense(self, columns: int) -> np.ndarray:
        """The rows as a dense matrix (for tests and small samples)."""
        out = np.zeros((self.n_rows, columns), dtype=self.data.dtype)
        rows = np.repeat(np.arange(self.n_rows), np.diff(self.indptr))
        out[rows, self.indices] = self.data
        return out


def is_csr(obj) -> bool:
    """Whether ``obj`` is a group holding a CSR matrix (AnnData's encoding, or the same datasets and a shape)."""
    if not isinstance(obj, h5py.Group):
        return False
    kind = obj.attrs.get("encoding-type", b"")
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    return kind == "csr_matrix" or (not kind and {"data", "indices", "indptr"} <= set(obj) and "shape" in obj.attrs)


class CsrReader:
    """Row ranges of a stored CSR matrix."""

    def __init__(self, group: h5py.Group):
        self.where = f"{group.file.filename}:{group.name.lstrip('/')}"
        try:
            self.data, self.indices, self.indptr = group["data"], group["indices"], group["indptr"]
            shape = [int(v) for v in group.attrs["shape"]]
        except (KeyError, ValueError, TypeError) as exc:
            raise InputError(f"{self.where}: not a readable CSR matrix ({first_line(exc)})") from None
        if len(shape) != 2 or self.indptr.shape != (shape[0] + 1,) or self.data.shape != self.indices.shape:
            raise InputError(f"{self.where}: a CSR matrix of shape {tuple(shape)} needs indptr of {shape[0] + 1} "
                             f"entries and data and indices of one length; found {self.indptr.shape}, "
                             f"{self.data.shape} and {self.indices.shape}")
        if self.data.dtype.kind not in "biuf" or self.indices.dtype.kind not in "iu":
            raise InputError(f"{self.where}: data must be numeric and indices integers; found {self.data.dtype} "
                             f"and {self.indices.dtype}")
        self.n_rows, self.width = shape
        self.nnz = int(self.data.shape[0])

    @property
    def density(self) -> float:
        return self.nnz / max(1, self.n_rows * self.width)

    def row_bytes(self) -> int:
        """Bytes a row takes in flight, on average: its entries (value and column) and its offset."""
        return max(1, round(self.nnz / max(self.n_rows, 1) * 12)) + 8

    def read_ranges(self, ranges: list[tuple[int, int]]) -> CsrRows:
        """The rows of ``ranges`` laid end to end, in that order; InputError where the file is inconsistent."""
        datas, indices, lengths = [], [], []
        try:
            for a, b in ranges:
                ip = self.indptr[a:b + 1].astype(np.int64)
                lo, hi = int(ip[0]), int(ip[-1])
                if np.any(np.diff(ip) < 0) or lo < 0 or hi > self.nnz:
                    raise InputError(f"{self.where}: indptr of rows {a}-{b} is not increasing within 0..{self.nnz}")
                datas.append(self.data[lo:hi].astype(np.float32))
                cols = self.indices[lo:hi].astype(np.int64)
                if len(cols) and (cols.min() < 0 or cols.max() >= self.width):
                    raise InputError(f"{self.where}: a column index of rows {a}-{b} is outside 0..{self.width - 1}")
                indices.append(cols)
                lengths.append(np.diff(ip))
        except (OSError, RuntimeError, ValueError) as exc:
            raise InputError(f"{self.where}: cannot read rows ({first_line(exc)})") from None
        counts = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
        return CsrRows(np.concatenate(datas) if datas else np.zeros(0, np.float32),
                       np.concatenate(indices) if indices else np.zeros(0, np.int64),
                       np.concatenate(([0], np.cumsum(counts))).astype(np.int64))

    def describe(self) -> str:
        return (f"CSR matrix: {self.n_rows:,} rows × {self.width:,} columns, {self.nnz:,} nonzeros "
                f"(density {self.density:.3g}), read by row ranges (indptr, then data and indices)")


class SparseX(BufferedReader):
    """A stored CSR matrix as a table's features: what the passes and the epochs ask of a reader, with CSR
    rows (``CsrRows``) where a dense reader gives a block of rows."""

    sparse = True
    unit_rows = 1  # any row range is three reads

    def __init__(self, reader: CsrReader):
        self.reader, self.width, self.dtype = reader, reader.width, np.dtype(np.float32)
        self.row_shape = (reader.width,)
        self.layout = layout_mod.Layout(
            path=reader.where.split(":", 1)[-1], shape=(reader.n_rows, reader.width), dtype="float32",
            layout="csr", chunks=None, compression=None, logical_bytes=reader.nnz * 12, stored_bytes=0, offset=None,
            read_mode="CSR row ranges (indptr, then data and indices) through HDF5")

    def read(self, start: int, stop: int, out=None) -> CsrRows:
        return self.reader.read_ranges([(start, stop)])

    def read_ranges(self, ranges, out=None) -> CsrRows:
        return self.reader.read_ranges(ranges)
