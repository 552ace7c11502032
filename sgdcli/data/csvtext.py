"""CSV/TSV text for convert: the layout (delimiter, header, label column), and blocks of rows read plainly,
with pyarrow's streaming reader, or as hashed features.

The plain reader is the csv module with a NumPy conversion per block;
pyarrow's reader (the optional extra ``fast-csv``) is several times faster and
only the fast path: on any field it does not read as a number, or reads as
NaN or an infinity (missing or not by its spelling, which pyarrow does not
keep), it gives way (``ArrowGaveUp``) to the plain reader, which then reads
it or names the line and column.
With ``--hash-bits`` each row is read as scikit-learn's FeatureHasher reads a
dict of column name to field (data/hashing.py): a number is the feature
``name`` with its value, any other text the feature ``name=text`` with value
1, and an empty field no feature.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import importlib
import math
from typing import Callable

import numpy as np

from sgdcli.data import csvbytes, csvcolumns, csvdecode, csvsniff, numbertext, textfiles
from sgdcli.data.csvdecode import LABEL_SAMPLE_ROWS
from sgdcli.data.csvcolumns import ColumnOptions, Encoding
from sgdcli.data.hashing import Hasher
from sgdcli.data.rowblocks import BadRow, is_number, sparse_blocks, stop
from sgdcli.data.textfiles import open_input
from sgdcli.data.valuerange import FLOAT32_MAX, ValueRange
from sgdcli.errors import InputError, quoted
from sgdcli.options import NA_VALUES

GATHER_BYTES = 8 << 20  # features (float64) of the tokenizer's blocks joined for one append to the file

# pyarrow's read block: small enough that peak memory does not grow with the input
# (larger blocks let it grow; tests/test_convert.py checks the bound).  It must also
# be given a Python file object: given a path, it buffered the whole file ahead of
# the reader.
ARROW_BLOCK_BYTES = 1 << 20


class ArrowGaveUp(Exception):
    """pyarrow met a field it does not read as a number; the plain reader takes over."""


def _is_marked_number(field: str, decimal: str, thousands: str | None) -> bool:
    """Whether ``field`` is a number in the file's marks (numbertext.in_marks: a '.' that is neither is text)."""
    plain = numbertext.in_marks(field, decimal, thousands)
    return plain is not None and is_number(plain)


@dataclasses.dataclass
class CsvLayout:
    delimiter: str
    header: bool
    ncols: int
    label: int
    feature_cols: list[int]
    feature_names: list[str] | None
    names: list[str] | None = None  # every column's, from the header


def csv_layout(path, delimiter, header, label_column, decimal: str = ".", thousands: str | None = None,
               default: str | None = None, na: tuple[str, ...] = NA_VALUES) -> CsvLayout:
    """Delimiter (``delimiter`` as given, ``default``, or detected from the file's start: data/csvsniff.py), header
    and columns, from the options and the first line; ``decimal`` and ``thousands``: the numbers' marks; ``na``:
    the fields that are missing values (--na-values)."""
    delim = csvsniff.sniff(path, delimiter, decimal, thousands, default)
    with open_input(path) as fh:
        try:
            first = next(csv.reader(fh, delimiter=delim))
        except StopIteration:
            raise InputError(f"{path}: empty file") from None
        except UnicodeDecodeError as exc:
            raise textfiles.not_utf8(path, exc) from None
        except csv.Error as exc:
            raise InputError(f"{path}: line 1: {exc}") from None
    if len(first) < 2:  # no label and feature: a title line, or a delimiter that splits nothing
        how = "given" if delimiter is not None else "tsv" if default is not None else "detected"
        raise csvsniff.one_field(path, delim, how, decimal)
    if header is None:  # a header has a name: a field that is neither a number in the file's own marks ('1,5' with
        # --decimal ,) nor a missing value (pandas writes NaN as an empty field, or its na_rep: NA)
        header = any(not _is_marked_number(field, decimal, thousands) and field.strip() not in na for field in first) \
            or csvsniff.pandas_header(path, first)
    names = [name.strip() for name in first] if header else None
    for c, name in enumerate(names or []):
        if csvdecode.NUL in name:  # a feature's name
            raise InputError(f"{path}: line 1, column {c + 1}: the header name {csvdecode.nul(name)}")
    csvcolumns.refuse_named_twice(names or [], path)  # (in linear time: a gene table has 20,000 columns)
    ncols = len(first)
    label = csvcolumns.column_index(label_column, names, ncols, "label-column", path) if label_column is not None \
        else ncols - 1
    feature_cols = [c for c in range(ncols) if c != label]
    return CsvLayout(delim, header, ncols, label, feature_cols, [names[c] for c in feature_cols] if names else None,
                     names)


def _rows(path, layout: CsvLayout, fh):
    """(line number, fields) of the data lines."""
    yield from text_rows(path, fh, layout.delimiter, layout.header)


def text_rows(path, fh, delimiter: str, header: bool, first_line: int = 1):
    """(line number, fields) of the records of the text stream ``fh`` read by the csv module, the first on
    line ``first_line``; the first record left out where it is a ``header``."""
    reader = csv.reader(fh, delimiter=delimiter)
    try:
        for row in reader:
            if reader.line_num == 1 and header:
                continue
            yield first_line - 1 + reader.line_num, row
    except UnicodeDecodeError as exc:
        raise textfiles.not_utf8(path, exc) from None
    except csv.Error as exc:
        raise InputError(f"{path}: line {reader.line_num}: {exc}") from None



def _fields(line, fields, ncols: int) -> bool:
    """Whether the row holds data (False: a blank line); BadRow for a wrong field count."""
    if not fields or (len(fields) == 1 and not fields[0].strip()):
        return False
    if len(fields) != ncols:
        raise BadRow(f"line {line}", f"{len(fields)} fields, expected {ncols}")
    return True


def row_blocks(path, layout: CsvLayout, block_rows: int, bad_rows: str):
    """Lists of up to ``block_rows`` data rows (line number, fields), and the rows left out before them for a
    wrong field count (``bad_rows="skip"``; a BadRow otherwise)."""
    block, skipped = [], 0
    with open_input(path) as fh:
        for line, fields in _rows(path, layout, fh):
            try:
                if not _fields(line, fields, layout.ncols):
                    continue
            except BadRow as bad:
                if bad_rows == "error":
                    if block:  # the rows before it first: an error of theirs is the one to report
                        yield block, skipped
                    stop(path, bad)
                skipped += 1
                continue
            block.append((line, fields))
            if len(block) == block_rows:
                yield block, skipped
                block, skipped = [], 0
    yield block, skipped


def _gathered(blocks, block_rows: int):
    """The tokenizer's blocks (one per buffer part: a few hundred rows of a wide file) joined up to
    ``block_rows`` rows, so that the file is written in as few appends as a block allows."""
    held, rows, skipped = [], 0, 0
    for X, y, bad, w in blocks:
        skipped += bad
        if len(y):
            held.append((X, y, w))
            rows += len(y)
        if rows >= block_rows:
            yield _joined(held, skipped)
            held, rows, skipped = [], 0, 0
    if held or skipped:
        yield _joined(held, skipped)


def _joined(held, skipped: int):
    if not held:
        return np.zeros((0, 0)), np.zeros(0), skipped, None
    if len(held) == 1:
        X, y, w = held[0]
        return X, y, skipped, w
    weights = [w for _, _, w in held]
    return (np.concatenate([X for X, _, _ in held]), np.concatenate([y for _, y, _ in held]), skipped,
            None if weights[0] is None else np.concatenate(weights))


def encoding_of(path, layout: CsvLayout, options: ColumnOptions, block_rows: int,
                progress: Callable[[int], None] | None = None) -> Encoding:
    """The encoding of the file's columns (data/csvcolumns.py), with what a first pass over the rows finds
    where it needs one (categories, means), telling ``progress(rows read)`` as it starts and after each block;
    whether the labels are names is told by the first LABEL_SAMPLE_ROWS rows."""
    enc = csvcolumns.plan(layout.names, layout.ncols, layout.label, options, path)
    enc.delimiter, enc.header = layout.delimiter, layout.names is not None
    enc.label_names = csvdecode.label_names(_first_labels(path, layout, enc), enc)
    if any(f.kind == "category" for f in enc.features) or enc.missing == "mean":
        blocks = (rows for rows, _ in row_blocks(path, layout, block_rows, "skip"))
        csvdecode.first_pass(_blocks_told(blocks, progress), enc, options.max_categories, path)
    return enc


def _blocks_told(blocks, progress: Callable[[int], None] | None):
    """``blocks`` (lists of rows) as they come, telling ``progress(rows so far)`` before the first and after each."""
    if progress is None:
        yield from blocks
        return
    done = 0
    progress(done)
    for block in blocks:
        yield block
        if len(block):
            done += len(block)
            progress(done)


def _first_labels(path, layout: CsvLayout, enc: Encoding) -> list[str]:
    """The label fields of the first LABEL_SAMPLE_ROWS data rows (missing ones may be left out)."""
    if not _tokenized(enc):
        with contextlib.closing(row_blocks(path, layout, LABEL_SAMPLE_ROWS, "skip")) as blocks:  # closes the file
            return [fields[layout.label] for _, fields in next(blocks)[0]]
    labels: list[str] = []
    texts = dataclasses.replace(enc, features=[], weight=None, label_names=True)
    with contextlib.closing(csvbytes.token_blocks(path, layout.ncols, layout.header, texts, LABEL_SAMPLE_ROWS,
                                                  "skip")) as blocks:
        for _, y, _, _ in blocks:
            labels.extend(y.tolist())
            if len(labels) >= LABEL_SAMPLE_ROWS:
                break
    return labels[:LABEL_SAMPLE_ROWS]


def _tokenized(enc: Encoding) -> bool:
    """Whether the compiled tokenizer reads the file: a delimiter and decimal marks of one byte each."""
    return all(len((text or " ").encode("utf-8")) == 1 for text in (enc.delimiter, enc.decimal, enc.thousands))


def csv_blocks(path, layout: CsvLayout, enc: Encoding, block_rows: int, bad_rows: str,
               kept: ValueRange | None = None):
    """Blocks (X, y, skipped) through the encoding ``enc``, read by the compiled tokenizer (data/csvbytes.py),
    or with the csv module where it cannot (a delimiter or decimal mark of more than one byte); ``kept``: the
    feature values kept (data/valuerange.py; None: every number)."""
    if _tokenized(enc):
        gather = max(1, min(block_rows, GATHER_BYTES // (8 * max(enc.width, 1))))
        yield from _gathered(csvbytes.token_blocks(path, layout.ncols, layout.header, enc, block_rows, bad_rows,
                                                   kept=kept), gather)
        return
    for rows, skipped in row_blocks(path, layout, block_rows, bad_rows):
        try:
            X, y, dropped, w = csvdecode.decode(csvdecode.RowFields(rows), enc, bad_rows, path, kept)
        except BadRow as bad:
            stop(path, bad)
        yield X, y, skipped + dropped, w


def hashed_encoding(path, layout: CsvLayout, hasher: Hasher, options: ColumnOptions) -> Encoding:
    """The encoding of a file whose features are hashed (``hash_bits``): which columns, read how; kept with
    X and the model, so that new rows as text are hashed the same way (data/csvinput.py)."""
    enc = csvcolumns.plan(layout.names, layout.ncols, layout.label, options, path)
    enc.delimiter, enc.header, enc.hash_bits = layout.delimiter, layout.names is not None, hasher.bits
    if enc.label is not None:
        enc.label_names = csvdecode.label_names(_first_labels(path, layout, enc), enc)
    return enc


def hashed_blocks(path, layout: CsvLayout, hasher: Hasher, enc: Encoding, block_rows, bad_rows,
                  kept: ValueRange | None = None):
    """Blocks (CsrRows, y, skipped[, weights]) of the features of ``path`` hashed through ``enc``
    (``hashed_rows``)."""
    with open_input(path) as fh:
        yield from hashed_rows(path, _rows(path, layout, fh), layout.ncols, enc, hasher, block_rows, bad_rows,
                               kept=kept)


def hashed_rows(path, rows, ncols: int, enc: Encoding, hasher: Hasher, block_rows, bad_rows, label: bool = True,
                kept: ValueRange | None = None, refuse=stop, judged=None):
    """Blocks (CsrRows, y, skipped) of ``rows`` ((line, fields) of ``ncols`` fields) with the features hashed
    by column name (and text value): the columns ``enc`` keeps; a missing value is no feature, a
    --categorical column's values always text.  Without ``label`` the labels are zeros.  With a weight
    column (``enc.weight``), each block also carries its rows' weights, numbers >= 0.  ``kept``: the feature
    values kept (data/valuerange.py; None: every number); ``refuse`` and ``judged``: as for
    ``csvbytes.token_blocks``."""
    features = [(f.column, enc.columns[f.column] if enc.header else str(f.column + 1), f.kind == "category")
                for f in enc.features]
    reader = csvdecode.reader_of(enc)
    weights: list[float] = []  # the accepted rows' weights, in order (a row is accepted after its weight)

    def weight_of(line, fields) -> float:
        text = fields[enc.weight].strip()
        value = reader.number(fields[enc.weight])
        if value is None or not (value >= 0 and math.isfinite(value)):
            where = csvdecode.where(line, enc.weight, enc)
            raise BadRow(where, "missing weight" if text in reader.na else f"weight {quoted(text)} is not a finite "
                         "number >= 0")
        return value

    def parse(line, fields, columns, values):
        if not _fields(line, fields, ncols):
            return None
        for c, name, categorical in features:
            text = fields[c].strip()
            if text in reader.na:
                continue
            value = None if categorical else reader.number(fields[c])
            if value is None and not categorical and numbertext.overflows(fields[c]):  # (not text to hash)
                raise BadRow(csvdecode.where(line, c, enc), numbertext.unread(fields[c]))
            if value is not None and kept is not None and kept.refuses(value):
                raise kept.error(path, csvdecode.where(line, c, enc), text, value)
            if value is None:
                hasher.add(f"{name}={text}", 1.0, columns, values)
            elif value != 0:
                hasher.add(name, value, columns, values)
        target = _label(line, fields[enc.label]) if label else 0.0
        if enc.weight is not None:
            weights.append(weight_of(line, fields))
        return target

    def _label(line, text):
        if not enc.label_names:  # in the file's marks (--decimal, --thousands), as the rows without hashing
            value = reader.number(text)
            if value is None:
                raise BadRow(csvdecode.where(line, enc.label, enc), "missing label" if reader.is_missing(text) else
                             csvdecode.not_a_number_label(text.strip(numbertext.SPACES)))
            return value
        if text.strip() in reader.na:
            raise BadRow(csvdecode.where(line, enc.label, enc), "missing label")
        if csvdecode.NUL in text:  # a class name
            raise BadRow(csvdecode.where(line, enc.label, enc), csvdecode.nul(text.strip()))
        return text.strip()

    accepted: list = []  # (line, label) of the rows accepted since ``judged`` last saw them

    def refused() -> BadRow | None:
        """The first label ``judged`` refuses among the rows accepted since it last saw them, as a BadRow: judged a
        block at a time (a call a row doubled evaluate's time), and before a later row's error."""
        found = judged(np.array([t for _, t in accepted], dtype=object if enc.label_names else np.float64)) \
            if accepted else None
        bad = None if found is None else BadRow(csvdecode.where(accepted[found[0]][0], enc.label, enc), found[1])
        accepted.clear()
        return bad

    def judging(line, fields, columns, values):
        try:
            target = parse(line, fields, columns, values)
        except (BadRow, InputError) as error:
            raise refused() or error  # a refused label of an earlier row comes first
        if target is not None:
            accepted.append((line, target))
        return target

    for X, y, skipped in sparse_blocks(path, rows, parse if judged is None else judging, block_rows, bad_rows,
                                       label and enc.label_names, refuse):
        if judged is not None and (bad := refused()) is not None:
            refuse(path, bad)
        if enc.weight is None:
            yield X, y, skipped
        else:
            yield X, y, skipped, np.array(weights[:len(y)])
            del weights[:len(y)]


def pyarrow_available() -> bool:
    try:
        importlib.import_module("pyarrow.csv")  # imported to learn whether it can be
    except ImportError:
        return False
    return True


def arrow_blocks(path, layout: CsvLayout):
    """Blocks (X, y, 0) from pyarrow's streaming CSV reader; ArrowGaveUp at a field it cannot read."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"c{i}" for i in range(layout.ncols)]
    with open_input(path, binary=True) as fh:
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
                if not all((np.abs(v) <= FLOAT32_MAX).all() for v in values):
                    # a field spelled nan, inf, -Infinity, ...: whether it is a missing value depends on its
                    # spelling (--na-values; 'nan' is one by default), which pyarrow does not keep; or a number
                    # beyond float32's range, which --dtype float32 cannot hold (the tokenizer names its line)
                    raise ArrowGaveUp
                yield np.column_stack([values[c] for c in layout.feature_cols]), values[layout.label], 0
        except (pa.ArrowException, ValueError) as exc:
            raise ArrowGaveUp from exc
