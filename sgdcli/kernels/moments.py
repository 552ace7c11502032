"""Per-feature mean and summed squared deviations of rows streamed in file order, compiled (model/standardize.py).

Rows are taken in parts of SUB_ROWS consecutive rows of the stream, wherever
the calls cut it: a part left unfinished at the end of one call is carried
on by the next, so the figures do not depend on how the file was read
(blocks, chunks, memory budget), to the last bit.  Within a part the rows'
deviations from a shift (the running mean, or the part's first row before
any part was merged) are summed with their squares; a full part is merged
into the running figures with Chan et al.'s update, in float64.  A part
with a non-finite value has a non-finite sum, so the check for NaN and
±inf costs nothing until one is there.

With per-row weights ``w`` each row counts with its weight (the weighted
mean and the weighted sum of squared deviations; a row of weight 0 counts
for nothing but is still checked): the figures of a file with integer
weights are those of the file with its rows repeated.  The counts are
float64 for that reason: [weight merged, weight of the unfinished part,
rows of the unfinished part].
"""

from __future__ import annotations

import math

from sgdcli.kernels.jit import kernel
from sgdcli.kernels.rows import is_finite

SUB_ROWS = 256  # rows per part: a shift this close to the part's mean keeps the one-pass sums exact to rounding
N, PART, PART_ROWS = 0, 1, 2  # counts: weight merged, weight of the unfinished part, rows of it


@kernel(callee=True)
def _first_bad(X, rows, upto):
    """Position in ``rows[:upto]`` of the first row with a non-finite value (there is one)."""
    d = X.shape[1]
    for r in range(upto):
        for j in range(d):
            if not math.isfinite(X[rows[r], j]):
                return r
    return upto - 1


@kernel()  # also called from Python, at the end of the stream
def merge_part(counts, mean, m2, shift, s1, s2):
    """Merge the unfinished part (its sums of deviations from ``shift``) into the running figures; empty it."""
    nb = counts[PART]
    if nb > 0:
        n = counts[N]
        total = n + nb
        for j in range(mean.shape[0]):
            part_mean = shift[j] + s1[j] / nb
            part_m2 = max(s2[j] - s1[j] * s1[j] / nb, 0.0)
            delta = part_mean - mean[j]
            mean[j] += delta * (nb / total)
            m2[j] += part_m2 + delta * delta * (n * nb / total)
        counts[N] = total
    for j in range(mean.shape[0]):
        s1[j] = 0.0
        s2[j] = 0.0
    counts[PART] = 0.0
    counts[PART_ROWS] = 0.0


@kernel()
def add_moments(X, rows, counts, mean, m2, shift, s1, s2, w=None):
    """Add the rows ``rows`` of ``X`` to the figures (all updated in place; ``counts`` as above, ``shift``,
    ``s1`` and ``s2`` the unfinished part), each with its weight ``w[i]`` (None: 1, and no code for weights
    compiled).

    Returns the position in ``rows`` of the first row with a non-finite value, or -1.
    """
    d = X.shape[1]
    k = rows.shape[0]
    for r in range(k):
        i = rows[r]
        if counts[PART_ROWS] == 0:
            for j in range(d):
                shift[j] = mean[j] if counts[N] > 0 else X[i, j]
        if w is None:
            for j in range(d):
                v = X[i, j] - shift[j]
                s1[j] += v
                s2[j] += v * v
            counts[PART] += 1.0
        else:
            wi = w[i]
            for j in range(d):
                v = X[i, j] - shift[j]
                s1[j] += wi * v
                s2[j] += wi * (v * v)
            counts[PART] += wi
        counts[PART_ROWS] += 1.0
        if counts[PART_ROWS] == SUB_ROWS or r == k - 1:
            finite = True
            for j in range(d):
                finite = finite and is_finite(s1[j])
            if not finite:
                return _first_bad(X, rows, r + 1)
            if counts[PART_ROWS] == SUB_ROWS:
                merge_part(counts, mean, m2, shift, s1, s2)
    return -1
