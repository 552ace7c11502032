"""The least-squares fit of the objective a linear model trains, on the rows of its sample, solved in their own
standardized units.

The objective is Σ v·½(z·w + b − y)² / m over the rows with a label (v a row's weight, 0 for the others) plus
--l2's ½ · l2 · ‖w‖² on the weights (not the bias), whatever units the rows ``z`` are in: the model's standardized
features, or raw ones (--no-standardize).  Raw features far from 0, or of scales far apart, make the rows'
second moments so ill-conditioned (10¹⁵ times more than standardized ones, for features offset by 10,000) that a
solve of them loses the small directions to rounding.  So the normal equations are formed of the rows centred
and scaled by their own means and spreads, a BLOCK_ROWS at a time (never a copy of all the rows), with the
penalty carried into those units (l2 / s² per feature of spread s), and the fit mapped back: the same minimum,
in the rows' units.  A feature constant over the rows gets weight 0: the bias does what it could.

Poisson's Newton steps solve in the same units (``standardizing``, ``standardized_normal``: training/
poissonfit.py), which a full batch on raw features starts from.
"""

from __future__ import annotations

import numpy as np

from sgdcli.training.curvature import RIDGE

BLOCK_ROWS = 256  # rows standardized at a time: a temporary of this many rows, never one of all
# --l1's proximal steps at most, in one fit (a classifier fit's Newton steps share them): each a (d + 1)² product,
# so bounded whatever the rows
LASSO_STEPS = 20_000
LASSO_TOLERANCE = 1e-9  # a step that moves no weight by more than this share of the largest has converged

Units = tuple[np.ndarray, np.ndarray, np.ndarray]  # ``standardizing``'s: the rows' centre, spread and which vary


def fit(Z: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, l2=0.0, l1=0.0) -> np.ndarray:
    """The weights and bias (last) of the least objective on the rows ``Z`` (the bias's column of ones last),
    labels ``y`` (NaN: none; the mean is over the others) and ``weights`` (None: 1), under ``l2`` (a number, or
    one per feature) on the weights (the module's docstring), and ``l1``'s Σ l1 · |w| (as ``l2``; ``_lasso``)."""
    curvature, moment, units = _normal(Z, y, weights, l2)
    theta = np.linalg.solve(curvature, moment)
    if np.any(np.asarray(l1) > 0):  # the weights' penalty in the rows' own units, w = θ / spread
        _, spread, varies = units
        theta, _ = lasso(curvature, moment, np.append(_per_feature(l1, len(spread)) / spread * varies, 0.0), theta)
    return raw_params(theta, units)


def weighted_solve(Z: np.ndarray, c: np.ndarray, b: np.ndarray, m: int, penalty: np.ndarray) -> np.ndarray:
    """The θ of (Zᵀ·diag(c)·Z / m + diag(penalty)) θ = Zᵀ·b / m: a weighted least-squares step (training/
    robustfit.py, whose rows fitgap.py has standardized; ``standardized_normal`` solves rows in their own
    standardized units), the Gram matrix formed BLOCK_ROWS rows at a time (``gram``), with a ridge that keeps the
    solve defined (curvature.RIDGE)."""
    p = Z.shape[1]
    curvature, moment = gram(Z, c, m), np.zeros(p)
    for start in range(0, len(Z), BLOCK_ROWS):
        moment += Z[start:start + BLOCK_ROWS].T @ b[start:start + BLOCK_ROWS]
    ridge = RIDGE * (float(np.trace(curvature)) / p or 1.0)
    return np.linalg.solve(curvature + np.diag(penalty) + ridge * np.eye(p), moment / m)


def gram(Z: np.ndarray, c: np.ndarray, m: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Zᵀ·diag(c)·Z / m, formed BLOCK_ROWS rows at a time: never a copy of all of ``Z``; of the ``rows`` given
    alone (the others' c being 0), where not None."""
    p = Z.shape[1]
    total = np.zeros((p, p))
    for start in range(0, len(Z) if rows is None else len(rows), BLOCK_ROWS):
        taken = slice(start, start + BLOCK_ROWS) if rows is None else rows[start:start + BLOCK_ROWS]
        block = Z[taken]
        total += (block * c[taken, None]).T @ block
    return total / m


def lasso(curvature: np.ndarray, moment: np.ndarray, penalty: np.ndarray, theta: np.ndarray,
          steps: int = LASSO_STEPS) -> tuple[np.ndarray, int]:
    """The least of ½θᵀCθ − mθ + Σ penalty·|θ| (C the ``curvature``, m the ``moment``), from ``theta``:
    accelerated proximal gradient steps (FISTA) of 1/L, L the curvature's largest eigenvalue, each a
    soft-threshold of a gradient step, until one moves no weight by more than LASSO_TOLERANCE of the largest
    (at most ``steps``); and the steps taken."""
    step = 1.0 / float(np.linalg.eigvalsh(curvature)[-1])
    x, z, t = theta, theta.copy(), 1.0
    taken = 0
    while taken < steps:
        taken += 1
        u = z - step * (curvature @ z - moment)
        new = np.sign(u) * np.maximum(np.abs(u) - step * penalty, 0.0)
        t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        z = new + (t - 1.0) / t_next * (new - x)
        done = np.max(np.abs(new - x)) <= LASSO_TOLERANCE * max(float(np.max(np.abs(new))), 1e-300)
        x, t = new, t_next
        if done:
            break
    return x, taken


def newton_gap(Z: np.ndarray, y: np.ndarray, weights: np.ndarray | None, l2, params: np.ndarray,
               gradient: np.ndarray, moved: np.ndarray) -> tuple[float, float]:
    """How far the objective (the module's docstring) at the weights and bias ``params``, whose gradient on every
    training row is ``gradient`` (the weights' and the bias's, last, in the units of ``Z``), is above its
    optimum, by the curvature of ``fit``'s rows: half the Newton decrement, gᵀH⁻¹g / 2, exact where those rows'
    second moments are every row's, as least squares' curvature does not depend on the model; and how the
    objective on those rows changes from ``params`` to ``moved``.  Solved in the rows' own standardized units
    (``fit``), where the gradient is Mᵀg for the map M that takes them back: the decrement is the same in any
    units.  A feature constant over the rows moves the objective only as the bias does, and is left out."""
    curvature, _, units = _normal(Z, y, weights, l2)
    g = standardized_gradient(gradient, units)
    fall = 0.5 * float(g @ np.linalg.solve(curvature, g))
    return fall, objective(Z, y, weights, moved, l2)[0] - objective(Z, y, weights, params, l2)[0]


def _normal(Z: np.ndarray, y: np.ndarray, weights: np.ndarray | None, l2) -> tuple[np.ndarray, np.ndarray, Units]:
    """The objective's curvature and the labels' moment (its gradient at 0, negated) in the rows' own
    standardized units (the module's docstring), with a ridge that keeps a solve defined; and those units."""
    v, y, m = _rows(y, weights)
    units = standardizing(Z)
    return *standardized_normal(Z, v, v * y, m, l2, units), units


def standardizing(Z: np.ndarray) -> Units:
    """The units in which a fit solves the rows ``Z`` (the bias's column of ones last): each feature's centre
    and spread over the rows (``moments``; a spread of 1 for a constant feature), and which features vary (a
    constant one is 0 in them: the bias does what it could)."""
    centre, spread = moments(Z)
    varies = spread > 0
    return centre, np.where(varies, spread, 1.0), varies


def standardized_normal(Z: np.ndarray, c: np.ndarray, b: np.ndarray | None, m: int, l2,
                        units: Units) -> tuple[np.ndarray, np.ndarray | None]:
    """Σ c·z·zᵀ / m, plus ``l2``'s penalty on the weights (a number, or one per feature, in the features' own
    units) carried into the rows' ``units`` and a ridge that keeps a solve defined, and Σ z·b / m (``b``, one
    number a row or one column a right-hand side; None: none), where z is a row of ``Z`` in ``units``
    (``standardizing``'s), formed BLOCK_ROWS rows at a time: never a copy of all of ``Z``."""
    centre, spread, varies = units
    d = len(spread)
    gram, moment = np.zeros((d + 1, d + 1)), 0.0
    for start in range(0, len(Z), BLOCK_ROWS):
        z = np.empty((min(BLOCK_ROWS, len(Z) - start), d + 1))
        z[:, :d] = (Z[start:start + len(z), :d] - centre) / spread * varies
        z[:, d] = 1.0
        gram += (z * c[start:start + len(z), None]).T @ z
        if b is not None:
            moment = moment + z.T @ b[start:start + len(z)]
    gram /= m
    ridge = RIDGE * (float(np.trace(gram)) / len(gram) or 1.0)  # what keeps a solve defined (curvature.py)
    return gram + np.diag(standardized_penalty(l2, units)) + ridge * np.eye(d + 1), None if b is None else moment / m


def standardized_penalty(l2, units: Units) -> np.ndarray:
    """``l2`` on the weights (a number, or one per feature, in the features' own units) in the rows' ``units``,
    l2 / spread² (0 for a constant feature), and 0 on the bias (last): ½ · Σ penalty · θ² is ½ · Σ l2 · w²."""
    _, spread, varies = units
    return np.append(_per_feature(l2, len(spread)) / spread**2 * varies, 0.0)


def raw_params(theta: np.ndarray, units: Units) -> np.ndarray:
    """The weights and bias (last) in the rows' own units of ``theta``, those in the rows' standardized
    ``units``: w = θ / spread, and the bias less w·centre."""
    centre, spread, varies = units
    w = theta[:-1] / spread * varies
    return np.append(w, theta[-1] - w @ centre)


def standardized_gradient(gradient: np.ndarray, units: Units) -> np.ndarray:
    """A gradient of the weights and bias (last) in the rows' own units, in their standardized ``units``: Mᵀg for
    the map M (``raw_params``) that takes those back."""
    centre, spread, varies = units
    g = np.asarray(gradient, dtype=np.float64).copy()
    g[:-1] = (g[:-1] - centre * g[-1]) / spread * varies
    return g


def moments(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the standard deviation of each feature of the rows ``Z`` (the bias's column, last, aside),
    BLOCK_ROWS rows at a time: never a copy of all of ``Z``.  A feature of one value on every row has deviation 0,
    though its mean is rounded: a spread of some 1e-15 made its column, standardized, the bias's, and its weight,
    divided by that spread, 1e14 (a rare indicator absent from a full batch's sample, whose run diverged)."""
    d = Z.shape[1] - 1
    centre, squares = Z[:, :d].mean(axis=0), np.zeros(d)
    low, high = np.full(d, np.inf), np.full(d, -np.inf)
    for start in range(0, len(Z), BLOCK_ROWS):
        block = Z[start:start + BLOCK_ROWS, :d]
        squares += ((block - centre) ** 2).sum(axis=0)
        low, high = np.minimum(low, block.min(axis=0)), np.maximum(high, block.max(axis=0))
    return centre, np.where(high > low, np.sqrt(squares / max(len(Z), 1)), 0.0)


def objective(Z: np.ndarray, y: np.ndarray, weights: np.ndarray | None, theta: np.ndarray,
              l2=0.0) -> tuple[float, float]:
    """The objective of the weights and bias (last) ``theta`` on ``fit``'s rows, and the weighted mean of their
    squared residuals over the rows with a label, Σ v·r² / Σ v."""
    v, y, m = _rows(y, weights)
    squares = np.empty(len(Z))
    for start in range(0, len(Z), BLOCK_ROWS):
        block = slice(start, start + BLOCK_ROWS)
        squares[block] = v[block] * (Z[block] @ theta - y[block]) ** 2
    penalty = 0.5 * float(np.sum(_per_feature(l2, len(theta) - 1) * theta[:-1] ** 2))
    return 0.5 * float(np.sum(squares)) / m + penalty, float(np.sum(squares) / np.sum(v))


def _rows(y: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Each row's weight (0 without a label), its label (0 without one) and how many rows have one."""
    labelled = np.isfinite(y)
    v = np.where(labelled, 1.0 if weights is None else weights, 0.0)
    return v, np.where(labelled, y, 0.0), max(int(labelled.sum()), 1)


def _per_feature(l2, d: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(l2, dtype=np.float64), (d,))
