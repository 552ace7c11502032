"""The values of a file that are numbers, and how they become the type they are read as."""

from __future__ import annotations

import numpy as np

NUMERIC_KINDS = "biuf"  # NumPy's kinds of numbers: bool, signed and unsigned integer, float


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
