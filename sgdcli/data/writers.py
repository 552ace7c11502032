"""The file convert writes: ``X`` dense (a chunked 2-D dataset) or sparse (a CSR group), and ``y``.

Blocks of rows are appended to resizable, chunked datasets as they come, so
memory stays bounded by one block whatever the input's size.  Either kind of
output takes either kind of block: a dense block is stored sparse by its
nonzeros, a sparse one dense by scattering its entries.  The CSR group is
the one AnnData writes (``data``, ``indices``, ``indptr`` and the attributes
``encoding-type: csr_matrix``, ``encoding-version`` and ``shape``), which
train, predict and evaluate read by row ranges (data/sparse.py).
"""

from __future__ import annotations

import os
from typing import Callable

import h5py
import numpy as np

from sgdcli.data import hashing as hashing_mod
from sgdcli.data import newhdf5, storage
from sgdcli.data.atomic import atomic_output
from sgdcli.data.pathtext import attr_text
from sgdcli.data.csvcolumns import ATTR as ENCODING_ATTR
from sgdcli.data.rowblocks import sparsify
from sgdcli.data.sparse import CsrRows
from sgdcli.data.valuerange import FLOAT32_RANGE
from sgdcli.errors import InputError
from sgdcli.sizes import check_chunk_rows

# Chunks of a sparse file: at most ENTRY_CHUNK entries (1 MiB of float32 values) and SPARSE_ROW_CHUNK
# rows (512 KiB of offsets), fewer where the first block is smaller, so that a small file stays small.
ENTRY_CHUNK = 1 << 18
SPARSE_ROW_CHUNK = 1 << 16
MIN_CHUNK = 1 << 10
MAX_INDEX = np.iinfo(np.int32).max  # indices are stored as int32, as AnnData and scipy store them
# X (a dataset, or a CSR group) is made with its attributes' creation order tracked, which gives it an object
# header of version 2 (readable by HDF5 1.8 on): there an attribute too large for the header goes to dense
# storage.  In the default header an attribute is at most 64 KiB, and the feature names take 16 bytes each,
# so a file of more than about 4,090 named columns could not be written ("object header message is too
# large").  The names stay where h5py users, and every sgdcli, read them: X.attrs["feature_names"].
LARGE_ATTRIBUTES = {"track_order": True}
# The bytes of a row of the datasets chunked by --chunk-rows besides a dense X: y's where it holds class names
# (HDF5's 16-byte reference to a variable-length string), else those of y, w and a CSR group's indptr (8)
NAME_ROW_BYTES, ROW_BYTES = 16, 8


def _narrowed(values: np.ndarray, dtype: np.dtype, where: str, place) -> np.ndarray:
    """``values`` in ``dtype``; InputError at a finite value that it holds as infinite (1e39 in float32), which
    ``place(k)`` names by its flat index: a model cannot use it, and the text said otherwise.  (CSV is refused
    as it is read, naming the line and column: data/valuerange.py.)"""
    with np.errstate(over="ignore"):  # NumPy converts faster than HDF5, to the same values (beyond range: inf)
        out = values.astype(dtype)
    if out.dtype == np.float32 and values.dtype.itemsize > 4:
        beyond = np.isinf(out)
        if beyond.any():
            beyond &= np.isfinite(values)
            if beyond.any():
                k = int(np.argmax(beyond.ravel()))
                value = float(values.ravel()[k])
                raise InputError(f"{where}: {place(k)}: {value!r} is beyond {FLOAT32_RANGE}: X would hold it as "
                                 "infinite (convert with --dtype float64 to keep it)")
    return out


class _Dense:
    def __init__(self, f, width: int, names, chunk_rows: int | None, filters: dict, dtype, where: str, first):
        self.width, self.where = width, where
        chunk_rows = chunk_rows or storage.chunk_rows_for(width, dtype.itemsize)
        self.X = f.create_dataset("X", shape=(0, width), maxshape=(None, width), dtype=dtype,
                                  chunks=(chunk_rows, width), **LARGE_ATTRIBUTES, **filters)
        self.y_chunk = chunk_rows
        if names:
            self.X.attrs["feature_names"] = names

    def append(self, n: int, X) -> None:
        if isinstance(X, CsrRows):
            X = X.dense(self.width)
        if X.dtype != self.X.dtype:
            X = _narrowed(X, self.X.dtype, self.where, lambda k: f"row {n + k // self.width}, column "
                                                               f"{k % self.width} of X (from 0)")
        self.X.resize(n + len(X), axis=0)
        self.X[n:] = X

    def finish(self, n: int) -> int:
        return self.width


class _Sparse:
    def __init__(self, f, width: int | None, names, chunk_rows: int | None, filters: dict, dtype, where: str, first):
        self.width, self.seen, self.where = width, 0, where
        g = self.group = f.create_group("X", **LARGE_ATTRIBUTES)
        g.attrs["encoding-type"], g.attrs["encoding-version"] = "csr_matrix", "0.1.0"
        rows = first.n_rows if isinstance(first, CsrRows) else len(first)
        entries = len(first.data) if isinstance(first, CsrRows) else int(np.count_nonzero(first))
        self.y_chunk = chunk_rows or min(SPARSE_ROW_CHUNK, max(MIN_CHUNK, rows))
        entry_chunk = min(ENTRY_CHUNK, max(MIN_CHUNK, entries))
        self.data = g.create_dataset("data", shape=(0,), maxshape=(None,), dtype=dtype, chunks=(entry_chunk,),
                                     **filters)
        self.indices = g.create_dataset("indices", shape=(0,), maxshape=(None,), dtype=np.int32,
                                        chunks=(entry_chunk,), **filters)
        self.indptr = g.create_dataset("indptr", shape=(1,), maxshape=(None,), dtype=np.int64,
                                       chunks=(self.y_chunk,), **filters)
        self.indptr[0] = 0
        self.nnz = 0
        if names:
            g.attrs["feature_names"] = names

    def append(self, n: int, X) -> None:
        rows = X if isinstance(X, CsrRows) else sparsify(X)
        if len(rows.indices) or rows.reach:
            top = max(int(rows.indices.max()) if len(rows.indices) else 0, rows.reach - 1)
            if top > MAX_INDEX:
                raise InputError(f"{self.where}: feature index {top + 1} does not fit the 32-bit indices of a CSR file; "
                                 "hash the features into fewer columns with --hash-bits")
            self.seen = max(self.seen, top + 1)
        k = len(rows.data)

        def place(e: int) -> str:  # entry e's row and column
            row = n + int(np.searchsorted(rows.indptr, e, "right")) - 1
            return f"row {row}, column {rows.indices[e]} of X (from 0)"

        data = rows.data
        if data.dtype != self.data.dtype:
            data = _narrowed(data, self.data.dtype, self.where, place)
        for ds, values in ((self.data, data), (self.indices, rows.indices)):
            ds.resize(self.nnz + k, axis=0)
            ds[self.nnz:] = values
        self.indptr.resize(n + rows.n_rows + 1, axis=0)
        self.indptr[n + 1:] = rows.indptr[1:] + self.nnz
        self.nnz += k

    def finish(self, n: int) -> int:
        width = self.width if self.width is not None else self.seen
        if width == 0:
            raise InputError(f"{self.where}: no features found: every row is empty")
        self.group.attrs["shape"] = np.array([n, width], dtype=np.int64)
        return width


def write(input: str, output: str, blocks, *, sparse: bool, width: int | None, names=None, chunk_rows=None,
          compression: str = "none", dtype=np.float32, hashing: dict | None = None, encoding=None,
          weights: str = "auto", progress: Callable[[int], None] | None = None) -> tuple[int, int, int, bool]:
    """Write ``blocks`` ((X, y, skipped) of either kind) to ``output``; (rows, skipped, features).

    ``width`` may be None for sparse output (the largest column seen, plus one).  ``encoding``: how the
    columns of a CSV file became X (data/csvcolumns.py), kept with X; where its labels are class names, y
    holds them as text.  A block may carry a fourth item, its rows' weights (or None): they go to the dataset
    ``w``, written from the first block on where ``weights`` is "always", else from the first weight other
    than 1 on (the rows before weigh 1).  Returns (rows, skipped, features, whether ``w`` was written).
    ``progress(rows written)``: told before the first block and after each.
    """
    filters = storage.compression_filters(compression)
    names_y = encoding is not None and encoding.label_names
    if chunk_rows is not None:
        check_chunk_rows(chunk_rows, max(NAME_ROW_BYTES if names_y else ROW_BYTES,
                                         0 if sparse else width * np.dtype(dtype).itemsize))
    n = skipped = 0
    x = Y = W = None
    with atomic_output(output) as tmp, newhdf5.created(tmp) as f:
        if progress is not None:
            progress(0)
        for block in blocks:
            Xb, yb, bad = block[:3]
            wb = block[3] if len(block) > 3 else None
            skipped += bad
            if len(yb) == 0:
                continue
            if x is None:  # the first block sizes a sparse file's chunks
                x = (_Sparse if sparse else _Dense)(f, width, names, chunk_rows, filters, np.dtype(dtype), input, Xb)
                Y = f.create_dataset("y", shape=(0,), maxshape=(None,), chunks=(x.y_chunk,), **filters,
                                     dtype=h5py.string_dtype() if names_y else np.float64)
            x.append(n, Xb)
            Y.resize(n + len(yb), axis=0)
            Y[n:] = yb
            if wb is not None and (W is not None or weights == "always" or (wb != 1).any()):
                if W is None:
                    W = f.create_dataset("w", shape=(n,), maxshape=(None,), dtype=np.float64, chunks=(x.y_chunk,),
                                         fillvalue=1.0, **filters)
                    if n:
                        W[:] = 1.0
                W.resize(n + len(wb), axis=0)
                W[n:] = wb
            n += len(yb)
            if progress is not None:
                progress(n)
        if n == 0:
            left = f" ({skipped} left out by --bad-rows skip)" if skipped else ""
            raise InputError(f"{input}: no data rows{left}, so nothing was written to {output}")
        width = x.finish(n)
        f.attrs["converted_from"] = attr_text(os.path.abspath(input))
        if hashing is not None:
            (x.group if sparse else x.X).attrs[hashing_mod.ATTR] = hashing_mod.dumps(hashing)
        if encoding is not None:
            (x.group if sparse else x.X).attrs[ENCODING_ATTR] = encoding.dumps()
    return n, skipped, width, W is not None
