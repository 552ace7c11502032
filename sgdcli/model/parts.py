"""Reading the parts of a model file, each checked for its kind as it is read.

HDF5 hands on whatever a file holds: an attribute that is an array, a group where a dataset belongs, text in a
dataset of numbers, bytes that are not UTF-8.  Read blindly, each failed somewhere inside Python with text that
did not name the part ("could not convert string to float"), or passed unnoticed (a ``format_version`` of 1.5).
Here each part is read for what it must be, and ``Damaged`` says which part is wrong and how; damage.py then
checks that the parts fit together.
"""

from __future__ import annotations

import json

import h5py
import numpy as np

from sgdcli.data.hdf5 import READ_ERRORS
from sgdcli.data.unwritten import unwritten
from sgdcli.errors import first_line


class Damaged(Exception):
    """A part of a model file that is not what it must be; the text says which and how."""


def read(what: str, fn):
    """``fn()``, which reads ``what`` with h5py, or Damaged naming ``what`` where HDF5 cannot read it (a corrupt
    file)."""
    try:
        return fn()
    except READ_ERRORS as exc:
        reason = f"HDF5: {first_line(exc)}" if isinstance(exc, OSError) else "its metadata is corrupt"
        raise Damaged(f"{what} cannot be read ({reason})") from None


def has_attr(node, name: str) -> bool:
    return bool(read(f"attribute {name}", lambda: name in node.attrs))


def _attr(node, name: str, default, where: str):
    """(how messages name the attribute ``name``, its value, whether it is absent: then ``default``, or Damaged
    where ``default`` is None)."""
    label = f"attribute {where}{name}"
    if not has_attr(node, name):
        if default is None:
            raise Damaged(f"no attribute {where}{name}")
        return label, default, True
    return label, read(label, lambda: node.attrs[name]), False


def text_attr(node, name: str, default: str | None = None, where: str = "") -> str:
    """The text attribute ``name`` of ``node`` (variable- or fixed-length, str or bytes), UTF-8; ``default``
    where it is absent (None: it must be there)."""
    label, value, absent = _attr(node, name, default, where)
    if absent:
        return value
    if isinstance(value, np.ndarray):
        if value.shape != () or value.dtype.kind not in "OSU":
            raise Damaged(f"{label} is {_kind(value)}, not text")
        value = value[()]
    if isinstance(value, (bytes, np.bytes_)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise Damaged(f"{label} holds bytes that are not UTF-8 text") from None
    if not isinstance(value, str):
        raise Damaged(f"{label} is {_kind(value)}, not text")
    try:
        value.encode("utf-8")  # h5py hands bytes that are not UTF-8 on as surrogates
    except UnicodeError:
        raise Damaged(f"{label} holds bytes that are not UTF-8 text") from None
    return value


def int_attr(node, name: str, lowest: int, default: int | None = None, where: str = "") -> int:
    """The integer attribute ``name`` (``lowest`` or more); ``default`` where it is absent (None: required)."""
    label, value, absent = _attr(node, name, default, where)
    if absent:
        return value
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise Damaged(f"{label} is {_shown(value)}, not an integer")
    if value < lowest:
        raise Damaged(f"{label} is {int(value)}, not {lowest} or more")
    return int(value)


def json_attr(node, name: str):
    text = text_attr(node, name)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Damaged(f"attribute {name} is not JSON ({exc.msg} at character {exc.pos})") from None


def dataset(node, name: str, numbers: bool = True, required: bool = True, where: str = "") -> np.ndarray | None:
    """The dataset ``name`` of ``node`` read whole (as float64 with ``numbers``); None where it is absent and
    not ``required``; Damaged where any of it was never written (HDF5 reads that as the fill value, parameters
    no run trained)."""
    label = f"{where}{name}"
    obj = read(label, lambda: node.get(name, getlink=True))
    if obj is None:
        if required:
            raise Damaged(f"no dataset {label}")
        return None
    item = read(label, lambda: node.get(name))
    if item is None:
        raise Damaged(f"{label} is an external link to a file or object that is not there"
                      if isinstance(obj, h5py.ExternalLink) else f"{label} is a link to nothing")
    if not isinstance(item, h5py.Dataset):
        raise Damaged(f"{label} is a group, not a dataset" if isinstance(item, h5py.Group) else
                      f"{label} is not a dataset")
    dtype = read(label, lambda: item.dtype)  # a corrupt type (an exponent bias no NumPy float has) fails here
    if numbers and dtype.kind not in "biuf":
        raise Damaged(f"{label} holds {_dtype_kind(dtype)}, not numbers")
    missing = read(label, lambda: unwritten(item))
    if missing is not None:
        raise Damaged(missing.message(label, unit="row" if item.ndim > 1 else "entry", allowed=False))
    value = read(label, lambda: item[()])
    return np.asarray(value, dtype=np.float64) if numbers else np.asarray(value)


def group(node, name: str) -> h5py.Group | None:
    obj = read(name, lambda: node.get(name))
    if obj is not None and not isinstance(obj, h5py.Group):
        raise Damaged(f"{name} is a dataset, not a group")
    return obj


def _dtype_kind(dtype: np.dtype) -> str:
    if dtype.kind in "OSU" or h5py.check_string_dtype(dtype) is not None:
        return "text"
    if dtype.names:
        return "records (a compound type)"
    return f"values of type {dtype.str}"


def _kind(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of {value.size} value{'s' * (value.size != 1)}"
    if isinstance(value, (int, float, np.number)):
        return f"the number {_shown(value)}"
    return f"of type {type(value).__name__}"


def _shown(value) -> str:
    if isinstance(value, (bytes, np.bytes_)):
        value = bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, np.ndarray):
        return _kind(value)
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)
