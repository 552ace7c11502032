"""The fit of the hinge family's objective (``hinge``, ``squared_hinge``, ``modified_huber``) on the rows of a
run's sample: what the end's warnings measure a run of them against (training/fitgap.py), as Newton's method
measures a logistic one.

Each loss is a function of a row's margin m, its score times its label's sign y = ±1 (kernels/losses.py):
squared_hinge's max(0, 1 − m)², modified_huber's the same down to a margin of −1 and −4m below it, hinge's
max(0, 1 − m).  None has a second derivative everywhere.  The first two have a gradient whose slope is 2 where
1 − m > 0 (modified_huber's: and m > −1) and 0 elsewhere: the fit takes generalized Newton steps (Keerthi and
DeCoste, 2005), the curvature of the rows where it is 2, the others' 0, each step halved until the objective
falls by ARMIJO of what its slope promises.  Where halving finds no such fall (the rows with curvature do not
span the step), the step is that of the quadratic of the loss's largest curvature on every row, which lies
above the objective and touches it: it never rises.  Hinge's only curvature is its kink's, so its fit smooths
the kink into the quadratic z²/(2h) within h of it (z = 1 − m; within h/2 of the loss) and shrinks h tenfold a
stage, from 1 to SMOOTHED, each stage from the last one's fit.  A stage ends where a step lowers its objective
by less than TOLERANCE of it, or after STEPS.  The fit starts at least squares' of the labels ±1.

The fit's objective, the loss's own at the weights fitted, is an upper bound on the optimum's: squared_hinge's and
modified_huber's within 1e-9 of L-BFGS's on the rows the tests measure; hinge's within SMOOTHED/2 of a linear
program's, as its smoothing is of the loss.
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.training import curvature, linearfit

MODELS = ("hinge", "squared_hinge", "modified_huber")
# those whose gradient changes by at most a bound times the margin's change: steps of a full batch at a rate under
# the bound's inverse never raise the objective, and keep near where they start (training/start.py); hinge's
# subgradient steps at such a rate throw a model at its optimum off it
SMOOTH = ("squared_hinge", "modified_huber")
ARMIJO = 1e-4  # the share of the fall its slope promises that a step must make, or be halved
HALVINGS = 40  # halvings of a step at most, before the quadratic above the objective steps instead
TOLERANCE = 1e-12  # a step lowering the objective by less than this share of it ends a stage: Newton's steps
# converge fast near the optimum, so this costs a step or two beyond what the warnings need (fullbatch.NEAR)
STEPS = 50  # Newton steps a stage at most: each a weighted Gram matrix of the rows that bend, p² a row
# Hinge's last smoothing, in the margin's units: its objective is within half of it of the loss.  Its fits of
# 4,096 rows came within 0.3% of a linear program's optimum, far nearer than the warnings judge (fullbatch.NEAR);
# each tenfold smaller width took as long again as all the stages before it (fits of 64 weights, of three a run
# where a gap is confirmed, took 0.3 s each at 1e-4).
SMOOTHED = 1e-2


def fit(model: str, Z: np.ndarray, classes: np.ndarray, weights: np.ndarray | None = None,
        l2=0.0) -> np.ndarray | None:
    """The weights and bias (last) of the least objective of ``model`` on the rows ``Z`` (the bias's column of
    ones last), of ``classes`` 0 and 1 (NaN: none; the mean is over the others) and ``weights`` (None: 1), under
    ``l2``'s ½ · Σ l2 · w² on the weights (a number, or one per feature), not the bias (the module's docstring);
    None where the rows of weight above 0 hold fewer than two classes, whose fit is the bias alone and scores
    the other class's rows as it never saw them."""
    labelled = np.isfinite(classes)
    v = np.where(labelled, 1.0 if weights is None else weights, 0.0)
    if len(np.unique(classes[labelled & (v > 0)])) < 2:
        return None
    y = 2.0 * np.where(labelled, classes, 0.5) - 1.0  # each row's sign, ±1; 0 for a row without a label
    m = max(int(labelled.sum()), 1)
    penalty = np.append(np.broadcast_to(np.asarray(l2, dtype=np.float64), (Z.shape[1] - 1,)), 0.0)
    theta = linearfit.fit(Z, np.where(labelled, y, np.nan), weights, l2)
    rows = linearfit.gram(Z, v, m)  # every row's second moments: the quadratic above the objective
    stages = [10.0**-k for k in range(round(-math.log10(SMOOTHED)) + 1)] if model == "hinge" else [0.0]
    for width in stages:
        theta = _newton(model, width, Z, y, v, m, penalty, rows, theta)
    return theta


def separates(loss: float, weights: np.ndarray | None, rows: int) -> bool:
    """Whether a fit's mean ``loss`` (without a penalty) on ``rows`` rows of ``weights`` (None: 1) misclassifies
    none of them: a row's loss at a margin of 0 or less is 1 or more, times its weight.  Such rows are separable,
    and the optimum of their loss, 0, lies at weights that grow without bound as the classes come near each other
    (features drawn from a continuous law): no run gets there, and the ratio of a model's loss to the fit's means
    nothing (a hinge run on separable rows was told it was 32 times the optimum's loss after 5 epochs, 14 times
    after 50; squared_hinge, 1e28 times)."""
    least = 1.0 if weights is None else float(np.min(weights[weights > 0], initial=1.0))
    return loss < least / max(rows, 1)


def _newton(model: str, width: float, Z: np.ndarray, y: np.ndarray, v: np.ndarray, m: int, penalty: np.ndarray,
            rows: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """``theta`` after a stage's steps (the module's docstring) of the objective of ``model``, hinge's smoothed
    within ``width``, on the rows ``Z`` of signs ``y`` and weights ``v`` (0: no label), over ``m`` rows, with
    ``penalty``'s per weight; ``rows``: Zᵀ·diag(v)·Z / m."""
    p = len(theta)
    ridge = curvature.RIDGE * (float(np.trace(rows)) / p or 1.0) * np.eye(p)  # where the rows of curvature are few
    above = _largest(model, width) * rows + np.diag(penalty) + ridge
    margins = y * (Z @ theta)
    now = _value(model, width, margins, v, m, penalty, theta)
    for _ in range(STEPS):
        slope, curve = _derivatives(model, width, margins)
        gradient = Z.T @ (v * slope * y) / m + penalty * theta
        bent = np.flatnonzero(v * curve)  # the rows with curvature: at hinge's last stages, few
        step = -np.linalg.solve(linearfit.gram(Z, v * curve, m, bent) + np.diag(penalty) + ridge, gradient)
        moved = y * (Z @ step)  # the margins' change along the step: each try of it costs a number a row
        fall, t, fell = float(gradient @ step), 1.0, False
        for _ in range(HALVINGS if fall < 0 else 0):
            after = _value(model, width, margins + t * moved, v, m, penalty, theta + t * step)
            fell = after <= now + ARMIJO * t * fall
            if fell:
                break
            t *= 0.5
        if not fell:  # the quadratic above: never a rise
            step, t = -np.linalg.solve(above, gradient), 1.0
            moved = y * (Z @ step)
            after = _value(model, width, margins + moved, v, m, penalty, theta + step)
            if not after < now:
                break
        theta, margins = theta + t * step, margins + t * moved
        done, now = now - after <= TOLERANCE * abs(now), after
        if done:
            break
    return theta


def losses(model: str, scores: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Each row's loss of ``model`` for its score of ``scores`` and its class of ``classes`` (0 or 1)."""
    return _smoothed(model, 0.0, (2.0 * classes - 1.0) * scores)


def noise(model: str, scores: np.ndarray, classes: np.ndarray, weights: np.ndarray | None) -> float:
    """The spread of the loss's gradients over its curvature at the fit, E[ψ²] / E[ψ'] over the rows of
    ``scores`` (the fit's), ``classes`` and ``weights`` (None: 1): what a fit of p weights to m rows gains on them,
    times p/2m (training/fitgap.py), as robustfit.noise is for huber's.  Hinge's curvature is the density of
    the rows' 1 − m at its kink, 0, counted within a bandwidth of its spread times m^(−1/5) (Silverman's rule's
    rate).  0 where no row has a gradient (every margin past 1), infinite where none has a curvature."""
    w = np.ones(len(scores)) if weights is None else weights
    margin = (2.0 * classes - 1.0) * scores
    slope, curve = _derivatives(model, 0.0, margin)
    spread = float(np.sum(w * slope * slope))
    if model == "hinge":
        z = 1.0 - margin
        width = curvature.spread(z, weights) * len(z) ** -0.2
        curve = np.where(np.abs(z) < width, 0.5 / width, 0.0) if width > 0 else curve
    bent = float(np.sum(w * curve))
    if spread == 0:
        return 0.0
    return spread / bent if bent > 0 else math.inf


def _value(model: str, width: float, margins: np.ndarray, v: np.ndarray, m: int, penalty: np.ndarray,
           theta: np.ndarray) -> float:
    """The objective (hinge's smoothed within ``width``) of ``theta``, whose rows' ``margins`` are these
    (``_newton``'s arguments)."""
    return float(v @ _smoothed(model, width, margins)) / m + 0.5 * float(penalty @ theta**2)


def _largest(model: str, width: float) -> float:
    """The largest second derivative of ``model``'s loss in the margin, hinge's smoothed within ``width``."""
    return 1.0 / width if model == "hinge" else curvature.CURVATURE[model]


def _smoothed(model: str, width: float, margin: np.ndarray) -> np.ndarray:
    """Each row's loss of its ``margin``, hinge's smoothed within ``width`` of its kink (0: not)."""
    z = 1.0 - margin
    if model == "hinge":
        if width == 0:
            return np.maximum(z, 0.0)
        return np.where(z <= 0, 0.0, np.where(z < width, z * z / (2.0 * width), z - 0.5 * width))
    square = np.maximum(z, 0.0) ** 2
    return square if model == "squared_hinge" else np.where(margin >= -1.0, square, -4.0 * margin)


def _derivatives(model: str, width: float, margin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's first and second derivatives of ``_smoothed`` in its ``margin`` (hinge's at ``width`` 0: its
    slope, and no curvature)."""
    z = 1.0 - margin
    if model == "hinge":
        if width == 0:
            return np.where(z > 0, -1.0, 0.0), np.zeros(len(z))
        return -np.clip(z / width, 0.0, 1.0), np.where((z > 0) & (z < width), 1.0 / width, 0.0)
    slope, curve = -2.0 * np.maximum(z, 0.0), np.where(z > 0, 2.0, 0.0)
    if model == "modified_huber":
        below = margin < -1.0
        slope, curve = np.where(below, -4.0, slope), np.where(below, 0.0, curve)
    return slope, curve
