"""What ``evaluate`` and validation add up over rows: the model's metrics and its weighted loss, mergeable
(the workers of a distributed run each measure their share)."""

from __future__ import annotations

import numpy as np

from sgdcli.kernels import losses
from sgdcli.model import metrics

# 8-byte values a row that ``Measurement.add`` holds at once beside the scores and labels it is given, and a
# value an output: the metrics' masks and offsets, the AUC's bucket keys (model/metrics.py), the loss's per-row
# values and its scores' copy, the weights' products
ROW_VALUES = 10


def row_bytes(outputs: int) -> int:
    """The most bytes a row of ``outputs`` scores takes in ``Measurement.add`` beside its scores and label: what
    the budget of a block being measured counts for it (on narrow rows, more than the row itself)."""
    return 8 * (ROW_VALUES + outputs)


class Measurement(metrics.Weighed):
    """The model's metric accumulator and the training loss summed over some rows, with the sum of the rows'
    weights in that loss (both in units of the largest sample weight, ``metrics.Weighed``); mergeable."""

    _sums = ("loss_sum", "weight")

    def __init__(self, objective: tuple[str, float], centre: float = 0.0):
        """``centre``: the score a binary model's AUC is centred on (``metrics.BinaryMetrics``), the same for
        every part of the rows that is merged."""
        self.acc = metrics.for_model(objective, centre)
        self.loss_sum = 0.0
        self.weight = 0.0  # of the rows (sample weight × class weight; their count without weights)

    def merge(self, other: "Measurement") -> None:
        self._align(other)
        self.acc.merge(other.acc)
        self.loss_sum += other.loss_sum
        self.weight += other.weight

    def add(self, S: np.ndarray, y: np.ndarray, sw: np.ndarray | None, code: tuple) -> None:
        """Rows of scores ``S``, encoded labels ``y`` and sample weights ``sw`` (None: 1 each); ``code``, the
        kernels' loss (``losses.loss_of``)."""
        with np.errstate(all="ignore"):  # a score or loss beyond float64 is an inf (null) metric, not a warning
            self._add(S, y, sw, code)

    def _add(self, S: np.ndarray, y: np.ndarray, sw: np.ndarray | None, code: tuple) -> None:
        self.acc.update(S, y, sw)
        sw = self._relative(sw)
        per_row = losses.row_losses(code, S, y, np.empty(len(y)), np.empty_like(S))  # × class weights
        self.loss_sum += float(per_row.sum()) if sw is None else float(per_row @ sw)
        class_weights = code[2]
        v = sw if class_weights is None else class_weights[y.astype(np.int64)] * (1.0 if sw is None else sw)
        self.weight += float(len(y)) if v is None else float(v.sum())

    def result(self) -> dict:
        """The metrics, and the training loss as ``loss``: its weighted mean, the objective without penalties
        (model/weights.py)."""
        result = self.acc.result()
        result["loss"] = self.loss_sum / self.weight if self.weight > 0 else float("nan")
        return result
