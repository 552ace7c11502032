"""Labels to class indices, compiled: this runs for every block of every epoch."""

from __future__ import annotations

import numpy as np

from sgdcli.kernels.jit import kernel


@kernel()
def class_indices(y, rows, classes, out):
    """out[i] = index of y[i] in the sorted ``classes``, for i in ``rows``.

    Returns the position in ``rows`` of the first label that is not a class, or -1.
    """
    k = classes.shape[0]
    if k == 2:  # binary labels: the count below, without its inner loop (twice as fast, measured)
        below = classes[0]
        for r in range(rows.shape[0]):
            i = rows[r]
            v = y[i]
            lo = np.int64(below < v)
            if classes[lo] != v:
                return r
            out[i] = lo
        return -1
    for r in range(rows.shape[0]):
        i = rows[r]
        v = y[i]
        if k <= 16:  # count the classes below v, without branches (labels come in random order)
            lo = 0
            for c in range(k):
                lo += classes[c] < v
            lo = min(lo, k - 1)
        else:
            lo, hi = 0, k - 1
            while lo < hi:  # first class >= v
                mid = (lo + hi) // 2
                if classes[mid] < v:
                    lo = mid + 1
                else:
                    hi = mid
        if classes[lo] != v:
            return r
        out[i] = lo
    return -1
