"""Per-feature mean and standard deviation in one streaming pass.

Block statistics are merged with Chan et al.'s parallel update, in float64, so
the result does not depend on the block size beyond rounding.
"""

from __future__ import annotations

import numpy as np

SUB_ROWS = 8192  # bounds the float64 temporaries of one step


class RunningMoments:
    def __init__(self, d: int):
        self.n = 0
        self.mean = np.zeros(d)
        self.m2 = np.zeros(d)

    def update(self, X: np.ndarray) -> None:
        for s in range(0, X.shape[0], SUB_ROWS):
            part = np.asarray(X[s : s + SUB_ROWS], dtype=np.float64)
            mb = part.mean(axis=0)
            self._add(part.shape[0], mb, ((part - mb) ** 2).sum(axis=0))

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
