"""Per-feature mean and summed squared deviations of a block's rows, compiled (model/standardize.py).

Rows are taken SUB_ROWS at a time: a first pass sums them (their mean), a
second sums squared deviations from that mean while they are still in the
cache, and each part is merged into the running figures with Chan et al.'s
update, in float64.  A part with a non-finite value has a non-finite sum, so
the check for NaN and ±inf costs nothing until one is there.
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.kernels.jit import kernel

SUB_ROWS = 256  # rows per part: 100 float32 features take 100 KB, and both passes stay in the L2 cache


@kernel()
def add_moments(X, rows, n, mean, m2):
    """Add the rows ``rows`` of ``X`` to ``n`` rows of per-feature ``mean`` and ``m2`` (updated in place).

    Returns (rows now counted, position in ``rows`` of the first row with a non-finite value or -1); at a
    bad row the figures hold the parts before its part.
    """
    d = X.shape[1]
    part_mean = np.empty(d)
    part_m2 = np.empty(d)
    k = rows.shape[0]
    for s in range(0, k, SUB_ROWS):
        e = min(s + SUB_ROWS, k)
        nb = e - s
        part_mean[:] = 0.0
        for r in range(s, e):
            i = rows[r]
            for j in range(d):
                part_mean[j] += X[i, j]
        finite = True
        for j in range(d):
            finite = finite and math.isfinite(part_mean[j])
        if not finite:
            for r in range(s, e):
                for j in range(d):
                    if not math.isfinite(X[rows[r], j]):
                        return n, r
        for j in range(d):
            part_mean[j] /= nb
        part_m2[:] = 0.0
        for r in range(s, e):
            i = rows[r]
            for j in range(d):
                dev = X[i, j] - part_mean[j]
                part_m2[j] += dev * dev
        total = n + nb
        for j in range(d):
            delta = part_mean[j] - mean[j]
            mean[j] += delta * (nb / total)
            m2[j] += part_m2[j] + delta * delta * (n * nb / total)
        n = total
    return n, -1
