"""The values of a file that are numbers, and how they become the type they are read as."""

from __future__ import annotations

import numpy as np

NUMERIC_KINDS = "biuf"  # NumPy's kinds of numbers: bool, signed and unsigned integer, float
# The largest magnitude whose squares, 2^53 of them (the most rows a float64 counts exactly), sum within
# float64's range: the bound of the labels and of the weights' sum that training's sums of squares and products
# take (model/labels.py, model/weights.py).
SQUARES_LIMIT = float(np.sqrt(np.finfo(np.float64).max / 2.0 ** 53))


def cast_into(dest: np.ndarray, values: np.ndarray, rows: slice | np.ndarray | None = None) -> None:
    """``values`` converted into ``dest``'s type (into ``dest[rows]``, where given) as NumPy converts them: a
    float64 beyond float32's range becomes infinite, which the checks for non-finite values then name with its
    row, and NumPy's overflow warning (a line without file, dataset or row on stderr) is not printed.  Every
    read that narrows what a file stores goes through here."""
    with np.errstate(over="ignore", invalid="ignore"):
        if rows is None:
            np.copyto(dest, values, casting="unsafe")
        else:
            dest[rows] = values


def wider_than(dtype: np.dtype, read_as: type) -> bool:
    """Whether values of ``dtype`` (or of a field of it) can be finite and still overflow ``read_as``."""
    if dtype.fields:
        return any(wider_than(field[0].base, read_as) for field in dtype.fields.values())
    return dtype.kind == "f" and dtype.itemsize > np.dtype(read_as).itemsize
