"""The layouts of a pandas frame (and Series) written by ``to_hdf``, as sources of columns.

- fixed format: the frame's blocks (one 2-D dataset per dtype), joined in the frame's column order
  (``axis0``); text blocks are pickled objects, never read; a block written empty is a one-element
  placeholder beside pandas' ``shape`` attribute, so a frame of no rows is told by that attribute;
- table format: one compound table (PyTables), its row index left out (the ``index`` field, and the
  levels of a MultiIndex, which pandas stores as columns and lists in the frame's ``levels``), every
  other field a block of columns whose names are pickled into attributes (pandasmeta); text columns
  share one field, of which each column can be read alone as labels (the frame's ``nan_rep``, "nan" by
  default, a missing one);
- in both, a datetime64 or timedelta64 column (int64 counts of the unit pandas' dtype attribute names) is
  no feature: its numbers change with the unit, which pandas picks from its input, and NaT is the
  smallest int64; such columns are left out, as text is;
- a Series: fixed format, a group of ``index`` and ``values``; table format, a table of ``index`` and
  one field, the Series' name: read as labels (data/producers.py), never as features.
"""

from __future__ import annotations

import h5py
import numpy as np

from sgdcli.data.featurenames import CF_TIME, COORDINATE, DIMENSION_SCALE
from sgdcli.data.numeric import NUMERIC_KINDS
from sgdcli.data.pandasmeta import (frame_columns, index_fields, is_categorical, nan_rep, pickled_names,
                                    stored_shape, time_type)
from sgdcli.data.sources import Column, Fields, Found, Matrix, Source, text_of
from sgdcli.data.textlabels import is_text
from sgdcli.data.where import where_of
from sgdcli.errors import InputError

INDEX_LEVEL = "index level"  # Found.left_out: a level of the frame's row index, stored as a column
FRAME_TYPES = ("frame", "frame_table")
SERIES_TYPES = ("series", "series_table")


def pandas_type(obj) -> str:
    """What ``to_hdf`` wrote at ``obj`` (its ``pandas_type``: frame, frame_table, series, ...), "" for else."""
    return text_of(obj.attrs.get("pandas_type", b"")) if isinstance(obj, h5py.Group) else ""


def why_left_out(kind: str, label: bool = False) -> str:
    """Why a column of Found.left_out is no feature (nor, with ``label``, the label), to follow "column 'x' of
    FILE:KEY"."""
    if kind == DIMENSION_SCALE:
        return ("is a dimension scale, the rows' index (a netCDF/xarray coordinate), not a feature, so sgdcli leaves "
                "it out; to use its values, store them as a variable of another name (xarray: ds['t'] = ds['row'])")
    if kind == COORDINATE:
        return ("is a coordinate of the file's variables (listed in their CF coordinates attribute: an xarray "
                "coordinate that is not the rows' index), not a data variable, so sgdcli leaves it out; to use it, "
                "make it one (xarray: ds = ds.reset_coords('name'), and, where ds was read from a file, drop what "
                "its variables would write back: for v in ds.variables.values(): v.encoding.pop('coordinates', "
                "None))")
    if kind == CF_TIME:
        return ("holds CF times or durations (its units attribute: 'hours since 2024-01-01', or xarray's "
                "timedelta): counts of a unit, and from a date, that xarray picks for each file it writes, so the "
                "same times are other numbers in another file; sgdcli leaves it out: store it as numbers (e.g. "
                "seconds since a fixed date) to use it")
    if kind == INDEX_LEVEL:
        return ("is a level of the frame's row index (a MultiIndex), not a column; sgdcli leaves the index out "
                "(df.reset_index() makes its levels columns)")
    return (f"holds {kind} values; datetime and timedelta columns are not numeric features"
            + (" nor labels" if label else "") + " (their numbers are counts of a unit that pandas picks from its "
            "input, and NaT has none), so sgdcli leaves them out: convert one to numbers (e.g. seconds since a "
            "date) to use it")


def _names(ds: h5py.Dataset, where: str) -> list[str]:
    """A fixed-format list of column names (``axis0``, ``block<i>_items``); InputError where pandas pickled
    them (names that are not all strings nor all numbers, such as ``['a', 1]``)."""
    if ds.dtype.kind == "O" and not is_text(ds.dtype) or text_of(ds.attrs.get("kind", b"")) == "object":
        raise InputError(f"{where}: the frame's column names are pickled Python objects (pandas pickles names "
                         "that are not all text, such as text mixed with numbers), which sgdcli does not read (a "
                         "pickle can run code): make them text before to_hdf (df.columns = df.columns.astype(str)), "
                         "or write the frame with format='table'")
    return [text_of(v) for v in ds[()]]


def fixed_frame(g: h5py.Group) -> Found:
    """A frame of pandas' fixed format: its numeric blocks' columns in the frame's order; text blocks (pickled)
    are not read, datetime and timedelta blocks are left out; InputError for a frame of no rows, and for
    columns that are a MultiIndex or pickled names."""
    where = where_of(g)
    if any(text_of(v) == "multi" for k, v in g.attrs.items() if k == "axis0_variety" or
           (k.startswith("block") and k.endswith("_items_variety"))):
        raise InputError(f"{where}: the frame's columns are a pandas MultiIndex, which sgdcli does not read: "
                         "give the frame flat column names before to_hdf (e.g. df.columns = ['_'.join(map(str, c)) "
                         "for c in df.columns])")
    if "axis0" not in g:
        raise InputError(f"{where}: a pandas frame (fixed format) without its column names (axis0)")
    order = _names(g["axis0"], where)
    empty = _no_rows(g.get("axis1"))
    block_of: dict[str, tuple[int, int]] = {}
    blocks, text, left = [], {}, {}
    for b in range(int(g.attrs.get("nblocks", 0))):
        values = g[f"block{b}_values"]
        items = _names(g[f"block{b}_items"], where)
        empty = empty or _no_rows(values)
        kind = time_type(values.attrs.get("value_type"))
        if kind is not None:
            left.update((name, kind) for name in items)
            continue
        if values.dtype.kind not in NUMERIC_KINDS:
            text.update((name, None) for name in items)  # pickled objects: not read
            continue
        blocks.append(values)
        for j, name in enumerate(items):
            block_of[name] = (len(blocks) - 1, j)
    if empty:
        raise InputError(f"{where}: the frame is empty (0 rows × {len(order)} columns): nothing to read")
    sources: list[Source] = []
    for name in order:
        if name not in block_of:
            continue
        b, j = block_of[name]
        sources.append(Matrix(blocks[b], np.array([j]), [name]))
    return Found(_merge(sources), None, "pandas frame (fixed format)", plain=False, text=text, left_out=left)


def _no_rows(node) -> bool:
    """Whether pandas wrote ``node`` (a block, or the row index) empty: a placeholder beside a ``shape`` of no
    elements."""
    shape = stored_shape(node) if isinstance(node, h5py.Dataset) else None
    return shape is not None and int(np.prod(shape)) == 0


class CodedFields(Fields):
    """Fields of a table-format frame where some (``coded``) hold a Categorical's codes: a feature of its codes,
    whose missing value, code -1, is read as NaN (a non-finite feature, as NaN written plainly is)."""

    def __init__(self, ds, fields, names, cols=None, coded=frozenset()):
        super().__init__(ds, fields, names, cols)
        self.coded = frozenset(coded)
        self.coded_at = np.array([k for k, (name, _) in enumerate(self.columns) if name in self.coded], dtype=np.int64)

    def _columns_of(self, stored):
        block = super()._columns_of(stored)
        coded_at = [k for k in self.coded_at if k not in self.recodes]  # (a recode reads -1, no code, as NaN)
        if not coded_at:
            return block
        block = block.astype(np.result_type(block.dtype, np.float32))
        part = block[:, coded_at]
        part[part == -1] = np.nan
        block[:, coded_at] = part
        return block


def table_frame(g: h5py.Group) -> Found:
    """A frame of pandas' table format: the value fields of its table in the frame's column order (its row index
    and datetime columns left out); its text columns, each readable as labels; its Categoricals."""
    table = g["table"]
    index = index_fields(g)
    fields, names, text, categorical, coded = [], [], {}, {}, set()
    # the levels of a MultiIndex, in its order (the plain index is no column)
    left = {name: INDEX_LEVEL for name in index if name != "index" and name in table.dtype.names}
    for name in table.dtype.names:
        kind = table.attrs.get(f"{name}_kind")
        base, shape = table.dtype.fields[name][0].base, table.dtype.fields[name][0].shape
        labels = pickled_names(kind) if kind is not None else None
        width = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if name in index:
            continue
        time = time_type(table.attrs.get(f"{name}_dtype"))
        if time is not None:
            left.update((label, time) for label in labels or [name])
            continue
        if base.kind not in NUMERIC_KINDS:  # a block of text columns: each a column of the field, read alone
            readable = is_text(base) and len(labels or [name]) == width
            text.update((label, Fields(table, [name], [label], np.array([j])) if readable else None)
                        for j, label in enumerate(labels or [name]))
            continue
        if width == 1 and is_categorical(table, name):
            categorical[(labels or [name])[0]] = name
            coded.add(name)
        fields.append(name)
        names += labels if labels and len(labels) == width else ([name] if width == 1 else
                                                                 [f"{name}[{i}]" for i in range(width)])
    frame = frame_columns(g.attrs.get("non_index_axes"))
    cols = np.arange(len(names))
    if frame:  # the frame's column order, where the file records it
        rank = {name: i for i, name in enumerate(frame)}
        cols = np.array(sorted(range(len(names)), key=lambda j: rank.get(names[j], len(frame) + j)))
    features = [CodedFields(table, fields, [names[j] for j in cols], cols, coded)] if fields else []
    return Found(features, None, "pandas frame (table format)", plain=False, text=text, categorical=categorical,
                 left_out=left, missing_text=nan_rep(g))


def series_values(g: h5py.Group, where: str) -> Column:
    """The values of a pandas Series of the fixed format (a group of ``index`` and ``values``) as one column;
    InputError where they cannot be labels (no rows, datetimes, pickled text)."""
    values = g.get("values")
    if not isinstance(values, h5py.Dataset) or values.ndim != 1:
        raise InputError(f"{where}: a pandas Series (fixed format) without its values")
    if _no_rows(values):
        raise InputError(f"{where}: the pandas Series is empty (0 rows): nothing to read")
    kind = time_type(values.attrs.get("value_type"))
    if kind is not None:
        raise InputError(f"{where}: a pandas Series of {kind} values, which sgdcli reads neither as labels nor "
                         "as features")
    if values.dtype.kind not in NUMERIC_KINDS and not is_text(values.dtype):
        raise InputError(f"{where}: a pandas Series of text, which pandas' fixed format pickles and sgdcli does "
                         "not read (a pickle can run code): write it with format='table', or the labels as numbers")
    return Column(values, where.rsplit(":", 1)[-1])


def series_rows(g: h5py.Group) -> int | None:
    """The rows of a pandas Series, without reading it; None where that cannot be told."""
    node = g.get("table") if pandas_type(g) == "series_table" else g.get("values")
    if not isinstance(node, h5py.Dataset) or node.ndim != 1:
        return None
    return 0 if _no_rows(node) else int(node.shape[0])


def _merge(sources: list[Source]) -> list[Source]:
    """Neighbouring one-column sources of the same matrix joined into one (read once per block)."""
    out: list[Source] = []
    for s in sources:
        last = out[-1] if out else None
        if isinstance(s, Matrix) and isinstance(last, Matrix) and last.ds == s.ds and last.transposed == s.transposed:
            out[-1] = Matrix(s.ds, np.concatenate([last.cols, s.cols]), last.names + s.names, s.transposed)
        else:
            out.append(s)
    return out
