"""Labels that are names: text columns, and categoricals with their categories, read as class codes.

The classes are the sorted distinct names (of a text column, found by a
pass over it when a table is opened for training; of a categorical, its
categories, sorted whatever order the file keeps them in: as numbers where
the categories are stored as numbers, 2 before 10), and a label is
read as the code of its name: 0, 1, ... in that order, so the rest of
sgdcli sees numeric classes and the model keeps the names
(``training.class_names``).  Reading
another file for a model (``evaluate``, ``--val``) maps its names through the
model's classes, so the same name has the same code whatever else the file
holds; a name the model does not know is an error.

A missing label is read as NaN (a bad row): a categorical's code -1, a text
equal to the marker its writer puts for a missing value (pandas' table
format: the frame's ``nan_rep``, "nan" by default), or an entry that a mask
marks (AnnData's nullable columns: ``values`` and ``mask``).
"""

from __future__ import annotations

import sys

import h5py
import numpy as np

from sgdcli.data.sources import Fields, Source, text_of, where_of
from sgdcli.errors import InputError, quoted
from sgdcli.options import DEFAULT_MEMORY, MAX_CLASSES
from sgdcli.sizes import MemoryShort, format_size

# What a row costs the pass that finds the names, in its stored bytes: the rows as read, the column taken
# from them (a compound table's field), and np.unique's sorted copy of it.
SCAN_COPIES = 3
# and beyond them, for a variable-length string: the Python object h5py makes of it (its header, and the few
# characters of a typical label), until a first piece of FIRST_ROWS says what they take (``object_bytes``)
OBJECT_BYTES = 64
FIRST_ROWS = 1024
# and, reading a block's names as codes (``TextLabels.read_spans``), np.unique's order of the rows, and the
# inverse and its running count (int64 each) that give each row its name
CODE_BYTES = 24


def _text(values: np.ndarray) -> np.ndarray:
    """Names as a NumPy array of str (HDF5 gives bytes, or str for variable-length strings)."""
    flat = values.reshape(-1)
    if flat.dtype.kind == "S" or (flat.dtype.kind == "O" and len(flat) and isinstance(flat[0], bytes)):
        return np.char.decode(flat.astype("S"), "utf-8", "replace").astype(str)
    return flat.astype(str)


def is_text(dtype: np.dtype) -> bool:
    """Fixed-length bytes or text, or HDF5's variable-length strings."""
    return dtype.kind in "SU" or h5py.check_string_dtype(dtype) is not None


def scan_names(source: Source, where: str, missing: str | None = None, mask: Source | None = None,
               memory: int = DEFAULT_MEMORY) -> list[str]:
    """The sorted distinct names of a text column, in one pass of pieces that ``memory`` holds (whole chunks,
    ``scan_rows``); the ``missing`` marker and the entries ``mask`` marks are no names.  Only a piece's
    distinct values are decoded to text.  Variable-length strings are read a first piece of FIRST_ROWS (whole
    chunks) before the rest, whose pieces follow the size of that piece's objects (``object_bytes``)."""
    names: set[str] = set()
    try:
        rows = scan_rows(source, mask, memory)
    except MemoryShort:  # refused at a guess of what the objects take: measured on a few, refused (or not) at that
        if not _held_as_objects(source):
            raise
        rows = scan_rows(source, mask, memory, object_bytes(np.asarray(source.read(0, min(FIRST_ROWS, source.n_rows)))
                                                            .reshape(-1)))
    unit = _unit(source, mask)
    step = rows if not _held_as_objects(source) else min(rows, max(unit, FIRST_ROWS // unit * unit))
    start = 0
    while start < source.n_rows:
        stop = min(start + step, source.n_rows)
        values = np.asarray(source.read(start, stop)).reshape(-1)
        if start == 0 and _held_as_objects(source):  # the rest in pieces of what these objects take
            step = scan_rows(source, mask, memory, object_bytes(values))
        if mask is not None:
            values = values[~_flags(mask.read(start, stop))]
        names.update(_text(np.unique(values)).tolist())
        del values  # before the next piece is read: never two at once
        names.discard(missing)
        if len(names) > MAX_CLASSES:
            raise InputError(f"{where}: more than {MAX_CLASSES} distinct names; a text label names classes")
        start = stop
    return sorted(names)


def scan_rows(source: Source, mask: Source | None, memory: int, objects: int = OBJECT_BYTES) -> int:
    """Rows of ``source`` (and ``mask``) the pass that finds the names reads at once: whole chunks, as many as
    ``memory`` holds, a variable-length string's object taking ``objects`` bytes; MemoryShort where it cannot
    hold one (a chunk is decoded whole: read in pieces it would be decoded once a piece)."""
    per_row = _scan_bytes(source, mask, objects)
    unit = _unit(source, mask)
    if unit * per_row > memory:
        raise MemoryShort(memory, f"one chunk of {where_of(source.ds)} ({unit:,} rows of text labels, "
                          f"{format_size(unit * source.row_bytes)} as stored) while finding the names of its "
                          "classes", unit * per_row, unit)
    return int(min(memory // per_row // unit * unit, _round_up(source.n_rows, unit)))


def _scan_bytes(source: Source, mask: Source | None, objects: int) -> int:
    """What a row of ``source`` (and ``mask``) costs while its distinct names are found (SCAN_COPIES), a
    variable-length string's object taking ``objects`` bytes."""
    per_row = SCAN_COPIES * source.row_bytes + (objects if _held_as_objects(source) else 0)
    if mask is not None:  # the mask as read, as flags and their negation
        per_row += mask.row_bytes + 2
    return per_row


def _held_as_objects(source: Source) -> bool:
    """Whether the names ``source`` reads are variable-length strings, which h5py reads as a Python object each:
    a dataset's, or a compound table's field's (whose source's dtype is the table's, a compound)."""
    if isinstance(source, Fields):
        return any(source.ds.dtype.fields[name][0].kind == "O" for name in source.fields)
    return source.dtype.kind == "O"


def _unit(source: Source, mask: Source | None) -> int:
    """The rows of a whole chunk of ``source`` and ``mask``."""
    return max(1, source.unit_rows, mask.unit_rows if mask is not None else 1)


def object_bytes(values: np.ndarray) -> int:
    """What each of the Python objects ``values`` (variable-length strings, as h5py makes them) takes: their
    mean size over up to FIRST_ROWS of them, rounded up to the allocator's 16 bytes (a label's characters
    count: OBJECT_BYTES is the size of a short one's)."""
    some = values[:FIRST_ROWS]
    if not len(some):
        return OBJECT_BYTES
    mean = sum(map(sys.getsizeof, some)) / len(some)
    return int(-(-mean // 16) * 16)


def name_bytes(names: list[str]) -> int:
    """What the Python object h5py makes of a variable-length string that holds one of ``names`` takes at
    most (its bytes, as ``object_bytes`` counts them)."""
    most = max((sys.getsizeof(n.encode("utf-8", "surrogatepass")) for n in names), default=sys.getsizeof(b""))
    return int(-(-most // 16) * 16)


def _round_up(n: int, k: int) -> int:
    return max(k, -(-n // k) * k)


def _flags(values: np.ndarray) -> np.ndarray:
    """A mask as read (bool, or integers: nonzero is set), flat."""
    return np.asarray(values).reshape(-1).astype(bool)


class TextLabels(Source):
    """A one-column source of names, read as the codes of ``names`` (float64, so NaN can stand for none): the
    ``missing`` marker (pandas' ``nan_rep``) and the entries ``mask`` marks (AnnData's nullable strings) are
    missing labels, read as NaN."""

    def __init__(self, inner: Source, names: list[str], where: str, missing: str | None = None,
                 mask: Source | None = None):
        super().__init__(inner.ds, inner.names, inner.n_rows, inner.unit_rows)
        self.inner, self.where, self.missing, self.mask = inner, where, missing, mask
        self.classes = np.array(names, dtype=str)
        self.order = np.argsort(self.classes, kind="stable")  # a model's classes need not be sorted as text

    @property
    def row_axis(self) -> int:
        return self.inner.row_axis

    @property
    def row_bytes(self) -> int:
        """What a row costs while read (``read_spans``), which sizes the reads of a block (sources.py
        ``rows_per_read``): a block's names are read in pieces that take no more than its codes.  A valid
        row's variable-length string is one of the classes or the missing marker (an unknown name stops the
        run)."""
        objects = name_bytes(self.classes.tolist() + ([self.missing] if self.missing is not None else []))
        return _scan_bytes(self.inner, self.mask, objects) + CODE_BYTES

    def stored(self):
        return self.inner.stored() + (self.mask.stored() if self.mask is not None else [])

    def read_spans(self, spans):
        """The codes of the rows' names; each distinct value of the rows is decoded to text and looked up once
        (a block of a million rows holds a few names: as text, every row would cost several times its stored
        bytes, beyond what --memory counts for a label)."""
        stored, each = np.unique(np.asarray(self.inner.read_spans(spans)).reshape(-1), return_inverse=True)
        each = each.reshape(-1)
        text = _text(stored)  # the distinct values, in order
        absent = (text == self.missing)[each] if self.missing is not None else np.zeros(len(each), dtype=bool)
        if self.mask is not None:
            absent |= _flags(self.mask.read_spans(spans))
        ordered = self.classes[self.order]
        at = np.minimum(np.searchsorted(ordered, text), max(len(self.classes) - 1, 0))
        unknown = (ordered[at] != text if len(self.classes) else np.ones(len(text), dtype=bool))[each] & ~absent
        if unknown.any():
            k = int(np.flatnonzero(unknown)[0])
            raise InputError(f"{self.where}: label {quoted(text[each[k]])} is not one of the classes "
                             f"({', '.join(self.classes[:12])}{', ...' if len(self.classes) > 12 else ''})")
        codes = self.order[at].astype(np.float64)[each] if len(self.classes) else np.zeros(len(each))
        codes[absent] = np.nan
        return codes.reshape(-1, 1)


class Masked(Source):
    """A column of numbers (``inner``) and its ``mask`` (AnnData's nullable integers and booleans: ``values``
    and ``mask``, set where the value is missing), read as float64, a masked entry as NaN (a bad label)."""

    def __init__(self, inner: Source, mask: Source):
        super().__init__(inner.ds, inner.names, inner.n_rows, inner.unit_rows)
        self.inner, self.mask = inner, mask

    @property
    def row_axis(self) -> int:
        return self.inner.row_axis

    def stored(self):
        return self.inner.stored() + self.mask.stored()

    def read_spans(self, spans):
        values = np.asarray(self.inner.read_spans(spans), dtype=np.float64).reshape(-1, 1)
        values[_flags(self.mask.read_spans(spans))] = np.nan
        return values


class Codes(Source):
    """A categorical column (``inner``, its codes) as labels: each code is read as the code of its category's
    name among ``names`` (the sorted names, or a model's classes), so codes follow names, not the order of the
    file's ``categories``; -1 (a missing value) is read as NaN, a bad label."""

    def __init__(self, inner: Source, categories: list[str], names: list[str], where: str):
        super().__init__(inner.ds, inner.names, inner.n_rows, inner.unit_rows)
        self.inner, self.where, self.categories, self.known = inner, where, categories, names
        index = {n: i for i, n in enumerate(names)}
        self.remap = np.array([index.get(c, -1) for c in categories], dtype=np.float64)

    @property
    def row_axis(self) -> int:
        return self.inner.row_axis

    def read_spans(self, spans):
        codes = np.asarray(self.inner.read_spans(spans)).astype(np.int64).reshape(-1)
        out = np.full(len(codes), np.nan)
        ok = codes != -1
        bad = ok & ((codes < 0) | (codes >= len(self.categories)))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            row = int(np.concatenate([np.arange(a, b) for a, b in spans])[k])
            raise InputError(f"{self.where}: code {int(codes[k])} at row {row} has no category ({len(self.categories)} "
                             f"categories: codes 0 to {len(self.categories) - 1}, and -1 for a missing value)")
        out[ok] = self.remap[codes[ok]]
        if (out[ok] < 0).any():
            name = self.categories[int(codes[ok][out[ok] < 0][0])]
            raise InputError(f"{self.where}: label {quoted(name)} is not one of the classes "
                             f"({', '.join(self.known[:12])}{', ...' if len(self.known) > 12 else ''})")
        return out.reshape(-1, 1)


def categorical_labels(inner: Source, categories, where: str, classes: list[str] | None
                       ) -> tuple[Codes, list[str]]:
    """A categorical's codes read as names: of ``classes`` where given, else of its categories (an array as
    stored, or names) sorted: as numbers where they are stored as numbers (2 before 10), else as text."""
    values = np.asarray(categories)
    names = [text_of(v) for v in (values.tolist() if values.ndim == 1 else categories)]
    if classes is None and values.ndim == 1 and values.dtype.kind in "iuf":
        classes = list(dict.fromkeys(names[k] for k in np.argsort(values, kind="stable")))
    if classes is None:
        classes = sorted(set(names))
    return Codes(inner, names, classes, where), classes


def text_labels(source: Source, where: str, classes: list[str] | None, missing: str | None = None,
                mask: Source | None = None, memory: int = DEFAULT_MEMORY) -> tuple[TextLabels, list[str]]:
    """Names read as codes: of ``classes`` where given, else of the column's own sorted names, found within
    ``memory`` (--memory); ``missing`` (the text that marks a missing value) and the entries ``mask`` sets are
    missing labels."""
    names = classes if classes is not None else scan_names(source, where, missing, mask, memory)
    return TextLabels(source, names, where, missing, mask), names
