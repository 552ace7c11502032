"""Getting data in: CSV/TSV, LIBSVM/svmlight, Vowpal Wabbit text and .npy files to a chunked HDF5 file.

The input is streamed in blocks of rows and appended to resizable, chunked
datasets (data/writers.py), so memory stays bounded by one block whatever the
input's size (dense LIBSVM output without ``--features`` reads the file twice:
once for the widest row).  ``X`` is written dense (a 2-D dataset) or sparse
(a CSR group, AnnData's layout): LIBSVM and Vowpal Wabbit text become CSR by
default, CSV/TSV and .npy dense, and ``sparse`` chooses.  ``hash_bits``
hashes named features into 2^bits columns (data/hashing.py); Vowpal Wabbit
text is always hashed.  The output is written to a temporary file and
renamed into place.  A field that is not a number ends the conversion with a
message naming the line and the column, unless ``bad_rows="skip"`` counts
and skips such rows.  Readers: data/csvtext.py (with pyarrow's fast path)
and data/svmtext.py.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Callable

import numpy as np

from sgdcli.data import storage, textfiles, valuerange, writers
from sgdcli.data.atomic import check_space
from sgdcli.data import csvcolumns
from sgdcli.data.convertsettings import PYARROW_REFUSES, SPARSE_FORMATS, checked
from sgdcli.data.csvtext import (ArrowGaveUp, arrow_blocks, csv_blocks, csv_layout, encoding_of, hashed_blocks,
                                 hashed_encoding)
from sgdcli.data.hashing import Hasher
from sgdcli.data.rowblocks import dense_blocks, sparse_blocks
from sgdcli.data.svmtext import dense_parser, libsvm_width, sparse_parser, vw_parser
from sgdcli.errors import InputError
from sgdcli.options import CONVERT
from sgdcli.sizes import MAX_CHUNK_BYTES, OLD_HDF5, format_size, memory_limit

BLOCK_ROWS = 65536
DENSE_BLOCK_BYTES = 64 << 20  # a dense block holds at most this much float64, whatever the width
NPY_MAGIC, ZIP_MAGIC = b"\x93NUMPY", b"PK\x03\x04"  # the first bytes of a .npy file, and of an .npz (a zip)
DENSE_ROW_BYTES = 16  # a feature of a dense row in memory as it is converted, besides the output's copy
FIRST_PASS, CONVERTING = "first pass over", "converting"  # the stages ``convert`` tells its progress of


@dataclasses.dataclass
class Converted:
    rows: int
    features: int
    skipped: int
    format: str
    feature_names: list[str] | None = None
    engine: str = "python"
    sparse: bool = False
    hashing: dict | None = None
    weights: str | None = None  # the dataset of row weights written (--weight-column, VW importance weights)


def convert(input, output, *, fmt: str | None = None, label_column: str | None = None, delimiter: str | None = None,
            header: bool | None = None, features: int | None = None, y: str | None = None,
            chunk_rows: int | None = None, compression: str = CONVERT.compression, dtype: str = CONVERT.dtype,
            bad_rows: str = CONVERT.bad_rows, engine: str = CONVERT.engine, sparse: bool | None = None,
            hash_bits: int | None = None, block_rows: int = BLOCK_ROWS, columns: str | None = None,
            ignore: str | None = None, categorical: str | None = None, max_categories: int | None = None,
            na_values: str | None = None, missing: str | None = None, missing_indicator: bool = False,
            decimal: str | None = None, thousands: str | None = None, weight_column: str | None = None,
            zero_based: bool = False, progress: Callable[[str, int, int | None], None] | None = None) -> Converted:
    """Convert ``input`` to ``output`` (HDF5 with ``X``, rows × features, and ``y``); see the module docstring.
    ``columns`` to ``thousands``: what CSV/TSV columns become and how values are read (data/csvcolumns.py;
    None: ``ColumnOptions``' defaults).  ``zero_based``: LIBSVM indices count from 0, not 1.
    ``progress(stage, rows done, rows in all or None where text has not been counted)``: told as each pass over
    ``input`` starts (rows done 0) and after each block it reads; the stages are ``FIRST_PASS`` (categories,
    means, LIBSVM's widest row) and ``CONVERTING``, each followed by the input's name."""
    input, output = os.fspath(input), os.fspath(output)
    fmt, columns = checked(input, output, fmt=fmt, label_column=label_column, delimiter=delimiter, header=header,
                           features=features, y=y, chunk_rows=chunk_rows, compression=compression, dtype=dtype,
                           bad_rows=bad_rows, engine=engine, hash_bits=hash_bits, columns=columns, ignore=ignore,
                           categorical=categorical, max_categories=max_categories, na_values=na_values,
                           missing=missing, missing_indicator=missing_indicator, decimal=decimal,
                           thousands=thousands, weight_column=weight_column, zero_based=zero_based)
    if hash_bits is None and fmt == "vw":
        hash_bits = CONVERT.vw_hash_bits
    hasher = Hasher(hash_bits) if hash_bits is not None else None
    if sparse is None:
        sparse = fmt in SPARSE_FORMATS or hasher is not None
    names = hashed = None
    first_pass = _told(progress, f"{FIRST_PASS} {input}")
    converting = _told(progress, f"{CONVERTING} {input}")
    if fmt == "npy":
        blocks, width, n = _npy_blocks(input, y, label_column, block_rows)
        converting = _told(progress, f"{CONVERTING} {input}", n)
        if compression == "none" and not sparse:  # the one size known before the work: X and y's 8 bytes a row
            itemsize = np.dtype(dtype).itemsize
            chunk = chunk_rows or storage.chunk_rows_for(width, itemsize)
            check_space(output, storage.stored_bytes(n, chunk, width * itemsize + 8))
    elif fmt in SPARSE_FORMATS:
        blocks, width = _text_blocks(input, fmt, hasher, features, sparse, block_rows, bad_rows,
                                     0 if zero_based else 1, valuerange.STORED[dtype], first_pass)
        if not sparse:  # (LIBSVM's width from a first pass: before any row is written)
            _check_dense_row(input, width, dtype, hasher, "--features" if features is not None else
                             "its largest feature index")
    else:
        layout = csv_layout(input, delimiter, header, label_column, columns.decimal, columns.thousands,
                            "\t" if fmt == "tsv" else None, columns.na)
        if hasher is not None:
            hashed = hashed_encoding(input, layout, hasher, columns)
            width = hasher.width
            if not sparse:
                _check_dense_row(input, width, dtype, hasher, "")
            rows = block_rows if sparse else _dense_rows(block_rows, width)
            blocks = hashed_blocks(input, layout, hasher, hashed, rows, bad_rows, valuerange.STORED[dtype])
        else:
            enc = encoding_of(input, layout, columns, block_rows, first_pass)
            width = enc.width
            names = enc.feature_names() if layout.names or width != len(enc.features) else None
            if not sparse:
                _check_dense_row(input, width, dtype, None, "its columns")
            block_rows = _dense_rows(block_rows, width)
            written = dict(sparse=sparse, width=width, names=names, chunk_rows=chunk_rows, compression=compression,
                           dtype=dtype, encoding=enc, progress=converting)
            if engine == "pyarrow" and not enc.label_names:  # (_check_pyarrow refused what it cannot read)
                try:
                    rows, _, _, _ = writers.write(input, output, arrow_blocks(input, layout), **written)
                    return Converted(rows=rows, features=width, skipped=0, format=fmt, feature_names=names,
                                     engine="pyarrow", sparse=sparse)
                except ArrowGaveUp:
                    pass  # the plain reader below finds the field and names its line and column
            try:
                rows, skipped, width, weighted = writers.write(
                    input, output, csv_blocks(input, layout, enc, block_rows, bad_rows, valuerange.STORED[dtype]),
                    weights="always", **written)
            except InputError as exc:
                raise _for_pyarrow(exc) if engine == "pyarrow" else exc from None
            return Converted(rows=rows, features=width, skipped=skipped, format=fmt, feature_names=names,
                             sparse=sparse, weights="w" if weighted else None)
    hashing = hasher.params(fmt) if hasher is not None else None
    # VW's importance weights, all 1 or not, are written: a nightly --sample-weight w finds w on every day
    weights = "always" if fmt == "vw" or (hashed is not None and hashed.weight is not None) else "auto"
    rows, skipped, width, weighted = writers.write(input, output, blocks, sparse=sparse, width=width, names=names,
                                                   chunk_rows=chunk_rows, compression=compression, dtype=dtype,
                                                   hashing=hashing, encoding=hashed, weights=weights,
                                                   progress=converting)
    return Converted(rows=rows, features=width, skipped=skipped, format=fmt, feature_names=names, sparse=sparse,
                     hashing=hashing, weights="w" if weighted else None)


def _for_pyarrow(exc: InputError) -> InputError:
    """The tokenizer's message for a file that --engine pyarrow gave way on, where its hint names options that
    --engine pyarrow refuses (--categorical, --ignore, --bad-rows skip): saying that they need the tokenizer."""
    named = [option for option in PYARROW_REFUSES if re.search(re.escape(option) + r"(?![\w-])", str(exc))]
    if not named:
        return exc
    listed = ", ".join(named[:-1]) + (" or " if len(named) > 1 else "") + named[-1]
    return InputError(f"{exc}; under --engine pyarrow, which cannot apply {listed}, leave out --engine pyarrow "
                      "to use them")


def _dense_rows(block_rows: int, width: int) -> int:
    """Rows of a dense block: ``block_rows``, fewer for wide rows (DENSE_BLOCK_BYTES)."""
    return max(1, min(block_rows, DENSE_BLOCK_BYTES // (8 * max(width, 1))))


def _check_dense_row(path: str, width: int, dtype: str, hasher: Hasher | None, source: str) -> None:
    """A dense row of ``width`` features fits in memory and in a chunk of HDF5 before 2.0: refused up front, not
    a MemoryError (or the out-of-memory killer) once the file is begun.  ``source``: what made the width, where
    not ``hasher``."""
    itemsize = np.dtype(dtype).itemsize
    # float64: the row as parsed, and its copy handed to the writer; then the row in the output's type
    need, limit = width * (DENSE_ROW_BYTES + itemsize), memory_limit()
    short = limit is not None and need > limit
    if not short and width * itemsize <= MAX_CHUNK_BYTES:  # (a chunk of one row)
        return
    why = f"--hash-bits {hasher.bits}" if hasher is not None else source
    fix = ("leave out --dense, or give fewer --hash-bits" if hasher is not None else
           "write it sparse (--sparse), or hash the columns into fewer with --hash-bits" if source == "its columns"
           else "write it sparse (leave out --dense), or hash the features into fewer columns with --hash-bits")
    size = f"{path}: a dense row of {width:,} features ({why}) is {format_size(width * itemsize)} as {dtype}"
    if short:
        raise InputError(f"{size} and needs about {format_size(need)} to convert, more than the {format_size(limit)} "
                         f"this process may use; {fix}")
    raise InputError(f"{size}, and {OLD_HDF5} reads no chunk of 4 GiB or more; {fix}")


def _told(progress, stage: str, total: int | None = None) -> Callable[[int], None] | None:
    """``convert``'s ``progress`` of the pass ``stage``, as the readers and writers tell it: rows done."""
    return None if progress is None else lambda done: progress(stage, done, total)


def _text_blocks(path, fmt, hasher, features, sparse, block_rows, bad_rows, first: int, kept, first_pass=None):
    """Blocks of LIBSVM or Vowpal Wabbit text, and the width (None: the largest column seen); LIBSVM indices count
    from ``first``; ``kept``: the feature values kept (data/valuerange.py; None: every number).  Dense output of
    hashed rows takes as few rows a block as a dense block holds.  ``first_pass(rows done)``: the progress of
    the pass that finds the widest row, where one runs."""
    if not sparse and hasher is not None:  # (a block of 65,536 rows of 2^18 columns was 128 GiB)
        block_rows = _dense_rows(block_rows, hasher.width)
    if fmt == "libsvm" and hasher is None and not sparse:
        width = features if features is not None else libsvm_width(path, first, first_pass)
        return _lines(path, lambda items: dense_blocks(path, items, width, dense_parser(width, first, kept),
                                                      _dense_rows(block_rows, width), bad_rows)), width
    if fmt == "vw":  # with each block, its rows' importance weights
        importance: list[float] = []
        parse = vw_parser(path, hasher, importance, kept)

        def weighted(blocks):
            for X, y, skipped in blocks:
                w = np.array(importance[:len(y)])
                del importance[:len(y)]
                yield X, y, skipped, w

        return _lines(path, lambda items: weighted(sparse_blocks(path, items, parse, block_rows, bad_rows))), \
            hasher.width
    parse = sparse_parser(features, hasher, first, kept)
    width = hasher.width if hasher is not None else features
    return _lines(path, lambda items: sparse_blocks(path, items, parse, block_rows, bad_rows)), width


def _lines(path, blocks_of):
    with textfiles.open_input(path) as fh:
        try:
            yield from blocks_of(enumerate(fh, start=1))
        except UnicodeDecodeError as exc:
            raise textfiles.not_utf8(path, exc) from None


# --- .npy -------------------------------------------------------------------------------------------

def _load_npy(path: str, what: str) -> np.ndarray:
    try:
        with open(path, "rb") as fh:
            magic = fh.read(len(NPY_MAGIC))
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from None
    if magic != NPY_MAGIC and not magic.startswith(ZIP_MAGIC):  # what np.load reads as a pickle, which it refuses
        raise InputError(f"{path}: is not a .npy file (it does not begin with NumPy's signature, \\x93NUMPY)")
    try:
        a = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read it as a .npy file ({exc})") from None
    if not isinstance(a, np.ndarray):  # np.load gives an .npz archive its own type, a dict of arrays
        a.close()
        raise InputError(f"{path}: an .npz archive of arrays, not a .npy file; save the {what} array itself with "
                         "np.save")
    if a.dtype.kind not in "biuf":
        raise InputError(f"{path}: {what} must be numeric, got dtype {a.dtype}")
    return a


def _npy_blocks(path, y_path, label_column, block_rows):
    X = _load_npy(path, "X")
    if X.ndim != 2 or 0 in X.shape:
        raise InputError(f"{path}: expected a 2-D array of rows × features, none of them 0, got shape {X.shape}")
    if y_path is not None:
        if label_column is not None:
            raise InputError("--label-column and --y exclude each other")
        Y = _load_npy(y_path, "y")
        if Y.ndim == 2 and Y.shape[1] == 1:  # a column vector (N × 1), as train reads y
            Y = Y[:, 0]
        if Y.ndim != 1 or len(Y) != len(X):
            raise InputError(f"{y_path}: expected {len(X)} labels (1-D, or {len(X)} × 1), got shape {Y.shape}")
        feature_cols = list(range(X.shape[1]))
        label = None
    else:
        if label_column is None:
            raise InputError(f"{path}: give the labels with --y FILE.npy or --label-column INDEX")
        label = csvcolumns.column_index(label_column, None, X.shape[1], "label-column", path)
        feature_cols = [c for c in range(X.shape[1]) if c != label]
        Y = None

    def blocks():
        for start in range(0, len(X), block_rows):
            part = np.asarray(X[start:start + block_rows])
            yb = np.asarray(Y[start:start + block_rows], dtype=np.float64) if Y is not None else part[:, label].astype(np.float64)
            yield part[:, feature_cols], yb, 0

    return blocks(), len(feature_cols), len(X)
