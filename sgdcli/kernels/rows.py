"""Checks of rows for values that are not finite (NaN, ±inf)."""

from __future__ import annotations

import math

from sgdcli.kernels.jit import kernel


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
