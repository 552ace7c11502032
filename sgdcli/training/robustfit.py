"""The fit of huber's and the pinball loss's (quantile's) objective on the rows of a run's sample: what the end's
warnings measure a robust regression run against (training/fitgap.py), as least squares measures a linear one.

Neither loss has the curvature Newton's method needs: huber's second derivative is 0 beyond ``--epsilon`` of the
label, the pinball loss's is 0 but at its kink.  So the fit majorizes and minimizes (iteratively reweighted least
squares; Hunter and Lange, 2000).  Each step bounds each row's loss above by a quadratic in its residual u that
touches it at the current residual u₀ (huber's ε·|u| by ε·u²/(2|u₀|) + ε·|u₀|/2; the pinball loss's |u|/2, the
rest of it (q − ½)·u, by u²/(4|u₀|) + |u₀|/4), and the weighted least-squares minimum of those bounds with
--l2's penalty is the next fit: the objective never rises.  The pinball loss is smoothed within h of its kink by
the quadratic that joins its two lines there (within h/4 of the loss), which keeps a row's weight, 1/(2·max(|u₀|,
h)), bounded; h shrinks tenfold a stage, from the residuals' mean absolute value to SMOOTHED of it.  A stage
ends where a step lowers its objective by less than TOLERANCE of it, or after STEPS.  The fit starts at least
squares' (training/linearfit.py), which is where training starts (training/start.py).

The fit's objective is an upper bound on the optimum's, never below it; on the files measured, within a few
ten-thousandths of a linear program's (quantile) and of L-BFGS's (huber).
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.training import curvature, linearfit

MODELS = ("huber", "quantile")
# Each stage's steps end where one lowers the objective by less than this share of it: the steps converge
# linearly, so the objective left is some tens of times this (3e-4 of it at the 0.99 quantile of Cauchy noise,
# whose stages took 520 steps at 1e-7 and 150 at this), far below what the warnings judge (fullbatch.NEAR)
TOLERANCE = 1e-5
STEPS = 200  # steps a stage at most: each a weighted Gram matrix of the rows, p² a row
# The last stage's smoothing of the pinball loss, a share of the least-squares residuals' mean absolute value: the
# smoothed objective is within h/4 of the loss a row
SMOOTHED = 1e-3


def fit(model: str, param: float, Z: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None,
        l2=0.0) -> np.ndarray:
    """The weights and bias (last) of the least objective of ``model`` (``param``: huber's ε, quantile's q) on the
    rows ``Z`` (the bias's column of ones last), labels ``y`` (NaN: none; the mean is over the others) and
    ``weights`` (None: 1), under ``l2``'s ½ · Σ l2 · w² on the weights (a number, or one per feature), not the
    bias (the module's docstring)."""
    theta = linearfit.fit(Z, y, weights, l2)
    labelled = np.isfinite(y)
    v = np.where(labelled, 1.0 if weights is None else weights, 0.0)
    y = np.where(labelled, y, 0.0)
    m = max(int(labelled.sum()), 1)
    penalty = np.append(np.broadcast_to(np.asarray(l2, dtype=np.float64), (Z.shape[1] - 1,)), 0.0)
    # a row's weight, bend / max(|u|, the stage's width): huber's ε / max(|u|, ε), the pinball's ½ / max(|u|, h);
    # and the pinball loss's (q − ½)·u, its tilt
    bend, tilt = (param, 0.0) if model == "huber" else (0.5, param - 0.5)
    if model == "huber":
        stages = [param]
    else:
        start = float(np.sum(v * np.abs(y - Z @ theta)) / max(float(np.sum(v)), np.finfo(np.float64).tiny))
        stages = [start * 10.0**-k for k in range(round(-math.log10(SMOOTHED)) + 1)] if start > 0 else []
    u = y - Z @ theta
    for width in stages:
        before = math.inf
        for _ in range(STEPS):
            c = v * bend / np.maximum(np.abs(u), width)
            theta = linearfit.weighted_solve(Z, c, c * y + tilt * v, m, penalty)
            u = y - Z @ theta
            now = float(np.sum(v * _smoothed(model, param, width, u))) / m + 0.5 * float(penalty @ theta**2)
            if before - now <= TOLERANCE * abs(now):
                break
            before = now
    return theta


def losses(model: str, param: float, u: np.ndarray) -> np.ndarray:
    """Each row's loss of its residual ``u`` (label − score): huber's (ε ``param``), the pinball loss's (q)."""
    a = np.abs(u)
    if model == "huber":
        return np.where(a <= param, 0.5 * u * u, param * a - 0.5 * param * param)
    return np.where(u > 0, param * u, (param - 1.0) * u)


def _smoothed(model: str, param: float, width: float, u: np.ndarray) -> np.ndarray:
    """``losses``, the pinball loss's smoothed within ``width`` of its kink (the module's docstring)."""
    if model == "huber":
        return losses(model, param, u)
    return np.where(np.abs(u) <= width, u * u / (4.0 * width) + (param - 0.5) * u + width / 4.0,
                    losses(model, param, u))


def noise(model: str, param: float, residuals: np.ndarray, weights: np.ndarray | None) -> float:
    """The spread of the loss's gradients over its curvature at the optimum, E[ψ²] / E[ψ'], estimated from the fit's
    ``residuals`` (label − score) of rows weighing ``weights`` (None: 1): what a fit of p weights to m rows gains
    on them, times p/2m (training/fitgap.py), as the residuals' variance is for squared error.  ψ is huber's
    residual clipped at ε, the pinball loss's q or q − 1; the curvature is curvature.bound's for residuals of
    their robust scale.  Infinite where that scale is 0 or not finite."""
    w = np.ones(len(residuals)) if weights is None else weights
    if model == "huber":
        psi = np.clip(residuals, -param, param)
    else:
        psi = np.where(residuals > 0, param, param - 1.0)
    scale = curvature.spread(residuals, weights)
    if not (scale > 0 and math.isfinite(scale)) or not np.sum(w) > 0:
        return math.inf
    return float(np.sum(w * psi * psi) / np.sum(w)) / curvature.bound(model, residuals, param=param, scale=scale)
