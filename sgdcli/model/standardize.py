"""Per-feature mean and standard deviation in one streaming pass, of rows that may carry weights.

Parts of a few hundred consecutive rows are merged with Chan et al.'s
parallel update, in float64 (kernels/moments.py), so the result does not
depend on how the rows were cut into blocks, and workers' figures merge the
same way.  The third and fourth moments merge too, and say which features
a run divides by more than their deviation (``divisors``).
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.kernels.moments import M2, MEAN, N, PART, add_moments, merge_higher, merge_part


class Figured:
    """The mean and the sum of squared deviations of a statistics object's ``figures`` (kernels/moments.py)."""

    figures: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.figures[MEAN]

    @property
    def m2(self) -> np.ndarray:
        return self.figures[M2]


class RunningMoments(Figured):
    def __init__(self, d: int):
        self.counts = np.zeros(3)  # weight merged, weight and rows of the part not yet merged (kernels/moments.py)
        self._figures = np.zeros((4, d))  # the mean, and the sums of the deviations' squares, cubes, fourth powers
        self._part = np.zeros((5, d))  # its shift, and its sums of the deviations' powers 1 to 4

    def _finish(self) -> None:
        """Merge the rows of the unfinished part."""
        merge_part(self.counts, self._figures, self._part)

    @property
    def n(self) -> float:
        """The weight of the rows added (their count, unweighted)."""
        return float(self.counts[N] + self.counts[PART])

    @property
    def figures(self) -> np.ndarray:
        """The mean, and the sums of the deviations' squares, cubes and fourth powers, one row each."""
        self._finish()
        return self._figures

    def update(self, X: np.ndarray, rows: np.ndarray | None = None, w: np.ndarray | None = None) -> int:
        """Add the rows ``rows`` of ``X`` (all of them by default), each with its weight in ``w`` (indexed like
        X's rows; None: 1), in one compiled pass; returns the position in ``rows`` of the first row with a
        non-finite value, or -1."""
        if rows is None:
            rows = np.arange(X.shape[0], dtype=np.int64)
        weights = {} if w is None else {"w": w}  # omitted: no code for weights compiled
        return int(add_moments(X, rows, self.counts, self._figures, self._part, **weights))

    def merge(self, other: "RunningMoments") -> None:
        """Add the statistics of other rows (the update that merges a part)."""
        self._finish()
        merge_figures(self.n, self._figures, other.n, other.figures)
        self.counts[N] += other.n

    def std(self) -> np.ndarray:
        """Population standard deviation; 0 for a constant feature, which ``multipliers`` leaves out."""
        sd = np.sqrt(self.m2 / self.n) if self.n > 0 else np.zeros(self._figures.shape[1])
        sd[~(sd > 0)] = 0.0
        return sd


def merge_figures(na: float, a: np.ndarray, nb: float, b: np.ndarray) -> None:
    """Merge the figures ``b`` (mean, sums of deviations' powers 2 to 4; kernels/moments.py) of rows of weight
    ``nb`` into ``a``, of rows of weight ``na``, in place: Pébay's update of the cubes and fourth powers, compiled
    (kernels/moments.py ``merge_higher``), then Chan et al.'s of the mean and the squares, in NumPy, to the bit as
    it was before the higher powers were kept."""
    n = na + nb
    if nb <= 0 or n <= 0:
        return
    merge_higher(na, a, nb, b)
    delta = b[MEAN] - a[MEAN]
    a[MEAN] += delta * (nb / n)
    a[M2] += b[M2] + delta**2 * (na * nb / n)


def multipliers(std: np.ndarray) -> np.ndarray:
    """What standardized features are multiplied by, 1/σ: 0 for a feature of σ 0 (constant where the statistics
    were taken), so that it adds nothing to a score and its weight stays 0.  Scaled by 1 around a huge mean
    (a constant id or date of 1e18), its gradient, summed over raw values as Σg·x − μ·Σg (kernels/batches.py),
    was the rounding error of that difference, and its weight grew on it."""
    std = np.asarray(std, dtype=np.float64)
    out = np.zeros_like(std)
    np.divide(1.0, std, out=out, where=std > 0)
    return out


DIVISOR_STEPS = 100  # passes of divisors' fixed point at most; each is O(features), and a few reach it to rounding


def divisors(n: float, figures: np.ndarray, std: np.ndarray, centred: bool = True, batches: float = math.inf
             ) -> tuple[np.ndarray, np.ndarray]:
    """What each feature is divided by where standardized, for steps of ``batches`` rows (B' = B(1 − β) under
    momentum; inf: no cap); and each feature's heaviness (NaN: constant).

    A feature whose spread sits in a few rows (a category met in 3 rows of a
    million, a gene that 2 cells express) has a heaviness, E[z⁴] / E[z²] over
    the rows as the model sees them (the mean of z² with each row weighing its
    own z²: n/k for a column nonzero in k of n rows, 3 for a Gaussian one),
    far above the others'.  A step at --lr auto's rate, 1 / (c · (λ + trace /
    B')) or less (training/rate.py), moves a row's score by its squared norm
    over λB' + trace times its residual, and a row that holds the feature's z²
    holds about the trace − 1 of the other features' too: the feature's
    weight is stable in mean square while heaviness + trace − 1 is under
    2 (λB' + trace), and λ is at least 1 (the bias's column of ones, and each
    standardized feature's).  A heavier feature's few rows overshoot at every
    visit, further each epoch; such a feature is divided by its deviation
    ``std`` (0: constant) times √(heaviness / (trace + 1 + 2B')) instead, the
    trace that of the second moments of the features as divided so, which
    --lr auto measures: dividing lowers it, so the divisors are iterated to
    where they hold for the trace they leave (each pass lowers the trace, so
    raises the divisors, which converge).
    ``figures``: the features' means and sums of their deviations' powers 2 to
    4 over rows of weight ``n`` (RunningMoments, engine/passes.py
    SparseMoments); ``centred``: the mean is taken out, else the features are
    divided about 0 (wide sparse rows).
    """
    std = np.asarray(std, dtype=np.float64)
    keep = std > 0
    heaviness = np.full(len(std), np.nan)
    if n <= 0 or not keep.any():
        return std, heaviness
    mean, (m2, m3, m4) = figures[MEAN, keep], figures[M2:, keep] / n
    off = np.zeros_like(mean) if centred else mean  # the mean's distance from where the features are centred
    var = std[keep] ** 2
    second = (m2 + off**2) / var
    heaviness[keep] = (m4 + 4 * off * m3 + 6 * off**2 * m2 + off**4) / var**2 / second
    heavy = np.where(np.isfinite(heaviness[keep]), heaviness[keep], 0.0)
    over = np.ones_like(heavy)  # the square of each divisor over the deviation
    for _ in range(DIVISOR_STEPS):
        trace = float((second / over).sum()) + 1.0  # and the bias's 1
        step = np.maximum(heavy / (trace + 1.0 + 2.0 * batches), 1.0)
        done = np.all(step <= over * (1.0 + 1e-12))
        over = step
        if done:
            break
    divisor = std.copy()
    divisor[keep] *= np.sqrt(over)
    return divisor, heaviness
