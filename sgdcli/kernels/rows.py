"""Checks of rows for values that are not finite (NaN, ±inf)."""

from __future__ import annotations

import math

import numpy as np

from sgdcli.kernels.intrinsics import bits_of
from sgdcli.kernels.jit import kernel

_EXPONENT = np.uint64(0x7FF0000000000000)  # all ones in the exponent field: ±inf and NaN


@kernel(callee=True)
def is_finite(x):
    """Whether the computed double ``x`` is finite, tested on its bits.

    ``math.isfinite`` compiles to ``x − x == x − x`` (NaN for NaN and ±inf),
    and under the kernels' fast-math flags LLVM may cancel ``x − x`` to 0 when
    ``x`` is a sum it can reassociate: the check of a sum of losses then
    passed NaN (tests/test_kernels.py, a bad row under the logistic loop).  The
    exponent bits cannot be optimized away.  Checks of values as loaded from
    an array (a row's features) keep ``math.isfinite``: the cancelling was
    seen on a sum, and the bad-row tests (test_kernels.py, test_cli.py) see
    these checks catch NaN and ±inf.
    """
    return (bits_of(x) & _EXPONENT) != _EXPONENT


@kernel(callee=True)
def has_nonfinite(x):
    """Whether the row ``x`` holds NaN or ±inf."""
    for j in range(x.shape[0]):
        if not math.isfinite(x[j]):
            return True
    return False


@kernel()
def finite_rows(X, y, out):
    """out[i] = every feature of row i and its label are finite.

    Serial on purpose: it runs in the reader thread while the training kernel
    runs its own parallel loops, and not every threading layer allows two
    parallel regions at once.
    """
    n, d = X.shape
    for i in range(n):
        ok = math.isfinite(y[i])
        for j in range(d):
            ok = ok and math.isfinite(X[i, j])
        out[i] = ok
    return out


@kernel()
def finite_at(X, d, rows, y, out):
    """out[r] = the ``d`` features at ``X[rows[r]:]`` (a flat array) and the label ``y[r]`` are finite (serial)."""
    for r in range(rows.shape[0]):
        ok = math.isfinite(y[r])
        for j in range(rows[r], rows[r] + d):
            ok = ok and math.isfinite(X[j])
        out[r] = ok
    return out


@kernel()
def first_nonfinite_row(X):
    """Index of the first row of ``X`` holding NaN or ±inf, or -1."""
    n, d = X.shape
    for i in range(n):
        for j in range(d):
            if not math.isfinite(X[i, j]):
                return i
    return -1
