"""New rows as CSV/TSV text (a file, compressed or not, or standard input as ``-``) read through the encoding
their model was trained with (data/csvcolumns.py): the same columns by name, categories, fill values and
number formats, so that ``predict`` and ``evaluate`` take text straight from a shell pipe.

Columns are found by their header names where the training file had a header (in any order, others
ignored), else by position.  A missing value that the training file had no fill for is an error: a
prediction is owed for every row, so none can be skipped.  Training itself reads HDF5, whose rows the
shuffle can visit in any order.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import sys

import numpy as np

from sgdcli.data import csvdecode, textfiles
from sgdcli.data.csvcolumns import Encoding
from sgdcli.data.rowblocks import BadRow
from sgdcli.errors import InputError

STDIN = "-"
TEXT_FORMATS = (".csv", ".tsv", ".tab")


def is_text(path) -> bool:
    """Whether ``path`` is standard input or names CSV/TSV text (compressed or not)."""
    path = os.fspath(path)
    return path == STDIN or os.path.splitext(textfiles.base_name(path))[1].lower() in TEXT_FORMATS


def _open(path: str):
    if path == STDIN:  # as open_input opens a file: UTF-8 without its byte-order mark, newlines as written
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    return textfiles.open_input(path)


class EncodedRows:
    """The rows of ``path`` as blocks of features (float32) and, ``with_label``, raw labels (values, or names)."""

    def __init__(self, path, encoding_text: str, with_label: bool, delimiter: str | None = None):
        self.path = os.fspath(path)
        self.trained = Encoding.loads(encoding_text)
        self.with_label = with_label
        self.delimiter = delimiter or self.trained.delimiter
        self.fh = _open(self.path)
        try:
            self.reader = csv.reader(self.fh, delimiter=self.delimiter)
            first = next(self.reader, None)
            if first is None:
                raise InputError(f"{self.path}: empty input")
            self.enc = self._remap(first)
            self.pending = None if self.trained.header else (self.reader.line_num, first)
        except BaseException:
            self.fh.close()
            raise

    @property
    def width(self) -> int:
        return self.enc.width

    def _remap(self, first: list[str]) -> Encoding:
        """The trained encoding with each column where this file has it."""
        trained, where = self.trained, self.path
        if trained.header:
            names = [name.strip() for name in first]
            position = {name: i for i, name in enumerate(names)}
        else:
            names = [str(c) for c in range(len(first))]
            position = {name: c for c, name in enumerate(trained.columns) if c < len(first)}

        def find(column: int) -> int:
            name = trained.columns[column]
            if name not in position:
                known = f"its header ({', '.join(names)})" if trained.header else f"its {len(first)} columns"
                raise InputError(f"{where}: no column {name!r} in {known}; the model was trained on it")
            return position[name]

        features = [dataclasses.replace(f, column=find(f.column)) for f in trained.features]
        label = None
        if self.with_label:
            if trained.label is None:
                raise InputError(f"{where}: the model knows no label column to evaluate against")
            label = find(trained.label)
        self.ncols = len(first)
        return dataclasses.replace(trained, columns=names, features=features, label=label, missing="error",
                                   weight=None)

    def blocks(self, block_rows: int):
        """(X float32 rows × width, labels or None) per block of up to ``block_rows`` rows, in order."""
        rows = [] if self.pending is None else [self.pending]
        try:
            for fields in self.reader:
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                if len(fields) != self.ncols:
                    raise InputError(f"{self.path}: line {self.reader.line_num}: {len(fields)} fields, expected "
                                     f"{self.ncols}")
                rows.append((self.reader.line_num, fields))
                if len(rows) == block_rows:
                    yield self._decode(rows)
                    rows = []
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{self.path}: line {self.reader.line_num}: {exc}") from None
        if rows:
            yield self._decode(rows)

    def _decode(self, rows):
        try:
            X, y, _, _ = csvdecode.decode(csvdecode.RowFields(rows), self.enc, "error", self.path)
        except BadRow as bad:
            raise InputError(f"{self.path}: {bad.where}: {bad.why}") from None
        return X.astype(np.float32), (y if self.with_label else None)

    def close(self) -> None:
        if self.path != STDIN:
            self.fh.close()
        else:
            self.fh.detach()  # standard input stays open

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
