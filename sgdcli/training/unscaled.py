"""Whether a run on features that are not standardized ended far from the optimum: a FitWarning where it did.

Gradient descent's progress along a direction is the rate times the loss's
curvature along it, and the rate is capped by the largest curvature.  Raw
features (``--no-standardize``, or an ``--init`` model that was not
standardized, without ``--restandardize``) whose scales differ, or which sit
far from 0, make the curvature uneven: a feature of mean 100 and spread 1
puts nearly all of it along the direction that moves the bias and that
feature's weight together, and the rate sized for it crawls along the
others.  Standardization (each feature's mean and standard deviation,
folded into the model written: nothing is lost by it) makes the curvature
as even as the features' correlations allow.  On raw features offset by 100
or 10,000, or scaled from 0.01 to 100 (bench/unstandardized.py), mini-batch
runs of 5 epochs at the defaults ended 21% to 52% above the optimum of
logistic models and 140% to 400% above that of linear ones, where
standardized runs of the same rows ended within 0.2%; breast cancer's
raw features (0.001 to 4,000) left logistic under ``--l2 1e-3`` at 4.5 times
its optimum.

So at the end of a dense run on raw features of ``linear`` (least squares),
``logistic`` or ``softmax`` (Newton's method, training/gradientnoise.py, up
to its FIT_UP_TO weights), the run's sample is fitted in its own
standardized units, the objective trained (--l2 on the raw weights, the
rows' weights) the same whatever the units, and the kept model's objective
on those rows is set against the fit's, with what a fit gains on the rows it
fits added back (training/fullbatch.py ``optimism``; for squared error,
times the residuals' variance, which is the loss's gradients' spread over
its curvature).  A model over fullbatch.NEAR above it, on features whose
second moments (with the bias's 1) are UNEVEN times as ill-conditioned as
standardized ones or more, is told to standardize them.  A run far from the
optimum on features that standardizing would not change is left to the
other warnings (training/fitwarnings.py).
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.training import curvature, fullbatch, gradientnoise, linearfit
from sgdcli.training.sampling import room, sample, sample_labels

# How many times as ill-conditioned as the standardized features' the raw features' second moments must be for a
# run far from the optimum to be told that standardizing them is the cure: features all scaled by 3 (this ratio
# 9) trained raw as they did standardized; features scaled from 1 to 10 (95) held a full-batch linear run from 0
# at twice its optimum's loss, where standardized ones ended within 0.2% (bench/results/2026-12-04-
# unstandardized.md).
UNEVEN = 10.0
# Rows fitted per weight below which the fit's gain on its own rows, which the estimate adds back to first order
# only, is no longer small: no warning.
ROWS_PER_WEIGHT = 10
MODELS = ("linear", *gradientnoise.MODELS)


def judge(run, epochs: int, kept_epoch: int) -> tuple[list[str], bool]:
    """The warning of ``run`` (a training/run.py ``Run`` at its end, after ``epochs`` epochs) where it trained on
    dense raw features UNEVEN times as ill-conditioned as standardized ones or more, and the objective of its kept
    model (from its epoch ``kept_epoch``, 1-based: early stopping's best, else the last) on its sample is over
    fullbatch.NEAR above the optimum's estimate; and whether its features are so uneven, warned or not.  Nothing,
    and False, where that is not measured (other models, standardized or sparse rows, a fit too wide for its
    model's bound or for the sample's --memory, too few rows for its weights)."""
    opts, d = run.opts, run.table.n_features
    outputs = max(run.labels.n_outputs, 2) - 1 if opts.model != "linear" else 1
    if opts.model not in MODELS or run.std is not None or run.table.sparse or (
            opts.model != "linear" and outputs * (d + 1) > gradientnoise.FIT_UP_TO):
        return [], False
    raw = sample_labels(run.sample)
    classes = run.labels.class_of(raw) if opts.model != "linear" else None
    labelled = np.isfinite(raw) if classes is None else classes >= 0
    targets = raw if classes is None else np.where(labelled, classes, np.nan)
    weights = run.sample_weights_of(raw)
    Z = sample(run.sample, np.zeros(d), np.ones(d))  # the rows as the kernels see them: raw, and the bias's 1
    try:
        fits = (curvature.exact(d + 1, room(run.sample)) if classes is None else  # every class, as the model has
                len(np.unique(classes[labelled])) == outputs + 1 and not gradientnoise.skipped(
                    opts.model, Z, targets, weights, room(run.sample)))
        if not fits or labelled.sum() < ROWS_PER_WEIGHT * outputs * (d + 1):
            return [], False
        params = run.kept_params()
        loss = _objective(opts.model, Z @ params.T, targets, weights, labelled) + 0.5 * opts.l2 * float(
            np.sum(params[:, :-1] ** 2))
        ratio, spread = _standardize(Z)  # in place: Z's rows standardized by the sample's own statistics
        if not ratio >= UNEVEN:
            return [], False
        # the penalty of the raw weights, w = w' / spread: of the standardized ones', l2 / spread² each
        l2 = opts.l2 / spread**2
        if opts.model == "linear":
            best, variance = linearfit.objective(Z, targets, weights, linearfit.fit(Z, targets, weights, l2), l2)
        else:
            best, variance = gradientnoise.fit_objective(opts.model, Z, targets, weights, l2), None
    finally:
        run.sample.release()
    best += _optimism(outputs * (d + 1), run.n_train, weights, labelled, variance)
    if not (math.isfinite(best) and best > 0 and loss > (1.0 + fullbatch.NEAR) * best):
        return [], True
    which = f" (epoch {kept_epoch}'s, which early stopping kept)" if 0 < kept_epoch < epochs else ""
    what = "mean loss" if opts.l2 == 0 else "objective (its mean loss and --l2's penalty)"
    how = "least squares" if opts.model == "linear" else "Newton's method"
    raw_features, cure = (("the initial model's (--init) are not", "add --restandardize") if run.init is not None
                          else ("--no-standardize", "drop --no-standardize"))
    return [f"the model's{which} {what} on the run's sample of {int(labelled.sum()):,} rows, {loss:.4g}, is "
            f"{loss / best - 1:.0%} above the optimum's, estimated by a fit of them ({how}), {best:.4g}: the "
            f"features are not standardized ({raw_features}), which leaves the loss's curvature {ratio:.3g} times "
            f"as uneven as on standardized features, and training crawls along its flat directions; {cure}"], True


def _objective(model: str, S: np.ndarray, targets: np.ndarray, weights: np.ndarray | None,
               labelled: np.ndarray) -> float:
    """The mean loss over the ``labelled`` rows of scores ``S`` (rows × outputs) for ``targets`` (linear's
    labels; the classifiers' classes), each row times its weight of ``weights`` (None: 1)."""
    v = np.ones(int(labelled.sum())) if weights is None else weights[labelled]
    S, y = S[labelled], targets[labelled]
    if model == "linear":
        row = 0.5 * (S[:, 0] - y) ** 2
    else:
        row = fullbatch.losses(S, y.astype(np.int64))
    return float(np.sum(v * row) / len(S))


def _standardize(Z: np.ndarray) -> tuple[float, np.ndarray]:
    """How many times as ill-conditioned as the same rows' standardized the second moments of the rows ``Z`` (their
    features and the bias's 1) are; and each feature's standard deviation over them, by which ``Z``'s features are
    then centred and divided in place (those constant over them: 1, and their column 0, left out of the ratio)."""
    d = Z.shape[1] - 1
    centre, squares = Z[:, :d].mean(axis=0), np.zeros(d)
    for start in range(0, len(Z), gradientnoise.BLOCK_ROWS):  # in blocks of rows: never a copy of all of Z
        squares += ((Z[start:start + gradientnoise.BLOCK_ROWS, :d] - centre) ** 2).sum(axis=0)
    spread = np.sqrt(squares / len(Z))
    varies = np.append(spread > 0, True)
    before = _condition(Z, varies)
    spread = np.where(spread > 0, spread, 1.0)
    for start in range(0, len(Z), gradientnoise.BLOCK_ROWS):
        block = Z[start:start + gradientnoise.BLOCK_ROWS, :d]
        block -= centre
        block /= spread
    Z[:, np.flatnonzero(~varies)] = 0.0
    return before / _condition(Z, varies), spread


def _condition(Z: np.ndarray, varies: np.ndarray) -> float:
    """The ratio of the largest eigenvalue of the second moments of ``Z``'s columns that ``varies`` selects to the
    smallest, that at least the largest's rounding error."""
    values = np.linalg.eigvalsh((Z.T @ Z / len(Z))[np.ix_(varies, varies)])
    return float(values[-1] / max(values[0], values[-1] * np.finfo(np.float64).eps))


def _optimism(p: int, n: int, weights: np.ndarray | None, labelled: np.ndarray, variance: float | None) -> float:
    """What a fit of ``p`` weights to the ``labelled`` rows of the sample gains on them over the optimum of the
    ``n`` training rows, in the objective's mean over them (fullbatch.optimism); linear's times its residuals'
    weighted ``variance`` (squared error's gradients' spread over its curvature, which a likelihood's optimum
    makes 1: None)."""
    m = int(labelled.sum())
    v = np.ones(m) if weights is None else weights[labelled]
    kept = v > 0
    if not kept.any():
        return math.nan
    gain = fullbatch.optimism(p, int(kept.sum()), n, v[kept]) * kept.sum() / m
    return gain if variance is None else gain * variance
