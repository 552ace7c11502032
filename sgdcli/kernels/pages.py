"""The visiting order of one window of the page shuffle, compiled (data/shuffle.py has the design).

A window is a list of extents (runs of ``extent_rows`` rows) in the epoch's
random order.  The page grid (boundaries at ``offset + k·page_rows``) cuts the
extents into pieces; the pieces are permuted (Fisher–Yates, permute.py), taken ``mix`` at a time, and the
rows of each such group are visited round-robin: the first row of every
piece, then the second of every piece, and so on.  Every row of the window is
visited exactly once.  Each run of the group stays a sequential stream that
the prefetchers follow, while consecutive rows come from ``mix`` random
places of the file.
"""

from __future__ import annotations

import numpy as np

from sgdcli.kernels.jit import kernel
from sgdcli.kernels.permute import shuffle_in_place


@kernel()
def window_visit(extents, extent_rows, n_rows, offset, page_rows, mix, state, permute, out_global, out_local):
    """Fill ``out_global`` (file rows) and ``out_local`` (positions in the window's extents laid end to end)
    in visiting order; returns the number of rows.

    ``permute`` False keeps the pieces in window order (with ``mix`` 1: file
    order).  ``state`` seeds the permutation of the pieces (splitmix64).
    """
    m_max = 0
    for e in extents:
        m_max += extent_rows // page_rows + 2
    start = np.empty(m_max, dtype=np.int64)
    local = np.empty(m_max, dtype=np.int64)
    size = np.empty(m_max, dtype=np.int64)
    m = 0
    at = 0
    for e in extents:
        lo = e * extent_rows
        hi = min(lo + extent_rows, n_rows)
        s = lo
        while s < hi:
            nxt = min(s + page_rows - (s - offset) % page_rows, hi)
            start[m] = s
            local[m] = at + s - lo
            size[m] = nxt - s
            m += 1
            s = nxt
        at += hi - lo
    order = np.arange(m)
    if permute:
        shuffle_in_place(order, state)
    k = 0
    g_start = np.empty(mix, dtype=np.int64)  # the group's pieces, gathered: the loop below reads them in order
    g_local = np.empty(mix, dtype=np.int64)
    g_size = np.empty(mix, dtype=np.int64)
    for g in range(0, m, mix):
        count = min(mix, m - g)
        longest = 0
        for p in range(count):
            q = order[g + p]
            g_start[p] = start[q]
            g_local[p] = local[q]
            g_size[p] = size[q]
            longest = max(longest, size[q])
        for t in range(longest):
            for p in range(count):
                if t < g_size[p]:
                    out_global[k] = g_start[p] + t
                    out_local[k] = g_local[p] + t
                    k += 1
    return k
