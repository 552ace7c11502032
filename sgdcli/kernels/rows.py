"""Checks of rows for values that are not finite (NaN, ±inf)."""

from __future__ import annotations

import math

from sgdcli.kernels.jit import kernel


@kernel(callee=True)
def has_nonfinite(X, i):
    """Whether row ``i`` of ``X`` holds NaN or ±inf."""
    for j in range(X.shape[1]):
        if not math.isfinite(X[i, j]):
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
def finite_at(X, rows, y, out):
    """out[r] = every feature of row ``rows[r]`` of ``X`` and its label ``y[r]`` are finite (serial, as above)."""
    d = X.shape[1]
    for r in range(rows.shape[0]):
        i = rows[r]
        ok = math.isfinite(y[r])
        for j in range(d):
            ok = ok and math.isfinite(X[i, j])
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
