"""Per-feature mean and standard deviation in one streaming pass.

Parts of a few hundred rows are merged with Chan et al.'s parallel update, in
float64 (kernels/moments.py), so the result does not depend on the block size
beyond rounding, and workers' figures merge the same way.
"""

from __future__ import annotations

import numpy as np

from sgdcli.kernels.moments import add_moments


class RunningMoments:
    def __init__(self, d: int):
        self.n = 0
        self.mean = np.zeros(d)
        self.m2 = np.zeros(d)

    def update(self, X: np.ndarray, rows: np.ndarray | None = None) -> int:
        """Add the rows ``rows`` of ``X`` (all of them by default), in one compiled pass; returns the position
        in ``rows`` of the first row with a non-finite value, or -1."""
        if rows is None:
            rows = np.arange(X.shape[0], dtype=np.int64)
        self.n, bad = add_moments(X, rows, self.n, self.mean, self.m2)
        return int(bad)

    def merge(self, other: "RunningMoments") -> None:
        """Add the statistics of other rows (Chan et al.'s update, as for a block)."""
        self._add(other.n, other.mean, other.m2)

    def _add(self, nb: int, mb: np.ndarray, m2b: np.ndarray) -> None:
        """Chan et al.'s update with ``nb`` rows of mean ``mb`` and summed squared deviations ``m2b``."""
        n = self.n + nb
        if n == 0:
            return
        delta = mb - self.mean
        self.mean += delta * (nb / n)
        self.m2 += m2b + delta**2 * (self.n * nb / n)
        self.n = n

    def std(self) -> np.ndarray:
        """Population standard deviation; constant features get 1 so they pass unchanged."""
        sd = np.sqrt(self.m2 / max(self.n, 1))
        sd[~(sd > 0)] = 1.0
        return sd
