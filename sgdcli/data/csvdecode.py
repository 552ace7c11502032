"""Rows of CSV fields to blocks of features and labels, through an ``Encoding`` (data/csvcolumns.py).

A block is decoded column by column.  A row that cannot be read (a field that is not a number, a missing
label, a missing value that ``--missing error`` refuses) is reported with its line and column; with
``--bad-rows skip`` (or ``--missing skip`` for missing values) it is left out and counted.  The first pass,
where the encoding needs one, finds each categorical column's most frequent values and each numeric
column's mean.
"""

from __future__ import annotations

import shlex
import warnings

import numpy as np

from sgdcli.data import numbertext
from sgdcli.data.csvcolumns import Encoding
from sgdcli.data.frequent import COUNTED_VALUES, FrequentValues
from sgdcli.data.rowblocks import BadRow
from sgdcli.data.valuerange import ValueRange
from sgdcli.errors import QUOTED_CHARS, InputError, cut, quoted

LABEL_SAMPLE_ROWS = 1000  # rows whose labels say whether the labels are numbers or class names

NUL = "\x00"  # which HDF5's text (class names, feature names) cannot hold


class _Reader:
    """How an encoding reads one field: missing values, numbers in the file's locale."""

    def __init__(self, enc: Encoding):
        self.na = frozenset(enc.na_values)
        self.decimal, self.thousands = enc.decimal, enc.thousands
        # the missing values that are numbers (-999): a field holding that number, however written, is
        # missing too, as pandas' na_values match numbers; matched as text alone, they were read as data
        self.na_set = frozenset(v for v in map(self._listed, self.na) if v is not None and np.isfinite(v))
        self.na_numbers = np.array(sorted(self.na_set))

    def numbers(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values, missing-value mask, mask of the fields that are not numbers); 0 where either."""
        n = len(texts)
        if self.decimal == "." and self.thousands is None:
            try:  # the fast path: every field a number; NaN only where a field says so (then read one by one)
                values = np.array(texts, dtype=np.float64)  # (as float() reads them: checked after)
                if np.isfinite(values).all() and numbertext.all_numbers(texts):  # (inf: as written, or 1e400)
                    missing = self.sentinels(values)
                    values[missing] = 0.0
                    return values, missing, np.zeros(n, dtype=bool)
            except ValueError:
                pass
        values, missing, bad = np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        for i, text in enumerate(texts):
            value = self.number(text)
            if value is None:
                missing[i] = self.is_missing(text)
                bad[i] = not missing[i]
            else:
                values[i] = value
        return values, missing, bad

    def sentinels(self, values: np.ndarray) -> np.ndarray:
        """Where ``values`` hold a missing value that is a number."""
        if not len(self.na_numbers):
            return np.zeros(values.shape, dtype=bool)
        return np.isin(values, self.na_numbers)

    def is_missing(self, text: str) -> bool:
        """Whether the field is a missing value: one of them as written, or the number one of them is."""
        if text.strip() in self.na:
            return True
        return self._parse(text) in self.na_set

    def number(self, text: str) -> float | None:
        """One field as a number; None where it is missing or not a number."""
        if text.strip() in self.na:
            return None
        value = self._parse(text)
        return None if value in self.na_set else value

    def _listed(self, s: str) -> float | None:
        """A missing value (--na-values) as a number, as pandas reads its na_values: by float() (so '1_000' is
        the number 1000 too, as well as that text; a field must still be a number to be one)."""
        try:
            return float(self._marked(s))
        except ValueError:
            return None

    def _marked(self, s: str) -> str:
        """``s`` with the decimal mark '.' and no thousands separator."""
        if self.thousands is not None:
            s = s.replace(self.thousands, "")
        return s.replace(self.decimal, ".") if self.decimal != "." else s

    def _parse(self, s: str) -> float | None:
        """A field's text as a number in the file's locale (data/numbertext.py: spaces around it, as the
        tokenizer skips them; with another decimal mark, no '.' but a thousands separator), or None."""
        plain = numbertext.in_marks(s, self.decimal, self.thousands)
        return None if plain is None else numbertext.number(plain)

    def texts(self, texts: list[str]) -> tuple[list[str], np.ndarray]:
        """Fields as names (stripped), and the missing mask."""
        stripped = [t.strip() for t in texts]
        return stripped, np.fromiter((s in self.na for s in stripped), dtype=bool, count=len(stripped))


class RowFields:
    """A block of rows as the csv module split them: (line number, fields) each."""

    def __init__(self, rows: list[tuple[int, list[str]]]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def line(self, i: int) -> int:
        return self.rows[i][0]

    def texts(self, c: int) -> list[str]:
        return [fields[c] for _, fields in self.rows]

    def numbers(self, c: int, reader: _Reader):
        return reader.numbers(self.texts(c))

    def numbers_of(self, columns: list[int], reader: _Reader):
        """``numbers`` of several columns, as rows × columns arrays."""
        parts = [self.numbers(c, reader) for c in columns]
        n = len(self.rows)
        return tuple(np.column_stack([p[k] for p in parts]) if parts else np.zeros((n, 0), dtype=dtype)
                     for k, dtype in ((0, np.float64), (1, bool), (2, bool)))


def reader_of(enc: Encoding) -> _Reader:
    """What reads one field as the encoding says: ``na`` (the missing values), ``number(text)``."""
    return _Reader(enc)


def first_pass(items, enc: Encoding, max_categories: int, path: str) -> None:
    """Fill in what the encoding learns from the data: each categorical feature's categories (the most
    frequent ``max_categories`` values, ties by value; counted in bounded memory, data/frequent.py) and, where
    missing numbers are filled with the mean (``--missing mean``), each numeric feature's mean over the values
    present.  ``items``: blocks of rows."""
    reader = _Reader(enc)
    columns = [f.column for f in enc.features if f.kind == "category"]
    capacity = max(COUNTED_VALUES // max(len(columns), 1), 4 * max_categories)
    counts = {c: FrequentValues(capacity) for c in columns}
    # per column: the sum and count of the finite values, and the count and first text of the NaN and inf ones
    sums = {f.column: [0.0, 0, 0, ""] for f in enc.features if f.kind == "number" and enc.missing == "mean"}
    for rows in items:
        for c, counter in counts.items():
            names, missing = reader.texts([fields[c] for _, fields in rows])
            counter.update(name for name, gone in zip(names, missing) if not gone)
            if any(NUL in name for name in names):  # a category is a feature's name
                k = next(k for k, name in enumerate(names) if NUL in name)
                raise InputError(f"{path}: {where(rows[k][0], c, enc)}: {nul(names[k])}")
        for c, total in sums.items():
            values, missing, bad = reader.numbers([fields[c] for _, fields in rows])
            present = ~(missing | bad)
            finite = present & np.isfinite(values)
            total[0] += float(values[finite].sum())
            total[1] += int(finite.sum())
            if not total[2] and (present & ~finite).any():
                total[3] = rows[int(np.argmax(present & ~finite))][1][c].strip()
            total[2] += int((present & ~finite).sum())
    for f in enc.features:
        if f.kind == "category":
            f.categories, surely = counts[f.column].top(max_categories)
            if not surely:
                warnings.warn(f"{path}: column {quoted(f.name)} has more distinct values than the {capacity:,} "
                              f"counted at once: its {len(f.categories)} categories are the values counted most, "
                              f"which may not be the {max_categories} most frequent (an id-like column is better "
                              "hashed, --hash-bits, or left out, --ignore)", ManyValues, stacklevel=2)
        elif f.column in sums:
            total, count, odd, text = sums[f.column]
            f.fill = total / count if count else 0.0
            if not count and not odd:
                warnings.warn(f"{path}: column {quoted(f.name)} has no value to average: --missing mean fills it "
                              "with 0 (--ignore leaves it out)", NoValues, stacklevel=2)
            elif not count:  # NaN and inf are numbers, kept as they are (train's --bad-rows deals with them)
                values, them = ((f"values (such as {quoted(text)}) as they are", "them") if odd > 1
                                else (f"value {quoted(text)} as it is", "it"))
                warnings.warn(f"{path}: column {quoted(f.name)} has no finite value to average: --missing mean "
                              f"fills its missing fields with 0, and keeps its {odd:,} NaN or infinite {values}, "
                              f"which train's --bad-rows refuses or skips (--na-values can list {them} as missing; "
                              "--ignore leaves the column out)", NoValues, stacklevel=2)


def label_names(texts: list[str], enc: Encoding) -> bool:
    """Whether labels like these are class names: some field present is not a number (a number beyond float64's
    range is one: refused as such, not read as a name)."""
    bad = _Reader(enc).numbers(texts)[2]
    return any(not numbertext.overflows(texts[i]) for i in np.flatnonzero(bad))


class ManyValues(UserWarning):
    """A ``--categorical`` column with more distinct values than are counted at once (data/frequent.py), whose
    categories may then not be its most frequent values."""


class NoValues(UserWarning):
    """A column ``--missing mean`` fills has no finite number in the file: its fill is 0, and its NaN and inf
    values (numbers that ``--na-values`` does not list) stay as they are."""


class MissingValue(InputError):
    """A missing value of a column without a fill (``--missing error``), which stops the reading: ``place``
    (path, line and column) and ``text`` (quoted), for a reader to say what else can be done; the message
    says what convert's options do."""

    def __init__(self, place: str, text: str):
        self.place, self.text = place, text
        super().__init__(f"{place}: missing value {text}; --missing zero or mean fills missing values, --missing "
                         "skip leaves their rows out (--na-values says what is missing)")


def decode(rows, enc: Encoding, bad_rows: str, path: str, kept: ValueRange | None = None, judged=None):
    """A block (X float64, y float64 or names, rows left out, weights or None) of ``rows`` of ``path``: a
    ``RowFields``, or anything with its methods (data/csvbytes.py); ``kept``: the feature values kept
    (data/valuerange.py; None: every number); ``judged(labels)``: the index of the first of a block's readable
    labels (float64, or a list of names) that is refused, and why, or None (evaluate's, against a model).

    Raises the error of the earliest row that stops the conversion: a BadRow (a row that cannot be read,
    with ``bad_rows="error"``), or an InputError (a missing value that ``--missing error`` refuses, or a value
    that ``kept`` refuses where a prediction is owed for every row).
    """
    n = len(rows)
    reader = _Reader(enc)
    starts = np.cumsum([0] + [f.width for f in enc.features])
    X = np.zeros((n, int(starts[-1])))
    drop = np.zeros(n, dtype=bool)
    first: list = []  # (row, the error that stops the conversion there)

    def refuse(i: int, bad: Exception, always: bool = False) -> None:
        if always or bad_rows == "error":
            first.append((i, bad))
        drop[i] = True

    numbers = [k for k, f in enumerate(enc.features) if f.kind == "number"]
    # every numeric column at once (one copy where the fields are all plain numbers), then what is irregular
    values, missing, bad = rows.numbers_of([enc.features[k].column for k in numbers], reader)
    for j in np.flatnonzero(bad.any(axis=0) | missing.any(axis=0)):
        f = enc.features[numbers[j]]
        if bad[:, j].any():
            i = int(np.argmax(bad[:, j]))
            text = rows.texts(f.column)[i].strip(numbertext.SPACES)  # (a Unicode space around it shown)
            # as the shell passes it, a comma escaped (sgdcli/namelists.py); by its index a name too long to quote, or
            # one with a character that does not print, which the error line shows as an escape that no shell
            # quoting reads back (an index is read as a name first, so an index is named only where a name would not do)
            usable = 0 < len(f.name) <= QUOTED_CHARS and f.name.isprintable()  # ('' names no column: pandas' index)
            named = shlex.quote(f.name.replace(",", "\\,")) if usable else str(f.column)
            refuse(i, BadRow(where(rows.line(i), f.column, enc), numbertext.unread(text)) if numbertext.overflows(
                text) else BadRow(where(rows.line(i), f.column, enc), numbertext.unread(text),
                                  f"declare the column with --categorical {named}, or leave it out with --ignore "
                                  f"{named}; --bad-rows skip leaves such rows out"))
            drop[bad[:, j]] = True
        gaps = np.flatnonzero(missing[:, j])
        if len(gaps):
            if f.fill is None:
                if enc.missing == "error":
                    i = int(gaps[0])
                    text = rows.texts(f.column)[i].strip()
                    refuse(i, MissingValue(f"{path}: {where(rows.line(i), f.column, enc)}", quoted(text)),
                           always=True)
                drop[gaps] = True  # --missing skip
            values[gaps, j] = f.fill if f.fill is not None else 0.0
            if f.indicator:
                X[gaps, starts[numbers[j]] + 1] = 1.0
    refused = kept.refused(values) if kept is not None else None
    if refused is not None:
        refused &= ~(missing | bad)  # (a fill is what is read there)
        for j in np.flatnonzero(refused.any(axis=0)):
            f = enc.features[numbers[j]]
            i = int(np.argmax(refused[:, j]))
            error = kept.error(path, where(rows.line(i), f.column, enc), rows.texts(f.column)[i].strip(),
                               float(values[i, j]))
            refuse(i, error, always=not isinstance(error, BadRow))
            drop[refused[:, j]] = True
    if len(numbers) == X.shape[1]:  # every column a number without an indicator: X is the values (a copy)
        X = values
    else:
        X[:, starts[numbers]] = values
    for k, f in enumerate(enc.features):
        if f.kind == "category":
            names, gone = reader.texts(rows.texts(f.column))
            index = {name: c for c, name in enumerate(f.categories)}
            other = len(f.categories)
            for i, (name, absent) in enumerate(zip(names, gone)):
                if not absent:
                    X[i, starts[k] + index.get(name, other)] = 1.0
    y = _labels(rows, enc, reader, refuse, judged)
    w = None
    if enc.weight is not None:  # --weight-column: a number >= 0 on every row
        w, missing, bad = (a[:, 0] for a in rows.numbers_of([enc.weight], reader))
        for i in np.flatnonzero(missing | bad | ~(w >= 0) | ~np.isfinite(w)):
            text = rows.texts(enc.weight)[i].strip(numbertext.SPACES)
            why = "missing weight" if missing[i] else f"weight {quoted(text)} is not a finite number >= 0"
            refuse(int(i), BadRow(where(rows.line(i), enc.weight, enc), why))
    if first:
        raise min(first, key=lambda item: item[0])[1]
    if not drop.any():
        return X, y, 0, w
    keep = ~drop
    return X[keep], y[keep], int(drop.sum()), None if w is None else w[keep]


def not_a_number_label(text: str) -> str:
    """Why a label field that is not a number is refused where the column's labels are read as numbers: its
    first LABEL_SAMPLE_ROWS rows' were, so a class name further down is not one of a column of names."""
    if numbertext.overflows(text):
        return numbertext.unread(text)
    if numbertext.is_number(text.strip()):  # (the first rows' labels, stripped as names are, said it was one)
        return (f"cannot read {quoted(text)} as a number: a number has no space around it but ASCII's (this one "
                "has a no-break space or another Unicode space)")
    return (f"cannot read {quoted(text)} as a number: the label column is read as numbers, as its first "
            f"{LABEL_SAMPLE_ROWS:,} rows' labels are")


def _labels(rows, enc: Encoding, reader: _Reader, refuse, judged=None):
    """The block's labels: float64 values, or a list of names; unreadable ones refused with their rows, and the
    first that ``judged`` refuses (see ``decode``)."""
    if enc.label is None:
        return np.zeros(len(rows))
    if enc.label_names:
        names, missing = reader.texts(rows.texts(enc.label))
        for i in np.flatnonzero(missing):
            refuse(int(i), BadRow(where(rows.line(i), enc.label, enc), "missing label"))
        for i, name in enumerate(names):
            if NUL in name:  # a class name
                refuse(i, BadRow(where(rows.line(i), enc.label, enc), nul(name)))
        labels, unread = np.array(names, dtype=object), missing
    else:
        labels, missing, bad = rows.numbers(enc.label, reader)
        for i in np.flatnonzero(missing | bad):
            text = rows.texts(enc.label)[i].strip(numbertext.SPACES)
            why = "missing label" if missing[i] else not_a_number_label(text)
            refuse(int(i), BadRow(where(rows.line(i), enc.label, enc), why))
        unread = missing | bad
    if judged is not None:
        read = np.flatnonzero(~unread)
        found = judged(labels[read])
        if found is not None:
            i = int(read[found[0]])
            refuse(i, BadRow(where(rows.line(i), enc.label, enc), found[1]))
    return labels


def where(line: int, column: int, enc: Encoding) -> str:
    name = enc.columns[column]
    return f"line {line}, column {column + 1}" + ("" if name == str(column) else f" ({cut(name)})")


def nul(text: str) -> str:
    """What is wrong with text holding a NUL byte, which becomes a name."""
    return f"{quoted(text)} holds a NUL byte, which HDF5 text (a class, category or column name) cannot hold"

