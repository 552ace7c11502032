"""Per-feature mean and standard deviation in one streaming pass, of rows that may carry weights.

Parts of a few hundred consecutive rows are merged with Chan et al.'s
parallel update, in float64 (kernels/moments.py), so the result does not
depend on how the rows were cut into blocks, and workers' figures merge the
same way.
"""

from __future__ import annotations

import numpy as np

from sgdcli.kernels.moments import N, PART, add_moments, merge_part


class RunningMoments:
    def __init__(self, d: int):
        self.counts = np.zeros(3)  # weight merged, weight and rows of the part not yet merged (kernels/moments.py)
        self._mean = np.zeros(d)
        self._m2 = np.zeros(d)
        self._part = np.zeros((3, d))  # its shift, and its sums of deviations and of their squares

    def _finish(self) -> None:
        """Merge the rows of the unfinished part."""
        merge_part(self.counts, self._mean, self._m2, *self._part)

    @property
    def n(self) -> float:
        """The weight of the rows added (their count, unweighted)."""
        return float(self.counts[N] + self.counts[PART])

    @property
    def mean(self) -> np.ndarray:
        self._finish()
        return self._mean

    @property
    def m2(self) -> np.ndarray:
        self._finish()
        return self._m2

    def update(self, X: np.ndarray, rows: np.ndarray | None = None, w: np.ndarray | None = None) -> int:
        """Add the rows ``rows`` of ``X`` (all of them by default), each with its weight in ``w`` (indexed like
        X's rows; None: 1), in one compiled pass; returns the position in ``rows`` of the first row with a
        non-finite value, or -1."""
        if rows is None:
            rows = np.arange(X.shape[0], dtype=np.int64)
        weights = {} if w is None else {"w": w}  # omitted: no code for weights compiled
        return int(add_moments(X, rows, self.counts, self._mean, self._m2, *self._part, **weights))

    def merge(self, other: "RunningMoments") -> None:
        """Add the statistics of other rows (Chan et al.'s update, as for a block)."""
        self._finish()
        nb, mb, m2b = other.n, other.mean, other.m2
        n = self.n + nb
        if n == 0:
            return
        delta = mb - self._mean
        self._mean += delta * (nb / n)
        self._m2 += m2b + delta**2 * (self.n * nb / n)
        self.counts[N] = n

    def std(self) -> np.ndarray:
        """Population standard deviation; 0 for a constant feature, which ``multipliers`` leaves out."""
        sd = np.sqrt(self.m2 / self.n) if self.n > 0 else np.zeros_like(self._mean)
        sd[~(sd > 0)] = 0.0
        return sd


def multipliers(std: np.ndarray) -> np.ndarray:
    """What standardized features are multiplied by, 1/σ: 0 for a feature of σ 0 (constant where the statistics
    were taken), so that it adds nothing to a score and its weight stays 0.  Scaled by 1 around a huge mean
    (a constant id or date of 1e18), its gradient, summed over raw values as Σg·x − μ·Σg (kernels/batches.py),
    was the rounding error of that difference, and its weight grew on it."""
    std = np.asarray(std, dtype=np.float64)
    out = np.zeros_like(std)
    np.divide(1.0, std, out=out, where=std > 0)
    return out
