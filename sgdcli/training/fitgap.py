"""How far the model a run keeps is above the optimum of its objective, estimated by a fit of the run's sample: what
the end's warnings judge a run by where such a fit exists (training/fitwarnings.py).

The run's sample (training/sampling.py, read again: the same rows) is fitted: least squares for ``linear``
(training/linearfit.py), Newton's method for ``logistic`` and ``softmax`` (training/classifierfit.py) and
iteratively reweighted least squares for ``huber`` and ``quantile`` (training/robustfit.py), Newton's method for
``poisson`` (training/poissonfit.py, judged by the deviance, whose floor is 0) and generalized Newton steps for the
hinge family (training/marginfit.py), up to classifierfit.FIT_UP_TO weights (not under --l1, whose penalty they do
not fit, but the classifiers'), of the objective trained (--l2, the --l1 of linear, logistic and softmax, the rows'
weights). The kept model's objective on those rows is set against the fit's, with what a fit gains on the rows it
fits added back (training/fullbatch.py ``optimism``; for squared error, times the residuals' variance, which is the
loss's gradients' spread over its curvature; for huber, the pinball loss and the hinge family, their gradients'
spread over their curvature at the fit, robustfit.noise and marginfit.noise). On raw features (--no-standardize) the
rows are fitted in their own standardized units, the penalty carried into them: the objective is the same in any
units, and raw features far from 0 or of scales far apart would lose the fit's small directions to rounding; how
uneven they leave the curvature is measured on the way (training/unscaled.py).

That estimate counts the sample's rows as drawn apart; they are read in runs (training/sampling.py), and where
the rows of a run are alike the fit gains more on them than it adds back.  So a gap found far is checked by fits
of half the runs (of a sample of one run, the whole file, half its pieces), each scoring the other half's rows,
which never helped fit them (``Gap.confirmed``): a model that scores those rows no worse than they do is not
shown to be far.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from sgdcli.model import zeroloss
from sgdcli.options import TrainOptions
from sgdcli.training import (adaptivesize, classifierfit, curvature, fullbatch, linearfit, marginfit, poissonfit,
                             robustfit)
from sgdcli.training.sampling import SAMPLE_RUNS, room, sample, sample_labels, stays_sparse

# Rows fitted per weight below which the fit's gain on its own rows, which the estimate adds back to first order
# only, is no longer small: nothing is measured.
ROWS_PER_WEIGHT = 10
# Rows per weight that each half of the sample must hold for ``Gap.confirmed``'s fits of it: with fewer, a fit's
# loss on the rows it never saw is far above the optimum's and confirms nothing, and the estimate decides alone;
# with these, runs 100% above the optimum are confirmed where their rows are drawn apart
HALF_ROWS_PER_WEIGHT = 2
MODELS = ("linear", *classifierfit.MODELS, *robustfit.MODELS, "poisson", *marginfit.MODELS)
# the fit of each model, but the classifiers' Newton's method
HOW = {"linear": "least squares", **dict.fromkeys(robustfit.MODELS, "iteratively reweighted least squares")}


class Gap(NamedTuple):
    """The kept model's objective on the sample (``loss``) against the optimum's estimate (``best``)."""

    loss: float
    best: float
    rows: int  # the sample's rows with a label, which the means are over
    # the fit: "least squares", "Newton's method" (under --l1, "proximal Newton steps") or "iteratively reweighted
    # least squares"
    how: str
    what: str  # "mean loss", or with --l2 "objective (its mean loss and --l2's penalty)", or with --l1 too
    uneven: float  # raw features: how many times as ill-conditioned as standardized ones they are; else NaN
    floor: float = 0.0  # a regression's losses that differ by less are the same (fullbatch.rounding)
    # where ``far``: the condition number of the second moments of the sample's standardized rows (and the bias's
    # 1): about how many steps sized for the steepest direction take to cross the flattest
    condition: float = math.nan
    # where ``far`` and measured to confirm it: the objective on the sample of fits of half its runs of rows, each
    # scoring the other half's (``_held_out``); NaN where a half has no fit, or that was not measured
    held_out: float = math.nan
    # where asked (``measure``'s ``last``): the objective on the sample of the last epoch's model, where early
    # stopping kept an earlier one; NaN where not measured
    last: float = math.nan

    @property
    def far(self) -> bool:
        """Over fullbatch.NEAR above the estimate, and more than rounding."""
        return self.best > 0 and not fullbatch.near(self.loss, self.best, self.floor)

    @property
    def confirmed(self) -> bool:
        """``far``, and above what fits of half the sample's runs make of the other half's rows, which never
        helped fit them (``held_out``): where the rows of a run are alike (each row repeated, a slow signal in time
        order), the sample holds fewer rows' worth than it counts, its fit gains more on them than the estimate
        adds back, and a model near the optimum was measured 17% above it.  Where the halves tell nothing (a
        half without a fit: too few rows a weight, a class it lacks, as in a file sorted by class; scores beyond
        exp's range), the estimate decides alone."""
        return self.far and not (self.loss <= self.held_out < math.inf)

    def text(self, kept_epoch: int = 0, epochs: int = 0) -> str:
        """The figures, as a warning gives them (fullbatch.measured: the epoch early stopping kept, of ``epochs``,
        named where it is not the last)."""
        return fullbatch.measured(self.loss, self.best, self.rows, self.how, self.what, kept_epoch, epochs)


def measure(run, confirm: bool = False, last: bool = False) -> Gap | None:
    """The Gap of ``run`` (a training/run.py ``Run`` at its end) for the model it keeps; None where it is not
    measured (--l1 of a model whose fit takes none, sparse rows, a fit too wide for its model's bound or for the
    sample's --memory, a class the sample does not hold, fewer than ROWS_PER_WEIGHT rows a weight, rows that the
    hinge family's fit separates without --l2: marginfit.separates).  ``confirm``: where it is ``far``, with its
    ``condition`` and ``held_out`` (``Gap.confirmed``); ``last``: with the objective of the last epoch's model
    (``Gap.last``) where early stopping kept an earlier epoch's."""
    opts, d = run.opts, run.table.n_features
    rows = _rows(run)
    if rows is None:
        return None
    Z, targets, weights, labelled, outputs = rows
    by_class = opts.model in classifierfit.MODELS or opts.model in marginfit.MODELS
    raw = sample_labels(run.sample)
    params, param = run.kept_params(), opts.objective[1]

    def objective(params: np.ndarray) -> float:  # (before raw features' Z is standardized in place)
        return _objective(opts.model, param, Z @ params.T, targets, weights, labelled) + fullbatch.penalty(opts, params)

    loss, latest = objective(params), run.state.params(opts.average)
    then = objective(latest) if last and latest is not params else math.nan
    uneven, l2, l1 = math.nan, opts.l2, opts.l1
    if run.std is None:  # raw features: fitted in the sample's own standardized units, Z's rows in place
        uneven, spread = _standardize(Z)
        l2, l1 = opts.l2 / spread**2, opts.l1 / spread  # the raw weights' penalties, w = w' / spread: the
        # standardized ones', each
    best, variance, free = _fitted(opts.model, param, Z, targets, weights, labelled, l2, l1)
    if opts.model in marginfit.MODELS and opts.l2 == 0 and marginfit.separates(
            best, None if weights is None else weights[labelled], int(labelled.sum())):
        return None  # separable rows: an optimum of 0, as far off as the classes are near
    best += _optimism(free or outputs * (d + 1), run.n_train, weights, labelled, variance)
    if not math.isfinite(best):
        return None
    what = fullbatch.objective_name(opts)
    if opts.model == "poisson":  # its deviance, twice the loss less the saturated model's (poissonfit.py): ≥ 0
        v = np.ones(int(labelled.sum())) if weights is None else weights[labelled]
        saturated = float(v @ zeroloss.saturated(targets[labelled])) / len(v)
        loss, best, then = 2.0 * (loss - saturated), 2.0 * (best - saturated), 2.0 * (then - saturated)
        what = "mean deviance" if opts.l2 == 0 else "objective (its mean deviance and twice --l2's penalty)"
    how = HOW.get(opts.model, "proximal Newton steps" if opts.l1 > 0 else "Newton's method")
    gap = Gap(loss, best, int(labelled.sum()), how, what, uneven, fullbatch.rounding(opts.model, param, raw, weights),
              last=then)
    if confirm and gap.far:  # (Z standardized by now)
        runs = run.sample.runs()
        if runs[0] == runs[-1]:  # one run, the whole file: SAMPLE_RUNS pieces of it, in turn in either half
            runs = np.arange(len(runs)) * SAMPLE_RUNS // len(runs)
        held = _held_out(opts.model, param, Z, targets, weights, labelled, l2, l1, runs % 2 == 0,
                         outputs + 1 if by_class else None, HALF_ROWS_PER_WEIGHT * outputs * (d + 1))
        if opts.model == "poisson":  # in the deviance's units, as the loss
            held = 2.0 * (held - saturated)
        gap = gap._replace(condition=_condition(Z, _varies(Z)), held_out=held)
    return gap


def fit_params(run) -> np.ndarray | None:
    """The weights of the fit of ``run``'s sample that ``measure`` sets its model against, laid out as the run's
    (outputs × features + 1, on standardized features), to score other rows with (stopchoice.loss_chose: the
    validation rows); None where ``measure`` measures nothing, or on raw features, whose fit is in units of its
    own."""
    rows = _rows(run) if run.std is not None else None
    if rows is None:
        return None
    Z, targets, weights, _, outputs = rows
    opts = run.opts
    theta = _params(opts.model, opts.objective[1], Z, targets, weights, opts.l2, opts.l1,
                    outputs + 1 if opts.model in classifierfit.MODELS else None)
    params = run.kept_params()
    return None if theta is None or theta.size != params.size else theta.reshape(params.shape).astype(params.dtype)


def _rows(run) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, int] | None:
    """What ``measure`` fits of ``run``'s sample: its rows as the kernels see them (the bias's 1 last), the targets
    (the regressions' labels; the classifiers' and the hinge family's classes, NaN where none), the rows' weights
    (None: 1), the rows with a label, and the outputs fitted (a classifier's classes but one); None where nothing is
    measured (``measure``'s reasons, but the hinge family's separable rows)."""
    opts, d = run.opts, run.table.n_features
    classifier = opts.model in classifierfit.MODELS
    by_class = classifier or opts.model in marginfit.MODELS  # (the hinge family's two classes, 0 and 1)
    outputs = max(run.labels.n_outputs, 2) - 1 if classifier else 1
    if opts.model not in MODELS or stays_sparse(run.table) or (opts.model != "linear" and (
            classifierfit.fitted_outputs(opts.model, outputs + 1, opts.l1) * (d + 1) > classifierfit.FIT_UP_TO
            or (opts.l1 > 0 and not classifier))):
        # (the other fits fit no --l1)
        return None
    raw = sample_labels(run.sample)
    classes = run.labels.class_of(raw) if by_class else None
    labelled = np.isfinite(raw) if classes is None else classes >= 0
    targets = raw if classes is None else np.where(labelled, classes, np.nan)
    weights = run.sample_weights_of(raw)
    if weights is not None and not np.any(weights[labelled] > 0):  # --sample-weight on rows the sample misses
        return None
    Z = sample(run.sample, run.plan.center, run.plan.scale)  # the rows as the kernels see them, the bias's 1
    # every class the model has, and room for the fit beside the sample in its --memory
    every_class = classes is None or len(np.unique(classes[labelled])) == outputs + 1
    room_left = (not classifierfit.skipped(opts.model, Z, targets, weights, room(run.sample), l1=opts.l1)
                 if classifier else curvature.exact(d + 1, room(run.sample)))
    if not (every_class and room_left) or labelled.sum() < ROWS_PER_WEIGHT * outputs * (d + 1):
        return None
    return Z, targets, weights, labelled, outputs


def stepped_off(run, gap: Gap | None) -> list[str] | None:
    """The warning of ``run``, a full batch that started at the fit of its sample (training/start.py) and keeps
    no step's gradient to be judged by (fullbatch.keeps_step: under --l1, whose penalty has none at 0, or of
    squared_hinge or modified_huber), where that fit measures its kept model over fullbatch.NEAR above the
    optimum: at a rate given, its steps took it away from where it started (--lr 700 ended 42% above the lasso
    optimum, unwarned); at --lr auto's, an optimizer that scales each weight's step by its own gradients' size
    (adam, rmsprop, adagrad) threw it off along the flat directions of nearly collinear features (rmsprop's
    squared_hinge 34% above), where the default's steps keep near it; else the sample's fit was far from every
    row's optimum, which more epochs reach.  [] where it is near; None where it is not measured (the end's other
    checks judge it: fitwarnings.log_end)."""
    if gap is None:
        return None
    if not gap.far:
        return []
    default = TrainOptions().optimizer
    away = "it started at such a fit, and its steps took it away"
    advice = (f"{away}: lower --lr (try {run.rate_opts.lr / 10:.4g}) or use --lr auto" if run.auto is None else
              f"{away}: use the default --optimizer {default}" if run.opts.optimizer in adaptivesize.ADAPTIVE else
              "raise --epochs")
    return [f"{gap.text()}: the model may be far from the optimum; {advice}"]


def _fitted(model: str, param: float, Z: np.ndarray, targets: np.ndarray, weights: np.ndarray | None,
            labelled: np.ndarray, l2, l1) -> tuple[float, float | None, int | None]:
    """The objective of the fit of ``model`` (``param``: huber's ε, quantile's q) to the rows ``Z``, under ``l2``
    and ``l1`` (a number, or one per feature), the loss's gradients' spread over its curvature there where it
    is not a likelihood's (None: 1, ``_optimism``), and under --l1 the weights the fit frees (those not at 0, and
    the bias: a lasso gains on its rows by those alone, where counting every weight put runs 5% to 8% above the
    optimum at 1% to 2%; None: every weight); NaN where there is no fit (poisson's counts all 0)."""
    lasso = bool(np.any(np.asarray(l1) > 0))
    if model in classifierfit.MODELS and not lasso:
        return classifierfit.fit_objective(model, Z, targets, weights, l2), None, None
    theta = _params(model, param, Z, targets, weights, l2, l1)
    if theta is None:
        return math.nan, None, None
    outputs = np.atleast_2d(theta)  # softmax's every class's, under --l1 (classifierfit.lasso_newton)
    # (softmax's biases are one fewer than its classes: shifted alike, they change no probability)
    free = int(np.count_nonzero(outputs[:, :-1])) + max(len(outputs) - 1, 1) if lasso else None
    if model == "linear":
        best, variance = linearfit.objective(Z, targets, weights, theta, l2)
        return best + float(np.sum(l1 * np.abs(theta[:-1]))), variance, free
    best = _objective(model, param, Z @ outputs.T, targets, weights, labelled) + 0.5 * float(
        np.sum(l2 * outputs[:, :-1] ** 2))
    if model in classifierfit.MODELS:  # under --l1
        return best + float(np.sum(l1 * np.abs(outputs[:, :-1]))), None, free
    if model == "poisson":
        return best, None, None
    if model in marginfit.MODELS:
        return best, marginfit.noise(model, (Z @ theta)[labelled], targets[labelled],
                                     None if weights is None else weights[labelled]), None
    return best, robustfit.noise(model, param, (targets - Z @ theta)[labelled],
                                 None if weights is None else weights[labelled]), None


def _params(model: str, param: float, Z: np.ndarray, targets: np.ndarray, weights: np.ndarray | None, l2, l1,
            classes: int | None = None) -> np.ndarray | None:
    """The weights and bias (last) of ``model``'s fit to the rows ``Z`` (``_fitted``'s arguments; a classifier's
    Newton's method, of ``classes`` classes, fits its weights, under --l1 too: outputs × features + 1);
    None where there is none."""
    if model == "linear":
        return linearfit.fit(Z, targets, weights, l2, l1)
    if model in classifierfit.MODELS:
        return classifierfit.fit_model(model, Z, targets, weights, l2, classes, l1=l1)
    if model == "poisson":
        return poissonfit.fit(Z, targets, weights, l2)
    if model in marginfit.MODELS:
        return marginfit.fit(model, Z, targets, weights, l2)
    return robustfit.fit(model, param, Z, targets, weights, l2)


def _held_out(model: str, param: float, Z: np.ndarray, targets: np.ndarray, weights: np.ndarray | None,
              labelled: np.ndarray, l2, l1, half: np.ndarray, classes: int | None, least: int) -> float:
    """The objective (``_objective``'s mean loss, and the mean of the two fits' penalties) on the rows ``Z`` of
    the fit (``_params``) of the rows ``half`` selects, scoring the others, and of the others, scoring those: what
    fits that never saw a row make of it; NaN where either holds fewer than ``least`` labelled rows of weight
    above 0 or has no fit (a class it lacks).  Each fit takes the other half's rows as unlabelled rather than a
    copy of its own half's (but a classifier's, which holds the rows it fits: classifierfit.fit_rows)."""
    S, penalty = None, 0.0
    counted = labelled if weights is None else labelled & (weights > 0)
    for fitted in (half, ~half):
        if counted[fitted].sum() < least or counted[~fitted].sum() == 0:
            return math.nan
        theta = _params(model, param, Z, np.where(fitted, targets, np.nan), weights, l2, l1, classes)
        if theta is None:
            return math.nan
        theta = np.atleast_2d(theta)
        scores = Z @ theta.T
        S = scores if S is None else np.where(fitted[:, None], S, scores)
        penalty += 0.25 * float(np.sum(l2 * theta[:, :-1] ** 2)) + 0.5 * float(np.sum(l1 * np.abs(theta[:, :-1])))
    return _objective(model, param, S, targets, weights, labelled) + penalty


def _objective(model: str, param: float, S: np.ndarray, targets: np.ndarray, weights: np.ndarray | None,
               labelled: np.ndarray) -> float:
    """The mean loss over the ``labelled`` rows of scores ``S`` (rows × outputs) for ``targets`` (the
    regressions' labels; the classifiers' classes), each row times its weight of ``weights`` (None: 1);
    ``param`` is huber's ε or quantile's q."""
    v = np.ones(int(labelled.sum())) if weights is None else weights[labelled]
    S, y = S[labelled], targets[labelled]
    counted = v > 0  # (a row of weight 0 whose score overflows exp: 0 times an infinite loss, not NaN)
    if not counted.all():
        S, y, v = S[counted], y[counted], v[counted]
    if model == "linear":
        row = 0.5 * (S[:, 0] - y) ** 2
    elif model in robustfit.MODELS:
        row = robustfit.losses(model, param, y - S[:, 0])
    elif model in marginfit.MODELS:
        row = marginfit.losses(model, S[:, 0], y)
    elif model == "poisson":
        with np.errstate(over="ignore"):  # (a score beyond exp's range: an infinite loss, no measure)
            row = np.exp(S[:, 0]) - y * S[:, 0]
    else:
        row = fullbatch.losses(S, y.astype(np.int64))
    with np.errstate(over="ignore"):  # (a loss beyond float64's range: an infinite one)
        return float(np.sum(v * row) / len(counted))


def _standardize(Z: np.ndarray) -> tuple[float, np.ndarray]:
    """How many times as ill-conditioned as the same rows' standardized the second moments of the rows ``Z`` (their
    features and the bias's 1) are; and each feature's standard deviation over them, by which ``Z``'s features are
    then centred and divided in place (those constant over them: 1, and their column 0).  A raw column constant
    at c (an export's date, a source's id) counts in the raw rows' ratio: its weight and the bias move the score
    along one direction, as one bias of curvature 1 + c² would, which caps the rate; standardizing takes it away."""
    d = Z.shape[1] - 1
    centre, spread = linearfit.moments(Z)
    varies = _varies(Z, spread)
    before = _condition(Z, varies, bias=1.0 + float(np.sum(centre[~varies[:-1]] ** 2)))
    spread = np.where(spread > 0, spread, 1.0)
    for start in range(0, len(Z), linearfit.BLOCK_ROWS):  # in blocks of rows: never a copy of all of Z
        block = Z[start:start + linearfit.BLOCK_ROWS, :d]
        block -= centre
        block /= spread
    Z[:, np.flatnonzero(~varies)] = 0.0
    return before / _condition(Z, varies), spread


def _varies(Z: np.ndarray, spread: np.ndarray | None = None) -> np.ndarray:
    """Which columns of ``Z`` (the features and the bias's 1, last) vary over its rows, the bias's counted in:
    by the features' standard deviations ``spread``, or where None, measured."""
    return np.append((linearfit.moments(Z)[1] if spread is None else spread) > 0, True)


def _condition(Z: np.ndarray, varies: np.ndarray, bias: float = 1.0) -> float:
    """The ratio of the largest eigenvalue of the second moments of ``Z``'s columns that ``varies`` selects to the
    smallest, that at least the largest's rounding error; ``bias``: the curvature of the bias's column (the last,
    of 1s), where more than its 1 moves it."""
    moments = (Z.T @ Z / len(Z))[np.ix_(varies, varies)]
    moments[-1, :] *= np.sqrt(bias)
    moments[:, -1] *= np.sqrt(bias)
    values = np.linalg.eigvalsh(moments)
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
    return gain if variance is None or gain == 0 else gain * variance  # (a sample of every row gains nothing)
