"""Storage a writer never wrote: rows that would read back as fill values.

A writer that pre-allocates a dataset and dies half-way (a crashed or killed
export job) leaves a file whose missing rows read as the fill value, zeros
by default: a model trained on them learns from data that never existed.
HDF5 allocates chunks when they are first written, so the chunks missing from
a dataset's chunk index are exactly the parts never written; a contiguous
dataset is allocated whole at its first write, so only one never written at
all can be told.  The check reads the chunk index only, never the data:
HDF5 counts the chunks (``get_num_chunks``) and only a dataset with chunks
missing has its index walked to find which.  Storage in other files (a
virtual dataset's sources, external raw files) is checked by
data/otherfiles.py, a virtual dataset's sources with this same check.
"""

from __future__ import annotations

import dataclasses
import warnings

import h5py
import numpy as np

from sgdcli.data.otherfiles import Gap, external_gaps, virtual_gaps
from sgdcli.data.otherfiles import merged_ranges as _merged
from sgdcli.errors import InputError

MAX_DEPTH = 8  # virtual datasets over virtual datasets: followed this deep (a loop of them ends here)


class AllocatedEarly(UserWarning):
    """A dataset read was allocated when it was created: its rows never written cannot be told (``early``)."""


def early(ds: h5py.Dataset) -> bool:
    """Whether ``ds`` was allocated when it was created (parallel HDF5 always allocates so; h5py's
    ``H5Pset_alloc_time(H5D_ALLOC_TIME_EARLY)``): every chunk is in its index, written or not, and nothing in the
    file tells the rows never written, which read as the fill value."""
    plist = ds.id.get_create_plist()
    return (plist.get_alloc_time() == h5py.h5d.ALLOC_TIME_EARLY
            and plist.get_layout() in (h5py.h5d.CHUNKED, h5py.h5d.CONTIGUOUS) and plist.get_external_count() == 0)


def early_text(where: str, others: int = 0) -> str:
    """The warning of a dataset at ``where`` that is ``early``, and of ``others`` more read with it."""
    more = f" (and {others:,} other dataset{'s' if others > 1 else ''} read with it)" if others else ""
    return (f"{where}{more}: allocated when it was created (parallel HDF5, or H5D_ALLOC_TIME_EARLY), so rows never "
            "written cannot be told from written ones and would be read as its fill value; check the file where "
            "it is written (--allow-unwritten: it was)")


@dataclasses.dataclass(frozen=True)
class Unwritten:
    """The rows of a dataset (along its row axis) that were never written."""

    ranges: np.ndarray  # (k, 2) int64: [start, stop) row ranges, sorted, disjoint
    missing: int  # chunks never allocated (1 for a contiguous dataset never written); sources lacking data
    total: int  # chunks in all; sources or external files in all
    reason: str | None = None  # what the first range lacks, where it is not chunks (data/otherfiles.py)
    fillable: bool = True  # HDF5 reads them as fill values (a missing external raw file fails the read instead)
    reads: str = "their fill values"  # what --allow-unwritten reads them as (zeros past an external file's end)
    # (rows, reason) of each source or file that lacks data, by their first row (data/otherfiles.py): adjacent
    # rows of two sources merge in ``ranges``, and each source is named with its own rows
    causes: tuple = ()
    # [first, stop) of the columns of a 2-D dataset whose chunks in those rows were never written, where that is
    # not every column: the others can be read alone (--features)
    columns: tuple[int, int] | None = None

    @property
    def rows(self) -> int:
        return _count(self.ranges)

    @property
    def detail(self) -> str:
        """The cause in a few words: the chunks unallocated, or the first source's rows and reason."""
        if self.causes:
            return _described(*self.causes[0])
        if self.reason is not None:
            return f"{_span(self.ranges)} {self.reason}"
        return f"{self.missing:,} of {self.total:,} chunks unallocated" if self.total > 1 else "no storage allocated"

    def message(self, where: str, unit: str = "row", allowed: bool = True) -> str:
        """The error: ``unit`` names what the dataset's first axis counts; ``allowed``: whether
        --allow-unwritten could read them (not the entries of a sparse matrix, whose fill values mean
        nothing).  Each source that lacks data is named with its own rows, up to SHOWN of them."""
        if self.causes:
            parts = [_described(ranges, why, unit) for ranges, why in self.causes[:SHOWN]]
            rest = self.causes[SHOWN:]
            if rest:
                parts.append(f"{sum(_count(r) for r, _ in rest):,} more {_plural(unit)} lack data in "
                             f"{len(rest):,} more source{'s' if len(rest) > 1 else ''}")
            what = "; ".join(parts)
            what += f" ({self.missing:,} of {self.total:,} sources lack data)" if self.missing > 1 else ""
        elif self.reason is None:
            one = _count(self.ranges) == 1
            what = f"{_described(self.ranges, None, unit)}{self._of_columns} {'was' if one else 'were'} never " \
                   f"written ({self.detail})"
        else:
            what = _described(self.ranges, self.reason, unit)
        return (f"{where}: {what}; the file looks incomplete"
                + (f" (--allow-unwritten reads {self.reads})" if allowed and self.fillable else ""))

    @property
    def _of_columns(self) -> str:
        """" of columns a–b": the span of the columns whose chunks were never written, where not every column's."""
        if self.columns is None:
            return ""
        a, b = self.columns
        return f" of column {a:,}" if b - a == 1 else f" of columns {a:,}–{b - 1:,}"


SHOWN = 3  # sources that lack data named in a message, each with its rows


def _count(ranges: np.ndarray) -> int:
    return int((ranges[:, 1] - ranges[:, 0]).sum())


def _span(ranges: np.ndarray, unit: str = "row") -> str:
    a, b = (int(v) for v in ranges[0])
    return f"{unit} {a:,}" if b - a == 1 else f"{_plural(unit)} {a:,}–{b - 1:,}"


def _described(ranges: np.ndarray, reason: str | None, unit: str = "row") -> str:
    """"rows a–b[ and N more rows][ reason]": the first of ``ranges`` and how many more rows the others hold."""
    a, b = (int(v) for v in ranges[0])
    more = f" and {_count(ranges) - (b - a):,} more {_plural(unit)}" if len(ranges) > 1 else ""
    return f"{_span(ranges, unit)}{more}" + (f" {reason}" if reason is not None else "")


def _plural(unit: str) -> str:
    return unit[:-1] + "ies" if unit.endswith("y") else unit + "s"


def unwritten(ds: h5py.Dataset, axis: int = 0, depth: int = 0,
              columns: np.ndarray | None = None) -> Unwritten | None:
    """The rows of ``ds`` along ``axis`` that were never written, or None if every row was.

    A virtual dataset's rows lack data where a source file or dataset is
    missing or a source's own rows were never written (checked ``depth``
    levels of virtual datasets deep); an external dataset's where its raw
    files are missing or shorter than declared.  ``columns``: of a 2-D
    chunked dataset, the indices along its other axis that are read (None:
    all); a chunk that holds none of them is not read, and its rows are
    not missing for them.
    """
    if ds.shape is None or ds.size == 0 or ds.ndim == 0:  # no rows: empty, or a scalar
        return None
    n = int(ds.shape[axis])
    try:
        kind = ds.id.get_create_plist().get_layout()
        if kind == getattr(h5py.h5d, "VIRTUAL", -1):
            if depth >= MAX_DEPTH:
                return None
            return _of_gaps(virtual_gaps(ds, axis, lambda src, a: unwritten(src, a, depth + 1)),
                            len(ds.virtual_sources()))
        if kind == h5py.h5d.CONTIGUOUS:
            count = ds.id.get_create_plist().get_external_count()
            if count > 0:
                return _of_gaps(external_gaps(ds, axis), count)
            if ds.id.get_storage_size() > 0:
                return None
            return Unwritten(np.array([[0, n]], dtype=np.int64), 1, 1)
        if kind != h5py.h5d.CHUNKED:
            return None  # compact: always allocated
        grid = [-(-int(s) // int(c)) for s, c in zip(ds.shape, ds.chunks)]
        total = int(np.prod(grid, dtype=np.int64))
        allocated = ds.id.get_num_chunks()
        if allocated >= total:
            return None
        across = 1 - axis if ds.ndim == 2 and grid[1 - axis] > 1 else None  # chunks split the columns
        wanted = (None if across is None else np.arange(grid[across]) if columns is None else
                  np.unique(np.asarray(columns, dtype=np.int64) // int(ds.chunks[across])))
        complete, missing_at = _complete_bands(ds, axis, across, wanted, total // grid[axis])
    except (AttributeError, OSError, RuntimeError, ValueError, TypeError):
        return None  # no chunk queries in this HDF5: nothing can be told
    # the gaps between complete bands of chunk rows are the unwritten rows (no array over all the bands:
    # a declared 10^12 rows would not fit)
    rows = int(ds.chunks[axis])
    edges = np.concatenate(([-1], complete, [grid[axis]]))
    gap = np.flatnonzero(np.diff(edges) > 1)
    if not len(gap):  # every chunk missing holds only columns not read
        return None
    starts, stops = (edges[gap] + 1) * rows, np.minimum(edges[gap + 1] * rows, n)
    spanned = None
    if across is not None and len(missing_at) < grid[across]:  # the columns of the chunks missing: not all
        width = int(ds.chunks[across])
        spanned = (int(missing_at[0]) * width, min((int(missing_at[-1]) + 1) * width, int(ds.shape[across])))
    return Unwritten(np.column_stack([starts, stops]).astype(np.int64), total - int(allocated), total,
                     columns=spanned)


def _of_gaps(gaps: list[Gap], total: int) -> Unwritten | None:
    """The rows that ``gaps`` (of data/otherfiles.py) lack, with the reason of the first: None if none."""
    gaps = sorted((g for g in gaps if len(g.ranges)), key=lambda g: int(g.ranges[:, 0].min()))
    if not gaps:
        return None
    first = gaps[0]
    ranges = np.concatenate([g.ranges for g in gaps])
    causes = tuple((_merged(g.ranges[:, 0], g.ranges[:, 1]), g.reason) for g in gaps)
    return Unwritten(_merged(ranges[:, 0], ranges[:, 1]), sum(g.source for g in gaps), total, first.reason,
                     all(g.fillable for g in gaps), first.reads, causes)


def _complete_bands(ds: h5py.Dataset, axis: int, across: int | None, wanted: np.ndarray | None,
                    per_band: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted indices of the bands of chunk rows (along ``axis``) whose chunks are all allocated: their
    ``per_band`` chunks, or where the chunks split the columns (along ``across``), those of the ``wanted`` column
    chunks; and the wanted column chunks that some band lacks."""
    offsets: list[tuple[int, ...]] = []
    if hasattr(ds.id, "chunk_iter"):
        ds.id.chunk_iter(lambda info: offsets.append(info.chunk_offset))
    else:
        for i in range(ds.id.get_num_chunks()):
            offsets.append(ds.id.get_chunk_info(i).chunk_offset)
    at = np.asarray(offsets, dtype=np.int64).reshape(len(offsets), ds.ndim)
    band = at[:, axis] // int(ds.chunks[axis])
    if across is None:
        bands, counts = np.unique(band, return_counts=True)
        return bands[counts == per_band], np.empty(0, dtype=np.int64)
    column = at[:, across] // int(ds.chunks[across])
    read = np.isin(column, wanted)
    bands, counts = np.unique(band[read], return_counts=True)
    # a column chunk that some band lacks is allocated in fewer bands than there are
    held = np.bincount(column[read], minlength=int(wanted.max()) + 1)[wanted]
    return bands[counts == len(wanted)], wanted[held < -(-int(ds.shape[axis]) // int(ds.chunks[axis]))]


def refuse_unwritten(ds: h5py.Dataset, where: str, unit: str) -> None:
    """InputError where any of ``ds``, read whole as names (a categorical's categories), was never written: a
    fill value read as a name would be a class no writer wrote, so --allow-unwritten does not read it either."""
    missing = unwritten(ds)
    if missing is not None:
        raise InputError(missing.message(where, unit=unit, allowed=False))


def union_rows(found: list[Unwritten]) -> int:
    """Rows that are unwritten in any of ``found`` (datasets of the same table)."""
    if not found:
        return 0
    ranges = np.concatenate([u.ranges for u in found])
    merged = _merged(ranges[:, 0], ranges[:, 1])
    return int((merged[:, 1] - merged[:, 0]).sum())


def checked(datasets, allow_unwritten: bool, where, early_read=()) -> int:
    """The rows read from fill values of ``datasets`` ((dataset, axis[, the columns read]) each, all of a
    table's): InputError naming the first dataset not written where it is read, unless ``allow_unwritten``
    (and what is missing can be read as fill values: a missing external raw file cannot); then one
    warning of those among them allocated early, and of ``early_read`` (datasets checked already).
    ``where(name)``: how a message names a dataset of the file."""
    found, written, seen = [], list(early_read), set()
    for ds, axis, *read in datasets:  # (and the columns read, where not all: data/sources.py columns_read)
        columns = read[0] if read else None
        key = (ds.name, axis, None if columns is None else tuple(columns))
        if key in seen:
            continue
        seen.add(key)
        missing = unwritten(ds, axis, columns=columns)
        if missing is None:
            written.append(ds)
            continue
        if not allow_unwritten or not missing.fillable:
            raise InputError(missing.message(where(ds.name.lstrip("/"))))
        found.append(missing)
    warn_early(written, allow_unwritten, where)
    return union_rows(found)


def warn_early(datasets, allow_unwritten: bool, where) -> None:
    """One warning for the ``datasets`` read that were allocated at creation (``early``), naming the first, but
    under --allow-unwritten (the file was checked)."""
    allocated = [ds for ds in datasets if early(ds)] if not allow_unwritten else []
    if allocated:  # from this line: shown once for each text, however many times a command opens its table
        warnings.warn(early_text(where(allocated[0].name.lstrip("/")), len(allocated) - 1), AllocatedEarly)
