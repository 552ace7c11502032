"""Weighted runs visit each window's rows in proportion to their weights, each copy at the window's mean weight.

A row of weight v moves the weights v times as far as a row of weight 1 in
one step.  Where a few rows weigh hundreds of times the rest (``--class-weight
balanced`` on 0.1% positives), those steps are the batches' noise: a rate
small enough for them crawls along everything else, and a rate large enough
to get anywhere is thrown about by them (bench/results/2026-12-02-class-weight.md).
Drawing the rows with probability proportional to v instead, and giving each
draw the window's mean weight, estimates the same weighted mean gradient
without bias, while every step is the size of an unweighted one: a heavy row
is visited many times at small steps, each at its gradient of the moment,
as a row repeated that many times in the file would be.

The draws are systematic (one uniform offset, then evenly spaced over the
cumulative weights), so that a row is drawn ⌊n·v/Σv⌋ or ⌈n·v/Σv⌉ times, and a
window (or a shard's segment of it) keeps its number of rows, and with it the
run's updates an epoch.  The draws are then put in a random order, from a seed
of (seed, epoch, window, segment), so any window's draws can be recomputed on
their own, as a resumed run and a shard need.  Unweighted runs, windows whose
rows all weigh the same, and full batches (whose gradient is exact and would
gain only noise) are not drawn: each row once, in the page shuffle's order.
"""

from __future__ import annotations

import numpy as np

from sgdcli.kernels.permute import fisher_yates

DRAWS = 3  # the seed's stream of the draws (shuffle.py's own take 0 to 2)


def draws(y: np.ndarray, w: np.ndarray | None, class_weights: np.ndarray | None, key: tuple[int, ...]
          ) -> tuple[np.ndarray, np.ndarray] | None:
    """The positions in a window's rows (encoded labels ``y``, sample weights ``w`` as the kernels take them,
    None: 1 each; the kernels' ``class_weights``, None: 1 each) that a weighted run visits, in visiting order,
    and the sample weight the kernels then give each: the rows' mean weight over its class's weight, so that a
    draw weighs the window's mean.  None where no row weighs anything, or all weigh the same (the rows as they
    are)."""
    n = len(y)
    v = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    if class_weights is not None:
        v = v * class_weights[y.astype(np.int64)]
    total = float(v.sum())
    if n == 0 or not total > 0 or v.min() == v.max():  # equal weights: every row once, in the window's order
        return None
    offset, order = np.random.SeedSequence([int(k) for k in (*key, DRAWS)]).generate_state(2, np.uint64)
    grid = (float(offset >> np.uint64(11)) / 2.0**53 + np.arange(n)) * (total / n)  # an offset in [0, 1)
    # (rounding can put the last grid point past the sum: it goes to the last row that weighs anything)
    picks = np.minimum(np.searchsorted(np.cumsum(v), grid, side="right"), np.flatnonzero(v > 0)[-1])
    picks = fisher_yates(picks, order)
    mean = total / n
    sw = np.full(n, mean) if class_weights is None else mean / class_weights[y[picks].astype(np.int64)]
    return picks, sw
