"""New rows as CSV/TSV text (a file, compressed or not, or standard input as ``-``) read through the encoding
their model was trained with (data/csvcolumns.py): the same columns by name, categories, fill values and
number formats, so that ``predict`` and ``evaluate`` take text straight from a shell pipe.

Columns are found by their header names where the training file had a header (in any order, others
ignored), else by position; the rows are read by convert's compiled tokenizer (data/csvbytes.py), or,
where the training file's features were hashed (``--hash-bits``), split by the csv module and hashed as
convert hashed them (csvtext.hashed_rows).  A missing value that the training file had no fill for is an
error: a prediction is owed for every row, so none can be skipped.  Training itself reads HDF5, whose rows
the shuffle can visit in any order.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import re
import sys

import numpy as np

from sgdcli.data import csvbytes, csvcolumns, textfiles
from sgdcli.data.csvcolumns import Encoding
from sgdcli.data.csvdecode import MissingValue
from sgdcli.data.csvsniff import candidates, delimiter_option
from sgdcli.data.csvtext import hashed_rows, text_rows
from sgdcli.data.hashing import Hasher
from sgdcli.data.rowblocks import BadRow
from sgdcli.data.sparse import CsrRows
from sgdcli.data.valuerange import SCORED
from sgdcli.errors import InputError, listed, not_a_file, quoted, refuse_pipe

STDIN = "-"
STDIN_CLOSED = ("-: standard input is closed (<&-), so there are no rows to read; pipe the rows in, or give the "
                "file's name")


def is_text(path) -> bool:
    """Whether ``path`` is standard input or names CSV/TSV text (compressed or not) that is no HDF5 file: an
    HDF5 file is read as the HDF5 it is whatever its name (a compressed one is then refused, saying so)."""
    path = os.fspath(path)
    return path == STDIN or textfiles.format_of(path) in ("csv", "tsv") and not textfiles.is_hdf5(path)


def _open(path: str):
    """The input as bytes: the file through its decompressor, or standard input."""
    if path == STDIN:
        if sys.stdin is None:  # a process started with it closed, as cron and some schedulers start jobs
            raise InputError(STDIN_CLOSED)
        return sys.stdin.buffer
    refuse_pipe(path, path, "; give DATA as - to read text from a pipe (standard input)")
    if not os.path.isfile(path):
        raise not_a_file(path, path)
    return textfiles.open_input(path, binary=True)


class EncodedRows:
    """The rows of ``path`` as blocks of features (float32) and, ``with_label``, raw labels (values, or names),
    read by the compiled tokenizer (data/csvbytes.py); the first line by the csv module, for the columns.  A
    feature that is not a finite number in float32's range (and no missing value with a fill) is an error
    naming its line and column (data/valuerange.py), as a non-finite feature of an HDF5 file is."""

    def __init__(self, path, encoding_text: str, with_label: bool, delimiter: str | None = None):
        self.path = os.fspath(path)
        self.trained = Encoding.loads(encoding_text)
        self.select = None  # the encoded columns a model trained on some of them reads (train --features)
        self.with_label = with_label
        self.delimiter = (delimiter_option(delimiter, self.trained.decimal, model=True) if delimiter is not None
                          else None)
        self.fh = _open(self.path)
        try:
            self.data = b""  # the input's start, up to a line end (LF, CRLF or a bare CR, as convert reads them)
            while b"\n" not in self.data and b"\r" not in self.data:
                more = self.fh.read(csvbytes.CHUNK_BYTES)
                if not more:
                    break
                self.data += more
            if not self.data.strip():
                raise InputError(f"{self.path}: empty input")
            _refuse_compressed(self.path, self.data, "evaluate model.h5 -" if with_label else "predict model.h5 - -o -")
            head = re.split(rb"\r\n?|\n", self.data, maxsplit=1)[0].decode("utf-8-sig", errors="replace")
            try:
                self.delimiter = self.delimiter or self._detected(head)
                self.enc = self._remap(next(csv.reader([head], delimiter=self.delimiter)))
            except csv.Error as exc:
                raise InputError(f"{self.path}: line 1: {exc}") from None
        except BaseException:
            self.close()
            raise

    def _detected(self, head: str) -> str:
        """The training file's delimiter, or where the model's columns are not all in this header split by it,
        the one delimiter that finds them all there (a .tsv given to a model trained on .csv)."""
        trained = self.trained
        if not trained.header:
            return trained.delimiter
        wanted = {trained.columns[f.column] for f in trained.features}
        if self.with_label and trained.label is not None:
            wanted.add(trained.columns[trained.label])

        def finds(delimiter: str) -> bool:
            return wanted <= {name.strip() for name in next(csv.reader([head], delimiter=delimiter))}

        if finds(trained.delimiter):
            return trained.delimiter
        found = [d for d in candidates(trained.decimal) if d != trained.delimiter and finds(d)]
        return found[0] if len(found) == 1 else trained.delimiter

    @property
    def width(self) -> int:
        return self.enc.width

    @property
    def row_values(self) -> int:
        """The values a row holds in memory: its features, or its columns where they are hashed."""
        return len(self.enc.features) if self.enc.hash_bits is not None else self.enc.width

    def _remap(self, first: list[str]) -> Encoding:
        """The trained encoding with each column where this file has it."""
        trained, where = self.trained, self.path
        if trained.header:
            names = [name.strip() for name in first]
            read = {trained.columns[f.column] for f in trained.features}
            if self.with_label and trained.label is not None:
                read.add(trained.columns[trained.label])
            # a column the model reads, named twice, would be read from the last of them without a word (as
            # an HDF5 file's column named twice is refused); other columns are not read, and may repeat
            csvcolumns.refuse_named_twice(names, where, read)
            position = {name: i for i, name in enumerate(names)}
        else:
            if len(first) > len(trained.columns):  # a column added to the export shifts those after it
                raise InputError(f"{where}: line 1 has {len(first)} fields, the model's training file had "
                                 f"{len(trained.columns)}; without a header its columns are read by position, so a "
                                 "column added to the file would shift every column after it: give the file the "
                                 "training file's columns")
            names = [str(c) for c in range(len(first))]
            position = {name: c for c, name in enumerate(trained.columns) if c < len(first)}

        def find(column: int) -> int:
            name = trained.columns[column]
            if name not in position:
                known = f"its header ({listed(names)})" if trained.header else f"its {len(first)} columns"
                hint = "; if its fields are split by another delimiter, --delimiter names it" if len(first) == 1 else ""
                if not trained.header and trained.label is not None and trained.label < len(first) <= column:
                    hint = (f"; without a header columns are read by position, and the training file's column "
                            f"{trained.label} was the label: keep that column in its place, empty where the label "
                            "is not known")
                what = ("it is the label the model was trained to predict, which evaluate scores the predictions "
                        "against" if column == trained.label else "the model was trained on it")
                raise InputError(f"{where}: no column {quoted(name)} in {known}; {what}{hint}")
            return position[name]

        features = [dataclasses.replace(f, column=find(f.column)) for f in trained.features]
        label = None
        if self.with_label:
            if trained.label is None:
                raise InputError(f"{where}: the model knows no label column to evaluate against")
            label = find(trained.label)
        self.ncols = len(first)
        return dataclasses.replace(trained, columns=names, features=features, label=label, missing="error",
                                   weight=None, delimiter=self.delimiter)

    def blocks(self, block_rows: int, judged=None):
        """(X, labels or None) per block of up to ``block_rows`` rows, in order: X float32 rows × width, or CSR
        rows (data/rowblocks.py) where the features are hashed.  An input of no rows is an InputError, as is a
        label that ``judged`` refuses (csvdecode.decode), named by its line."""
        found = False
        if self.enc.hash_bits is not None:  # split by the csv module: hashing reads each field in Python anyway
            text = io.TextIOWrapper(io.BufferedReader(_Joined(self.data, self.fh)), newline="", encoding="utf-8-sig")
            rows = text_rows(self.path, text, self.delimiter, self.trained.header)
            for X, y, _ in hashed_rows(self.path, rows, self.ncols, self.enc, Hasher(self.enc.hash_bits), block_rows,
                                       "error", self.with_label, SCORED, _refuse, judged):
                if X.n_rows:  # values as a converted file stores them (float32), for the same scores
                    yield CsrRows(X.data.astype(np.float32), X.indices, X.indptr), (y if self.with_label else None)
                    found = True
        else:
            try:
                for X, y, _, _ in csvbytes.token_blocks(self.path, self.ncols, self.trained.header, self.enc,
                                                        block_rows, "error", self.fh, self.data, 1, _refuse, SCORED,
                                                        judged):
                    if len(X):
                        X = X if self.select is None else X[:, self.select]  # the model's columns, in its order
                        yield X.astype(np.float32), (y if self.with_label else None)
                        found = True
            except MissingValue as exc:  # convert's --missing is no option here: say what is
                raise InputError(
                    f"{exc.place}: missing value {exc.text}; the model has no fill for this column (its training "
                    f"data was converted with --missing {self.trained.missing}) and owes a prediction for every "
                    "row: fill the value in or leave the row out of the input, or convert the training data with "
                    "--missing zero or mean, whose fill the model then keeps, and train again") from None
        if not found:  # as an HDF5 dataset of no rows is refused: no metrics of nothing, no header of no predictions
            raise InputError(f"{self.path}: is empty ({'a header and ' if self.trained.header else ''}no rows)")

    def close(self) -> None:
        if self.path != STDIN:  # standard input stays open
            self.fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Joined(io.RawIOBase):
    """The bytes already read, then the rest of the binary input (left open: it may be standard input)."""

    def __init__(self, head: bytes, fh):
        self.head, self.fh = memoryview(head), fh

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if len(self.head):
            n = min(len(buffer), len(self.head))
            buffer[:n], self.head = self.head[:n], self.head[n:]
            return n
        data = self.fh.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _refuse_compressed(path: str, data: bytes, command: str) -> None:
    """HDF5 or compressed bytes where text was expected (standard input, or a file without the suffix) are not read
    as text: the csv module's complaint about them was an internal error.  ``command``: the sgdcli command line
    that reads standard input, for the example of a pipe (evaluate's takes labels, predict's writes rows)."""
    if textfiles.signed_hdf5(io.BytesIO(data), len(data)):  # was read as text, its header blamed on the delimiter
        raise InputError(f"{path}: {'standard input ' if path == STDIN else ''}holds an HDF5 file, which predict "
                         "and evaluate read from its path, not through a pipe: give the file's path")
    textfiles.refuse_zip(path, data, "new.csv")
    twice = textfiles.compressed_twice(path, data)
    if twice is not None:
        raise twice
    found = textfiles.compression_in(data)
    if found is not None:
        name, suffix, tool = found
        how = (f"pipe it through {tool} (e.g. {tool} new.csv{suffix} | sgdcli {command})"
               if path == STDIN else f"give it a name ending in {suffix}, or pipe it through {tool}")
        # named "-" as every other message names it (as the command line does), then said to be standard input
        raise InputError(f"{path}: {'standard input ' if path == STDIN else ''}looks {name}-compressed; {how}")


def _refuse(path: str, bad: BadRow):
    """A row that cannot be read, as predict and evaluate say it (they skip no rows)."""
    raise InputError(f"{path}: {bad.where}: {bad.why}")
