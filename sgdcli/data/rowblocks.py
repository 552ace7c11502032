"""Text rows to blocks of rows, dense or sparse, for convert: parsing a row, counting or stopping at a bad one.

A reader turns its lines into (line number, raw row) items and gives a
``parse`` function; the builders here call it row by row and yield blocks
``(X, y, skipped)``, where X is a float64 array (``dense_blocks``) or a
``CsrRows`` (``sparse_blocks``).  A row that cannot be read raises
``BadRow``: it ends the conversion with its line and column, or, with
``bad_rows="skip"``, is left out and counted.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sgdcli.data import numbertext
from sgdcli.data.sparse import CsrRows
from sgdcli.errors import InputError

# A sparse block holds at most this many entries, whatever its row count: a block's
# Python lists cost tens of bytes an entry, so this keeps one under about 100 MB.
BLOCK_ENTRIES = 1 << 20


class BadRow(Exception):
    """A row that cannot be read; ``where`` is e.g. 'line 3, column 2'; ``hint``, what the user can do;
    ``skippable``: False for a row that tells the whole file is read wrong (a LIBSVM index 0, where indices
    count from 1), which --bad-rows skip stops at too: skipping it would read the others wrong."""

    def __init__(self, where: str, why: str, hint: str = "--bad-rows skip leaves such rows out",
                 skippable: bool = True):
        super().__init__(why)
        self.where, self.why, self.hint, self.skippable = where, why, hint, skippable


is_number = numbertext.is_number


def number(text: str, where: str) -> float:
    value = numbertext.number(text)
    if value is None:
        raise BadRow(where, numbertext.unread(text))
    return value


def stop(path, bad: BadRow):
    raise InputError(f"{path}: {bad.where}: {bad.why} ({bad.hint})") from None


def dense_blocks(path, items, width: int, parse, block_rows: int, bad_rows: str):
    """Blocks (X, y, skipped) of float64 from ``items`` (line number, raw row), ``block_rows`` at a time.

    ``parse(line, raw, x)`` fills the zeroed feature row ``x`` and returns the
    label, None for a blank line, or raises BadRow.
    """
    X = np.zeros((block_rows, width))
    y = np.empty(block_rows)
    k = skipped = 0
    for line, raw in items:
        X[k] = 0.0
        try:
            target = parse(line, raw, X[k])
        except BadRow as bad:
            if bad_rows == "error" or not bad.skippable:
                stop(path, bad)
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


def sparse_blocks(path, items, parse, block_rows: int, bad_rows: str, names: bool = False, refuse=stop):
    """Blocks (CsrRows, y, skipped) from ``items``: at most ``block_rows`` rows and about BLOCK_ENTRIES entries;
    ``refuse(path, bad)`` raises the error of a row that stops the reading.

    ``parse(line, raw, columns, values)`` appends the row's entries (0-based
    columns, in any order, repeats allowed) to the two lists and returns the
    label (a class name where ``names``, else a number), None for a blank
    line, or raises BadRow.  Repeated columns of a row are summed and zeros
    dropped (``canonical``).
    """
    dtype = object if names else np.float64
    columns: list[int] = []
    values: list[float] = []
    ends: list[int] = []
    labels: list[float] = []
    skipped = 0
    for line, raw in items:
        mark = len(columns)
        try:
            target = parse(line, raw, columns, values)
        except BadRow as bad:
            if bad_rows == "error" or not bad.skippable:
                refuse(path, bad)
            del columns[mark:], values[mark:]
            skipped += 1
            continue
        if target is None:
            continue
        labels.append(target)
        ends.append(len(columns))
        if len(labels) == block_rows or len(columns) >= BLOCK_ENTRIES:
            yield _block(columns, values, ends), np.array(labels, dtype=dtype), skipped
            columns, values, ends, labels, skipped = [], [], [], [], 0
    yield _block(columns, values, ends), np.array(labels, dtype=dtype), skipped


def _block(columns, values, ends) -> CsrRows:
    indptr = np.zeros(len(ends) + 1, dtype=np.int64)
    indptr[1:] = ends
    rows = canonical(CsrRows(np.array(values, dtype=np.float64), np.array(columns, dtype=np.int64), indptr))
    return dataclasses.replace(rows, reach=max(columns) + 1) if columns else rows  # explicit zeros' columns too


def canonical(rows: CsrRows) -> CsrRows:
    """The same rows with each row's columns sorted, repeats summed (as scipy's ``sum_duplicates``) and zeros
    dropped: what the standardization pass assumes (one entry per column of a row)."""
    counts = np.diff(rows.indptr)
    row_of = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    order = np.lexsort((rows.indices, row_of))
    row_of, cols, vals = row_of[order], rows.indices[order], rows.data[order]
    if len(cols):
        starts = np.flatnonzero(np.concatenate(([True], (np.diff(row_of) != 0) | (np.diff(cols) != 0))))
        row_of, cols, vals = row_of[starts], cols[starts], np.add.reduceat(vals, starts)
        keep = vals != 0
        row_of, cols, vals = row_of[keep], cols[keep], vals[keep]
    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_of, minlength=len(counts)), out=indptr[1:])
    return CsrRows(vals, cols, indptr)


def sparsify(X: np.ndarray) -> CsrRows:
    """A dense block as CSR rows (its nonzeros, row by row)."""
    rows, cols = np.nonzero(X)
    indptr = np.zeros(len(X) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=len(X)), out=indptr[1:])
    return CsrRows(X[rows, cols], cols.astype(np.int64), indptr)
