"""Whether a warm start (--init) ended worse than the model it started from.

A fresh run is held to the loss of the model it started from over every training row, which setup counts in
its passes (run.start_loss: the all-zero model's, or a fresh logistic model's at the labels' log-odds, a
linear model's at their mean).  A warm
start's initial model has no such count, and holding it to the all-zero model's loss told a run from a poor
initial model (log loss 17) that ended at 6.9 that it "ended worse than it started", and to lower a rate that
was doing well.  Both models are scored instead on the run's sample (training/sampling.py, read again: the same
rows), weighed as the kernels weigh them: the same rows for both, so what they share of the sample's noise
cancels, and the model kept is judged, not an epoch's loss averaged over batches as they were trained.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sgdcli.kernels import losses
from sgdcli.training import warmstart
from sgdcli.training.sampling import sample, sample_labels, sparse_sample

# How far above the initial model's mean loss on the sample the kept model's must be to be told it ended worse, as
# a share of the larger of that loss and the all-zero model's (the problem's scale): a fine-tune of a model at the
# optimum ends a few percent above it, by the steps' last jitter, where the loss is near 0 (0.0543 from 0.0532,
# hinge at batch 8), which a share of its own loss alone called worse.
WORSE = 0.05
# How far above the all-zero model's mean loss the kept model's must be to be told it is not yet below it: a margin
# over rounding, as fitwarnings.ABOVE_ZERO is for a fresh run.
ABOVE_ZERO = 1.01


class Ended(NamedTuple):
    """The mean losses on the run's sample of the model kept, the initial model and the all-zero model."""

    kept: float
    initial: float
    zero: float
    rows: int  # the sample's labelled rows, which the means are over

    @property
    def worse(self) -> bool:
        """Worse than the model it started from."""
        return bool(np.isfinite(self.initial) and self.kept > self.initial + WORSE * max(self.initial, self.zero))

    @property
    def above_zero(self) -> bool:
        """Worse than a model of zeros: from a poor initial model, not yet as low."""
        return bool(np.isfinite(self.zero) and self.kept > ABOVE_ZERO * self.zero)


def measure(run) -> Ended | None:
    """The Ended of a warm start's ``run`` (a training/run.py ``Run`` at its end); None where the sample holds no
    labelled row."""
    raw = sample_labels(run.sample)
    regression = run.labels.task == "regression"
    targets = raw.astype(np.float64) if regression else run.labels.class_of(raw).astype(np.float64)
    labelled = np.isfinite(targets) if regression else targets >= 0
    if not labelled.any():
        return None
    v = run.sample_weights_of(raw)
    v = np.ones(int(labelled.sum())) if v is None else v[labelled]
    start = warmstart.weights(run.init, run.mean, run.std)
    models = (run.kept_params(), start, np.zeros_like(start))
    S = _scores(run, np.concatenate(models))[labelled]  # the rows as the kernels see them, once for the three
    y, loss = targets[labelled], losses.loss_of(run.opts.objective)  # (``v`` carries the class weights)
    means, at = [], 0
    with np.errstate(all="ignore"):  # a score beyond float64 is an infinite loss, judged as such
        for P in models:
            part = np.ascontiguousarray(S[:, at:at + len(P)])
            per_row = losses.row_losses(loss, part, y, np.empty(len(y)), np.empty_like(part))
            means.append(float(per_row @ v / max(v.sum(), np.finfo(np.float64).tiny)))
            at += len(P)
    return Ended(*means, len(y))


def _scores(run, P: np.ndarray) -> np.ndarray:
    """The scores (rows × outputs) of the sample's rows, as the kernels see them, under ``P`` (outputs ×
    features + 1, the bias last, in the kernels' units)."""
    if not run.table.sparse:
        return sample(run.sample, run.plan.center, run.plan.scale) @ P.T
    X, values = sparse_sample(run.sample, run.plan.scale)
    row_of = np.repeat(np.arange(X.n_rows), np.diff(X.indptr))
    return np.column_stack([np.bincount(row_of, weights=values * p[X.indices], minlength=X.n_rows) + p[-1]
                            for p in P])
