"""Which numbers read from text are kept as feature values, and what a reader says of one that is not.

``convert`` keeps NaN and infinities as they are written (``train --bad-rows`` deals with them), but not a
finite number beyond the range of the float type it writes X in: with ``--dtype float32``, the default,
``1e39`` would be stored as infinite without a word.  ``predict`` and ``evaluate`` on CSV text keep only
finite numbers within float32's range, the type features are scored in: they refuse a non-finite feature of
an HDF5 file (data/table.py ``nonfinite``), and a score of NaN or infinity is no prediction, and makes
metrics that a quality gate may pass on.  A missing value (a field ``--na-values`` lists: ``nan`` by default,
``inf`` only where the list holds it) is no number here: where the model has a fill for it, the fill is read.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from sgdcli.data.rowblocks import BadRow
from sgdcli.errors import InputError, quoted

FLOAT32_MAX = float(np.finfo(np.float32).max)
FLOAT32_RANGE = "float32's range of ±3.4e38"


@dataclasses.dataclass(frozen=True)
class ValueRange:
    """The feature values kept: at most ``limit`` in magnitude; with ``finite``, NaN and infinities are refused
    too (scoring), else they are kept as written (convert)."""

    limit: float = FLOAT32_MAX
    finite: bool = False

    def refused(self, values: np.ndarray) -> np.ndarray | None:
        """Where ``values`` (float64) are refused, or None where none is (then found by two reductions, which make
        no array: NaN, an infinity or a number beyond ``limit`` fails their test)."""
        if -self.limit <= values.min(initial=0.0) and values.max(initial=0.0) <= self.limit:
            return None
        size = np.abs(values)
        out = ~(size <= self.limit) if self.finite else (size > self.limit) & (size != math.inf)
        return out if out.any() else None

    def refuses(self, value: float) -> bool:
        return not abs(value) <= self.limit if self.finite else self.limit < abs(value) < math.inf

    def error(self, path: str, where: str, text: str, value: float) -> BadRow | InputError:
        """What is said of the field ``text`` (read as ``value``) at ``where`` (its line and column) of ``path``:
        for convert, a bad row (``--bad-rows skip`` leaves it out); for predict and evaluate, which owe a
        prediction for every row, an error."""
        if not self.finite:
            return BadRow(where, f"{quoted(text)} is beyond {FLOAT32_RANGE}: X would hold it as infinite",
                          "convert with --dtype float64 to keep it; --bad-rows skip leaves such rows out")
        why = (" (NaN, not one of the missing values the model's training data was converted with)" if value != value
               else "" if math.isinf(value) else f" (beyond {FLOAT32_RANGE}: features are read as float32)")
        return InputError(f"{path}: {where}: non-finite feature value {quoted(text)}{why}; the model owes a "
                          "prediction for every row: give the field a finite value, or leave the row out of the "
                          "input")


STORED = {"float32": ValueRange(), "float64": None}  # convert --dtype: what X is written in
SCORED = ValueRange(finite=True)  # predict and evaluate on CSV text


class CoarseFeatures(UserWarning):
    """Features stored wider than float32 whose variation float32 keeps little of (``coarse_text``)."""


# Float32 steps at a feature's mean below which its deviation is mostly lost to the cast features are read as:
# the rounding's own deviation, a step over √12, is then over 3% of the feature's (a Unix time of about 1.7e9,
# whose float32 steps are 128 s, over 1,000 s: 2 steps, and 15 times the optimum's squared error of its fit).
COARSE_STEPS = 10


def coarse_text(where: str, names: list[str] | None, mean: np.ndarray, std: np.ndarray) -> str | None:
    """The warning for the features (``names``, None: by position) of the table ``where`` whose deviation ``std``
    spans fewer than COARSE_STEPS float32 steps at their ``mean``; None where none does."""
    with np.errstate(over="ignore"):
        step = np.spacing(np.abs(mean).astype(np.float32)).astype(np.float64)
    coarse = np.flatnonzero((std > 0) & (std < COARSE_STEPS * step))
    if not coarse.size:
        return None
    j = int(coarse[0])
    name = repr(names[j]) if names is not None and names[j] != str(j) else str(j)
    more = f" (and {len(coarse) - 1} more feature{'s' if len(coarse) > 2 else ''})" if len(coarse) > 1 else ""
    return (f"{where}: feature {name}{more}: its values (mean {mean[j]:.6g}, deviation {std[j]:.3g}) span "
            f"{std[j] / step[j]:.3g} steps of float32 ({step[j]:.3g} apart at that size) within a deviation: "
            "features are read as float32, which keeps little of its variation; store it less an offset (a time "
            "as seconds since the first row's)")
