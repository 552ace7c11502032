"""How much of its worst case the gradient's noise keeps near the optimum, and how far the weights have to
travel there: what ``--lr auto`` raises the rate of a schedule that does not decay by (training/rate.py).

The rate's noise term, c · trace / B', bounds the variance of a batch's gradient by the loss's curvature bound
c times the rows' squared norms: ℓ'(score)² is at most c where a classifier knows nothing (logistic's
(p − y)² is ¼ at p = ½).  Near the optimum of logistic and softmax the derivative is p − y, whose mean square is
far smaller where the rows are nearly separable: most rows sit at p near y.  Such an optimum is flat as well as
quiet (for these likelihoods the gradient's noise at the optimum is also its curvature there), and far (the
weights grow as the labels' noise shrinks), so a constant rate sized by the worst case's noise still crawls
towards it when the run ends.

So logistic and softmax are fitted on the rate's sample (Newton's method, a ridge of RIDGE over the rows fitted),
each half of the rows by the fit on the other half (alternate rows, as curvature.residual_scale): a fit cannot
quiet the gradients of rows it did not see, and one that overfits its half is over-confident on the other's
misfits, which raises the estimate; so does one that stops short.  Two things are read off the held-out rows:

- the share: the mean of v²·‖ℓ'‖²·‖z‖² (v the row's weight, z its features as the model sees them, with
  the bias's 1) against c times the trace, relative to NOISY (about the share of labels as noisy as those
  the √T rule was measured on, bench/results/2026-12-02-schedules.md), at most 1;
- the curvature of the mean loss along the fitted weights (the bias's aside): the direction the weights travel
  from the start.  A rate lr over T updates (1/(1 − β) further with momentum) closes the distance along it by
  about e^(−curvature · lr · T / (1 − β)).

``steady`` raises the rate to what the share of the noise allows, but no further than FOLDS e-folds of that
distance need: where the optimum is near enough to be reached at the worst case's rate, the run is limited by
its noise, and a larger rate only adds to it.  The other losses, sparse rows, and fits of more than FIT_UP_TO
weights keep the worst case.
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.training.curvature import CURVATURE

# The gradient's noise at the fit, over c · trace, from which the noise term counts whole: the labels of
# bench/constant_noise.py this noisy and noisier ended no nearer the optimum at a larger rate.
NOISY = 0.5
# e-folds of the distance to the fit along its path beyond which a larger rate only adds noise: runs whose
# worst-case rate closed this many already ended at their noise, not at the distance.
FOLDS = 4.0
# Weights ((classes − 1) × (features + 1): logistic's, and softmax's but for one class's, held at 0) up to which
# Newton's method fits the sample: each of its steps costs about the rows times the weights' square.
FIT_UP_TO = 64
RIDGE = 1e-2  # the fit's ridge, over the rows fitted: what keeps separable halves finite, small beside their loss
NEWTON_STEPS = 40  # Newton's method stops earlier where its decrement is at rounding's scale
MODELS = ("logistic", "softmax")


def measure(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None,
            l2: float = 0.0, by_weight: bool = False) -> tuple[float, float]:
    """The share of the noise term, c · trace, that ``model``'s gradient keeps at a fit (under ``l2`` too) on the
    sample's rows ``Z`` (with the bias's column) and raw ``labels``, each row weighing ``weights`` (None: 1), over
    NOISY and at most 1; and the mean loss's curvature along the fitted weights (the bias's aside) there, without
    the penalty's: (1, inf) where it is not measured (see the module's docstring).  ``by_weight``: the rows are
    drawn in proportion to their weights, each a step of an unweighted row's size (engine/resample.py)."""
    if model not in MODELS:
        return 1.0, math.inf
    keep = _known(labels) if weights is None else _known(labels) & (weights > 0)
    classes, y = np.unique(labels[keep], return_inverse=True)
    k = len(classes)
    if k < 2 or (model == "logistic" and k != 2) or (k - 1) * Z.shape[1] > FIT_UP_TO or keep.sum() < 4:
        return 1.0, math.inf
    Z = Z[keep]
    v = np.ones(len(Z)) if weights is None else weights[keep].astype(np.float64)
    Y = np.eye(k)[y]
    squares, bends = np.empty(len(Z)), np.empty(len(Z))
    theta = np.zeros((Z.shape[1], k))
    for fit, held in ((slice(0, None, 2), slice(1, None, 2)), (slice(1, None, 2), slice(0, None, 2))):
        theta = _fit(Z[fit], Y[fit], v[fit], l2, theta)  # the second half starts from the first's fit
        P = _softmax(Z[held] @ theta)  # theta's first column is 0
        squares[held] = ((P - Y[held]) ** 2).sum(axis=1)
        # the path from the start to the fit: logistic's one weight vector, softmax's centred across the classes
        path = (theta[:-1, 1] - theta[:-1, 0])[:, None] if model == "logistic" else theta[:-1] - theta[:-1].mean(
            axis=1, keepdims=True)
        A = Z[held, :-1] @ (path / (np.linalg.norm(path) or 1.0))  # each row's scores' move per unit of travel
        if model == "logistic":
            bends[held] = P[:, 0] * P[:, 1] * A[:, 0] ** 2
        else:
            bends[held] = (P * A**2).sum(axis=1) - (P * A).sum(axis=1) ** 2
    if model == "logistic":  # two classes' softmax: ‖P − Y‖² is 2 (p − y)²
        squares /= 2.0
    norms = (v if by_weight else v**2) * np.einsum("ij,ij->i", Z, Z)  # the rows' terms of the rate's trace
    share = float(np.sum(norms * squares) / np.sum(norms)) / CURVATURE[model] / NOISY
    bend = float(np.sum(v * bends) / len(Z))
    return (min(1.0, share), bend) if np.isfinite(share) and np.isfinite(bend) else (1.0, math.inf)


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


def _known(labels: np.ndarray) -> np.ndarray:
    return np.isfinite(labels) if labels.dtype.kind in "fc" else np.ones(len(labels), dtype=bool)


def _softmax(S: np.ndarray) -> np.ndarray:
    E = np.exp(S - S.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def _objective(Z, Y, v, theta, ridge) -> float:
    S = _scores(Z, theta)
    top = S.max(axis=1)
    lse = top + np.log(np.exp(S - top[:, None]).sum(axis=1))
    return float(np.sum(v * (lse - (S * Y).sum(axis=1))) / len(Z) + 0.5 * ridge * np.sum(theta**2))


def _scores(Z: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """The classes' scores: the first class's 0, the others' of ``theta`` (features + 1 × classes − 1)."""
    S = np.zeros((len(Z), theta.shape[1] + 1))
    S[:, 1:] = Z @ theta
    return S


def _fit(Z: np.ndarray, Y: np.ndarray, v: np.ndarray, l2: float, start: np.ndarray) -> np.ndarray:
    """The softmax weights (features + 1 × classes, the first class's 0: logistic's for two) of rows ``Z``,
    one-hot labels ``Y`` and weights ``v``, by Newton's method with a backtracking line search from ``start``
    (weights of the same shape), under a ridge of RIDGE / rows + ``l2`` on the other classes' weights."""
    m, p = Z.shape
    k = Y.shape[1] - 1
    ridge = RIDGE / m + l2
    theta = start[:, 1:].copy()
    value = _objective(Z, Y, v, theta, ridge)
    for _ in range(NEWTON_STEPS):
        P = _softmax(_scores(Z, theta))[:, 1:]
        gradient = (Z.T @ ((P - Y[:, 1:]) * v[:, None]) / m + ridge * theta).T.ravel()  # class-major
        hessian = np.empty((k * p, k * p))
        for a in range(k):
            for b in range(a, k):
                curvature = v * P[:, a] * ((a == b) - P[:, b])
                block = (Z * curvature[:, None]).T @ Z / m
                hessian[a * p:(a + 1) * p, b * p:(b + 1) * p] = block
                hessian[b * p:(b + 1) * p, a * p:(a + 1) * p] = block.T
        hessian[np.diag_indices_from(hessian)] += ridge
        step = -np.linalg.solve(hessian, gradient)
        decrement = -float(gradient @ step)
        if not decrement > 1e-12:
            break
        t = 1.0
        while t > 1e-8:
            trial = theta + t * step.reshape(k, p).T
            trial_value = _objective(Z, Y, v, trial, ridge)
            if trial_value <= value - 1e-4 * t * decrement:
                break
            t /= 2
        else:
            break
        theta, value = trial, trial_value
    return np.column_stack([np.zeros(p), theta])
