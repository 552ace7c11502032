"""How much of its worst case the gradient's noise keeps near the optimum, and how far the weights have to
travel there: what ``--lr auto`` raises the rate of a schedule that does not decay by (training/rate.py).

The rate's noise term, c · trace / B', bounds the variance of a batch's gradient by the loss's curvature bound
c times the rows' squared norms: ℓ'(score)² is at most c where a classifier knows nothing (logistic's
(p − y)² is ¼ at p = ½).  Near the optimum of logistic and softmax the derivative is p − y, whose mean square is
far smaller where the rows are nearly separable: most rows sit at p near y.  Such an optimum is flat as well as
quiet (for these likelihoods the gradient's noise at the optimum is also its curvature there), and far (the
weights grow as the labels' noise shrinks), so a constant rate sized by the worst case's noise still crawls
towards it when the run ends.

So logistic and softmax are fitted on the rate's sample (training/classifierfit.py: Newton's method, a ridge
of RIDGE over the rows fitted and --l2 on the weights, neither on the bias, as training has it), each half of
the rows by the fit on the other half (alternate rows, as curvature.residual_scale): a fit cannot quiet the
gradients of rows it did not see, and one that overfits its half is over-confident on the other's misfits, which
raises the estimate; so does one that stops short.  Two things are read off the held-out rows:

- the share: the mean of v²·‖ℓ'‖²·‖z‖² (v the row's weight, z its features as the model sees them, with
  the bias's 1) against c times the trace, relative to NOISY (about the share of labels as noisy as those
  the √T rule was measured on, bench/results/2026-12-02-schedules.md), at most 1;
- the curvature of the mean loss along the fitted weights (the bias's aside): the direction the weights travel
  from the start.  A rate lr over T updates (1/(1 − β) further with momentum) closes the distance along it by
  about e^(−curvature · lr · T / (1 − β)).

``steady`` raises the rate to what the share of the noise allows, but no further than FOLDS e-folds of that
distance need: where the optimum is near enough to be reached at the worst case's rate, the run is limited by
its noise, and a larger rate only adds to it.  The other losses, sparse rows, and fits of more than FIT_UP_TO
weights keep the worst case; so do fits that the sample's --memory leaves no room for beside its rows
(``fit_bytes``: a small --memory cuts the sample to what it holds, and the fit's arrays then broke that bound).

The same fit gives adam, rmsprop and adagrad the size of the weights they seek (training/adaptivesize.py).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from sgdcli.training import classifierfit
from sgdcli.training.curvature import CURVATURE

# The gradient's noise at the fit, over c · trace, from which the noise term counts whole: the labels of
# bench/constant_noise.py this noisy and noisier ended no nearer the optimum at a larger rate.
NOISY = 0.5
# e-folds of the distance to the fit along its path beyond which a larger rate only adds noise: runs whose
# worst-case rate closed this many already ended at their noise, not at the distance.
FOLDS = 4.0
# Rows of each class in the sample per weight of a class from which its curvature there is the decrement's
# (newton_gap): fewer leave it along some of that class's directions to the other classes' rows, far below every
# row's, and its inverse far too large (a softmax class of 18 rows for 31 weights: 6.5% of the loss estimated
# above the optimum, 0.49% measured).
DETERMINED = 1.0
# Where they are fewer, the decrement is taken along the directions of the sample's curvature within this
# factor of its largest only, which those few rows do not hold down (bench/results/2026-12-04-full-batch-gradient.md).
DETERMINED_SPAN = 1e-2


class Fit(NamedTuple):
    """What ``fitted`` reads off a fit of the sample; the defaults: not measured."""

    share: float = 1.0  # the gradient's noise at the fit over c · trace, over NOISY, at most 1
    bend: float = math.inf  # the mean loss's curvature along the fitted weights, without the penalty's
    distance: float = math.nan  # how far the weights travel from the start: the fitted weights' norm (training/
    # decayingrate.py), the bias's aside, softmax's centred across the classes as its steps keep them
    # the mean of v²·‖ℓ'‖²·‖z‖² (v·‖ℓ'‖²·‖z‖² for rows drawn by weight) over the held-out rows, those of weight 0
    # too: a row's (a draw's) noise there
    noise: float = math.nan


def measure(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None,
            l2: float = 0.0, by_weight: bool = False) -> tuple[float, float]:
    """The share of the noise term, c · trace, that ``model``'s gradient keeps at a fit (under ``l2`` too) on the
    sample's rows ``Z`` (with the bias's column) and raw ``labels``, each row weighing ``weights`` (None: 1), over
    NOISY and at most 1; and the mean loss's curvature along the fitted weights (the bias's aside) there, without
    the penalty's: (1, inf) where it is not measured (see the module's docstring).  ``by_weight``: the rows are
    drawn in proportion to their weights, each a step of an unweighted row's size (engine/resample.py)."""
    return fitted(model, Z, labels, weights, l2, by_weight)[:2]


def fitted(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, l2: float = 0.0,
           by_weight: bool = False) -> Fit:
    """``measure``'s share and curvature, and the fit's distance from the start and its gradient's noise (``Fit``);
    ``Fit()`` where they are not measured."""
    rows = classifierfit.fit_rows(model, Z, labels, weights)
    if rows is None:
        return Fit()
    Z, Y, v, kept = rows
    k = Y.shape[1]
    squares, bends, distances = np.empty(len(Z)), np.empty(len(Z)), []
    theta = np.zeros((Z.shape[1], k))
    for fit, held in ((slice(0, None, 2), slice(1, None, 2)), (slice(1, None, 2), slice(0, None, 2))):
        theta = classifierfit.newton(Z[fit], Y[fit], v[fit], l2, theta, model)  # the second half from the first's fit
        P = classifierfit.probabilities(Z[held] @ theta)  # theta's first column is 0
        squares[held] = ((P - Y[held]) ** 2).sum(axis=1)
        # the path from the start to the fit: logistic's one weight vector, softmax's centred across the classes
        path = (theta[:-1, 1] - theta[:-1, 0])[:, None] if model == "logistic" else theta[:-1] - theta[:-1].mean(
            axis=1, keepdims=True)
        distances.append(float(np.linalg.norm(path)))
        A = Z[held, :-1] @ (path / (distances[-1] or 1.0))  # each row's scores' move per unit of travel
        if model == "logistic":
            bends[held] = P[:, 0] * P[:, 1] * A[:, 0] ** 2
        else:
            bends[held] = (P * A**2).sum(axis=1) - (P * A).sum(axis=1) ** 2
    if model == "logistic":  # two classes' softmax: ‖P − Y‖² is 2 (p − y)²
        squares /= 2.0
    norms = (v if by_weight else v**2 / kept) * np.einsum("ij,ij->i", Z, Z)  # the rows' terms of the rate's trace
    share = float(np.sum(norms * squares) / np.sum(norms)) / CURVATURE[model] / NOISY
    bend = float(np.sum(v * bends) / len(Z))
    return Fit(min(1.0, share), bend, float(np.mean(distances)), float(np.sum(norms * squares) / len(Z))) if (
        np.isfinite(share) and np.isfinite(bend)) else Fit()


def steady(c: float, lam: float, noise: float, l2: float, ends_at: float, share: float, bend: float,
           updates: int, momentum: float | None) -> tuple[float, float]:
    """The rate of a schedule that ends at ``ends_at`` of it (training/rate.py), its noise term ``noise``
    (√updates · trace / B') counted whole, raised where the gradient keeps a ``share`` of it near the fit, as
    far as that noise allows and no further than FOLDS e-folds of the distance to the fit over the run's
    ``updates`` at the curvature ``bend`` along its path (+ l2; momentum β's steps go 1/(1 − β) further); and
    the share of the noise term that rate counts."""
    worst = 1.0 / (c * (lam + noise) + l2) / ends_at
    if share >= 1.0:
        return worst, 1.0
    quiet = 1.0 / (c * (lam + share * noise) + l2) / ends_at
    curvature = bend + l2
    reach = FOLDS * (1.0 - (momentum or 0.0)) / (curvature * max(updates, 1)) if curvature > 0 else math.inf
    rate = max(worst, min(quiet, reach))
    return (worst, 1.0) if rate == worst else (rate, ((1.0 / (rate * ends_at) - l2) / c - lam) / noise)


def fit_weights(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None,
                l2: float = 0.0) -> np.ndarray | None:
    """The weights of ``model`` (features × outputs, the bias's aside) fitted to all the sample's rows ``Z`` (with
    the bias's column), raw ``labels`` and ``weights`` (None: 1) under ``l2``: logistic's one column, softmax's
    centred across the classes (the weights a model that starts at 0 travels to); None where ``measure``
    fits nothing."""
    fit = classifierfit.fit_model(model, Z, labels, weights, l2)
    if fit is None:
        return None
    return fit[:-1, None] if model == "logistic" else fit[:, :-1].T


def newton_gap(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, l2: float,
               params: np.ndarray, gradient: np.ndarray, moved: np.ndarray, up_to: int = classifierfit.FIT_UP_TO
               ) -> tuple[float, float, bool]:
    """How far the objective trained (the mean loss, each row times its weight, plus --l2's penalty ``l2``) at
    ``params`` (outputs × features + 1, the bias last: logistic's one row, softmax's one per class, in the units of
    ``Z``), whose gradient g on every training row is ``gradient`` (the same shape), is above its optimum were it
    a quadratic with the curvature H of the sample's rows ``Z`` (with the bias's column), classes ``labels``
    (model/labels.py's indices, NaN for none) and weights ``weights`` (None: 1) there, and the fit's RIDGE: half
    the Newton decrement, gᵀH⁻¹g / 2, where each class has DETERMINED rows a weight of a class in the sample;
    else the larger of the decrement along the directions of H within DETERMINED_SPAN of its largest curvature
    and ‖g‖⁴ / (2 gᵀHg), what the best step along g takes off: less than the decrement by H, which the directions
    those few rows cannot tell would make far too large.  Then how the objective on the sample changes from
    ``params`` to ``moved`` (the same shape), whatever the distance; and whether the first figure is the
    decrement's.  Softmax's weights are measured relative to the first class's, on which the loss does not
    depend.  NaNs where ``measure`` fits nothing (of up to ``up_to`` weights), or the sample holds fewer classes
    than ``params``; LinAlgError where H cannot be solved."""
    rows = classifierfit.fit_rows(model, Z, labels, weights, up_to)
    classes = max(len(params), 2)
    if rows is None or rows[1].shape[1] != classes:
        return math.nan, math.nan, False
    Z, Y, v, _ = rows
    if model == "logistic":
        theta, there = params[:1].T, moved[:1].T
    else:  # the other classes' weights less the first's
        theta, there = (params[1:] - params[0]).T, (moved[1:] - moved[0]).T
    P = classifierfit.probabilities(classifierfit.class_scores(Z, theta))[:, 1:]
    g = gradient[-theta.shape[1]:].ravel()  # class-major: logistic's one row, softmax's but the first class's
    ridge, pooled = classifierfit.ridges(*Z.shape, l2), classifierfit.pooled_l2(model, l2, classes)
    penalty = ridge.copy()
    penalty[:-1], penalty[-1] = l2, 0.0  # the objective's own, without the fit's ridge
    hessian = classifierfit.hessian(Z, P, v, ridge, pooled)
    whole = Y.sum(axis=0).min() >= DETERMINED * Z.shape[1]
    if whole:
        fall = 0.5 * float(g @ np.linalg.solve(hessian, g))
    else:
        curvatures, directions = np.linalg.eigh(hessian)
        along, held = directions.T @ g, curvatures >= DETERMINED_SPAN * curvatures[-1]
        steepest = (g @ g) ** 2 / (g @ hessian @ g) if g @ g > 0 else 0.0  # (at the optimum exactly: 0, not 0/0)
        fall = 0.5 * max(float(np.sum(along[held] ** 2 / curvatures[held])), steepest)
    change = classifierfit.penalized(Z, Y, v, there, penalty, pooled) - classifierfit.penalized(Z, Y, v, theta, penalty,
                                                                                                pooled)
    return fall, change, whole
