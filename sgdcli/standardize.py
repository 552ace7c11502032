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
            nb = part.shape[0]
            if nb == 0:
                continue
            mb = part.mean(axis=0)
            m2b = ((part - mb) ** 2).sum(axis=0)
            n = self.n + nb
            delta = mb - self.mean
            self.mean += delta * (nb / n)
            self.m2 += m2b + delta**2 * (self.n * nb / n)
            self.n = n

    def merge(self, other: "RunningMoments") -> None:
        """Add the statistics of other rows (Chan et al.'s update, as for a block)."""
        n = self.n + other.n
        if n == 0:
            return
        delta = other.mean - self.mean
        self.mean += delta * (other.n / n)
        self.m2 += other.m2 + delta**2 * (self.n * other.n / n)
        self.n = n

    def std(self) -> np.ndarray:
        """Population standard deviation; constant features get 1 so they pass unchanged."""
        sd = np.sqrt(self.m2 / max(self.n, 1))
        sd[~(sd > 0)] = 1.0
        return sd
