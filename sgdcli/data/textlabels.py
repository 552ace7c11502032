"""Labels that are names: text columns, and categoricals with their categories, read as class codes.

The classes are the sorted distinct names (found by a pass over the column
when a table is opened for training), and a label is read as the code of
its name: 0, 1, ... in that order, so the rest of sgdcli sees numeric
classes and the model keeps the names (``training.class_names``).  Reading
another file for a model (``evaluate``, ``--val``) maps its names through the
model's classes, so the same name has the same code whatever else the file
holds; a name the model does not know is an error.
"""

from __future__ import annotations

import h5py
import numpy as np

from sgdcli.data.sources import Column, Source, where_of
from sgdcli.errors import InputError
from sgdcli.options import MAX_CLASSES

SCAN_ROWS = 1 << 20  # labels read at once by the pass that finds the names


def _text(values: np.ndarray) -> np.ndarray:
    """Names as a NumPy array of str (HDF5 gives bytes, or str for variable-length strings)."""
    flat = values.reshape(-1)
    if flat.dtype.kind == "S" or (flat.dtype.kind == "O" and len(flat) and isinstance(flat[0], bytes)):
        return np.char.decode(flat.astype("S"), "utf-8", "replace").astype(str)
    return flat.astype(str)


def is_text(dtype: np.dtype) -> bool:
    """Fixed-length bytes or text, or HDF5's variable-length strings."""
    return dtype.kind in "SU" or h5py.check_string_dtype(dtype) is not None


def scan_names(source: Source, where: str) -> list[str]:
    """The sorted distinct names of a text column, in one pass of SCAN_ROWS at a time."""
    names: set[str] = set()
    for start in range(0, source.n_rows, SCAN_ROWS):
        names.update(np.unique(_text(source.read(start, min(start + SCAN_ROWS, source.n_rows)))).tolist())
        if len(names) > MAX_CLASSES:
            raise InputError(f"{where}: more than {MAX_CLASSES} distinct names; a text label names classes")
    return sorted(names)


class TextLabels(Source):
    """A one-column source of names, read as the codes of ``names`` (float64, so NaN can stand for none)."""

    def __init__(self, inner: Source, names: list[str], where: str):
        super().__init__(inner.ds, inner.names, inner.n_rows, inner.unit_rows)
        self.inner, self.where = inner, where
        self.classes = np.array(names, dtype=str)

    @property
    def row_axis(self) -> int:
        return self.inner.row_axis

    def read_spans(self, spans):
        text = _text(self.inner.read_spans(spans))
        codes = np.searchsorted(self.classes, text)
        codes = np.minimum(codes, max(len(self.classes) - 1, 0))
        unknown = self.classes[codes] != text if len(self.classes) else np.ones(len(text), dtype=bool)
        if unknown.any():
            k = int(np.flatnonzero(unknown)[0])
            raise InputError(f"{self.where}: label {str(text[k])!r} is not one of the classes "
                             f"({', '.join(self.classes[:12])}{', ...' if len(self.classes) > 12 else ''})")
        return codes.astype(np.float64).reshape(-1, 1)


class Codes(Column):
    """A categorical column's codes as labels (AnnData ``obs``, with its ``categories``); -1 (a missing value)
    is read as NaN, a bad label.  With ``names`` (another file's classes), each code is mapped to the code of
    its category's name among them."""

    def __init__(self, ds, name: str, categories: list[str], names: list[str] | None = None):
        super().__init__(ds, name)
        self.categories = categories
        self.remap = None
        if names is not None:
            index = {n: i for i, n in enumerate(names)}
            self.remap = np.array([index.get(c, -1) for c in categories], dtype=np.float64)
            self.known = names

    def _columns_of(self, stored):
        codes = np.asarray(stored).astype(np.int64).reshape(-1)
        out = np.full(len(codes), np.nan)
        ok = codes >= 0
        out[ok] = codes[ok] if self.remap is None else self.remap[codes[ok]]
        if self.remap is not None and (out[ok] < 0).any():
            name = self.categories[int(codes[ok][out[ok] < 0][0])]
            raise InputError(f"{where_of(self.ds)}: label {str(name)!r} is not one of the classes "
                             f"({', '.join(self.known[:12])}{', ...' if len(self.known) > 12 else ''})")
        return out.reshape(-1, 1)
