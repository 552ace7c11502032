"""The all-zero model's mean loss over the training rows: where training starts, which an epoch's loss is
measured against to tell a blow-up (training/rate.py ``blew_up``) and a run that ended worse than it started
(training/fitwarnings.py).

Every score 0 gives a classifier the same loss on every row (ln 2 for logistic, ln K for softmax, 1 for the
hinges), whatever its weight.  A regression's depends on the label alone, so the pass over the labels before
training (engine/passes.py) sums it over every training row, each row weighted as the objective weighs it:
exact, where a sample of the labels misses the few rows of outlying labels that dominate a squared loss.  The
sums of two shares of the rows add up (``merge``), for threads and Dask workers that read shares of the blocks.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from sgdcli.kernels import losses
from sgdcli.options import task_of


def constant(model: str, outputs: int) -> float:
    """A classifier's all-zero loss, the same on every row (``outputs`` scores); NaN for a regression, whose
    depends on its labels (``ZeroLoss``)."""
    if task_of(model) == "regression":
        return math.nan
    if model in ("logistic", "softmax"):
        return math.log(max(outputs, 2))  # ln 2; ln K
    return 1.0  # the hinges: a margin of 1 missed


def row_losses(loss: tuple, labels: np.ndarray) -> np.ndarray:
    """A regression's all-zero loss on each of ``labels`` (raw values), ``loss`` the kernels' ``(code, param,
    ...)``: the loss's one definition (kernels/losses.py) at a score of 0."""
    y = np.ascontiguousarray(labels, dtype=np.float64)
    scores = np.zeros((len(y), 1))
    return losses.row_losses(loss, scores, y, np.empty(len(y)), np.empty_like(scores))


def saturated(y: np.ndarray) -> np.ndarray:
    """Each count's least poisson loss, y − y·log y (0 at a count of 0): the saturated model's, which predicts
    it; a deviance is twice a loss less it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return y - np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)


@dataclasses.dataclass
class ZeroLoss:
    """The all-zero loss summed over some rows, each times its weight (``total``), their labels so summed
    (``first``: where a constant model of squared error is measured from, ``constant_loss``), their weights'
    sum (``weight``; rows without weights count 1 each), and for poisson their saturated model's losses so
    summed (``saturated``: y − y·log y, a count's least loss, from which its deviance is measured)."""

    total: float = 0.0
    weight: float = 0.0
    first: float = 0.0
    saturated: float = 0.0

    def add(self, loss: tuple, labels: np.ndarray, weights: np.ndarray | None) -> None:
        """Add rows of raw ``labels`` (finite) and sample ``weights`` (None: 1 each)."""
        if not len(labels):
            return
        per_row = row_losses(loss, labels)
        with np.errstate(over="ignore"):  # labels of 1e200: an infinite loss, which no blow-up is measured against
            self.total += float(per_row.sum() if weights is None else per_row @ weights)
            y = np.asarray(labels, dtype=np.float64)
            self.first += float(y.sum() if weights is None else y @ weights)
            if loss[0] == losses.POISSON:
                least = saturated(y)
                self.saturated += float(least.sum() if weights is None else least @ weights)
        self.weight += float(len(labels) if weights is None else weights.sum())

    def merge(self, other: "ZeroLoss") -> None:
        self.total += other.total
        self.weight += other.weight
        self.first += other.first
        self.saturated += other.saturated

    def mean(self) -> float:
        """The weighted mean loss of the rows added; NaN where they weigh nothing."""
        return self.total / self.weight if self.weight > 0 else math.nan

    def saturated_loss(self) -> float:
        """Poisson's weighted mean loss of the saturated model on the rows added, which predicts every count;
        NaN where they weigh nothing."""
        return self.saturated / self.weight if self.weight > 0 else math.nan

    def constant_loss(self, bias: float) -> float:
        """The weighted mean squared-error loss ½(b − y)² of the constant model ``bias`` on the rows added (whose
        all-zero loss is ½y²): ½y² − b·y + ½b², from the sums; NaN where they weigh nothing."""
        if not self.weight > 0:
            return math.nan
        return self.total / self.weight - bias * self.first / self.weight + 0.5 * bias * bias
