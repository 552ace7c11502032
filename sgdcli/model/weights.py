"""How rows weigh in the objective: per-row sample weights (``--sample-weight``) and class weights
(``--class-weight``), as one weight per row.

The objective is the weighted mean of the rows' losses, plus the penalties:

    Σ_i v_i · loss_i / Σ_i v_i  +  (l2/2)·‖w‖² + l1·‖w‖₁,    v_i = sample weight_i × class weight(y_i)

So weights are relative (multiplying them all by one constant changes
nothing), integer weights give exactly the objective of the file with each
row repeated that many times, and ``--l2`` means what it means without
weights.  It is scikit-learn's weighted objective divided by the sum of
weights, so the optima agree where the penalties are scaled by it
(docs/training.md has the table: Ridge's alpha is l2 · Σ v, for instance).

The kernels average gradients over a batch's rows.  They take each row's
weight times ``scale`` = training rows / Σ v, whose mean over the training
rows is 1: a batch's mean gradient is then an unbiased estimate of the
weighted mean's, whatever the batch, and a step has the size it has without
weights.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from sgdcli.data.numeric import SQUARES_LIMIT
from sgdcli.errors import InputError

# The largest sum of the training rows' weights: standardization multiplies two sums of weights (Chan et al.'s
# merge) and squares weighted sums of values, which, for sums much beyond it, pass float64's largest.
TOTAL_LIMIT = SQUARES_LIMIT
# The mean weight below which that product of two sums of weights underflows instead (weights of 1e-200 lost the
# merges' term of the parts' means, and standardized by other deviations): the statistics then take the weights
# in units of their mean, which the weighted figures do not depend on.
TINY_MEAN = 1e-100


def check(w: np.ndarray, where: str, first_row: int, option: str = "--sample-weight") -> None:
    """Every weight of a block is finite and >= 0 (``w[0]`` is row ``first_row``), or an InputError naming the
    first that is not, after the option that gave them (--weight-column: a column of --x)."""
    bad = np.flatnonzero(~(np.isfinite(w) & (w >= 0)))
    if len(bad):
        row = int(bad[0])
        raise InputError(f"{option}: {where}: weight {float(w[row])} at row {first_row + row} is not a finite "
                         "number >= 0")


@dataclasses.dataclass(frozen=True)
class Weighting:
    """The weights of a run's rows: the dataset of sample weights (None: 1 each), the class weights (None: 1
    each), and their product summed over the training rows (``total``, of ``rows`` rows)."""

    sample_weight: str | None
    class_weights: np.ndarray | None
    total: float
    rows: int
    option: str = "--sample-weight"  # the option that gave the sample weights: --weight-column's are a column

    @classmethod
    def of(cls, sample_weight: str | None, class_weights: np.ndarray | None, classes: np.ndarray | None,
           found: np.ndarray | None, per_class: np.ndarray | None, weight_sums: np.ndarray | None,
           weight_total: float, rows: int, where: str, option: str = "--sample-weight") -> "Weighting":
        """The weighting of training rows with these label values (``found``, the classes' values, each with
        ``per_class`` rows and sample weights summing to ``weight_sums``; regression: None), ``weight_total``
        the sum of their sample weights; InputError when every row weighs 0."""
        if class_weights is None:
            total = weight_total if sample_weight is not None else float(rows)
        else:
            sums = weight_sums if sample_weight is not None else per_class
            with np.errstate(over="ignore"):  # past float64's largest: inf, refused below
                total = float(sum(w * float(sums[found == c].sum()) for w, c in zip(class_weights, classes)))
        what = " × --class-weight" if class_weights is not None else ""
        said = f"{option}{what}" if sample_weight is not None else "--class-weight"
        if total > TOTAL_LIMIT:  # (inf: the rows' weights scaled by it would be 0 and their gradients NaN)
            raise InputError(f"{said}: {where}: the training rows' weights sum to more than {TOTAL_LIMIT:.2g}, "
                             "beyond which the sums of products that standardization takes leave float64's range; "
                             "divide them by a constant, which does not change the weighted objective")
        if not total > 0:
            raise InputError(f"{said}: {where}: every training row weighs 0; nothing to train on")
        if not math.isfinite(rows / total):  # (the kernels' weights, scaled by it, would be inf or NaN)
            raise InputError(f"{said}: {where}: the training rows' weights sum to {total:.3g}, too little to scale "
                             "to a mean of 1 in a float64; multiply them by a constant, which does not change the "
                             "weighted objective")
        return cls(sample_weight, class_weights, total, rows, option)

    @property
    def weighted(self) -> bool:
        """Whether rows may weigh differently: sample weights or class weights given."""
        return self.sample_weight is not None or self.class_weights is not None

    @property
    def scale(self) -> float:
        """What the kernels multiply each row's weight by: training rows / Σ weights (mean weight 1)."""
        return self.rows / self.total

    def kernel_class_weights(self) -> np.ndarray | None:
        """The class weights the kernels take: scaled here where there are no sample weights to carry
        ``scale``."""
        if self.class_weights is None or self.sample_weight is not None:
            return self.class_weights
        return self.class_weights * self.scale

    def moments_scale(self) -> float:
        """What standardization's pass multiplies the rows' weights by: ``scale`` where their mean is below
        TINY_MEAN, else 1 (the figures as they were, to the bit)."""
        return self.scale if self.total < TINY_MEAN * self.rows else 1.0

    def row_scale(self) -> float | None:
        """The factor of the sample weights the kernels take (None: no sample weights)."""
        return self.scale if self.sample_weight is not None else None

    def of_rows(self, labels: np.ndarray, classes: np.ndarray | None, sample: np.ndarray | None) -> np.ndarray | None:
        """The weights the kernels give rows with raw labels ``labels`` (of the classes ``classes``, sorted; None
        for a regression) and sample weights ``sample``; None where every row weighs 1.  A label that is no
        class (a held-out row's, a non-finite one) weighs as a neighbouring class."""
        if self.sample_weight is None and self.class_weights is None:
            return None
        v = np.full(len(labels), self.scale)
        if sample is not None:
            v *= sample
        if self.class_weights is not None:
            v *= self.of_classes(labels, classes)
        return v

    def of_classes(self, labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """The class weight of each row, by its raw label (of the classes ``classes``): of a neighbouring class
        where the label is no class (a held-out row's, a non-finite one)."""
        order = np.argsort(classes, kind="stable")  # (the classes are sorted but for --positive-class)
        return self.class_weights[order[np.clip(np.searchsorted(classes[order], labels), 0, len(classes) - 1)]]

    def as_dict(self) -> dict:
        """What the model card keeps of them (entries of its ``training``): the class weights, and the dataset
        (or --x's column) of sample weights with the sum over the training rows of the rows' weights."""
        column = self.option == "--weight-column"
        return {**({"class_weights": self.class_weights.tolist()} if self.class_weights is not None else {}),
                **({"sample_weight": {"column" if column else "dataset": self.sample_weight, "total": self.total}}
                   if self.sample_weight is not None else {})}
