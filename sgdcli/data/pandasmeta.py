"""What pandas and PyTables keep beside a table-format frame: column names pickled into attributes (read
without running code), and the categories of its Categorical columns.

PyTables stores a frame's column lists as Python pickles (protocol 0). A pickle
can run code, so they are read with an unpickler that builds lists, tuples,
dicts and strings only and refuses anything that names a class.

A Categorical column is stored in the table as its codes (a field whose
``<field>_meta`` attribute is "category"; -1 is a missing value), and its
categories as a table-format series of their own, ``meta/<field>/meta``
under the frame's group, one row per code, in code order.
"""

from __future__ import annotations

import io
import pickle

import h5py
import numpy as np

from sgdcli.data.sources import text_of
from sgdcli.data.unwritten import refuse_unwritten
from sgdcli.data.where import where_of
from sgdcli.errors import InputError


class _NoClasses(pickle.Unpickler):
    """Reads the lists and strings PyTables pickles into attributes, and nothing that names a class."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing {module}.{name}")


def unpickled(value):
    """What a pickled attribute holds, where it is made of lists, tuples, dicts and strings only; else None."""
    try:
        return _NoClasses(io.BytesIO(bytes(value))).load()
    except Exception:  # noqa: BLE001 - anything unreadable, or naming a class, is "no names"
        return None


def pickled_names(value) -> list[str] | None:
    """A pickled list of names (a field's ``<field>_kind``: the frame columns it holds), else None."""
    out = unpickled(value)
    return [text_of(v) for v in out] if isinstance(out, list) else None


def frame_columns(value) -> list[str] | None:
    """pandas' ``non_index_axes``: [(axis, [column names])], as the column names; else None."""
    out = unpickled(value) if value is not None else None
    try:
        return [text_of(v) for v in out[0][1]]
    except (TypeError, IndexError, KeyError):
        return None


def is_categorical(table: h5py.Dataset, field: str) -> bool:
    """Whether ``field`` of a frame's table holds a Categorical's codes."""
    return text_of(table.attrs.get(f"{field}_meta", b"")) == "category"


def categories(frame: h5py.Group, field: str, where: str) -> np.ndarray:
    """The categories of the Categorical whose codes are ``field`` of the frame's table, in code order, as
    stored (text, or numbers); InputError naming ``where`` (the column) where they cannot be read."""
    path = f"meta/{field}/meta/table"
    try:
        series = frame.get(path)
        if isinstance(series, h5py.Dataset):
            refuse_unwritten(series, where_of(series), "category")
        rows = series[()] if isinstance(series, h5py.Dataset) and series.dtype.names else None
    except (OSError, RuntimeError, ValueError, TypeError, KeyError):
        rows = None
    if rows is None or "values" not in rows.dtype.names or rows["values"].ndim != 1:
        raise InputError(f"{where}: is a pandas Categorical whose categories ({frame.name.lstrip('/')}/{path}) "
                         "cannot be read")
    if "index" in rows.dtype.names:
        rows = rows[np.argsort(rows["index"], kind="stable")]
    return rows["values"]


def stored_shape(node) -> tuple[int, ...] | None:
    """pandas' ``shape`` attribute (a pickled tuple): the true shape of an array written empty, which pandas
    stores as a one-element placeholder; None where there is none."""
    value = node.attrs.get("shape")
    out = unpickled(value) if value is not None else None
    if isinstance(out, tuple) and all(isinstance(v, int) for v in out):
        return out
    return None


TIME_TYPES = ("datetime64", "timedelta64")  # stored as int64 counts of a unit, which pandas' dtype names


def time_type(text) -> str | None:
    """The dtype that pandas recorded (``value_type`` of a fixed-format block, ``<field>_dtype`` of a table
    field), where it is a datetime or timedelta one (``datetime64[ns]``, ``timedelta64``, ...); else None."""
    name = text_of(text) if text is not None else ""
    return name if name.startswith(TIME_TYPES) else None


def index_fields(frame: h5py.Group) -> list[str]:
    """The fields of a table-format frame's table that hold its row index: those ``index_cols`` names (the
    ``index`` field), and the levels of a MultiIndex, which pandas stores as data columns and lists in
    ``levels`` (a plain index has ``levels = 1``)."""
    out = []
    cols = unpickled(frame.attrs["index_cols"]) if "index_cols" in frame.attrs else None
    if isinstance(cols, list):
        out += [text_of(c[1]) for c in cols if isinstance(c, tuple) and len(c) == 2]
    levels = unpickled(frame.attrs["levels"]) if "levels" in frame.attrs and isinstance(
        frame.attrs["levels"], (bytes, np.bytes_)) else None
    if isinstance(levels, list):
        out += [text_of(v) for v in levels]
    return out or ["index"]


def nan_rep(frame: h5py.Group) -> str:
    """The text a table-format frame writes for a missing value of a text column (``nan_rep``; pandas'
    default "nan"), which pandas reads back as missing."""
    value = frame.attrs.get("nan_rep")
    return "nan" if value is None else text_of(value)
