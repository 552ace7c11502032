"""``--lr auto``: a learning rate chosen from the data before training.

For sgd, momentum and nesterov the rate comes from the curvature.  For a
loss whose second derivative in the score is at most ``c`` (¼ for logistic,
½ for softmax, 1 for squared error; huber's and the pinball loss's from the
residuals' scale: training/curvature.py), the curvature of the mean loss is
at most ``c · λmax`` of the second-moment matrix of the features as the
model sees them (standardized, with the bias's column of ones), and ``--l2``
adds its l2 to every weight's (the bias's aside).  A mini-batch of B rows
adds noise whose curvature grows with the trace over B, so the rate is

    lr = 1 / (c · (λmax + trace / B) + l2),

which approaches 1/L, the stable step of gradient descent, as the batch
grows, and 1 / (c · ‖x‖²), the stable step of one row, at batch 1.  (The
penalty's gradient is the same on every batch, so it adds no noise; without
it in the bound, a rate times l2 over 2 made the penalty alone overshoot
zero further at every step.)
Momentum and nesterov (β) sum the steps of about 1/(1 − β) batches, so their
noise term counts that many times over:

    lr = 1 / (c · (λmax + trace / (B · (1 − β))) + l2).

Where the noise term is small (large batches, few features against the
largest eigenvalue) this is the curvature's rate itself, which heavy-ball
momentum keeps stable up to 2(1 + β)/L and nesterov up to
2(1 + β)/((1 + 2β)L) (1.36/L at β = 0.9); along the flat directions of an
ill-conditioned problem, where plain SGD crawls, they then step up to
1/(1 − β) times further.  What noise momentum still amplifies, the default
cosine schedule takes out at the end.  Where logistic's or softmax's rows are
nearly separable, the cosine's rate rises to the one that balances the distance
to a fit of the sample against its gradient's noise, up to 1/L
(training/decayingrate.py).

A schedule that does not decay to small steps keeps that noise: a constant
rate lr leaves the weights an excess loss of about lr · c · trace / B' of
the loss (a quadratic's stationary spread), up to the whole of it at the
rate above, while the distance still to go after T updates shrinks as
1 / (lr · T).  The two balance at a rate that falls as 1/√T, the classic
constant step of T noisy steps.  So ``constant``, and ``step`` where its
last phase's rate (× γ^phases) is not small enough already, count the noise
term √T times over (T the run's updates) at the rate they end at:

    lr = min(the rate above, 1 / (c · (λmax + ρ · √T · trace / B') + l2) / γ^phases),

ρ ≤ 1 where the gradient is quieter near a fit of logistic or softmax (training/gradientnoise.py), else 1.

A full batch (every training row in each step; with averaged models, each
model's whole share) has no noise term, whatever the schedule and the
momentum: its rate is 1/L, 1 / (c · λmax + l2), which heavy-ball momentum and
nesterov keep stable too (the bounds above are over 1/L for every β).

Adam, rmsprop and adagrad step each weight by about the rate, whatever the
gradient's scale, so their rate is the size of the weights sought: a fixed
rate per optimizer (``ADAPTIVE``, measured in ``bench/defaults.py``) times
the root mean square of the labels about where the bias starts for the
regressions whose weights grow with the labels' scale (``LABEL_SCALED``),
and 1 for classifiers and poisson (standardized features; a log link), or
the larger size of a fit's weights (training/adaptivesize.py).  On rows
wider than those it was measured on, the rate shrinks (``adaptive_width``):

- adam and rmsprop, for the models not in ``LABEL_SCALED``, to
  ``REACH / (norm1 · √updates)``, norm1 the rows' mean sum of absolute values
  as the model sees them.  Their steps follow the signs of the batch's
  gradient, which follow the features of the batch's own rows, so a step
  moves those rows' scores by about the rate times that sum: a rate that does
  not chase each batch's noise falls as it grows (and, as the weights sought,
  as one over the features' scale where they are not standardized).  The
  noise of stochastic steps averages out over the run as one over the root of
  its updates, so the rate falls with that root too.
  ``bench/adaptive.py`` measures the rule against the best of a grid of rates
  over dense and sparse problems of 20 to 20,000 features and 70 to 100,000
  updates.
- the others (adagrad; adam and rmsprop on ``LABEL_SCALED`` models) by
  ``√(WIDE_FROM / trace)``: a row's score moves by about the rate times the
  root of its squared norm where the weights' steps have unrelated signs.
  Adagrad's own steps shrink as its sums of squared gradients grow, and the
  regressions' labels' scale, which their rate follows, already grows with
  that root (every feature explains a share of the labels).

With sample or class weights (model/weights.py), each sampled row counts
with its weight v (mean 1 over the training rows): λmax is that of the
weighted second moments, and the trace, the one draw's step, the mean of
v·‖x‖²: the rows are drawn as often as they weigh, each at the mean weight
(engine/resample.py; a row stepped on at its own weight would count v²).
Poisson's curvature, exp(score), is each row's own (training/curvature.py
``row_curvature``: κ, its count, at least the mean count and 1), so a row
counts with v·κ in λmax and in the trace, and c is 1.

A warm start (``--init``) continues a model that has learned from other
rows already.  A fresh run's rate would move it as far as a fresh model
moves, and forget most of what it knew (measured on a model of 100,000
rows continued on 1,000 new ones: its test log loss rose from 0.322 to
0.361).  Its rate is the fresh one times the share of the rows it learns
from that are new: new rows / (rows the initial model learned from, over
its lineage, + new rows), the step of stochastic approximation's 1/t rule
where t counts every row seen, so that each row ends up weighing about the
same.  (Measured on the run above: 0.3218, where the initial model had
0.3219.)

λmax, the trace and the labels are measured on a sample of runs of rows
spread over the file, read whole (a chunk is decoded at most once per run,
and the runs' chunks in parallel), so the choice costs a few reads and is
the same for a seed on every run and every resume.  A run whose loss blows
up at the chosen rate (a value overflows, or an epoch ends far above the
all-zero model's loss: ``blew_up``, which every run checks) starts over from
its first epoch at half the rate (training/runrate.py).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from sgdcli.data.table import Table
from sgdcli.kernels import losses
from sgdcli.options import DEFAULT_MEMORY, MOMENTUM_OPTIMIZERS, TrainOptions
from sgdcli.training import curvature as bounds
from sgdcli.training import adaptivesize, biasrate, classifierfit, decayingrate, gradientnoise
from sgdcli.training.sampling import Sample, room, sample, sample_labels, sparse_sample, stays_sparse

POWER_STEPS = 100
# Halvings after blow-ups before the run gives up: at 2^-10 of the curvature's rate, a
# blow-up is no longer the rate's fault (the message then says what else to change).
MAX_HALVINGS = 10
# The most a batch that holds the sample's heaviest row may move that row's score at --lr auto's rate, where rows
# have curvatures of their own (poisson): its count then changes by up to e^this before the gradient turns it back;
# the rates that trained heavy-tailed counts without blow-ups (bench/results/2026-12-02-poisson-curvature.md)
# moved it by about this much, and smaller moves only slowed them.
HEAVIEST_MOVE = 8.0
BLOWN_UP = 100.0  # an epoch's mean loss this many times the zero model's counts as a blow-up
ADAPTIVE = adaptivesize.ADAPTIVE  # the adaptive optimizers' step per weight for unit scales
# Beyond the width of the datasets ADAPTIVE was measured on (the trace there: digits' 64 pixels and the bias for
# the classifiers; diabetes' 10 features and the bias for LABEL_SCALED), the rate shrinks (adaptive_width).
WIDE_FROM = 65.0
WIDE_FROM_LABEL_SCALED = 11.0
# Adam's and rmsprop's rate × norm1 × √updates for the models not in LABEL_SCALED: the constants with the least
# mean excess test loss over the problems of bench/adaptive.py (the rate's best of a grid spaced by 3 on each).
REACH = {"adam": 24.0, "rmsprop": 16.0}
# The regressions whose weights grow with the labels' scale, which their adaptive rate follows; poisson's are on
# the log scale of its link.
LABEL_SCALED = ("linear", "huber", "quantile")


@dataclasses.dataclass(frozen=True)
class AutoRate:
    lr: float
    lambda_max: float  # of the second-moment matrix of the (standardized) features and the bias; NaN: not used
    trace: float
    rows: int  # rows sampled
    # adaptive optimizers: the labels' root mean square about label_center (LABEL_SCALED), else 1
    label_scale: float = math.nan
    label_center: float = 0.0  # where the bias starts (training/start.py)
    width: float = 1.0  # adaptive optimizers on wide rows: adaptive_width() where that is below 1
    updates: int = 0  # the run's planned updates, which adam's and rmsprop's REACH rule and the cosine's balance count
    norm1: float = math.nan  # the rows' mean sum of absolute values as the model sees them, with the bias's 1
    curvature: float = math.nan  # the loss's curvature bound (training/curvature.py)
    residual_scale: float = math.nan  # huber's and quantile's: σ of the residuals, which their curvature follows
    scale_of: str = "residuals"  # what residual_scale measured: the fit's residuals, or the labels about their median
    l2: float = 0.0  # --l2, which adds to the curvature
    noise_times: float = 1.0  # √updates where the schedule's end at ends_at of the rate bounds it, else 1
    ends_at: float = 1.0  # constant, step: the share of the rate its last phase runs at
    noise_share: float = 1.0  # ρ, the share of the noise term that counts √updates times (training/gradientnoise.py)
    momentum: float | None = None  # β of momentum and nesterov, whose batches the noise term counts
    full: bool = False  # a full batch: no noise term, 1/L
    heaviest: float = math.nan  # rows of their own curvature (poisson): the heaviest sampled row's term of the trace
    warm_share: float | None = None  # a warm start: new rows / all rows learned from, which the rate is scaled by
    sought: float = math.nan  # adaptive optimizers, logistic and softmax: the fitted weights' size (adaptivesize.py)
    raised: float = 1.0  # what the adaptive rate was multiplied by for that size
    from_fit: bool = False  # adaptive optimizers: the run starts at the fit, which the size would travel to
    unfitted: str = ""  # why a fit of the sample (training/classifierfit.py) was skipped for want of memory
    # cosine, raised on nearly separable rows (training/decayingrate.py): the fit's distance, its noise, their balance
    distance: float = math.nan
    fit_noise: float = math.nan
    balanced: float = math.nan  # before 1/L held it
    bias_times: float = 1.0  # the bias's rate over the weights', free of --l2's curvature (training/biasrate.py)

    def why(self, model: str, batch: int, optimizer: str) -> str:
        """The reason for the rate, for the log."""
        warm = (f"; × {self.warm_share:.4g} for --init, the share of new rows among all the model has learned "
                "from" if self.warm_share is not None else "") + (
            f"; no fit of the sample: {self.unfitted}" if self.unfitted else "")  # and a fit skipped
        if optimizer in ADAPTIVE:
            about = f" about {self.label_center:.4g}, where the bias starts," if self.label_center else ""
            scale = (f" × {self.label_scale:.4g}, the labels' root mean square{about} on {self.rows} rows"
                     if model in LABEL_SCALED else "")
            wide = "" if self.width >= 1 else (
                f" × {self.width:.4g} = {REACH[optimizer]:g} / ({ADAPTIVE[optimizer]:g} × {self.norm1:.4g} × "
                f"√{self.updates}), for the rows' mean sum of absolute values {self.norm1:.4g} and the run's "
                f"{self.updates} updates" if _reaches(optimizer, model) else
                f" × {self.width:.4g} = √({_wide_from(model):g} / {self.trace:.4g}), for the features' mean "
                f"squared norm {self.trace:.4g}")
            return (f"{ADAPTIVE[optimizer]:g}, {optimizer}'s step per weight{scale}{wide}"
                    f"{adaptivesize.why(self.sought, self.raised, optimizer, self.from_fit)}{warm}")
        if self.full:
            return (f"1 / ({self.curvature:.4g} × {self.lambda_max:.4g}" + (f" + {self.l2:g}" if self.l2 else "")
                    + f"): 1/L, for a full batch, whose gradient has no noise; the largest eigenvalue of the "
                    f"features' second moments on {self.rows} rows, {model}'s curvature bound {self.curvature:.4g}"
                    + (f", and --l2 {self.l2:g}" if self.l2 else "") + warm)
        if math.isfinite(self.distance):
            return decayingrate.why(self, batch) + warm
        batches = f"({batch} × (1 − {self.momentum:g}))" if self.momentum is not None else f"{batch}"
        noise = (f"{self.noise_share:.4g} × √{round(self.noise_times ** 2)} × ".removeprefix("1 × ")
                 if self.noise_times != 1 else "")
        ends = f" / {self.ends_at:.4g}" if self.noise_times != 1 and self.ends_at != 1 else ""
        penalty = f" + {self.l2:g}" if self.l2 else ""
        residuals = (f" for {self.scale_of} of scale {self.residual_scale:.4g}" if math.isfinite(self.residual_scale)
                     else ", each row's second moments times its count (at least the mean count and 1), which "
                     "estimates its curvature exp(score)" if model == "poisson" else "")
        term = f"{self.trace:.4g} / {batches}"
        if not noise and self.heaviest > HEAVIEST_MOVE * self.trace:  # (NaN: rows of one curvature)
            term = f"{self.heaviest:.4g} / ({HEAVIEST_MOVE:g} × {batches})"
            residuals += (f", the heaviest sampled row's term of the trace, {self.heaviest:.4g}, whose batch may move "
                          f"its score by {HEAVIEST_MOVE:g} at most")
        return (f"1 / ({self.curvature:.4g} × ({self.lambda_max:.4g} + {noise}{term}){penalty})"
                f"{ends}: the largest eigenvalue and the trace of the features' second moments on {self.rows} rows, "
                f"{model}'s curvature bound {self.curvature:.4g}{residuals}"
                + (f", the batches momentum {self.momentum:g} sums" if self.momentum is not None else "")
                + ((", the noise counted √updates times for a schedule that does not decay" if self.ends_at == 1
                    else f", the noise counted √updates times at its last phase's {self.ends_at:.4g} of the rate")
                   + (f" and {self.noise_share:.4g} of it, for the gradient's noise and the distance at a fit of "
                      "the sample" if self.noise_share != 1 else "") if noise else "")
                + (f", and --l2 {self.l2:g}, which adds to every weight's curvature" if self.l2 else "") + warm)

    def warm(self, seen: int, new: int) -> "AutoRate":
        """This rate for a warm start on ``new`` rows of a model that learned from ``seen`` rows."""
        share = new / (seen + new)
        return dataclasses.replace(self, lr=self.lr * share, warm_share=share)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def blew_up(loss: float, zero: float) -> bool:
    """Whether an epoch's mean ``loss`` is so far above the all-zero model's over the training rows (``zero``:
    model/zeroloss.py) that the rate is to blame.

    A rate past the stable one can grow the weights by orders of magnitude an
    epoch without any value overflowing, which the kernels' non-finite checks
    cannot see.
    """
    return math.isfinite(zero) and loss > BLOWN_UP * max(zero, 1e-12)


def largest_eigenvalue(Z: np.ndarray, memory: int = DEFAULT_MEMORY) -> float:
    """λmax of ZᵀZ / rows: exactly where the d × d matrix and the eigensolver's copies of it fit ``memory``
    (curvature.exact), else by power iteration, which holds no more than a row and a column."""
    m, d = Z.shape
    if bounds.exact(d, memory):
        return float(np.linalg.eigvalsh(Z.T @ Z / m)[-1])
    v = np.full(d, 1.0 / np.sqrt(d))
    value = 0.0
    for _ in range(POWER_STEPS):
        w = Z.T @ (Z @ v) / m
        value = float(np.linalg.norm(w))
        if value == 0.0:
            break
        v = w / value
    return value


def _wide_from(model: str) -> float:
    return WIDE_FROM_LABEL_SCALED if model in LABEL_SCALED else WIDE_FROM


def _reaches(optimizer: str, model: str) -> bool:
    """Whether the rate of ``optimizer`` on ``model`` follows the REACH rule (adaptive_width)."""
    return optimizer in REACH and model not in LABEL_SCALED


def adaptive_width(optimizer: str, model: str, trace: float, norm1: float, updates: int, most: float = 1.0) -> float:
    """What an adaptive optimizer's rate (ADAPTIVE) is multiplied by on rows whose mean squared norm and mean sum
    of absolute values, with the bias's 1, are ``trace`` and ``norm1``, over a run of ``updates`` updates:
    REACH / (ADAPTIVE × norm1 × √updates) for adam and rmsprop on the models not in LABEL_SCALED,
    √(WIDE_FROM / trace) for the others; at most ``most``."""
    if _reaches(optimizer, model):
        return min(most, REACH[optimizer] / (ADAPTIVE[optimizer] * norm1 * math.sqrt(max(updates, 1)))) if (
            norm1 > 0) else 1.0  # NaN or 0: no rows to measure
    return min(most, math.sqrt(_wide_from(model) / trace)) if trace > 0 else 1.0


def _row_norms(drawn: Sample, scale: np.ndarray, Z: np.ndarray | None) -> tuple[float, float]:
    """The mean squared norm of the sample's rows as the model sees them (``Z``, dense rows standardized with the
    bias's column, which this overwrites; None: sparse rows, scaled by ``scale``), with the bias's 1 (the trace of
    their second moments), and their mean sum of absolute values."""
    if Z is not None:
        trace = float(np.einsum("ij,ij->", Z, Z) / len(Z))
        return trace, float(np.abs(Z, out=Z).sum() / len(Z))  # in place: within the sample's --memory
    X, values = sparse_sample(drawn, scale)
    rows = max(X.n_rows, 1)
    return float((values**2).sum() / rows) + 1.0, float(np.abs(values).sum() / rows) + 1.0


def _sparse_curvature(drawn: Sample, scale: np.ndarray, weights: np.ndarray | None, curvatures: np.ndarray | None,
                      by_weight: bool = False) -> tuple[float, float, float, int]:
    """λmax and the trace of the second moments of a sample of sparse rows (scaled, with the bias's column;
    each row counted with its weight and its curvature as ``auto_rate`` says), by power iteration on the CSR
    rows themselves: never a dense sample; and the heaviest row's term of the trace, where rows have their own
    curvatures (else NaN)."""
    X, values = sparse_sample(drawn, scale)
    m, d = X.n_rows, drawn.table.n_features
    rows = np.repeat(np.arange(m), np.diff(X.indptr))
    weights, noise = bounds.row_terms(weights, curvatures, by_weight)
    if weights is None:
        trace = float((values**2).sum() / m) + 1.0
    else:
        terms = noise * (np.bincount(rows, weights=values**2, minlength=m) + 1.0)
        trace = float(terms.sum() / m)
    heaviest = float(terms.max()) if curvatures is not None and m else math.nan
    v = np.full(d + 1, 1.0 / np.sqrt(d + 1))
    value = 0.0
    for _ in range(POWER_STEPS):
        u = np.bincount(rows, weights=values * v[X.indices], minlength=m) + v[d]  # Z v
        u = u if weights is None else u * weights
        w = np.append(np.bincount(X.indices, weights=values * u[rows], minlength=d), u.sum()) / m  # Zᵀ u / m
        value = float(np.linalg.norm(w))
        if value == 0.0:
            break
        v = w / value
    return value, trace, heaviest, m


def auto_rate(table: Table | Sample, model: str, center: np.ndarray, scale: np.ndarray, batch: int, optimizer: str,
              momentum: float = 0.0, loss: tuple | None = None, weigh=None,
              memory: int = DEFAULT_MEMORY, bias: float = 0.0, *, updates: int = 1, l2: float = 0.0,
              ends_at: float | None = None, full: bool = False, cosine: bool = False,
              by_weight: bool = False, from_fit: bool = False) -> AutoRate:
    """The rate of ``--lr auto`` for ``model`` (``loss``, the kernels' ``(code, param)``)
    at ``batch`` rows with ``optimizer`` (whose β, for momentum and nesterov, is ``momentum``); ``weigh(raw
    labels)``: the weights of the sample's rows (None: every row weighs 1); the sample held within
    ``memory``; ``bias``: where the bias starts (training/start.py), which an adaptive rate measures the labels
    from; ``updates``: the run's planned updates (epochs × iterations per epoch), which adam's and rmsprop's
    rate counts (adaptive_width); ``l2``: --l2, which adds to the weights' curvature of sgd, momentum and
    nesterov (not the bias's: ``bias_times``; the adaptive optimizers' steps do not grow with it); ``ends_at``:
    the share of the rate a schedule that does not decay to small steps ends at (constant: 1; step: γ^phases),
    whose noise bounds the rate too; ``full``: every
    step on every training row (of a model's share), which has no noise: 1/L; ``cosine``: the cosine schedule,
    whose rate rises on nearly separable rows (training/decayingrate.py); ``by_weight``: the rows are drawn in
    proportion to their weights (engine/resample.py), which the noise term counts; ``from_fit``: the run starts at
    the fit of its sample (training/start.py), which adaptive steps are not sized to travel to (adaptivesize.py)."""
    loss = loss if loss is not None else losses.loss_of(TrainOptions(model=model).objective)
    drawn = Sample.of(table, memory)  # the run's, read once for all its measures, or this table's
    table = drawn.table
    labels = sample_labels(drawn)
    weights = weigh(labels) if weigh is not None else None
    if weights is not None and not np.any(weights > 0):
        weights = None  # no sampled row weighs anything: the rows as they are, not a curvature of 0
    if optimizer in ADAPTIVE:
        keep = np.isfinite(labels)
        size = math.sqrt(bounds.mean((labels[keep] - bias) ** 2, None if weights is None else weights[keep])) if (
            model in LABEL_SCALED and keep.any()) else 1.0
        size = size if math.isfinite(size) and size > 0 else 1.0
        # standardized once, for the fit and the norms
        Z = None if stays_sparse(table) else sample(drawn, center, scale)
        sought, unfitted = (math.nan, "") if from_fit else adaptivesize.measure(drawn, Z, model, labels, weights, l2,
                                                                               optimizer, by_weight)
        trace, norm1 = _row_norms(drawn, scale, Z)  # after the fit: Z's absolute values are taken in place
        width = adaptive_width(optimizer, model, trace, norm1, updates)
        by = adaptivesize.raised(sought, adaptive_width(optimizer, model, trace, norm1, updates, math.inf) / width
                                 if ends_at is not None and _reaches(optimizer, model) else math.inf)  # no decay: REACH
        return AutoRate(lr=ADAPTIVE[optimizer] * size * width * by, lambda_max=math.nan, trace=trace,
                        rows=len(labels), label_scale=size, label_center=bias if model in LABEL_SCALED else 0.0,
                        width=width, updates=updates, norm1=norm1, sought=sought, raised=by, unfitted=unfitted,
                        from_fit=from_fit)
    residuals = model in bounds.RESIDUAL_LOSSES  # huber's and quantile's curvature follows their scale σ
    sigma = bounds.residual_scale(labels, None, weights) if residuals and stays_sparse(table) else math.nan
    scale_of = "labels about their median"  # sparse rows, rows too wide to solve: no fit
    curvatures = bounds.row_curvature(model, labels, weights)  # poisson's, each row's own
    fit, unfitted = gradientnoise.Fit(), ""  # sparse rows (and invscaling's rate): the worst case
    if stays_sparse(table):
        lam, trace, heaviest, rows = _sparse_curvature(drawn, scale, weights, curvatures, by_weight)
    else:
        Z = sample(drawn, center, scale)
        if residuals:  # before the weights scale Z's rows
            fitted = bounds.exact(Z.shape[1], memory)
            sigma = bounds.residual_scale(labels, Z if fitted else None, weights)
            scale_of = "residuals" if fitted else scale_of
        unfitted = "" if (ends_at is None and not cosine) or full else classifierfit.skipped(
            model, Z, labels, weights, room(drawn))
        fit = gradientnoise.Fit() if (ends_at is None and not cosine) or full or unfitted else gradientnoise.fitted(
            model, Z, labels, weights, l2, by_weight)
        moments, noise = bounds.row_terms(weights, curvatures, by_weight)
        heaviest = math.nan
        if moments is not None:
            terms = noise * np.einsum("ij,ij->i", Z, Z)
            trace, heaviest = float(terms.mean()), float(terms.max()) if curvatures is not None else math.nan
            Z *= np.sqrt(moments)[:, None]
            lam = largest_eigenvalue(Z, memory)
        else:
            lam, trace = largest_eigenvalue(Z, memory), float(np.einsum("ij,ij->", Z, Z) / len(Z))
        rows = len(Z)
    beta = momentum if optimizer in MOMENTUM_OPTIMIZERS else None
    batches = batch * (1.0 - beta) if beta is not None else batch
    c = bounds.bound(model, labels, weights, param=float(loss[1]), scale=sigma)
    if full and ends_at is not None:
        c = bounds.ending_stable(model, c, ends_at)
    # rows of their own curvature: a batch that holds the heaviest moves its score, over the batches momentum
    # sums, by lr · its term / B', which under poisson's log link multiplies its count by e^that
    noise = 0.0 if full else float(np.fmax(trace / batches, heaviest / (HEAVIEST_MOVE * batches)))  # NaN: none
    lr, noise_times = 1.0 / (c * (lam + noise) + l2), 1.0
    raised = decayingrate.balanced(fit, batch, updates, beta) if cosine and not full else math.nan
    lr, kept = (min(raised, 1.0 / (c * lam + l2)), fit) if raised > lr else (lr, gradientnoise.Fit())
    times = math.sqrt(max(updates, 1))  # a schedule that ends at ends_at of the rate: its noise, √updates times
    steady, share = (math.inf, 1.0) if ends_at is None or full else gradientnoise.steady(
        c, lam, times * trace / batches, l2, ends_at, fit.share, fit.bend, updates, beta)
    lr, noise_times, share, step = (steady, times, share, steady * ends_at) if steady < lr else (
        lr, noise_times, 1.0, lr)
    return AutoRate(lr=lr, lambda_max=lam, trace=trace, rows=rows, momentum=beta, curvature=c,
                    residual_scale=sigma, scale_of=scale_of, l2=l2, noise_times=noise_times,
                    ends_at=1.0 if ends_at is None else ends_at, full=full, heaviest=heaviest, noise_share=share,
                    unfitted=unfitted, distance=kept.distance, fit_noise=kept.noise,
                    updates=updates if kept.distance > 0 else 0, balanced=raised if kept.distance > 0 else math.nan,
                    bias_times=biasrate.times(step, l2, c * lam))
