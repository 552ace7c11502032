"""Whether a pandas frame and a pandas Series stored apart (``--x X --y y``) hold their rows in one order.

pandas pairs a frame's rows with a Series' by their index (``df["y"] = y``
aligns them); sgdcli, reading two datasets, pairs them by position.  A label
Series written in another order (``y.sample(frac=1)``, one sorted apart, a
``groupby`` result) trained on labels that belong to other rows, a model no
better than chance, without a word.  Both objects keep their row index (the
fixed format's ``axis1`` or ``index``, the table format's ``index`` field), so
the two are compared where they are opened: on SPANS runs of SPAN_ROWS rows
spread over the file, the first and the last among them, so that the check
reads a few chunks of each and never a whole column (a table-format frame's
index is a field of its rows).  A Series shuffled, or sorted otherwise, differs
in the first run already.
"""

from __future__ import annotations

import h5py
import numpy as np

from sgdcli.data.pandasframes import pandas_type
from sgdcli.errors import InputError, quoted

SPANS = 16
SPAN_ROWS = 256


def row_index(node) -> h5py.Dataset | tuple[h5py.Dataset, str] | None:
    """Where the row index of the pandas frame or Series ``node`` is stored: a dataset (the fixed format's), or a
    table and its field (the table format's); None where ``node`` is no pandas object with a plain index (a
    MultiIndex, another producer's dataset)."""
    kind = pandas_type(node) if isinstance(node, h5py.Group) else ""
    if kind in ("frame", "series"):
        index = node.get("axis1" if kind == "frame" else "index")
        return index if isinstance(index, h5py.Dataset) and index.ndim == 1 else None
    if kind in ("frame_table", "series_table"):
        table = node.get("table")
        if isinstance(table, h5py.Dataset) and table.dtype.names and "index" in table.dtype.names:
            return table, "index"
    return None


def check_aligned(x, y, rows: int, x_where: str, y_where: str) -> None:
    """InputError where the pandas frame ``x`` and the pandas Series ``y`` (h5py groups, of ``rows`` rows each)
    hold different row indexes in the runs the module's docstring says; nothing where either is not such an
    object."""
    a, b = row_index(x), row_index(y)
    if a is None or b is None:
        return
    starts = np.unique(np.linspace(0, max(rows - SPAN_ROWS, 0), SPANS).astype(np.int64))
    for start in starts:
        stop = min(int(start) + SPAN_ROWS, rows)
        left, right = _read(a, int(start), stop), _read(b, int(start), stop)
        differs = np.flatnonzero(left != right) if left.dtype.kind == right.dtype.kind else np.arange(1)
        if len(differs):
            row = int(start) + int(differs[0])
            raise InputError(f"{x_where} and {y_where}: their row indexes differ (row {row:,}: "
                             f"{_value(left[differs[0]])} against {_value(right[differs[0]])}): pandas pairs a frame's "
                             "rows with a Series' by index, sgdcli by position; write the labels in the frame's "
                             "order (y.reindex(X.index)), or as a column of it (--label-column)")


def _read(where, start: int, stop: int) -> np.ndarray:
    if isinstance(where, tuple):
        table, field = where
        return table.fields(field)[start:stop]
    return where[start:stop]


def _value(value) -> str:
    """An index value as the message quotes it: text (pandas stores it as bytes) quoted, a number as it is."""
    if isinstance(value, bytes):
        return quoted(value.decode("utf-8", "replace"))
    return quoted(value) if isinstance(value, str) else str(value)
