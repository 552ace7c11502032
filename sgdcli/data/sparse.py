"""CSR matrices stored the way AnnData (and scipy writers) store them, read by row ranges.

A group with datasets ``data`` (the nonzero values), ``indices`` (their
columns) and ``indptr`` (where each row's entries start, rows + 1 of them),
and attributes ``encoding-type: csr_matrix`` and ``shape`` (rows, columns).
Rows [a, b) are the entries indptr[a] .. indptr[b].  A window's many ranges
(pages from all over the file) are read with one HDF5 read of ``indptr`` and
one each of ``data`` and ``indices`` per GROUP_BYTES of entries, each a
union of hyperslabs (data/sources.py), not three reads a range: an HDF5 call
costs as much as reading thousands of entries.  Memory is bounded by the
nonzeros in flight, whatever the column count.
"""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np

from sgdcli.data import chunks, tenxfiles
from sgdcli.data import layout as layout_mod
from sgdcli.data.numeric import cast_into
from sgdcli.data.sources import GROUP_BYTES, BufferedReader, read_union, text_of
from sgdcli.data.unwritten import unwritten
from sgdcli.data.where import where_of
from sgdcli.errors import InputError, first_line


ENTRY_BYTES = 12  # an entry read: its value (float32) and its column (int64)
OFFSET_BYTES = 8  # a row's offset (indptr, int64)
GROWTH = 32  # a CsrBuffer grows by 1/GROWTH more than the block that outgrew it


class CsrBuffer:
    """The arrays that a reader's blocks of one slot are read into (``read_ranges``' ``out``), block after block,
    grown to the largest block's entries: as a dense block's buffer, so that the blocks in flight are the
    memory they take.  With arrays of its own, a block handed out before stayed alive while the next was read:
    three blocks where --memory counts two."""

    def __init__(self):
        self.data, self.indices = np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64)

    def arrays(self, entries: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.data) < entries:  # a little more than asked: blocks cut alike differ by a few entries
            self.data = self.indices = None  # (the old ones go before the new ones are made)
            size = entries + entries // GROWTH
            self.data, self.indices = np.empty(size, dtype=np.float32), np.empty(size, dtype=np.int64)
        return self.data[:entries], self.indices[:entries]


@dataclasses.dataclass(frozen=True)
class CsrRows:
    """Rows of a CSR matrix laid end to end: row r is entries indptr[r] .. indptr[r + 1] of data/indices."""

    data: np.ndarray  # float32
    indices: np.ndarray  # int64 columns
    indptr: np.ndarray  # int64, rows + 1, from 0
    # the columns the rows' text named, where more than their entries reach: an explicit zero ("3:0", dropped
    # as an entry) makes a LIBSVM file that wide, as scikit-learn's load_svmlight_file reads it
    reach: int = 0

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    def finite_rows(self) -> np.ndarray:
        """Per row: are all its values finite?"""
        ok = np.ones(self.n_rows, dtype=np.bool_)
        bad = np.flatnonzero(~np.isfinite(self.data))
        ok[np.searchsorted(self.indptr, bad, side="right") - 1] = False
        return ok

    def kept(self, keep: np.ndarray) -> "CsrRows":
        """The rows where ``keep`` (a mask, one per row) is true, in order: a mask per entry, not an index."""
        lengths = np.diff(self.indptr)
        indptr = np.zeros(int(np.count_nonzero(keep)) + 1, dtype=np.int64)
        np.cumsum(lengths[keep], out=indptr[1:])
        entries = np.repeat(keep, lengths)
        return CsrRows(self.data[entries], self.indices[entries], indptr)

    def dense(self, columns: int) -> np.ndarray:
        """The rows as a dense matrix (for tests and small samples)."""
        out = np.zeros((self.n_rows, columns), dtype=self.data.dtype)
        rows = np.repeat(np.arange(self.n_rows), np.diff(self.indptr))
        out[rows, self.indices] = self.data
        return out


CSR_DATASETS = {"data", "indices", "indptr"}


def is_csr(obj) -> bool:
    """Whether ``obj`` is a group holding a CSR matrix: AnnData's encoding, or the same datasets and a shape
    (h5py's own, or h5sparse's ``h5sparse_shape``), or those three datasets alone (whose missing shape
    CsrReader then names), or a 10x Genomics matrix (tenxfiles.py: its cells' columns are rows)."""
    if not isinstance(obj, h5py.Group):
        return False
    if tenxfiles.is_tenx(obj):
        return True
    kind = text_of(obj.attrs.get("encoding-type", b""))
    shaped = "shape" in obj.attrs or "h5sparse_format" in obj.attrs
    # (a shape and two of the three: one is missing, which CsrReader names; read as columns, the two trained)
    return kind == "csr_matrix" or (not kind and len(CSR_DATASETS & set(obj)) >= 2 and shaped) or (
        not kind and set(obj) == CSR_DATASETS)


def _shape(group: h5py.Group, where: str) -> tuple[int, int]:
    """The (rows, columns) of the group's ``shape`` attribute (h5sparse's ``h5sparse_shape`` where it has
    none); InputError naming it where it is missing or is not two counts, or where h5sparse stored the
    matrix by columns."""
    stored_as = text_of(group.attrs.get("h5sparse_format", "csr"))
    if stored_as != "csr":
        raise InputError(f"{where}: is a sparse matrix stored as {stored_as!r} (h5sparse_format); sgdcli reads "
                         "sparse matrices stored by rows: write it as csr (scipy's .tocsr())")
    name = "h5sparse_shape" if "shape" not in group.attrs and "h5sparse_shape" in group.attrs else "shape"
    if name not in group.attrs:
        raise InputError(f"{where}: a CSR matrix (data, indices, indptr) without the attribute 'shape', which "
                         f"AnnData writes; add it with h5py: f[{group.name!r}].attrs['shape'] = (rows, columns)")
    try:
        value = np.asarray(group.attrs[name])
    except (OSError, TypeError, ValueError) as exc:
        raise InputError(f"{where}: cannot read the attribute {name!r} ({first_line(exc)})") from None
    shown = tuple(value.tolist()) if value.ndim == 1 else repr(value.tolist())
    if value.shape != (2,) or value.dtype.kind not in "iuf" or not np.all(np.isfinite(value)) or np.any(
            value < 0) or np.any(value != np.floor(value)):
        raise InputError(f"{where}: attribute {name!r} {shown} is not the shape of a matrix: (rows, columns), two "
                         "counts of at least 0")
    return int(value[0]), int(value[1])


class CsrReader:
    """Row ranges of a stored CSR matrix."""

    def __init__(self, group: h5py.Group):
        self.where = where_of(group)
        lacking = [name for name in ("data", "indices", "indptr") if name not in group]
        if lacking:
            raise InputError(f"{self.where}: a CSR matrix without its {' and '.join(map(repr, lacking))} "
                             f"dataset{'s' * (len(lacking) > 1)} (a CSR matrix holds data, indices and indptr)")
        try:
            self.data, self.indices, self.indptr = group["data"], group["indices"], group["indptr"]
        except (KeyError, ValueError, TypeError) as exc:
            raise InputError(f"{self.where}: not a readable CSR matrix ({first_line(exc)})") from None
        for part in (self.data, self.indices, self.indptr):
            if not isinstance(part, h5py.Dataset) or part.ndim != 1:
                raise InputError(f"{self.where}: not a readable CSR matrix ({part.name.rsplit('/', 1)[-1]!r} is "
                                 "not a 1-D dataset)")
            chunks.check_stored(part)
        shape = tenxfiles.shape(group, self.where) if tenxfiles.is_tenx(group) else _shape(group, self.where)
        if self.indptr.shape != (shape[0] + 1,) or self.data.shape != self.indices.shape:
            raise InputError(f"{self.where}: a CSR matrix of shape {tuple(shape)} needs indptr of {shape[0] + 1} "
                             f"entries and data and indices of one length; found {self.indptr.shape}, "
                             f"{self.data.shape} and {self.indices.shape}")
        if self.data.dtype.kind not in "biuf" or self.indices.dtype.kind not in "iu":
            raise InputError(f"{self.where}: data must be numeric and indices integers; found {self.data.dtype} "
                             f"and {self.indices.dtype}")
        self.n_rows, self.width = shape
        self._width_said = (f"its dataset 'shape', (features, cells), says {self.width:,} features"
                            if tenxfiles.is_tenx(group) else f"the attribute 'shape' says {self.width:,} columns")
        self.nnz = int(self.data.shape[0])
        for part in (self.indptr, self.data, self.indices):  # a matrix's entries: never read as fill values, nor
            # taken for its offsets (an indptr never written ran "from 0 to 0")
            missing = unwritten(part)
            if missing is not None:
                raise InputError(missing.message(where_of(part), unit="row" if part is self.indptr else "entry",
                                                 allowed=False))
        try:
            ends = (int(self.indptr[0]), int(self.indptr[-1]))
        except (OSError, RuntimeError, ValueError) as exc:
            raise InputError(f"{self.where}: cannot read indptr ({first_line(exc)})") from None
        if ends != (0, self.nnz):  # entries outside every row would be stored and never read
            raise InputError(f"{self.where}: indptr must run from 0 to the {self.nnz} entries of data and indices; "
                             f"it runs from {ends[0]} to {ends[1]}")

    @property
    def density(self) -> float:
        return self.nnz / max(1, self.n_rows * self.width)

    def row_bytes(self) -> int:
        """Bytes a row takes in flight, on average: its entries (value and column) and its offset."""
        return max(1, round(self.nnz / max(self.n_rows, 1) * ENTRY_BYTES)) + OFFSET_BYTES

    def read_ranges(self, ranges: list[tuple[int, int]], out: CsrBuffer | None = None) -> CsrRows:
        """The rows of ``ranges`` (disjoint) laid end to end, in that order, their entries in ``out``'s arrays
        where given; InputError where the file is inconsistent."""
        ranges = [(int(a), int(b)) for a, b in ranges if b > a]
        try:
            offsets = self.offsets(ranges)
            lengths = np.array([ip[-1] - ip[0] for ip in offsets], dtype=np.int64)
            places = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
            entries = int(places[-1])
            data, indices = (out.arrays(entries) if out is not None else  # (a read of its own: exactly its size)
                             (np.empty(entries, dtype=np.float32), np.empty(entries, dtype=np.int64)))
            order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
            group_entries = max(1, GROUP_BYTES // 12)
            k = 0
            while k < len(order):  # entries in file order, as many ranges at a time as fit GROUP_BYTES
                group, entries = [], 0
                while k < len(order) and (not group or entries + lengths[order[k]] <= group_entries):
                    if lengths[order[k]] > 0:
                        group.append(order[k])
                        entries += int(lengths[order[k]])
                    k += 1
                if group:
                    self._read_entries(ranges, offsets, group, places, data, indices)
        except (OSError, RuntimeError, ValueError) as exc:
            raise InputError(f"{self.where}: cannot read rows ({first_line(exc)})") from None
        indptr = np.zeros(sum(len(ip) - 1 for ip in offsets) + 1, dtype=np.int64)
        at = 0
        for ip in offsets:  # each range's offsets from its first entry, after those before it: no temporaries
            np.subtract(ip[1:], ip[0] - indptr[at], out=indptr[at + 1:at + len(ip)])
            at += len(ip) - 1
        return CsrRows(data, indices, indptr)

    def offsets(self, ranges) -> list[np.ndarray]:
        """indptr[a:b + 1] of each range, from one read; InputError where it is not increasing within 0..nnz."""
        if not ranges:
            return []
        try:
            read = _Union([(a, b + 1) for a, b in ranges], self.indptr)
        except (OSError, RuntimeError, ValueError) as exc:
            raise InputError(f"{self.where}: cannot read indptr ({first_line(exc)})") from None
        out = []
        for a, b in ranges:
            ip = read.span(0, a, b + 1).astype(np.int64)
            if np.any(np.diff(ip) < 0) or ip[0] < 0 or ip[-1] > self.nnz:
                raise InputError(self._bad_offsets(a, ip))
            out.append(ip)
        return out

    def _bad_offsets(self, a: int, ip: np.ndarray) -> str:
        """What is wrong with ``ip``, indptr[a:a + len(ip)], named by its first bad entry."""
        outside = np.flatnonzero((ip < 0) | (ip > self.nnz))
        falls = np.flatnonzero(np.diff(ip) < 0)
        if len(outside) and not (len(falls) and falls[0] + 1 < outside[0]):  # (a fall to an entry outside: that entry)
            k = int(outside[0])
            return f"{self.where}: indptr[{a + k}] is {ip[k]}, outside 0..{self.nnz} (the entries of data and indices)"
        k = int(falls[0])
        return (f"{self.where}: indptr decreases at row {a + k}: indptr[{a + k}] is {ip[k]} and indptr[{a + k + 1}] "
                f"is {ip[k + 1]} (a row's entries are indptr[row] .. indptr[row + 1])")

    def _read_entries(self, ranges, offsets, group, places, data, indices) -> None:
        """The entries of the ranges ``group`` (in file order): one union read of data and one of indices, each
        range's entries then put in its place; one range of float32 values (a pass's block) read straight into
        its place, without that scratch copy of its entries."""
        spans = [(int(offsets[i][0]), int(offsets[i][-1])) for i in group]
        if len(group) == 1 and self.data.dtype == np.float32 and self.indices.dtype.kind in "iu":
            (i,), (lo, hi) = group, spans[0]
            read_union(self.data, [(lo, hi)], 0, data[places[i]:places[i + 1]])  # (a read per CHUNKS_PER_READ)
            read_union(self.indices, [(lo, hi)], 0, indices[places[i]:places[i + 1]])  # (widened exactly)
            self._check_columns(ranges, offsets, [(i, lo, indices[places[i]:places[i + 1]])])
            return
        read = _Union(spans, self.data, self.indices)
        columns = read.read[1]
        if len(columns) and (columns.min() < 0 or columns.max() >= self.width):  # (one look at them all)
            self._check_columns(ranges, offsets, [(i, lo, read.span(1, lo, hi)) for i, (lo, hi) in zip(group, spans)])
        for i, (lo, hi) in zip(group, spans):
            cast_into(data[places[i]:places[i + 1]], read.span(0, lo, hi))
            indices[places[i]:places[i + 1]] = read.span(1, lo, hi)

    def _check_columns(self, ranges, offsets, read: list[tuple[int, int, np.ndarray]]) -> None:
        """InputError at the first column index outside the matrix (in file order), named by its row; ``read``:
        (range, its first entry, the indices read of it), in file order."""
        for i, lo, columns in read:
            if len(columns) and (columns.min() < 0 or columns.max() >= self.width):
                k = int(np.flatnonzero((columns < 0) | (columns >= self.width))[0])
                row = ranges[i][0] + int(np.searchsorted(offsets[i], lo + k, side="right")) - 1
                raise InputError(f"{self.where}: row {row} has column index {columns[k]}, outside "
                                 f"0..{self.width - 1} ({self._width_said})")

    def describe(self) -> str:
        return (f"CSR matrix: {self.n_rows:,} rows × {self.width:,} columns, {self.nnz:,} nonzeros "
                f"(density {self.density:.3g}), read by row ranges (indptr, then data and indices)")


class _Union:
    """The same spans of one or more 1-D datasets read at once: overlapping or adjacent spans merged, one
    union-of-hyperslabs read per dataset, then any span found in what was read."""

    def __init__(self, spans: list[tuple[int, int]], *datasets):
        merged: list[list[int]] = []
        for a, b in sorted(spans):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        merged = [(a, b) for a, b in merged if b > a]
        self.starts = np.array([a for a, _ in merged], dtype=np.int64)
        self.at = np.concatenate(([0], np.cumsum([b - a for a, b in merged]))).astype(np.int64)
        self.read = [read_union(ds, merged, 0) if merged else np.zeros(0, ds.dtype) for ds in datasets]

    def span(self, which: int, a: int, b: int) -> np.ndarray:
        """Elements [a, b) of the ``which``-th dataset."""
        if b <= a:
            return self.read[which][:0]
        k = int(np.searchsorted(self.starts, a, side="right")) - 1
        return self.read[which][self.at[k] + a - self.starts[k]:self.at[k] + b - self.starts[k]]


# Where a table reads some of a CSR matrix's columns, the nonzeros a row holds in them are counted on this many runs
# of rows spread over the file, of this many rows each: a few reads, whatever the file's size.
PROBE_RANGES, PROBE_ROWS = 16, 16


class SparseX(BufferedReader):
    """A stored CSR matrix as a table's features: what the passes and the epochs ask of a reader, with CSR
    rows (``CsrRows``) where a dense reader gives a block of rows."""

    sparse = True
    unit_rows = 1  # any row range is three reads

    def __init__(self, reader: CsrReader, keep: list[int] | None = None):
        """``keep``: the stored columns to read, in the order they are to have (columns picked by name, as
        AnnData's genes are: data/featurenames.py); None, all of them as stored."""
        self.reader, self.dtype = reader, np.dtype(np.float32)
        self.width = reader.width if keep is None else len(keep)
        self.columns = None  # stored column -> column read, -1 for a column left out
        if keep is not None and list(keep) != list(range(reader.width)):
            self.columns = np.full(reader.width, -1, dtype=np.int64)
            self.columns[np.asarray(keep, dtype=np.int64)] = np.arange(len(keep), dtype=np.int64)
        self.row_shape = (self.width,)
        self._per_row = None  # nonzeros_per_row's probe, where columns are picked
        self.layout = layout_mod.Layout(
            path=reader.where.split(":", 1)[-1], shape=(reader.n_rows, self.width), dtype="float32",
            layout="csr", chunks=None, compression=None, logical_bytes=reader.nnz * 12, stored_bytes=0, offset=None,
            read_mode="CSR row ranges (indptr, then data and indices) through HDF5")

    def nonzeros_per_row(self) -> float:
        """The nonzeros a row holds in the columns read, on average: the file's count where every column is read,
        else that of PROBE_RANGES runs of PROBE_ROWS rows spread evenly over the file (columns picked by name may
        be its rare ones)."""
        if self.columns is None:
            return self.reader.nnz / max(self.reader.n_rows, 1)
        if self._per_row is None:
            n = self.reader.n_rows
            starts = np.unique(np.linspace(0, max(n - PROBE_ROWS, 0), PROBE_RANGES).astype(np.int64))
            ranges = [(int(a), int(min(a + PROBE_ROWS, n))) for a in starts]
            self._per_row = len(self.read_ranges(ranges).data) / max(sum(b - a for a, b in ranges), 1)
        return self._per_row

    def read(self, start: int, stop: int, out: CsrBuffer | None = None) -> CsrRows:
        return self._picked(self.reader.read_ranges([(start, stop)], out))

    def read_ranges(self, ranges, out: CsrBuffer | None = None) -> CsrRows:
        return self._picked(self.reader.read_ranges(ranges, out))

    def _picked(self, rows: CsrRows) -> CsrRows:
        """``rows`` with their entries in the columns read, renumbered, those of the columns left out dropped,
        and each row's entries in the order of their new columns: a file whose columns are reordered gives the
        rows (and sums in the order) of the file in the order read, bit for bit."""
        if self.columns is None:
            return rows
        indices = self.columns[rows.indices]
        kept = indices >= 0
        data, indptr = rows.data, rows.indptr
        if not kept.all():
            before = np.concatenate(([0], np.cumsum(kept))).astype(np.int64)  # entries kept before each entry
            data, indices, indptr = data[kept], indices[kept], before[indptr]
        descending = np.flatnonzero(np.diff(indices) < 0) + 1  # entries after a larger column ...
        if np.isin(descending, indptr, invert=True).any():  # ... other than a row's first
            row_of = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
            order = np.lexsort((indices, row_of))
            data, indices = data[order], indices[order]
        return CsrRows(data, indices, indptr)
