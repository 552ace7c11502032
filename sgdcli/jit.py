"""Numba compiler flags, in one place.

fastmath is enabled without ``nnan``/``ninf`` so that the non-finite checks
that detect divergence and bad rows are never optimised away.  Kernels are
compiled lazily on first call and cached on disk (``cache=True``), which
honours ``NUMBA_CACHE_DIR``.
"""

import numba

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


def kernel(parallel: bool = False):
    return numba.njit(cache=True, nogil=True, fastmath=FASTMATH, parallel=parallel)
