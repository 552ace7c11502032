"""What MATLAB v7.3 (``save -v7.3``, hdf5storage) writes besides numeric matrices, as MATLAB means it.

MATLAB stores an array column-major, so its m × n is an HDF5 dataset of n × m,
with the class in the ``MATLAB_class`` attribute:

- ``char``: UTF-16 code units (uint16, ``MATLAB_int_decode`` 2).  A label per
  MATLAB row, N × k (names padded with spaces to one length), is HDF5's k × N;
  read as N names, the padding stripped.  A 1 × N·k row (hdf5storage writes a
  NumPy array of N strings of k characters so) is N names of k characters
  where N is the labels' row count.
- ``cell``: references to other datasets, one per element: not read.
- a sparse matrix: a group of ``data``, ``ir`` (row indices) and ``jc``
  (column offsets), stored by columns, with ``MATLAB_sparse`` (its row
  count): not read.
- an empty array: ``MATLAB_empty`` 1, the dataset holding its dimensions.
- a complex array: a compound of ``real`` and ``imag``: not read.
"""

from __future__ import annotations

import h5py
import numpy as np

from sgdcli.data.sources import Source, text_of
from sgdcli.data.where import where_of
from sgdcli.errors import InputError

COLUMNS, ROWS, RUN = "columns", "rows", "run"  # a name per HDF5 column (MATLAB row), per HDF5 row, k codes in a run


def matlab_class(obj) -> str | None:
    """The ``MATLAB_class`` of a dataset or group, or None."""
    value = obj.attrs.get("MATLAB_class") if isinstance(obj, (h5py.Dataset, h5py.Group)) else None
    return None if value is None else text_of(value)


def problem(obj, where: str) -> str | None:
    """Why a MATLAB array that is not a numeric or char matrix cannot be read, and what to do; or None."""
    if not isinstance(obj, (h5py.Dataset, h5py.Group)) or matlab_class(obj) is None:
        return None
    if isinstance(obj, h5py.Group) and "MATLAB_sparse" in obj.attrs:
        return (f"{where}: is a MATLAB sparse matrix (data, ir, jc: stored by columns), which sgdcli does not read; "
                "save it full (full(X)) or write it as a CSR matrix (scipy: csc_matrix((data, ir, jc)).tocsr(), "
                "docs/sparse.md)")
    if not isinstance(obj, h5py.Dataset):
        return None
    if obj.attrs.get("MATLAB_empty") is not None and int(np.asarray(obj.attrs["MATLAB_empty"]).reshape(-1)[0]):
        try:
            dims = " × ".join(str(int(v)) for v in np.asarray(obj[()]).reshape(-1))
        except (OSError, RuntimeError, ValueError, TypeError):
            dims = "empty"
        return f"{where}: is an empty MATLAB array ({dims}): it has no rows"
    if obj.dtype.names is not None and set(obj.dtype.names) == {"real", "imag"}:
        return (f"{where}: is a MATLAB complex array (real and imag parts), which sgdcli does not read: save real "
                "numbers (its real() and imag() as arrays or columns of their own)")
    if matlab_class(obj) == "cell":
        return (f"{where}: is a MATLAB cell array (each element a reference to another dataset), which sgdcli does "
                "not read; save the labels as a numeric vector, or as a char matrix (char(y) in MATLAB)")
    return None


class Chars(Source):
    """A MATLAB char array read as names, one per row of the table: (rows × 1) of str, MATLAB's space padding
    stripped."""

    def __init__(self, ds: h5py.Dataset, name: str, layout: str, width: int):
        self.layout, self.chars = layout, width
        n = int(ds.shape[1] if layout == COLUMNS else ds.shape[0] // (width if layout == RUN else 1))
        super().__init__(ds, [name], n, int(ds.chunks[1 if layout == COLUMNS else 0]) if ds.chunks else 1)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(f"U{self.chars}")

    @property
    def row_axis(self) -> int:
        return 1 if self.layout == COLUMNS else 0

    def read_spans(self, spans):
        if self.layout == RUN:  # row i is codes [i·k, (i+1)·k)
            return super().read_spans([(a * self.chars, b * self.chars) for a, b in spans])
        return super().read_spans(spans)

    def _columns_of(self, stored):
        codes = np.asarray(stored)
        codes = codes.T if self.layout == COLUMNS else codes.reshape(-1, self.chars)
        names = np.ascontiguousarray(codes, dtype=np.uint32).view(f"U{self.chars}").reshape(-1, 1)
        return np.char.rstrip(names, " ")


def char_labels(ds: h5py.Dataset, name: str, rows: int | None) -> Chars:
    """The MATLAB char array ``ds`` as names, one per MATLAB row (HDF5's columns); where that does not make
    ``rows`` names, one per HDF5 row, or a 1 × N·k row cut into ``rows`` names of k characters."""
    shape = tuple(int(s) for s in ds.shape)
    if len(shape) != 2:
        raise InputError(f"{where_of(ds)}: is a MATLAB char array of {len(shape)} dimensions; labels are a char "
                         "matrix of one name per row")
    if rows is None or shape[1] == rows:
        return Chars(ds, name, COLUMNS, shape[0])
    if shape[0] == rows:
        return Chars(ds, name, ROWS, shape[1])
    if shape[1] == 1 and rows > 0 and shape[0] % rows == 0:
        return Chars(ds, name, RUN, shape[0] // rows)
    return Chars(ds, name, COLUMNS, shape[0])
