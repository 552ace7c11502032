"""Getting data in: CSV/TSV, LIBSVM/svmlight text and .npy files to a chunked HDF5 file.

The input is streamed in blocks of rows and appended to resizable, chunked
``X`` and ``y`` datasets, so memory stays bounded by one block whatever the
input's size (LIBSVM without ``--features`` reads the file twice: once for the
widest row).  The output is written to a temporary file and renamed into
place.  A field that is not a number ends the conversion with a message
naming the line and the column, unless ``bad_rows="skip"`` counts and skips
such rows.  The readers are plain Python (``csv`` and ``str.split``) with a
NumPy conversion per block; CSV/TSV goes through pyarrow's streaming CSV
reader instead when it is installed (the optional extra ``fast-csv``), several
times faster.  pyarrow is only the fast path: on any field it does not read
as a number it gives way to the plain reader, which then names the line and
column, so messages and results are the same with or without it.
"""

from __future__ import annotations

import csv
import dataclasses
import os

import numpy as np

from sgdcli.data import hdf5
from sgdcli.data.atomic import atomic_output, check_writable
from sgdcli.errors import InputError, RuntimeFailure
from sgdcli.options import BAD_ROWS, COMPRESSIONS, CONVERT, CSV_ENGINES
from sgdcli.options import CONVERT_DTYPES as DTYPES
from sgdcli.options import CONVERT_FORMATS as FORMATS

BLOCK_ROWS = 65536
# pyarrow's read block: small enough that peak memory does not grow with the input
# (larger blocks let it grow; tests/test_convert.py checks the bound).  It must also
# be given a Python file object: given a path, it buffered the whole file ahead of
# the reader.
ARROW_BLOCK_BYTES = 1 << 20
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".svm": "libsvm", ".libsvm": "libsvm",
               ".svmlight": "libsvm", ".npy": "npy"}


@dataclasses.dataclass
class Converted:
    rows: int
    features: int
    skipped: int
    format: str
    feature_names: list[str] | None = None
    engine: str = "python"


class _ArrowGaveUp(Exception):
    """pyarrow met a field it does not read as a number; the plain reader takes over."""


class _BadRow(Exception):
    """A row that cannot be read; ``where`` is e.g. 'line 3, column 2'."""

    def __init__(self, where: str, why: str):
        super().__init__(why)
        self.where, self.why = where, why


def detect_format(path: str, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise InputError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
        return fmt
    ext = os.path.splitext(path)[1].lower()
    if ext not in _EXTENSIONS:
        raise InputError(f"{path}: cannot tell the format from the name; give --format ({', '.join(FORMATS)})")
    return _EXTENSIONS[ext]


def convert(input, output, *, fmt: str | None = None, label_column: str | None = None, delimiter: str | None = None,
            header: bool | None = None, features: int | None = None, y: str | None = None,
            chunk_rows: int | None = None, compression: str = CONVERT.compression, dtype: str = CONVERT.dtype,
            bad_rows: str = CONVERT.bad_rows, engine: str = CONVERT.engine, block_rows: int = BLOCK_ROWS) -> Converted:
    """Convert ``input`` to ``output`` (HDF5 with ``X`` rows × features and ``y``); see the module docstring."""
    input, output = os.fspath(input), os.fspath(output)
    if not os.path.isfile(input):
        raise InputError(f"{input}: no such file")
    fmt = detect_format(input, fmt)
    if dtype not in DTYPES:
        raise InputError(f"--dtype: {dtype!r} is not one of {', '.join(DTYPES)}")
    if compression not in COMPRESSIONS:
        raise InputError(f"--compression: {compression!r} is not one of {', '.join(COMPRESSIONS)}")
    if bad_rows not in BAD_ROWS:
        raise InputError(f"--bad-rows: {bad_rows!r} is not one of {', '.join(BAD_ROWS)}")
    if chunk_rows is not None and chunk_rows < 1:
        raise InputError(f"--chunk-rows must be >= 1, got {chunk_rows}")
    if features is not None and (fmt != "libsvm" or features < 1):
        raise InputError("--features applies to LIBSVM input and must be >= 1")
    if y is not None and fmt != "npy":
        raise InputError("--y FILE.npy applies to .npy input")
    if engine not in CSV_ENGINES:
        raise InputError(f"--engine: {engine!r} is not one of {', '.join(CSV_ENGINES)}")
    arrow = _pyarrow_available()
    if engine == "pyarrow" and not arrow:
        raise RuntimeFailure("--engine pyarrow: pyarrow is not installed: pip install 'sgdcli[fast-csv]'")
    if y is not None and not os.path.isfile(y):
        raise InputError(f"--y {y}: no such file")
    check_writable(output, inputs=(input, y))
    if fmt == "npy":
        blocks, width, names = _npy_blocks(input, y, label_column, block_rows)
    elif fmt == "libsvm":
        width = features if features is not None else _libsvm_width(input)
        blocks, names = _libsvm_blocks(input, width, block_rows, bad_rows), None
    else:
        layout = _csv_layout(input, "\t" if fmt == "tsv" and delimiter is None else delimiter, header, label_column)
        width, names = len(layout.feature_cols), layout.feature_names
        if arrow and engine != "python" and bad_rows == "error":
            try:
                rows, _ = _write(input, output, _arrow_blocks(input, layout), width, names, chunk_rows, compression,
                                 np.dtype(dtype))
                return Converted(rows=rows, features=width, skipped=0, format=fmt, feature_names=names, engine="pyarrow")
            except _ArrowGaveUp:
                pass  # the plain reader below finds the field and names its line and column
        blocks = _csv_blocks(input, layout, block_rows, bad_rows)
    result = _write(input, output, blocks, width, names, chunk_rows, compression, np.dtype(dtype))
    return Converted(rows=result[0], features=width, skipped=result[1], format=fmt, feature_names=names)


def _write(input, output, blocks, width: int, names, chunk_rows: int | None, compression: str, dtype) -> tuple[int, int]:
    if chunk_rows is None:
        chunk_rows = hdf5.chunk_rows_for(width, dtype.itemsize)
    filters = hdf5.compression_filters(compression)
    n = skipped = 0
    with atomic_output(output) as tmp, hdf5.created(tmp) as f:
        X = f.create_dataset("X", shape=(0, width), maxshape=(None, width), dtype=dtype,
                             chunks=(chunk_rows, width), **filters)
        Y = f.create_dataset("y", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(chunk_rows,), **filters)
        for Xb, yb, bad in blocks:
            skipped += bad
            if len(Xb) == 0:
                continue
            X.resize(n + len(Xb), axis=0)
            Y.resize(n + len(Xb), axis=0)
            X[n:] = Xb
            Y[n:] = yb
            n += len(Xb)
        if n == 0:
            raise InputError(f"{output}: nothing to write: the input has no data rows")
        f.attrs["converted_from"] = os.path.abspath(input)
        if names:
            X.attrs["feature_names"] = names
    return n, skipped


# --- CSV / TSV ----------------------------------------------------------------------------------

def _sniff(path: str, delimiter: str | None) -> str:
    if delimiter is not None:
        if delimiter in ("\\t", "tab"):
            return "\t"
        if len(delimiter) != 1:
            raise InputError(f"--delimiter: expected one character (or 'tab'), got {delimiter!r}")
        return delimiter
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        sample = fh.read(65536)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;| ").delimiter
    except csv.Error:
        return ","


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


@dataclasses.dataclass
class _CsvLayout:
    delimiter: str
    header: bool
    ncols: int
    label: int
    feature_cols: list[int]
    feature_names: list[str] | None


def _csv_layout(path, delimiter, header, label_column) -> _CsvLayout:
    """Delimiter, header and columns, from the options and the first line."""
    delim = _sniff(path, delimiter)
    with open(path, newline="", encoding="utf-8") as fh:
        try:
            first = next(csv.reader(fh, delimiter=delim))
        except StopIteration:
            raise InputError(f"{path}: empty file") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: line 1: {exc}") from None
    if header is None:
        header = not all(_number(field) for field in first)
    names = [name.strip() for name in first] if header else None
    ncols = len(first)
    label = _label_index(label_column, names, ncols, path)
    feature_cols = [c for c in range(ncols) if c != label]
    return _CsvLayout(delim, header, ncols, label, feature_cols, [names[c] for c in feature_cols] if names else None)


def _csv_blocks(path, layout: _CsvLayout, block_rows, bad_rows):
    """Blocks (X, y, skipped) read with the csv module."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter=layout.delimiter)

        def rows():
            try:
                for row in reader:
                    if reader.line_num == 1 and layout.header:
                        continue
                    yield reader.line_num, row
            except (csv.Error, UnicodeDecodeError) as exc:
                raise InputError(f"{path}: line {reader.line_num}: {exc}") from None

        def parse(line, fields, x):
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                return None  # blank line
            if len(fields) != layout.ncols:
                raise _BadRow(f"line {line}", f"{len(fields)} fields, expected {layout.ncols}")
            for j, c in enumerate(layout.feature_cols):
                x[j] = _field(fields[c], f"line {line}, column {c + 1}")
            return _field(fields[layout.label], f"line {line}, column {layout.label + 1}")

        yield from _blocks(path, rows(), len(layout.feature_cols), parse, block_rows, bad_rows)


def _pyarrow_available() -> bool:
    try:
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return False
    return True


def _arrow_blocks(path, layout: _CsvLayout):
    """Blocks (X, y, 0) from pyarrow's streaming CSV reader; _ArrowGaveUp at a field it cannot read."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"c{i}" for i in range(layout.ncols)]
    with open(path, "rb") as fh:
        try:
            reader = pacsv.open_csv(
                fh,
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=1 if layout.header else 0,
                                               block_size=ARROW_BLOCK_BYTES, use_threads=False),
                parse_options=pacsv.ParseOptions(delimiter=layout.delimiter),
                convert_options=pacsv.ConvertOptions(column_types={n: pa.float64() for n in names}, null_values=[]),
            )
            for batch in reader:
                values = [batch.column(i).to_numpy(zero_copy_only=False) for i in range(layout.ncols)]
                yield np.column_stack([values[c] for c in layout.feature_cols]), values[layout.label], 0
        except (pa.ArrowException, ValueError) as exc:
            raise _ArrowGaveUp from exc


def _label_index(label_column, names, ncols, path) -> int:
    if label_column is None:
        return ncols - 1
    text = str(label_column).strip()
    if names is not None and text in names:
        return names.index(text)
    try:
        index = int(text)
    except ValueError:
        where = f"the header ({', '.join(names)})" if names else "a file without a header (give an index)"
        raise InputError(f"--label-column: no column {text!r} in {where}") from None
    if not -ncols <= index < ncols:
        raise InputError(f"--label-column: index {index} is outside the {ncols} columns of {path}")
    return index % ncols


def _blocks(path, items, width: int, parse, block_rows: int, bad_rows: str):
    """Blocks (X, y, skipped) of float64 from ``items`` (line number, raw row), ``block_rows`` at a time.

    ``parse(line, raw, x)`` fills the zeroed feature row ``x`` and returns the
    label, None for a blank line, or raises _BadRow, which ends the conversion
    or (``bad_rows="skip"``) leaves the row out and counts it.
    """
    X = np.zeros((block_rows, width))
    y = np.empty(block_rows)
    k = skipped = 0
    for line, raw in items:
        X[k] = 0.0
        try:
            target = parse(line, raw, X[k])
        except _BadRow as bad:
            if bad_rows == "error":
                raise InputError(f"{path}: {bad.where}: {bad.why} (--bad-rows skip leaves such rows out)") from None
            skipped += 1
            continue
        if target is None:
            continue
        y[k] = target
        k += 1
        if k == block_rows:
            yield X.copy(), y.copy(), skipped
            k = skipped = 0
    yield X[:k].copy(), y[:k].copy(), skipped


def _field(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise _BadRow(where, f"cannot read {text.strip()!r} as a number") from None


# --- LIBSVM / svmlight ----------------------------------------------------------------------------

def _tokens(line: str) -> list[str]:
    return line.split("#", 1)[0].split()


def _libsvm_width(path: str) -> int:
    """The largest feature index in the file (first pass)."""
    width = 0
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            for token in _tokens(line)[1:]:
                key, _, _ = token.partition(":")
                if key == "qid":
                    continue
                try:
                    width = max(width, int(key))
                except ValueError:
                    raise InputError(f"{path}: line {number}: cannot read feature index {key!r}") from None
    if width == 0:
        raise InputError(f"{path}: no features found; is this LIBSVM text?")
    return width


def _libsvm_blocks(path, width, block_rows, bad_rows):
    def parse(line, text, x):
        tokens = _tokens(text)
        if not tokens:
            return None
        target = _field(tokens[0], f"line {line}, token 1")
        for position, token in enumerate(tokens[1:], start=2):
            where = f"line {line}, token {position}"
            key, sep, value = token.partition(":")
            if key == "qid":
                continue
            if not sep or not key.isdigit():
                raise _BadRow(where, f"cannot read {token!r} as index:value")
            index = int(key)
            if not 1 <= index <= width:
                raise _BadRow(where, f"feature index {key} is outside 1..{width}")
            x[index - 1] = _field(value, where)
        return target

    with open(path, encoding="utf-8") as fh:
        yield from _blocks(path, enumerate(fh, start=1), width, parse, block_rows, bad_rows)


# --- .npy -------------------------------------------------------------------------------------------

def _load_npy(path: str, what: str) -> np.ndarray:
    try:
        a = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read it as a .npy file ({exc})") from None
    if a.dtype.kind not in "biuf":
        raise InputError(f"{path}: {what} must be numeric, got dtype {a.dtype}")
    return a


def _npy_blocks(path, y_path, label_column, block_rows):
    X = _load_npy(path, "X")
    if X.ndim != 2:
        raise InputError(f"{path}: expected a 2-D array (rows × features), got shape {X.shape}")
    if y_path is not None:
        if label_column is not None:
            raise InputError("--label-column and --y exclude each other")
        Y = _load_npy(y_path, "y")
        if Y.ndim != 1 or len(Y) != len(X):
            raise InputError(f"{y_path}: expected {len(X)} labels (1-D), got shape {Y.shape}")
        feature_cols = list(range(X.shape[1]))
        label = None
    else:
        if label_column is None:
            raise InputError(f"{path}: give the labels with --y FILE.npy or --label-column INDEX")
        label = _label_index(label_column, None, X.shape[1], path)
        feature_cols = [c for c in range(X.shape[1]) if c != label]
        Y = None

    def blocks():
        for start in range(0, len(X), block_rows):
            part = np.asarray(X[start:start + block_rows])
            yb = np.asarray(Y[start:start + block_rows], dtype=np.float64) if Y is not None else part[:, label].astype(np.float64)
            yield part[:, feature_cols], yb, 0

    return blocks(), len(feature_cols), None
