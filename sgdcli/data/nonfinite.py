"""What an error says of a row whose features are not all finite as read: which column holds the value, and
why such a value can be in the file (a float64 beyond float32's range, a CF fill value, a pandas Categorical's
missing code)."""

from __future__ import annotations

import numpy as np

from sgdcli.errors import InputError

WIDE = " (NaN or infinite, or beyond float32's range of ±3.4e38: features are read as float32)"
PACKED = " (NaN or infinite; entries equal to its CF _FillValue or missing_value are missing, read as NaN)"
CODED = " (NaN or infinite; a pandas Categorical's missing value, code -1, is read as NaN)"
RECODED = (" (NaN or infinite; a category the model does not know is read as NaN, as a pandas Categorical's missing "
           "value, code -1, is)")

# What a reader raises where the row cannot be read again (the error is then said without its column).
_UNREAD = (InputError, OSError, RuntimeError, ValueError, TypeError, KeyError, IndexError, AttributeError)


def column(X, row: int, names: list[str] | None) -> str:
    """", column NAME" (its position where the columns have no names) of the first value of ``row`` that
    ``X`` (a table's feature reader, dense or CSR) reads as not finite; "" where it cannot read the row again.

    Read again at error time, one row, rather than carried from every kernel that finds the row: the
    kernels count bad rows, not their columns.  Readers allocate what a read with no buffer returns, so
    this may run beside the reader thread of the pass that found the row."""
    try:
        read = X.read(row, row + 1, None)
    except _UNREAD:
        return ""
    if hasattr(read, "indices"):  # CSR rows: the stored entries and their columns
        values, columns = np.asarray(read.data), np.asarray(read.indices)
    else:
        with np.errstate(invalid="ignore"):  # a signalling NaN (a flipped bit makes one) warns as it widens
            values = np.asarray(read, dtype=np.float64).reshape(-1)
        columns = np.arange(values.size)
    bad = np.flatnonzero(~np.isfinite(values))
    if not bad.size:
        return ""
    j = int(columns[bad[0]])
    name = str(j) if names is None or j >= len(names) else names[j]
    return f", column {name}" if name.isdigit() else f", column {name!r}"


def message(table, row: int) -> str:
    """What is wrong with the features of file row ``row`` of ``table`` (data/table.py Table), whose values are
    not all finite as read (float32): a float64 beyond float32's range reads as infinite, which the message
    says where X holds such values."""
    why = (PACKED if table._x_packed else RECODED if table._x_recoded else CODED if table._x_coded else
           WIDE if table.x_wide else "")
    return f"{table.where(table.x_name)}: non-finite feature value at row {row}" \
           f"{column(table.X, row, table.feature_names)}{why}"
