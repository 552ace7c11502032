"""Where a fresh model starts (no ``--init``): the all-zero model, but for the losses that would crawl from it.

Huber's and the pinball loss's gradients are bounded (by ``--epsilon``; by
max(q, 1 − q)), so weights that start far from the ones sought move towards
them by at most the rate times that bound a step: labels about 1,000 were
still far from reached after 5 epochs (r2 −39 where squared error fitted
them), and on features that are not standardized, whose curvature is
uneven, the weights crawled at that bound along the flat directions (over
twice the optimum's loss after 5 epochs where squared error was within a
percent).  On dense rows they start at the least-squares fit of the rate's
sample (training/sampling.py), its bias moved so that the q-th quantile of
its residuals (the median for huber) is 0: where robust regression starts,
as close to these losses' optimum as the labels' outliers allow.  Elsewhere
(sparse rows; rows too wide for an exact solve within ``--memory``) the
weights start at 0 and the bias at the labels' best constant model: their
median, their q-th quantile.

A linear model's bias starts at the labels' mean, squared error's best
constant model, where it does not start at the fit of its sample (below):
from 0, the adaptive optimizers' rate, sized by the labels' root mean
square about where the bias starts (training/rate.py: about the mean, also
for a run from a fit, whose intercept on raw features far from 0 is far
from the labels), was that of labels about 1,000,000 when only their
spread mattered, and their steps threw the weights far off (r² −1,693);
``--average``'s mean of the iterates kept the first ones' bias, far from
the labels.

Poisson's rate is sized for its curvature at the mean count, which is
exp(score): from a score of 0, where the curvature is 1, a bias headed for
the log of a mean count of 1,000 crept there too slowly to arrive (worse
than the constant model on 200 rows, and at full batch).  Its bias starts at
the log of the labels' mean.

A logistic model starts its bias at the log-odds of its training rows'
labels, weighted as the objective weighs them: the best constant model.
From 0, on rare positives, the first steps at the rate --lr auto sizes for
the loss's curvature bound threw the bias far past it (the loss's curvature
in the bias is p(1 − p), far below that bound, once the bias is below the
log-odds), and the few steps of a full-batch run (one an epoch), or of
large batches, did not bring it back.  It is counted over every training
row by the label pass, so that rows of weight 0 or skipped by --bad-rows
skip start it as rows left out do.  A warm start (--init) starts from its
model instead.

A full-batch logistic or softmax run starts at the fit of its sample
instead, its weights and biases (``fitted``: Newton's method,
training/classifierfit.py, of the objective trained, --l2 and the rows'
weights included, and --l1 by proximal Newton steps: from the log-odds a
nearly separable problem's 5 logistic epochs under --l1 0.001 ended 20%
above the optimum, softmax's from 0 44% on sample_data/multiclass.h5), where that fit exists (dense rows, up to FIT_WIDE
weights, room for it in --memory, CLASS_ROWS_PER_WEIGHT rows of each class
in the sample per weight of a class).  A full batch steps once an epoch
without noise, so its few steps keep where it starts:
from the log-odds the default 5 epochs ended 2% (noisy labels) to 140% (2%
positives, strong features) above the optimum, from the fit 0% to 2%, and
never further in any case measured; softmax from 0 ended 70%
(sample_data/multiclass.h5) to 510% (nearly separable classes) above it,
from the fit 0.24% to 5% (bench/results/2026-12-04-fit-start.md).
Its sample is larger than other runs' (``fit_sample_rows``): of 4,096 rows,
where 2% of 100,000 were positive the fit held some 80 of them, and 5
epochs from it ended 5% above the optimum (26% on 50 features, 109% of
those under --class-weight balanced); from a fit of FIT_SAMPLE_ROWS, within
0.6%, for Newton steps on those rows that take a few tenths of a second
once a run (bench/results/2026-12-04-full-batch-sample.md).  Fits of 65 to
FIT_WIDE weights took 2% positives of strong features on 100 features from
135% above the optimum to 4.3%; where a class had fewer rows in the sample
than half the weights, the fit ended further above it than the log-odds
(bench/results/2026-12-04-wide-fits.md).
Mini-batch runs keep the log-odds start (softmax's, 0): their many noisy
steps forget it, and where the noise leads at the start (small batches,
strong features) a run from the fit ended further from the optimum than
one from the log-odds, its first large steps a random walk along the fit's
flat directions.

A full-batch linear run starts at the least-squares fit of its sample, of
the objective trained (training/linearfit.py: --l2, --l1, the rows' weights),
where the rows are dense and the fit's matrices fit beside the sample in
--memory.  From 0 its 5 default steps ended 31% above the optimum on
scikit-learn's diabetes (standardized), and 100% to 400% above it on raw
features (--no-standardize) whose mini-batch runs were within 0.3%; from
the fit, 0.00% to 0.2% standardized, at most 1.7% raw
(bench/results/2026-12-04-unstandardized.md).  Its sample holds
LINEAR_ROWS_PER_WEIGHT rows a weight where FIT_WORK would give fewer: from
a fit of 4,096 rows to 301 to 601 weights of correlated features, 5 epochs
ended 6.7% to 15.4% above the optimum, from a hundred rows a weight 0.6% to
1.1% (bench/results/2026-12-04-linear-full-batch.md).

A mini-batch linear run starts at that least-squares fit too, of up to
FIT_WIDE weights (its sample LINEAR_ROWS_PER_WEIGHT rows a weight where
that is more than SAMPLE_ROWS): its steps barely move along the flattest
directions, where the fit is right already, and recover the steep ones in
a few updates.  From the labels' mean, runs on polynomial features,
sensors of one quantity and near-duplicate pairs ended 13% to 830% above
the optimum, from the fit 0.01% to 0.75%; well-conditioned rows forget
their start (bench/results/2026-12-06-linear-start.md).

A full-batch poisson run starts at its Newton fit of the sample (training/
poissonfit.py), of up to FIT_WIDE weights: from the best constant model its
5 steps ended 293% above the optimum's deviance on nearly collinear
features, from the fit at it (bench/results/2026-12-06-lr-auto-fit.md).

A full-batch squared_hinge or modified_huber run starts at its fit of the
sample (training/marginfit.py), of up to classifierfit.FIT_UP_TO weights (as
many as the end's check of the fit measures: fitgap.py), not under --l1, of
CLASS_ROWS_PER_WEIGHT rows of each class a weight, as logistic does: their
gradients change by at most a bound times the margins' change, so a full
batch at --lr auto's rate descends from it and keeps near it.  From 0 the
default 5 epochs ended 40% to 58% above the optimum on 1% and 2% positives
and 34% on nearly collinear features (32% after 20 epochs); from the fit
within 0.01%, under --l2, --class-weight, sgd at a constant rate and
--average alike (bench/results/2026-12-07-margin-start.md).  Hinge starts at 0: its
subgradient steps at the rate that suits the start threw a model at its
optimum off it (0.4% above the optimum to 7% on 1% positives).

The rest is measured on the sample of rows ``--lr auto`` reads, so a seed
starts every run and every resume from the same weights.
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.data.table import Table
from sgdcli.options import DEFAULT_MEMORY
from sgdcli.training import classifierfit, curvature, linearfit, marginfit, poissonfit
from sgdcli.training.sampling import (DENSE_SAMPLE_BYTES, SAMPLE_ROWS, Sample, room, sample, sample_labels,
                                      stays_sparse)

FITTED = ("huber", "quantile")  # whose weights start at a least-squares fit (dense rows)
# whose bias starts at their best constant model, at least
BEST_CONSTANT = ("linear", "huber", "quantile", "poisson")
# Rows of a full batch's sample where it starts at a fit of them: enough that the fit's rare class holds
# thousands of rows, where SAMPLE_ROWS at 2% positives held some 80
FIT_SAMPLE_ROWS = 65536
# Multiply-adds of a Newton step's Gram matrices, p² a row of p weights, that bound a fit's rows:
# FIT_SAMPLE_ROWS of 64 weights, SAMPLE_ROWS of FIT_WIDE
FIT_WORK = 2**28
FIT_WIDE = math.isqrt(FIT_WORK // SAMPLE_ROWS)  # the most weights a full batch's start is fitted with: 256
# Rows of each class in the sample per weight of a class (the features and the bias) below which a full batch
# does not start at the fit: from fits of fewer, 5 epochs ended further above the optimum than from the log-odds
# in every case measured, and from fits of more, nearer (bench/results/2026-12-04-wide-fits.md)
CLASS_ROWS_PER_WEIGHT = 0.5
# Rows of a full-batch linear run's sample per weight (the features and the bias), where FIT_WORK would give
# fewer: a least-squares fit of p weights to m rows is some p/m of the noise above every row's optimum, a
# hundredth here, and a full batch's steps at the rate the largest curvature allows leave the fit's error along
# the flat directions.  A linear fit is one pass of p² a row, where a Newton fit makes several.
LINEAR_ROWS_PER_WEIGHT = 100
# Bytes a row of a poisson fit holds beside the sample at once, at most: its weight, count, score, mean,
# curvature, a step's right-hand side and the temporaries of the objective's line search (training/poissonfit.py),
# float64 each
POISSON_ROW_BYTES = 10 * 8
# Bytes a row of a fit of squared_hinge or modified_huber holds beside the sample at once, at most (training/
# marginfit.py): its weight (twice where the rows are weighted), sign and label, margin, slope and curvature, their
# products, a step's margins, the index of a row that bends and the temporaries of the objective's line search,
# float64 each
MARGIN_ROW_BYTES = 15 * 8
# the models whose start is a Newton fit of one score (training/poissonfit.py, marginfit.py): their arrays of a
# number a row, and their most weights (the smooth two's, as many as the end's check measures: fitgap.py, since a
# run from the fit keeps no step to be judged by, fullbatch.keeps_step)
ONE_SCORE_ROW_BYTES = {"poisson": POISSON_ROW_BYTES, **dict.fromkeys(marginfit.SMOOTH, MARGIN_ROW_BYTES)}
ONE_SCORE_WIDEST = {"poisson": FIT_WIDE, **dict.fromkeys(marginfit.SMOOTH, classifierfit.FIT_UP_TO)}


def start_weights(model: str, quantile: float, table: Table | Sample, center: np.ndarray, scale: np.ndarray,
                  weights_of, memory: int = DEFAULT_MEMORY) -> np.ndarray:
    """The weights of the standardized features and the bias (last) a fresh model of ``model`` starts from, on
    the sample's rows (standardized by ``center`` and ``scale``) and labels (of ``table``'s, or the run's
    ``Sample``), each row weighted by ``weights_of(labels)`` (None: equally); zeros for the models not in
    BEST_CONSTANT, whose labels are not read."""
    drawn = Sample.of(table, memory)
    table = drawn.table
    start = np.zeros(table.n_features + 1)
    if model not in BEST_CONSTANT:
        return start
    labels = sample_labels(drawn)
    weights = weights_of(labels)
    if model in FITTED and not stays_sparse(table) and curvature.exact(table.n_features + 1, memory):
        keep = np.isfinite(labels)
        if keep.sum() > table.n_features:  # else no fit to speak of: a constant model
            Z = sample(drawn, center, scale)[keep]
            y, w = labels[keep].astype(np.float64), None if weights is None else weights[keep]
            root = np.ones(len(y)) if w is None else np.sqrt(np.maximum(w, 0.0))
            Zw = Z * root[:, None]
            start = curvature.least_squares(Zw, y * root)
            labels, weights = labels[keep] - Z @ start, w  # the residuals: the bias moves to their quantile
    start[-1] += best_constant(model, quantile, labels, weights)
    return start


def best_constant(model: str, quantile: float, labels: np.ndarray, weights: np.ndarray | None) -> float:
    """The bias of the best constant model on ``labels`` (their finite ones, weighted by ``weights``) of huber
    (their median), quantile (their ``quantile``-th quantile), linear (their mean) and poisson (the log of their
    mean, which must be positive); 0 for the other models and where there is none."""
    keep = np.isfinite(labels)
    if model not in BEST_CONSTANT or not keep.any():
        return 0.0
    w = None if weights is None else weights[keep]
    if model == "linear":
        return curvature.mean(labels[keep].astype(np.float64), w)
    if model == "poisson":
        mean = curvature.mean(labels[keep].astype(np.float64), w)
        return math.log(mean) if mean > 0 else 0.0
    best = curvature.weighted_quantile(labels[keep].astype(np.float64), w, 0.5 if model == "huber" else quantile)
    return best if math.isfinite(best) else 0.0


def fit_sample_rows(model: str, table: Table, classes: int, memory: int, l1: float = 0.0, full: bool = True) -> int:
    """Rows asked of the sample (training/sampling.py) of a full-batch run of ``model`` (``classes`` classes) on
    ``table``: FIT_SAMPLE_ROWS where the run starts at a fit of them (``fitted``); fewer where that fit's p
    weights would take more than FIT_WORK multiply-adds at p² a row (a linear fit's, LINEAR_ROWS_PER_WEIGHT rows a
    weight where that is more), or ``memory`` would not hold them beside the fit's arrays (never fewer than
    SAMPLE_ROWS, as many as any run's sample); SAMPLE_ROWS where there is no fit (``fitted``).  A mini-batch run's
    (not ``full``): a linear one's fit, of up to FIT_WIDE weights, LINEAR_ROWS_PER_WEIGHT rows a weight where
    that is more than SAMPLE_ROWS; else SAMPLE_ROWS."""
    if stays_sparse(table) or model not in ("linear", *classifierfit.MODELS, "poisson", *marginfit.SMOOTH) or (
            l1 > 0 and model not in ("linear", *classifierfit.MODELS)) \
            or not (full or model == "linear"):
        return SAMPLE_ROWS
    d = table.n_features + 1
    if model == "linear":  # linearfit's d × d matrices, whatever the rows
        if not full and d > FIT_WIDE:
            return SAMPLE_ROWS
        p, fixed, per_row = d, curvature.gram_bytes(d), 0
    elif model in ONE_SCORE_ROW_BYTES:
        p, fixed, per_row = d, _one_score_bytes(model, d, 0), ONE_SCORE_ROW_BYTES[model]
        if p > ONE_SCORE_WIDEST[model]:
            return SAMPLE_ROWS
    else:
        k = max(classes, 2)
        outputs = classifierfit.fitted_outputs(model, k, l1)
        p, fixed = outputs * d, classifierfit.fit_size(0, d, k, outputs=outputs)
        per_row = classifierfit.fit_size(1, d, k, outputs=outputs) - fixed
        if p > FIT_WIDE:
            return SAMPLE_ROWS
    held = (memory - fixed) // (DENSE_SAMPLE_BYTES * d + per_row)
    asked = FIT_WORK // p**2 if full else 0
    if model == "linear":
        asked = max(asked, LINEAR_ROWS_PER_WEIGHT * p)
    return max(SAMPLE_ROWS, min(FIT_SAMPLE_ROWS, asked, held))


def fitted(model: str, drawn: Sample, class_of, classes: int, center: np.ndarray, scale: np.ndarray, weights_of,
           l2: float, l1: float = 0.0, full: bool = True) -> np.ndarray | None:
    """The weights and biases (last) a fresh full-batch linear, logistic, softmax, poisson, squared_hinge or
    modified_huber model (of ``classes`` classes), or mini-batch linear model (not ``full``: up to FIT_WIDE
    weights), starts from: its fit to the sample ``drawn`` (the run's), whose rows the model sees standardized by
    ``center`` and ``scale``, each row's class ``class_of(raw labels)`` (model/labels.py: the binary models'
    positive class 1, -1 for none; linear's label is its own) and weight ``weights_of(raw labels)`` (None: 1),
    under ``l2`` and ``l1``: linear's and logistic's vector, softmax's one per class; None where there is no fit
    (another model; poisson, squared_hinge or modified_huber under --l1, which their fits do not fit; sparse rows;
    more than FIT_WIDE weights (the smooth two: classifierfit.FIT_UP_TO) or, for linear and poisson,
    curvature.exact's; too little room
    beside the sample in its --memory; no more labelled rows than features; for poisson, counts whose mean is not
    above 0; for the classifiers and the smooth two, a class with fewer rows of weight above 0 in the sample than
    CLASS_ROWS_PER_WEIGHT times the features and the bias, from whose fit runs ended further from the optimum than
    from the best constant model)."""
    if not fits(model, drawn, class_of, classes, weights_of, l1, full):
        return None
    raw = sample_labels(drawn)
    weights = weights_of(raw)
    if model == "linear":
        return linearfit.fit(sample(drawn, center, scale), raw, weights, l2, l1)
    if model == "poisson":
        return poissonfit.fit(sample(drawn, center, scale), raw, weights, l2)
    found = class_of(raw)
    labels = np.where(found >= 0, found, np.nan)
    Z = sample(drawn, center, scale)
    if model in marginfit.SMOOTH:  # (the sample's rows of each class checked: ``fits``)
        return marginfit.fit(model, Z, labels, weights, l2)
    if classifierfit.skipped(model, Z, labels, weights, room(drawn), FIT_WIDE, l1):
        return None
    return classifierfit.fit_model(model, Z, labels, weights, l2, classes, FIT_WIDE, l1)


def fits(model: str, drawn: Sample, class_of, classes: int, weights_of, l1: float = 0.0,
         full: bool = True) -> bool:
    """Whether a fresh full batch of ``model`` (a mini-batch run, where not ``full``) starts at the fit of the
    sample ``drawn`` (``fitted``: the arguments are its), but for the room a classifier's fit takes in --memory
    beside the rows, which only the rows tell (classifierfit.skipped)."""
    if stays_sparse(drawn.table) or not (full or model == "linear"):
        return False
    raw, d = sample_labels(drawn), drawn.table.n_features
    if model == "linear":  # else no fit to speak of; a mini-batch run's sample, of p² a row, up to FIT_WORK
        return bool((full or d + 1 <= FIT_WIDE) and curvature.exact(d + 1, room(drawn))
                    and np.isfinite(raw).sum() > d)
    if model in ONE_SCORE_ROW_BYTES:  # (whose fits take no --l1) their arrays within --memory beside the sample,
        # whose rows are never fewer than SAMPLE_ROWS (at 255 features and --memory 14M, poisson's fit peaked 347 KB
        # over where only its matrices were counted)
        if l1 > 0 or d + 1 > ONE_SCORE_WIDEST[model] or not curvature.exact(d + 1, room(drawn)) \
                or _one_score_bytes(model, d + 1, len(raw)) > room(drawn):
            return False
        if model == "poisson":  # (its fit: None where the counts' mean is not above 0)
            return bool(np.isfinite(raw).sum() > d)
    elif model not in classifierfit.MODELS or classifierfit.fitted_outputs(model, classes, l1) * (d + 1) > FIT_WIDE:
        return False
    found, weights = class_of(raw), weights_of(raw)
    counted = (found >= 0) if weights is None else (found >= 0) & (weights > 0)
    return bool(np.bincount(found[counted], minlength=classes).min() >= CLASS_ROWS_PER_WEIGHT * (d + 1))


def _one_score_bytes(model: str, p: int, rows: int) -> int:
    """Bytes a fit of ``model`` (ONE_SCORE_ROW_BYTES's) of ``p`` weights to ``rows`` rows holds beside them: its
    p × p matrices, its arrays of a number a row, and a block of rows of its Gram matrices (linearfit.gram)."""
    return curvature.gram_bytes(p) + rows * ONE_SCORE_ROW_BYTES[model] + 2 * linearfit.BLOCK_ROWS * p * 8


def log_odds(count, labels, class_weights: np.ndarray | None, sample_weighted: bool) -> tuple[float, float | None]:
    """The bias of the best constant logistic model on the training rows that the label pass ``count`` (an
    engine/passes.py LabelCount) found, of the binary ``labels`` (model/labels.py, the positive class last),
    weighted by ``class_weights`` (None: 1 each) and, where ``sample_weighted``, their sample weights: the
    log-odds of the positive class; and that model's mean loss over the rows, weighted as the training loss is,
    the entropy of the positive class's share p, −(p log p + (1 − p) log(1 − p)).  (0, None) where a class
    weighs nothing, or there are not two: the all-zero model."""
    if len(labels.classes) != 2:
        return 0.0, None
    sums = count.labels.weight_sums if sample_weighted else count.per_class
    weights = np.ones(2) if class_weights is None else class_weights
    negative, positive = (float(w) * float(sums[count.found == c].sum()) for w, c in zip(weights, labels.classes))
    if not (positive > 0 and negative > 0 and math.isfinite(positive + negative)):
        return 0.0, None
    # each share from its own weight: 1 − p rounds to 0 where one class outweighs the other by 2**53 or more
    p, q = positive / (positive + negative), negative / (positive + negative)
    return math.log(positive / negative), -(p * math.log(p) + q * math.log(q))
