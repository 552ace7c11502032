"""Columns of a feature table stored the ways other tools store them, read in row blocks.

A table's features can come from several datasets (pandas' blocks, one 1-D
dataset per column), from the fields of a compound dataset (PyTables,
pandas' table format), or from a matrix stored column-major (MATLAB v7.3);
and a label can be one of those columns.  Each ``Source`` reads rows
[start, stop) of its columns; ``ComposedReader`` lays the sources' columns
side by side in a block buffer, so such a table is read block by block like
a compressed dataset (never whole), and takes part in the page shuffle in
runs of ``unit_rows``.  A CF-packed netCDF variable (data/cf.py) is read
this way too, each block decoded as it is read.
"""

from __future__ import annotations

import dataclasses
import math

import h5py
import numpy as np

from sgdcli.data import chunks
from sgdcli.data import layout as layout_mod
from sgdcli.data.cf import packing_of
from sgdcli.data.numeric import NUMERIC_KINDS, cast_into
from sgdcli.data.where import where_of
from sgdcli.errors import InputError, first_line

COMPOSED = "column blocks read through HDF5"
GROUP_BYTES = 8 << 20  # the most stored bytes read at once: bounded scratch beside the block or window


def text_of(value) -> str:
    """A text attribute or value as other tools write them (bytes or str), bytes that are not UTF-8 replaced."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _unit(ds: h5py.Dataset, axis: int) -> int:
    """Rows best read together along ``axis`` of ``ds``: a chunk; 1 (anywhere) where it is not chunked."""
    return int(ds.chunks[axis]) if ds.chunks else 1


class Source:
    """Some columns of a table, from one dataset."""

    names: list[str]
    ds: h5py.Dataset

    def __init__(self, ds: h5py.Dataset, names: list[str], n_rows: int, unit_rows: int):
        self.ds, self.names, self.n_rows, self.unit_rows = ds, names, n_rows, unit_rows
        self.packing = packing_of(ds)  # CF packing: blocks are decoded as they are read

    @property
    def dtype(self) -> np.dtype:
        """The type of the values read: as stored, or as decoded from CF packing."""
        return self.ds.dtype if self.packing is None else self.packing.dtype

    @property
    def width(self) -> int:
        return len(self.names)

    @property
    def row_axis(self) -> int:
        """The dataset's axis along which the table's rows run."""
        return 1 if getattr(self, "transposed", False) else 0

    def stored(self) -> list[tuple[h5py.Dataset, int]]:
        """Every dataset whose rows this source reads, each with the axis its rows run along: what
        data/unwritten.py checks (a mask read beside the values too)."""
        return [(self.ds, self.row_axis)]

    def columns_read(self, ds: h5py.Dataset) -> np.ndarray | None:
        """The columns of ``ds`` (one of ``stored``) this source reads, where not all: data/unwritten.py checks
        the chunks that hold them only."""
        return None

    @property
    def row_bytes(self) -> int:
        """Bytes of one row of the dataset as stored (all its columns, wanted or not)."""
        axis = self.row_axis
        others = int(np.prod([s for i, s in enumerate(self.ds.shape) if i != axis], dtype=np.int64))
        return max(1, others * max(self.ds.dtype.itemsize, self.dtype.itemsize))

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) of these columns, (rows × width), in the dataset's own type (decoded where CF-packed)."""
        return self.read_spans([(start, stop)])

    def read_spans(self, spans: list[tuple[int, int]]) -> np.ndarray:
        """The rows of the sorted, disjoint ``spans``, laid end to end, (rows × width): one union read
        (``read_union``); in the dataset's own type, or decoded where it is CF-packed."""
        try:
            block = self._columns_of(read_union(self.ds, spans, self.row_axis))
        except (OSError, RuntimeError, ValueError, TypeError, KeyError) as exc:
            missing = layout_mod.unavailable_filter(self.ds)  # HDF5's own text names neither filter nor dataset
            raise InputError(f"{where_of(self.ds)}: " + (missing or f"cannot read rows {spans[0][0]}-{spans[-1][1]} "
                                                                    f"({first_line(exc)})")) from None
        return block if self.packing is None else self.packing.decode(block)

    def _columns_of(self, stored: np.ndarray) -> np.ndarray:
        """These columns of rows read as stored."""
        raise NotImplementedError


def read_union(ds: h5py.Dataset, spans: list[tuple[int, int]], axis: int, out: np.ndarray | None = None
               ) -> np.ndarray:
    """The rows (along ``axis``) of the sorted, disjoint ``spans`` of ``ds``, as stored, laid end to end: a union
    of hyperslabs per read, so HDF5 makes one pass for many short runs of rows instead of a call each, in the
    groups ``chunks.reads`` cuts (a union of many spans or of whole chunks costs more than reads of its parts;
    HDF5 holds bookkeeping for every chunk a read touches).
    ``out``: where to put them (C-contiguous, of their shape), converted by HDF5 to its type where it differs,
    which only a type that holds every stored value exactly may (an integer widened)."""
    shape = tuple(int(s) for s in ds.shape)

    def slab(start: int, count: int) -> tuple[tuple, tuple]:
        """The start and count of ``count`` rows from ``start`` along ``axis``, whole along the other axes."""
        return (tuple(start if i == axis else 0 for i in range(len(shape))),
                tuple(count if i == axis else s for i, s in enumerate(shape)))

    out_shape = slab(0, sum(b - a for a, b in spans))[1]
    out = np.empty(out_shape, dtype=ds.dtype) if out is None else out
    at = 0
    for group in chunks.reads(ds, spans, axis):
        space = ds.id.get_space()
        space.select_none()
        for a, b in group:
            space.select_hyperslab(*slab(a, b - a), op=h5py.h5s.SELECT_OR)
        n = sum(b - a for a, b in group)
        memory = h5py.h5s.create_simple(out_shape)
        memory.select_hyperslab(*slab(at, n))  # where the group's rows go in ``out``
        ds.id.read(memory, space, out)
        at += n
    return out


def rows_per_read(source: Source, budget: int) -> int:
    """Rows of ``source`` read at once where at most ``budget`` bytes of stored rows are to be in memory: whole
    read units (chunks), one at least, so that every chunk is read once."""
    unit = max(1, source.unit_rows)
    return max(unit, budget // source.row_bytes // unit * unit)


def _reads(ranges: list[tuple[int, int]], places: list[int], cap: int):
    """The rows of ``ranges`` (bound for rows ``places`` on) in file order, as reads of at most ``cap`` rows:
    lists of (place, start, stop).  A range longer than that is cut at multiples of ``cap`` rows of the file
    (whole read units where ``cap`` is)."""
    group, rows = [], 0
    for i in sorted(range(len(ranges)), key=lambda i: ranges[i][0]):
        (a, b), p = ranges[i], int(places[i])
        while a < b:
            end = min(b, (a // cap + 1) * cap)
            if group and rows + end - a > cap:
                yield group
                group, rows = [], 0
            group.append((p, a, end))
            rows += end - a
            p, a = p + end - a, end
    if group:
        yield group


def _places(pieces: list[tuple[int, int, int]]) -> slice | np.ndarray:
    """Where the rows of the (place, start, stop) ``pieces`` of one read go: a slice for one piece, else their
    row numbers."""
    if len(pieces) == 1:
        (p, a, b), = pieces
        return slice(p, p + b - a)
    return np.concatenate([np.arange(p, p + b - a) for p, a, b in pieces])


class Matrix(Source):
    """Columns ``cols`` of a 2-D dataset of rows × columns, or of columns × rows where ``transposed`` (MATLAB)."""

    def __init__(self, ds: h5py.Dataset, cols: np.ndarray, names: list[str], transposed: bool = False):
        n = int(ds.shape[1] if transposed else ds.shape[0])
        width = int(ds.shape[0] if transposed else ds.shape[1])
        super().__init__(ds, names, n, _unit(ds, 1 if transposed else 0))
        self.cols, self.transposed = np.asarray(cols, dtype=np.int64), transposed
        self.all = len(self.cols) == width and np.array_equal(self.cols, np.arange(width))

    def _columns_of(self, stored):
        block = stored.T if self.transposed else stored
        return block if self.all else block[:, self.cols]

    def columns_read(self, ds: h5py.Dataset) -> np.ndarray | None:
        return None if self.all or ds is not self.ds else self.cols


class Column(Source):
    """One column: a 1-D dataset, or an (N, 1) one."""

    def __init__(self, ds: h5py.Dataset, name: str):
        super().__init__(ds, [name], int(ds.shape[0]), _unit(ds, 0))

    def _columns_of(self, stored):
        return np.asarray(stored).reshape(-1, 1)


class Fields(Source):
    """Fields of a compound dataset (a table): scalar fields are a column each, vector fields one per element.

    ``cols`` picks columns of the fields laid end to end; only the fields they
    touch are read.
    """

    def __init__(self, ds: h5py.Dataset, fields: list[str], names: list[str], cols: np.ndarray | None = None):
        super().__init__(ds, names, int(ds.shape[0]), _unit(ds, 0))
        self.fields = fields
        widths = [_field_width(ds, name) for name in fields]
        owner = [(name, i) for name, w in zip(fields, widths) for i in range(w)]
        self.cols = np.arange(len(owner)) if cols is None else np.asarray(cols, dtype=np.int64)
        self.columns = [owner[j] for j in self.cols]
        self._needed = [name for name in fields if any(c[0] == name for c in self.columns)]
        # columns read through the names of their categories (data/categories.py): column -> (the codes this
        # file holds, sorted; what each is read as, NaN for a category the model does not know)
        self.recodes: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _columns_of(self, stored):
        values = {name: np.asarray(stored[name]).reshape(len(stored), -1) for name in self._needed}
        if len(self.columns) == 1:
            name, i = self.columns[0]
            return _recoded(values[name][:, i:i + 1], self.recodes)
        kind = np.result_type(*values.values())
        block = np.empty((len(stored), len(self.columns)), dtype=kind)
        for k, (name, i) in enumerate(self.columns):
            block[:, k] = values[name][:, i]
        return _recoded(block, self.recodes)


def _recoded(block: np.ndarray, recodes: dict[int, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """``block`` with each column of ``recodes`` read as its codes' values there (NaN for a code not listed)."""
    if not recodes:
        return block
    out = block.astype(np.float64)
    for k, (codes, values) in recodes.items():
        column = out[:, k]
        at = np.minimum(np.searchsorted(codes, column), max(len(codes) - 1, 0))
        out[:, k] = np.where(codes[at] == column, values[at], np.nan) if len(codes) else np.nan
    return out


def _field_width(ds: h5py.Dataset, name: str) -> int:
    shape = ds.dtype.fields[name][0].shape
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


def numeric_fields(ds: h5py.Dataset) -> tuple[list[tuple[str, int]], dict[str, np.dtype]]:
    """(field, width) of the numeric fields of a compound dataset (scalars and vectors), and the dtype of each
    other field."""
    numeric, other = [], {}
    for name in ds.dtype.names:
        kind = ds.dtype.fields[name][0]
        if kind.base.kind not in NUMERIC_KINDS or kind.base.fields is not None or len(kind.shape) > 1:
            other[name] = kind
        else:
            numeric.append((name, int(np.prod(kind.shape, dtype=np.int64)) if kind.shape else 1))
    return numeric, other


def not_a_feature(kind: np.dtype) -> str:
    """Why a compound field of dtype ``kind`` that ``numeric_fields`` did not take is no feature, to follow
    "field 'm' is <kind>": numbers in an array of two or more dimensions are numbers still."""
    if kind.base.fields is None and kind.base.kind in NUMERIC_KINDS:
        return f"an array of {len(kind.shape)} dimensions, not a scalar or 1-D field"
    return "not numeric"


class BufferedReader:
    """What the passes ask of a dataset reader (columns.ColumnReader) that has no memory map: rows are only
    ever read into buffers, so there is nothing to read in place, page in or ask the page cache about."""

    random_access = False
    zero_copy = False
    squeezed = False

    def in_place(self):
        return None

    def cached(self, *_args, **_kw) -> bool:
        return False

    def preload(self, start: int, stop: int) -> None:
        pass

    def page_in(self, *_args) -> None:
        pass

    def close(self) -> None:
        pass


class ComposedReader(BufferedReader):
    """Reads row ranges of the columns of ``sources`` side by side, as ``dtype``, in blocks (no memory map).

    A table made this way is read like one whose chunks HDF5 decodes.
    """

    def __init__(self, sources: list[Source], dtype, label: str, squeeze: bool = False):
        for source in sources:  # refused as the table opens, not at its first read, as columns.ColumnReader does
            problem = layout_mod.unavailable_filter(source.ds)
            if problem is not None:
                raise InputError(f"{where_of(source.ds)}: {problem}")
        for ds in {id(s.ds): s.ds for s in sources}.values():  # (a table's fields share their dataset)
            chunks.check_stored(ds)
        self.sources, self.dtype, self.label = sources, np.dtype(dtype), label
        self.names = [name for s in sources for name in s.names]
        self.width = len(self.names)
        self.row_shape = () if squeeze else (self.width,)
        units = [s.unit_rows for s in sources]
        lcm = math.lcm(*units)
        self.unit_rows = lcm if lcm <= 8 * max(units) else max(units)
        n = sources[0].n_rows
        self.layout = layout_mod.Layout(
            path=label, shape=(n, self.width), dtype=str(self.dtype), layout="composed",
            chunks=(self.unit_rows, self.width), compression=None,
            logical_bytes=n * self.width * self.dtype.itemsize, stored_bytes=0, offset=None, read_mode=COMPOSED)

    def read(self, start: int, stop: int, out: np.ndarray | None) -> np.ndarray:
        n = stop - start
        if out is None or out.shape[0] < n:
            out = np.empty((n, *self.row_shape), dtype=self.dtype)
        self._fill([(start, stop)], [0], out[:n].reshape(n, -1))
        return out[:n]

    def read_ranges(self, ranges: list[tuple[int, int]], out: np.ndarray) -> np.ndarray:
        """The row ranges laid end to end in ``out``, in the order given."""
        places = np.concatenate(([0], np.cumsum([b - a for a, b in ranges], dtype=np.int64)))
        total = int(places[-1])
        self._fill(ranges, places[:-1].tolist(), out[:total].reshape(total, -1))
        return out[:total]

    def _fill(self, ranges: list[tuple[int, int]], places: list[int], dest: np.ndarray) -> None:
        """Rows ``ranges[k]`` into ``dest`` from row ``places[k]`` on.

        A source reads whole stored rows (every column of a matrix, every
        field of a table, text included) and only then keeps its columns, so
        each reads its rows in file order in reads of at most as many stored
        bytes as ``dest`` holds (and GROUP_BYTES; a source's ``row_bytes``,
        which for names read as codes counts what they take while read,
        textlabels.py): a block's scratch is bounded by the share of
        --memory the block was given, however few of the stored columns it
        keeps.  Several ranges that fit are one HDF5
        read (a union of hyperslabs): a group of columns costs one read per
        column per group, not one per column per range; sources whose reads
        cover the same rows (a group's columns) share the groups' places.
        """
        budget = max(1, min(GROUP_BYTES, dest.nbytes))
        by_cap: dict[int, list[tuple[Source, np.ndarray]]] = {}  # rows per read -> the sources, their columns of dest
        at = 0
        for source in self.sources:
            by_cap.setdefault(rows_per_read(source, budget), []).append((source, dest[:, at:at + source.width]))
            at += source.width
        for cap, members in by_cap.items():
            for pieces in _reads(ranges, places, cap):
                spans, rows = [(a, b) for _, a, b in pieces], _places(pieces)
                for source, part in members:
                    cast_into(part, source.read_spans(spans), rows=rows)

    def close(self) -> None:
        self.sources = []


def built(build, g: h5py.Group) -> Found:
    """``build(g)``: a pandas frame's columns, whose names and blocks it reads; where that fails for a compression
    filter this HDF5 lacks (pandas' complib='blosc' or 'bzip2'), InputError naming the filter and the dataset."""
    try:
        return build(g)
    except (OSError, RuntimeError, ValueError, KeyError, TypeError):
        missing = layout_mod.unavailable_in(g)
        if missing is None:
            raise
        raise InputError(f"{where_of(missing[0])}: {missing[1]}") from None


@dataclasses.dataclass
class Found:
    """The feature columns, the label column and the weight column of a table, as sources, with how they were
    found."""

    features: list[Source]
    label: Source | None
    kind: str  # what --x named: matrix, MATLAB matrix, compound table, pandas frame, column group
    plain: bool  # features are a whole rows × features dataset: read it directly (memory-mapped where it can be)
    # columns left out of the features because they hold text, each with its source where it can be read as
    # labels (None: pandas' fixed format pickles text, which is not read)
    text: dict = dataclasses.field(default_factory=dict)
    class_names: list[str] | None = None  # the label column's names, where labels are names
    categorical: dict = dataclasses.field(default_factory=dict)  # pandas Categoricals: column -> its codes' field
    # columns that are neither features nor text, with what they are (pandasframes.LEFT_OUT): a pandas frame's
    # datetime and timedelta columns, and the levels of its row index stored as columns of its table
    left_out: dict = dataclasses.field(default_factory=dict)
    missing_text: str | None = None  # the text that stands for a missing value in the text columns (nan_rep)
    # whether the columns have names of their own: False where all of them (before --features, the label
    # aside) are 0, 1, 2, ...
    named: bool = True
    weight: Source | None = None  # --weight-column's column, the rows' weights
