"""Per-feature mean and summed powers of deviations of rows streamed in file order, compiled (model/standardize.py).

Rows are taken in parts of SUB_ROWS consecutive rows of the stream, wherever
the calls cut it: a part left unfinished at the end of one call is carried
on by the next, so the figures do not depend on how the file was read
(blocks, chunks, memory budget), to the last bit.  Within a part the rows'
deviations from a shift (the running mean, or the part's first row before
any part was merged) are summed with their squares, cubes and fourth
powers; a full part is merged into the running figures with Chan et al.'s
update, in float64, which Pébay carried to the fourth moment (the mean and
the second moment are Chan's, to the bit).  A part
with a non-finite value has a non-finite sum, so the check for NaN and
±inf costs nothing until one is there.

With per-row weights ``w`` each row counts with its weight (the weighted
mean and the weighted sum of squared deviations; a row of weight 0 counts
for nothing but is still checked): the figures of a file with integer
weights are those of the file with its rows repeated.  The counts are
float64 for that reason: [weight merged, weight of the unfinished part,
rows of the unfinished part].  The fourth moment says where a column's
spread sits: in every row, or in a few (model/standardize.py ``divisors``).
"""

from __future__ import annotations

import math

from sgdcli.kernels.jit import kernel
from sgdcli.kernels.rows import is_finite

SUB_ROWS = 256  # rows per part: a shift this close to the part's mean keeps the one-pass sums exact to rounding
N, PART, PART_ROWS = 0, 1, 2  # counts: weight merged, weight of the unfinished part, rows of it
MEAN, M2, M3, M4 = 0, 1, 2, 3  # figures: the mean, and the sums of squared, cubed and fourth-power deviations
SHIFT, S1, S2, S3, S4 = 0, 1, 2, 3, 4  # the unfinished part: its shift, and the sums of deviations' powers from it


@kernel(callee=True)
def _first_bad(X, rows, upto):
    """Position in ``rows[:upto]`` of the first row with a non-finite value (there is one)."""
    d = X.shape[1]
    for r in range(upto):
        for j in range(d):
            if not math.isfinite(X[rows[r], j]):
                return r
    return upto - 1


@kernel(callee=True)
def _merge_higher(j, fa, fb, n, figures, delta, b2, b3, b4):
    """Add to column ``j`` of ``figures``, the figures of rows of weight share ``fa`` of ``n``, the sums of the
    cubed and fourth-power deviations of rows of share ``fb``, those of their squares, cubes and fourth powers
    from their mean ``b2`` to ``b4``, and ``delta``, their mean less the figures' (Pébay's update, in the
    weights' shares, so that weights near float64's limit do not overflow their powers)."""
    a2, a3 = figures[M2, j], figures[M3, j]
    figures[M4, j] += (b4 + delta**4 * (n * fa * fb * (fa * fa - fa * fb + fb * fb))
                       + 6.0 * delta * delta * (fa * fa * b2 + fb * fb * a2) + 4.0 * delta * (fa * b3 - fb * a3))
    figures[M3, j] += b3 + delta**3 * (n * fa * fb * (fa - fb)) + 3.0 * delta * (fa * b2 - fb * a2)


@kernel()
def merge_higher(na, figures, nb, other):
    """Add to ``figures`` (of rows of weight ``na``) the sums of the cubed and fourth-power deviations of
    ``other``'s rows (weight ``nb``), in place, without a temporary array: their means and squares are merged
    after this (model/standardize.py ``merge_figures``)."""
    n = na + nb
    for j in range(figures.shape[1]):
        _merge_higher(j, na / n, nb / n, n, figures, other[MEAN, j] - figures[MEAN, j], other[M2, j], other[M3, j],
                      other[M4, j])


@kernel()  # also called from Python, at the end of the stream
def merge_part(counts, figures, part):
    """Merge the unfinished part (its sums of deviations from its shift) into the running figures; empty it."""
    nb = counts[PART]
    if nb > 0:
        n = counts[N]
        total = n + nb
        for j in range(figures.shape[1]):  # the cubes and fourth powers, from the figures before this part
            s1, s2, s3 = part[S1, j], part[S2, j], part[S3, j]
            e = s1 / nb  # the part's mean less the shift
            b3 = s3 - 3.0 * e * s2 + 2.0 * nb * e**3
            b4 = max(part[S4, j] - 4.0 * e * s3 + 6.0 * e * e * s2 - 3.0 * nb * e**4, 0.0)
            _merge_higher(j, n / total, nb / total, total, figures, part[SHIFT, j] + e - figures[MEAN, j],
                          max(s2 - s1 * s1 / nb, 0.0), b3, b4)
        # the mean and the squares in a loop of their own, as before the higher powers were summed: fast-math
        # may fuse and reorder what the two share, which would move a run's standardization in its last bits
        for j in range(figures.shape[1]):
            part_mean = part[SHIFT, j] + part[S1, j] / nb
            part_m2 = max(part[S2, j] - part[S1, j] * part[S1, j] / nb, 0.0)
            delta = part_mean - figures[MEAN, j]
            figures[MEAN, j] += delta * (nb / total)
            figures[M2, j] += part_m2 + delta * delta * (n * nb / total)
        counts[N] = total
    for j in range(figures.shape[1]):
        for s in range(S1, S4 + 1):
            part[s, j] = 0.0
    counts[PART] = 0.0
    counts[PART_ROWS] = 0.0


@kernel()
def add_moments(X, rows, counts, figures, part, w=None):
    """Add the rows ``rows`` of ``X`` to the figures (all updated in place; ``counts`` and ``part`` as above),
    each with its weight ``w[i]`` (None: 1, and no code for weights compiled).

    Returns the position in ``rows`` of the first row with a non-finite value, or -1.
    """
    d = X.shape[1]
    k = rows.shape[0]
    for r in range(k):
        i = rows[r]
        if counts[PART_ROWS] == 0:
            for j in range(d):
                part[SHIFT, j] = figures[MEAN, j] if counts[N] > 0 else X[i, j]
        # the first and second powers as before the third and fourth were summed, in a loop of their own:
        # fast-math may fuse a multiply and an add, so sharing v * v with them would round the squares
        # differently, and a run's standardization, so its model, would change in its last bits
        if w is None:
            for j in range(d):
                v = X[i, j] - part[SHIFT, j]
                part[S1, j] += v
                part[S2, j] += v * v
            counts[PART] += 1.0
        else:
            wi = w[i]
            for j in range(d):
                v = X[i, j] - part[SHIFT, j]
                part[S1, j] += wi * v
                part[S2, j] += wi * (v * v)
            counts[PART] += wi
        wi = 1.0 if w is None else w[i]
        for j in range(d):
            v = X[i, j] - part[SHIFT, j]
            v2 = v * v
            part[S3, j] += wi * (v2 * v)
            part[S4, j] += wi * (v2 * v2)
        counts[PART_ROWS] += 1.0
        if counts[PART_ROWS] == SUB_ROWS or r == k - 1:
            finite = True
            for j in range(d):
                finite = finite and is_finite(part[S1, j])
            if not finite:
                return _first_bad(X, rows, r + 1)
            if counts[PART_ROWS] == SUB_ROWS:
                merge_part(counts, figures, part)
    return -1
