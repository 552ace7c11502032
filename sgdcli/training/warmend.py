"""Whether a run ended worse than a model it started from whose loss over the training rows no pass counted.

A fresh run is held to the loss of the model it started from over every training row, which setup counts in
its passes (run.start_loss: the all-zero model's, or a fresh logistic model's at the labels' log-odds, a
linear model's at their mean).  A warm start's initial model has no such count, and holding it to the all-zero
model's loss told a run from a poor initial model (log loss 17) that ended at 6.9 that it "ended worse than it
started", and to lower a rate that was doing well.  Nor has a fresh huber or quantile model's start
(training/start.py: the least-squares fit of the sample with its bias at the residuals' median or quantile, or,
on sparse rows, the bias at the labels'), and held to the all-zero model's loss, far above it on labels about
1,000,000, a run at a constant rate that left it many times its start's loss said nothing.  Both models are
scored instead on the run's sample (training/sampling.py, read again: the same rows), weighed as the kernels
weigh them: the same rows for both, so what they share of the sample's noise cancels, and the model kept is
judged, not an epoch's loss averaged over batches as they were trained.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sgdcli.kernels import losses
from sgdcli.training import fullbatch, warmstart
from sgdcli.training.sampling import sample, sample_labels, sparse_sample, stays_sparse
from sgdcli.training.start import FITTED, best_constant

# How far above the initial model's mean loss on the sample the kept model's must be to be told it ended worse, as
# a share of the larger of that loss and the base model's (the problem's scale: a warm start's all-zero model, a
# fresh run's best constant model): a fine-tune of a model at the optimum ends a few percent above it, by the
# steps' last jitter, where the loss is near 0 (0.0543 from 0.0532, hinge at batch 8), which a share of its own
# loss alone called worse.
WORSE = 0.05
# How far above the all-zero model's mean loss the kept model's must be to be told it is not yet below it: a margin
# over rounding, as endedworse.ABOVE_ZERO is for a fresh run.
ABOVE_ZERO = 1.01


class Ended(NamedTuple):
    """The mean losses on the run's sample of the model kept, the initial model and the base model (the all-zero
    model of a warm start, the best constant model of a fresh run: the problem's scale), each with --l2's and
    --l1's penalty of its weights: the objective trained, which a run from a model of large weights (least
    squares' fit, an --init model) raises the mean loss of where the penalty is strong."""

    kept: float
    initial: float
    base: float
    rows: int  # the sample's labelled rows, which the means are over
    floor: float = 0.0  # a regression's losses that differ by less are the same (fullbatch.rounding)

    @property
    def worse(self) -> bool:
        """Worse than the model it started from, by more than rounding."""
        return bool(np.isfinite(self.initial) and self.kept > self.initial + WORSE * max(self.initial, self.base)
                    + self.floor)

    @property
    def above_base(self) -> bool:
        """Worse than the base model, by more than rounding: from a poor initial model, not yet as low."""
        return bool(np.isfinite(self.base) and self.kept > ABOVE_ZERO * self.base + self.floor)


def uncounted_start(run) -> bool:
    """Whether fresh ``run`` started from huber's or quantile's fit or quantile of its sample (training/start.py
    FITTED), whose loss over the training rows no pass counts.  (Poisson's start, its bias at the labels' mean's
    log, is held to the all-zero model's loss: its loss has no floor at 0, so a share of it is no margin.)"""
    return run.init is None and run.opts.model in FITTED


def measure_fresh(run) -> Ended | None:
    """The Ended of a fresh ``run`` that ``uncounted_start``: its start (``run.start``) and the best constant
    model of its sample's labels (training/start.py ``best_constant``); None where the sample holds no labelled
    row."""
    return measure(run, run.start[None, :], best_constant_model(run))


def best_constant_model(run) -> np.ndarray:
    """The best constant model of ``run``'s sample's labels (training/start.py ``best_constant``; 1 × features +
    1, in the kernels' units): its weights 0."""
    raw = sample_labels(run.sample)
    constant = np.zeros((1, len(run.start)))
    constant[0, -1] = best_constant(run.opts.model, run.opts.quantile, raw, run.sample_weights_of(raw))
    return constant


def measure(run, start: np.ndarray | None = None, base: np.ndarray | None = None) -> Ended | None:
    """The Ended of ``run`` (a training/run.py ``Run`` at its end), held to ``start`` and ``base`` (outputs ×
    features + 1 in the kernels' units; default: a warm start's --init model, and zeros); None where the sample
    holds no labelled row."""
    raw = sample_labels(run.sample)
    regression = run.labels.task == "regression"
    targets = raw.astype(np.float64) if regression else run.labels.class_of(raw).astype(np.float64)
    labelled = np.isfinite(targets) if regression else targets >= 0
    if not labelled.any():
        return None
    weights = run.sample_weights_of(raw)
    v = np.ones(int(labelled.sum())) if weights is None else weights[labelled]
    start = warmstart.weights(run.init, run.mean, run.std) if start is None else start
    models = (run.kept_params(), start, np.zeros_like(start) if base is None else base)
    S = _scores(run, np.concatenate(models))[labelled]  # the rows as the kernels see them, once for the three
    y, loss = targets[labelled], losses.loss_of(run.opts.objective)  # (``v`` carries the class weights)
    means, at = [], 0
    with np.errstate(all="ignore"):  # a score beyond float64 is an infinite loss, judged as such
        for P in models:
            part = np.ascontiguousarray(S[:, at:at + len(P)])
            per_row = losses.row_losses(loss, part, y, np.empty(len(y)), np.empty_like(part))
            means.append(float(per_row @ v / max(v.sum(), np.finfo(np.float64).tiny)) + fullbatch.penalty(run.opts, P))
            at += len(P)
    return Ended(*means, len(y), fullbatch.rounding(run.opts.model, run.opts.objective[1], raw, weights))


def _scores(run, P: np.ndarray) -> np.ndarray:
    """The scores (rows × outputs) of the sample's rows, as the kernels see them, under ``P`` (outputs ×
    features + 1, the bias last, in the kernels' units)."""
    if not stays_sparse(run.table):
        return sample(run.sample, run.plan.center, run.plan.scale) @ P.T
    X, values = sparse_sample(run.sample, run.plan.scale)
    row_of = np.repeat(np.arange(X.n_rows), np.diff(X.indptr))
    return np.column_stack([np.bincount(row_of, weights=values * p[X.indices], minlength=X.n_rows) + p[-1]
                            for p in P])
