"""The fit of poisson's objective on the rows of a run's sample: what the end's warnings measure a poisson run
against (training/fitgap.py), as Newton's method measures a logistic one.

The loss of a count y at score s (the log of the mean μ) is μ − y·s, whose curvature μ·x·xᵀ Newton's method
takes whole: from the best constant model (the bias at the log of the mean count, the weights 0, where a mini-batch
run starts), each step solves the curvature against the gradient, with --l2's penalty, and halves until the
objective falls by a share of what the step promised (Armijo), so a step that overshoots exp's range is cut back.
It ends where a step promises less than TOLERANCE of the objective's scale, or after STEPS.  Each step is solved
in the rows' own standardized units (training/linearfit.py ``standardizing``): on raw features far from 0, solved
in theirs, the ridge that keeps a solve defined held the flattest direction back.

The loss is not bounded below by 0 (its minimum over s is y − y·log y, the saturated model's: model/zeroloss.py
``saturated``), so a share of it says nothing; the end's measures take the deviance instead, twice the loss less the
saturated model's: 0 for a model that predicts every count, what scikit-learn's mean_poisson_deviance and sgdcli
evaluate report.
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.training import linearfit

STEPS = 50  # Newton steps at most: each a weighted Gram matrix of the rows, p² a row
TOLERANCE = 1e-10  # a step that promises less than this share of the objective's scale has converged
ARMIJO = 1e-4  # the share of a step's promised fall the objective must make, or the step halves


def fit(Z: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, l2=0.0) -> np.ndarray | None:
    """The weights and bias (last) of the least mean poisson loss on the rows ``Z`` (the bias's column of ones
    last), counts ``y`` (NaN: none; the mean is over the others) and ``weights`` (None: 1), plus ``l2``'s
    ½ · Σ l2 · w² (a number, or one per feature) on the weights; None where the counts' weighted mean is not above
    0 (the optimum's bias is at −∞)."""
    y, v, m, penalty = _terms(Z, y, weights, l2)
    mean = float(v @ y) / max(float(v.sum()), np.finfo(np.float64).tiny)
    if not mean > 0:
        return None
    units = linearfit.standardizing(Z)  # each step solved in the rows' standardized units (linearfit.py)
    held = linearfit.standardized_penalty(penalty[:-1], units)  # --l2's penalty in those units
    theta = np.zeros(Z.shape[1])  # in those units; the scores and the objective in the rows' own
    theta[-1] = math.log(mean)
    now = objective(Z, y, v, m, penalty, linearfit.raw_params(theta, units))
    scale = abs(now) + float(v @ y) / m  # the objective's own size: the counts' mean, where the loss nears 0
    for _ in range(STEPS):
        step, promised = _newton(Z, y, v, m, penalty, units, held, theta)
        if not promised > TOLERANCE * scale:
            break
        t = 1.0
        while True:
            tried = objective(Z, y, v, m, penalty, linearfit.raw_params(theta - t * step, units))
            if tried <= now - ARMIJO * t * promised or t < 1e-12:
                break
            t /= 2
        if not tried < now:
            break
        theta, now = theta - t * step, tried
    return linearfit.raw_params(theta, units)


def _newton(Z: np.ndarray, y: np.ndarray, v: np.ndarray, m: int, penalty: np.ndarray, units: linearfit.Units,
            held: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, float]:
    """``fit``'s Newton step H⁻¹·g from ``theta``, in the rows' standardized ``units`` (whose penalty is
    ``held``), and the fall it promises, gᵀ·H⁻¹·g: its arrays of a number a row are gone before the line search."""
    s = Z @ linearfit.raw_params(theta, units)
    c = _curvatures(v, s)
    # θ − H⁻¹·g as weighted least squares, H⁻¹·Zᵀ(c·s − v·(μ − y)) / m, and the gradient g, Zᵀ·v·(μ − y) / m +
    # penalty·θ: the moments of the rows' two right-hand sides
    sides = np.empty((len(c), 2))
    sides[:, 1] = c - v * y
    sides[:, 0] = c * s - sides[:, 1]
    curvature, moments = linearfit.standardized_normal(Z, c, sides, m, penalty[:-1], units)
    step = theta - np.linalg.solve(curvature, moments[:, 0])
    return step, float((moments[:, 1] + held * theta) @ step)


def newton_gap(Z: np.ndarray, y: np.ndarray, weights: np.ndarray | None, l2, params: np.ndarray,
               gradient: np.ndarray, moved: np.ndarray) -> tuple[float, float]:
    """How far the objective (``fit``'s) at the weights and bias ``params``, whose gradient on every training row
    is ``gradient`` (in the units of ``Z``), is above its optimum, by the curvature of the rows ``Z`` at
    ``params``: half the Newton decrement, gᵀH⁻¹g / 2, with H the rows' Σ v·μ·z·zᵀ / m and --l2's penalty (the
    fit's ridge keeps it solvable); and how the objective on those rows changes from ``params`` to ``moved``."""
    y, v, m, penalty = _terms(Z, y, weights, l2)
    units = linearfit.standardizing(Z)
    g = linearfit.standardized_gradient(gradient, units)  # the decrement is the same in any units
    with np.errstate(over="ignore", invalid="ignore"):  # (a score beyond exp's range: no measure, NaN)
        c = _curvatures(v, Z @ params)
        curvature, _ = linearfit.standardized_normal(Z, c, None, m, penalty[:-1], units)
        fall = 0.5 * float(g @ np.linalg.solve(curvature, g))
    return fall, objective(Z, y, v, m, penalty, moved) - objective(Z, y, v, m, penalty, params)


def _terms(Z: np.ndarray, y: np.ndarray, weights: np.ndarray | None,
           l2) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """``objective``'s terms of the rows ``Z`` and counts ``y`` (NaN: none): the counts (0 where none), each row's
    weight (``weights``, None: 1; 0 where no count), the rows with a count, and ``l2``'s penalty per weight (0 on
    the bias, last)."""
    labelled = np.isfinite(y)
    v = np.where(labelled, 1.0 if weights is None else weights, 0.0)
    penalty = np.append(np.broadcast_to(np.asarray(l2, dtype=np.float64), (Z.shape[1] - 1,)), 0.0)
    return np.where(labelled, y, 0.0), v, max(int(labelled.sum()), 1), penalty


def _curvatures(v: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Each row's curvature at its score ``s``, μ times its weight ``v``: 0 for a row of weight 0 (or without a
    count) whatever its score, where 0 times an exp beyond float64's range was NaN, and the fit stopped short."""
    with np.errstate(over="ignore"):
        return np.multiply(v, np.exp(s), out=np.zeros(len(v)), where=v > 0)


def objective(Z: np.ndarray, y: np.ndarray, v: np.ndarray, m: int, penalty: np.ndarray, theta: np.ndarray) -> float:
    """The mean poisson loss of the weights and bias ``theta`` on the rows ``Z`` and counts ``y`` weighing ``v``
    over ``m``, with the ``penalty`` per weight's ½ · penalty · w²; infinite where the score of a row of weight
    above 0 overflows exp (a row of weight 0 adds nothing, whatever its score)."""
    s = Z @ theta
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(np.sum(np.where(v > 0, v * (np.exp(s) - y * s), 0.0))) / m + 0.5 * float(penalty @ theta**2)
    return total if math.isfinite(total) else math.inf
