"""What the columns of a CSV/TSV file become: features (numbers, or categories one-hot encoded), the label, or
nothing; how missing values and locale-formatted numbers are read.  The ``Encoding`` is stored with the
converted ``X`` (attribute ``encoding``, JSON), so that new rows can be read the same way.

A column is chosen by its header name or its 0-based index.  The label is the last column unless
``--label-column`` says otherwise; ``--columns`` keeps only the features it lists (in the file's order),
``--ignore`` drops columns, ``--categorical`` one-hot encodes columns: one feature per value among the
``--max-categories`` most frequent (ties by value), and one, ``<name>=other``, for every other value, an
unseen one included.  A missing category is all zeros.  Missing values are the fields ``--na-values`` lists
(pandas' own list by default); ``--missing`` says what a missing number becomes: an error (the default),
a skipped row, 0, or the column's mean over the file, from a first pass; ``--missing-indicator`` adds a
``<name>_missing`` feature, 1 where the value was missing, after each filled column.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings

from sgdcli.namelists import split_names
from sgdcli.errors import InputError, listed, quoted
from sgdcli.options import CONVERT, MISSING, NA_VALUES

ATTR = "encoding"  # of X in a converted file
OTHER = "other"


@dataclasses.dataclass(frozen=True)
class ColumnOptions:
    """convert's options about columns and values (None where not given)."""

    columns: str | None = None
    ignore: str | None = None
    categorical: str | None = None
    max_categories: int = CONVERT.max_categories
    na_values: str | None = None  # comma-separated; None: NA_VALUES
    missing: str = CONVERT.missing
    missing_indicator: bool = False
    decimal: str = CONVERT.decimal
    thousands: str | None = None
    weight_column: str | None = None  # a column of per-row weights, written as the dataset w

    def check(self) -> None:
        for option, names in (("--columns", self.columns), ("--ignore", self.ignore),
                              ("--categorical", self.categorical)):
            if names is not None and not names.strip():  # read as no list, it picked every column
                raise InputError(f"{option}: names no column (an unset shell variable?)")
        if self.missing not in MISSING:
            raise InputError(f"--missing: {self.missing!r} is not one of {', '.join(MISSING)}")
        if self.max_categories < 1:
            raise InputError(f"--max-categories: must be >= 1, got {self.max_categories}")
        if len(self.decimal) != 1 or self.decimal.isdigit():
            raise InputError(f"--decimal: expected one character that is not a digit, got {self.decimal!r}")
        if self.thousands is not None and (len(self.thousands) != 1 or self.thousands.isdigit()
                                           or self.thousands == self.decimal):
            raise InputError(f"--thousands: expected one character, neither a digit nor --decimal, got "
                             f"{self.thousands!r}")
        if self.missing_indicator and self.missing not in ("zero", "mean"):
            raise InputError("--missing-indicator: applies with --missing zero or mean, which fill missing values")

    @property
    def na(self) -> tuple[str, ...]:
        """The fields that are missing: NA_VALUES, or --na-values and the empty field, which is never a value (an
        empty label read as the class '' trained a model of a class named nothing)."""
        if self.na_values is None:
            return NA_VALUES
        return tuple(dict.fromkeys(["", *(v.strip() for v in self.na_values.split(","))]))

    @property
    def plain(self) -> bool:
        """Whether every column is a number read as Python reads one (pyarrow's fast path may read them), and
        no missing value is a number (-999), which pyarrow would read as data."""
        return self.categorical is None and self.decimal == "." and self.thousands is None and not any(
            _is_number(v) for v in self.na)


@dataclasses.dataclass
class Feature:
    """One input column as features: a number (``fill``: what a missing value becomes, None: none may be
    missing; ``indicator``: a 0/1 feature for it) or categories one-hot (``categories``, then 'other')."""

    column: int
    name: str
    kind: str  # "number" or "category"
    fill: float | None = None
    indicator: bool = False
    categories: list[str] | None = None

    @property
    def width(self) -> int:
        if self.kind == "category":
            return len(self.categories) + 1
        return 2 if self.indicator else 1

    def names(self) -> list[str]:
        if self.kind == "category":
            return [f"{self.name}={c}" for c in self.categories] + [f"{self.name}={OTHER}"]
        return [self.name] + ([f"{self.name}_missing"] if self.indicator else [])


@dataclasses.dataclass
class Encoding:
    """How rows of a file with the columns ``columns`` become features, and the label (column ``label``;
    ``label_names``: its values are class names, not numbers); with ``hash_bits``, the features' names (and
    text values) are hashed into columns (csvtext.hashed_rows)."""

    columns: list[str]
    label: int | None
    features: list[Feature]
    na_values: list[str]
    missing: str
    decimal: str = "."
    thousands: str | None = None
    label_names: bool = False
    delimiter: str = ","
    header: bool = True  # the columns are known by the header's names (else by position)
    weight: int | None = None  # the column of per-row weights (--weight-column), not a feature
    hash_bits: int | None = None  # the features hashed into 2^hash_bits columns (data/hashing.py), not one-hot

    @property
    def width(self) -> int:
        if self.hash_bits is not None:
            return 1 << self.hash_bits
        return sum(f.width for f in self.features)

    def feature_names(self) -> list[str]:
        return [name for f in self.features for name in f.names()]

    def dumps(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def loads(cls, text: str) -> "Encoding":
        d = json.loads(text)
        return cls(**{**d, "features": [Feature(**f) for f in d["features"]]})


def written(attrs) -> str | None:
    """How ``convert`` made X from a CSV file's columns, as the JSON it wrote into X's attributes ``attrs``
    (``ATTR``), where it did; None for anything else: PyTables names the text encoding of a pandas frame's
    group with the same attribute ("UTF-8"), and a model that kept that as the CSV columns it was trained on
    could not be read again."""
    try:
        value = attrs.get(ATTR)
        if value is None:
            return None
        text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
        Encoding.loads(text)
        return text
    except (TypeError, ValueError, KeyError, AttributeError, UnicodeDecodeError):
        return None


def _is_number(text: str) -> bool:
    """A finite number as a missing value is one: by float(), as pandas reads na_values (csvdecode's reader
    matches it; NaN, in the default missing values, is read as missing by every reader anyway)."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def column_index(spec: str, names: list[str] | None, ncols: int, option: str, path: str) -> int:
    """The column ``spec`` names: a header name, or a 0-based index (negative from the end)."""
    text = str(spec).strip()
    if names is not None and text in names:
        return names.index(text)
    try:
        index = int(text)
    except ValueError:
        where = f"the header ({listed(names)})" if names else "a file without a header (give an index)"
        raise InputError(f"--{option}: no column {quoted(text)} in {where}") from None
    if not -ncols <= index < ncols:
        raise InputError(f"--{option}: index {index} is outside the {ncols} columns of {path}")
    return index % ncols


def refuse_named_twice(names: list[str], path: str, read=None) -> None:
    """InputError where the header ``names`` names a column twice, the first such name (where ``read``: the
    names of the columns that are read, the others left to repeat): a model that keeps its features by name
    could not tell them apart, and reading one of them by name would take either without a word."""
    first: dict[str, int] = {}
    for c, name in enumerate(names):
        if name in first and (read is None or name in read):
            raise InputError(f"{path}: line 1: the header names column {quoted(name)} twice (columns {first[name]} "
                             f"and {c}); give the columns names of their own")
        first.setdefault(name, c)


def _listed(spec: str | None, names, ncols: int, option: str, path: str) -> list[int]:
    if spec is None:
        return []
    return [column_index(item, names, ncols, option, path) for item in split_names(spec)]


class UnnamedColumn(UserWarning):
    """The header's first column has no name, as pandas' ``to_csv`` writes its row index: read as a feature."""


def _unnamed_first(names: list[str], path: str) -> None:
    """Warn that column 0, which has no name, is read as a feature, and say how to leave it out: by its index,
    from the start or the end, as neither names another column (an index is read as a name first)."""
    ncols = len(names)
    by = next((text for text in ("0", str(-ncols)) if text not in names), None)
    how = f"--ignore {by} leaves it out" if by is not None else "--columns can list the other columns"
    warnings.warn(f"{path}: column 0 has no name in the header, as pandas' to_csv writes its row index; it is read "
                  f"as a feature: {how} (or write the file with index=False)", UnnamedColumn, stacklevel=3)


def plan(names: list[str] | None, ncols: int, label: int | None, options: ColumnOptions, path: str) -> Encoding:
    """The encoding of a file's columns before any value is read: which are features and how (categories and
    means are found later, by ``csvdecode.first_pass``)."""
    options.check()
    shown = names if names is not None else [str(c) for c in range(ncols)]
    ignored = set(_listed(options.ignore, names, ncols, "ignore", path))
    chosen = _listed(options.columns, names, ncols, "columns", path)
    if len(set(chosen)) != len(chosen):  # as train's --features: a name given twice is likely a slip for another
        twice = next(c for k, c in enumerate(chosen) if c in chosen[:k])
        raise InputError(f"--columns: column {quoted(shown[twice])} is listed twice")
    categorical = set(_listed(options.categorical, names, ncols, "categorical", path))
    weight = (column_index(options.weight_column, names, ncols, "weight-column", path)
              if options.weight_column is not None else None)
    if weight is not None and weight == label:
        raise InputError(f"--weight-column: column {quoted(shown[weight])} is the label (--label-column)")
    if label is not None and label in ignored:  # left in as the label, the real label a feature: leakage
        raise InputError(f"--ignore: column {quoted(shown[label])} is the label (--label-column; without it, the last "
                         "column): leave it out of --ignore, or name another label with --label-column")
    for option, given in (("columns", chosen), ("categorical", categorical)):
        if label is not None and label in given:
            raise InputError(f"--{option}: column {quoted(shown[label])} is the label (--label-column)")
        if weight is not None and weight in given:
            raise InputError(f"--{option}: column {quoted(shown[weight])} holds the weights (--weight-column)")
    keep = [c for c in (sorted(set(chosen)) if chosen else range(ncols))
            if c != label and c != weight and c not in ignored]
    if not keep:
        raise InputError(f"{path}: no feature columns left (--columns, --ignore, --label-column)")
    if names is not None and names[0] == "" and keep[0] == 0:
        _unnamed_first(names, path)
    left_out = categorical - set(keep)
    if left_out:
        raise InputError(f"--categorical: column {quoted(shown[min(left_out)])} is not among the features "
                         "(--columns, --ignore)")
    fill = None if options.missing in ("error", "skip") else 0.0
    features = [Feature(c, shown[c], "category", categories=[]) if c in categorical else
                Feature(c, shown[c], "number", fill=fill, indicator=options.missing_indicator) for c in keep]
    return Encoding(shown, label, features, list(options.na), options.missing, options.decimal, options.thousands,
                    weight=weight)
