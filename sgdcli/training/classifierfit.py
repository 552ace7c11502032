"""Logistic and softmax fitted to the rows of a run's sample by Newton's method: what ``--lr auto`` reads the
gradient's noise and the distance to travel off (training/gradientnoise.py), where a full batch starts
(training/start.py), and what the end's warnings measure a run against (training/fitgap.py).

The objective is the mean loss, each row times its weight, plus --l2 on the weights, and a ridge of RIDGE over
the rows fitted that keeps separable rows' fit finite (never on the bias, which training does not penalize).
Under --l1, whose penalty has no curvature, they are fitted by proximal Newton steps (``lasso_newton``).
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.training.linearfit import LASSO_STEPS, lasso, raw_params, standardized_gradient, standardizing

# Weights ((classes − 1) × (features + 1): logistic's, and softmax's but for one class's, held at 0; under --l1,
# softmax's every class's) up to which Newton's method fits the sample: each of its steps costs about the rows
# times the weights' square.
FIT_UP_TO = 64
RIDGE = 1e-2  # the fit's ridge, over the rows fitted: what keeps separable halves finite, small beside their loss
# The bias's ridge: training never penalizes the bias, and RIDGE on it too shrank the fitted bias of unbalanced,
# nearly separable rows towards 0, the weights making up for it (a shorter distance, a louder noise).  The weights'
# ridge keeps the fit finite without it (a fit holds two classes at least: ``_kept``, so no bias alone drives
# the loss to 0); this only keeps the Newton step's matrix definite where every row's probability saturates.
BIAS_RIDGE = 1e-12
NEWTON_STEPS = 40  # Newton's method stops earlier where its decrement is at rounding's scale
MODELS = ("logistic", "softmax")
# What a fit holds beside the sample (fit_bytes), which --memory bounds with it: per row, values a class (scores,
# probabilities and their temporaries, one-hot labels) and two (weights, curvatures); the Newton step's matrices
# and the solver's copies of them; the Hessian's products, BLOCK_ROWS rows at a time.
FIT_ROW_VALUES = 8
NEWTON_COPIES = 4
BLOCK_ROWS = 256


def fit_model(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, l2: float = 0.0,
              classes: int | None = None, up_to: int = FIT_UP_TO, l1=0.0) -> np.ndarray | None:
    """The model of ``model`` (its weights and bias, last) fitted to all the sample's rows ``Z`` (with the bias's
    column), ``labels`` (logistic's positive class the larger) and ``weights`` (None: 1) under ``l2`` and ``l1`` (a
    number, or one per feature): logistic's one vector, softmax's one per class (classes × features + 1), centred
    across the classes as training's are without --l1 (``newton``; under it, ``lasso_newton``'s); None where
    ``fit_rows`` fits nothing (of up to ``up_to`` weights) or the sample holds other than ``classes`` classes (None:
    any)."""
    rows = fit_rows(model, Z, labels, weights, up_to) if model in MODELS else None
    if rows is None or classes not in (None, rows[1].shape[1]):
        return None
    Z, Y, v, _ = rows
    theta = _fit(model, Z, Y, v, l2, l1)
    if model == "logistic":
        return theta[:, 1]
    return theta.T if np.any(np.asarray(l1) > 0) else (theta - theta.mean(axis=1, keepdims=True)).T


def _fit(model: str, Z: np.ndarray, Y: np.ndarray, v: np.ndarray, l2, l1) -> np.ndarray:
    """``newton``'s fit of the rows ``fit_rows`` holds from 0, then, under ``l1``, ``lasso_newton``'s from it."""
    theta = newton(Z, Y, v, l2, np.zeros((Z.shape[1], Y.shape[1])), model)
    return lasso_newton(model, Z, Y, v, l2, l1, theta) if np.any(np.asarray(l1) > 0) else theta


def fit_loss(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None) -> float:
    """The mean loss (each row times its weight of ``weights``, None: 1) of ``model`` fitted without a penalty
    (but RIDGE's on the weights) to all the sample's rows ``Z`` (with the bias's column) and raw ``labels``: the
    loss alone, the ridge's penalty left out, so at least the least mean loss on them; NaN where ``fit_rows``
    fits nothing."""
    return _fitted_value(model, Z, labels, weights, 0.0, 0.0, True)


def fit_objective(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, l2, l1=0.0) -> float:
    """The objective trained (the mean loss, each row times its weight of ``weights``, None: 1, over the rows with
    a label, plus the penalties of ``l2`` and ``l1`` on the weights: each a number, or one per feature) of ``model``
    fitted to all the sample's rows ``Z`` (with the bias's column) and raw ``labels``: at least its least value on
    them (the fit's RIDGE left out); NaN where ``fit_model`` fits nothing."""
    return _fitted_value(model, Z, labels, weights, l2, l1, False)


def _fitted_value(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, l2, l1,
                  over_fitted: bool) -> float:
    """``fit_objective``; ``over_fitted``: its loss a mean over the rows fitted (``fit_loss``), not over all the
    rows with a label (the weights' scaling in ``fit_rows`` undone)."""
    rows = fit_rows(model, Z, labels, weights) if model in MODELS else None
    if rows is None:
        return math.nan
    Z, Y, v, kept = rows
    if weights is not None and over_fitted:  # as training/fullbatch.py takes the model's
        v = v / kept
    theta = _fit(model, Z, Y, v, l2, l1)
    penalty = np.zeros(Z.shape[1])
    penalty[:-1] += l2
    if np.any(np.asarray(l1) > 0):  # logistic's first class's weights 0, softmax's every class's (lasso_newton)
        return _lasso_objective(Z, Y, v, theta, True, penalty, _lasso_penalty(l1, Z.shape[1]))
    return penalized(Z, Y, v, theta[:, 1:], penalty, pooled_l2(model, l2, Y.shape[1]))


def fit_bytes(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None,
              up_to: int = FIT_UP_TO, l1=0.0) -> int | None:
    """The most bytes a fit (``newton``; under ``l1``, ``lasso_newton``) holds beside the sample's rows ``Z``
    (with the bias's column), for its ``labels`` and ``weights``: arrays of the rows' classes (FIT_ROW_VALUES a
    class), the Newton step's matrices, BLOCK_ROWS rows at a time, and where some rows are left out (no label, no
    weight), a copy of the others; None where ``fit_rows`` fits nothing (of up to ``up_to`` weights)."""
    keep = _kept(model, Z, labels, weights, up_to)
    if keep is None:
        return None
    m, k = int(keep.sum()), len(np.unique(labels[keep]))
    return fit_size(m, Z.shape[1], k, copied=m < len(Z), outputs=fitted_outputs(model, k, l1))


def fitted_outputs(model: str, classes: int, l1) -> int:
    """The classes whose weights a fit of ``model`` (of ``classes`` classes) solves for: all but the first's
    (logistic's one vector, softmax's first held at 0: ``newton``), or, under ``l1`` (a number, or one per
    feature), softmax's every one (``lasso_newton``)."""
    return classes if model == "softmax" and np.any(np.asarray(l1) > 0) else classes - 1


def fit_size(m: int, p: int, k: int, copied: bool = True, outputs: int | None = None) -> int:
    """``fit_bytes`` of ``m`` rows of ``p`` values (the bias's included) in ``k`` classes; ``copied``: some rows
    are left out, and the others copied; ``outputs``: the classes whose weights are fitted (``fitted_outputs``;
    None: all but one)."""
    outputs = k - 1 if outputs is None else outputs
    return 8 * (m * (FIT_ROW_VALUES * k + 2 + (p if copied else 0)) + NEWTON_COPIES * (outputs * p) ** 2
                + 2 * BLOCK_ROWS * p)


def skipped(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, room: int,
            up_to: int = FIT_UP_TO, l1=0.0) -> str:
    """Why a fit of the sample's rows ``Z`` (``fit_bytes``, of up to ``up_to`` weights, under ``l1``) is skipped
    where ``--memory`` leaves ``room`` bytes beside them; '' where it fits, or fits nothing."""
    need = fit_bytes(model, Z, labels, weights, up_to, l1)
    if need is None or need <= room:
        return ""
    return (f"a fit of the sample's {len(Z)} rows needs {need:,} bytes beside them, and --memory leaves "
            f"{max(room, 0):,}")


def _kept(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None,
          up_to: int = FIT_UP_TO) -> np.ndarray | None:
    """Which rows a fit of ``model`` holds (a label, a weight above 0); None where it fits nothing: another model,
    fewer than two classes (logistic: other than two), more than ``up_to`` weights, fewer than 4 rows."""
    if model not in MODELS:
        return None
    keep = _known(labels) if weights is None else _known(labels) & (weights > 0)
    k = len(np.unique(labels[keep]))
    if k < 2 or (model == "logistic" and k != 2) or (k - 1) * Z.shape[1] > up_to or keep.sum() < 4:
        return None
    return keep


def fit_rows(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, up_to: int = FIT_UP_TO):
    """The rows a fit of up to ``up_to`` weights holds (``_kept``): their features (``Z`` itself where it holds
    every row), one-hot labels and weights, and the share of the rows with a label that they are; None where it
    fits nothing.

    A row of weight 0 is a training row all the same: the weights' mean over the training rows is 1 (model/
    weights.py), and the objective, the draws (engine/resample.py) and the noise per draw are means over every
    row, its loss 0.  So the weights the fit holds are scaled by that share, which makes their mean over the
    rows fitted the weighted mean over all (a mean over the rows fitted alone counted the loss and the noise
    1 / share times against --l2 and the trace)."""
    keep = _kept(model, Z, labels, weights, up_to)
    if keep is None:
        return None
    _, y = np.unique(labels[keep], return_inverse=True)
    kept = float(keep.sum() / _known(labels).sum())
    Z = Z if keep.all() else Z[keep]
    v = np.ones(len(Z)) if weights is None else weights[keep].astype(np.float64) * kept
    return Z, np.eye(y.max() + 1)[y], v, kept


def _gram(Z: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Zᵀ · diag(c) · Z, BLOCK_ROWS rows at a time: never a copy of all of ``Z``."""
    G = np.zeros((Z.shape[1], Z.shape[1]))
    for start in range(0, len(Z), BLOCK_ROWS):
        z = Z[start:start + BLOCK_ROWS]
        G += (z * c[start:start + BLOCK_ROWS, None]).T @ z
    return G


def _known(labels: np.ndarray) -> np.ndarray:
    return np.isfinite(labels) if labels.dtype.kind in "fc" else np.ones(len(labels), dtype=bool)


def probabilities(S: np.ndarray) -> np.ndarray:
    E = np.exp(S - S.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def pooled_l2(model: str, l2, classes: int) -> np.ndarray:
    """What softmax's penalty of ``l2`` (a number, or one per feature) on every class's weights takes off the
    penalty of the other classes' alone, per feature, times the squared sum of their weights (``newton``); 0 for
    logistic, whose one weight vector is all the penalty sees."""
    return np.asarray(l2 / classes if model == "softmax" else 0.0 * l2, dtype=np.float64).reshape(-1)


def penalized(Z, Y, v, theta, ridge, pooled) -> float:
    """The mean loss of ``theta`` plus the penalty of ``ridge`` (each of ``theta``'s rows'), less ``pooled`` / 2
    (per feature) times the squared norm of the weights' sum over the classes (the bias's aside: ``newton``)."""
    S = class_scores(Z, theta)
    top = S.max(axis=1)
    lse = top + np.log(np.exp(S - top[:, None]).sum(axis=1))
    return float(np.sum(v * (lse - (S * Y).sum(axis=1))) / len(Z) + 0.5 * np.sum(ridge[:, None] * theta**2)
                 - 0.5 * np.sum(pooled * theta[:-1].sum(axis=1) ** 2))


def class_scores(Z: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """The classes' scores: the first class's 0, the others' of ``theta`` (features + 1 × classes − 1)."""
    S = np.zeros((len(Z), theta.shape[1] + 1))
    S[:, 1:] = Z @ theta
    return S


def ridges(m: int, p: int, l2) -> np.ndarray:
    """The ridge of a fit of ``m`` rows of ``p`` values (the bias's last): RIDGE / m + ``l2`` on each weight,
    BIAS_RIDGE on the bias (``newton``)."""
    ridge = np.full(p, RIDGE / m)
    ridge[:-1] += l2
    ridge[-1] = BIAS_RIDGE
    return ridge


def hessian(Z: np.ndarray, P: np.ndarray, v: np.ndarray, ridge: np.ndarray, pooled: np.ndarray) -> np.ndarray:
    """The objective's curvature (``penalized``'s) over the other classes' weights, class-major, where rows ``Z``
    (weighing ``v``) have the other classes' probabilities ``P`` (rows × classes − 1)."""
    m, p = Z.shape
    k = P.shape[1]
    H = np.empty((k * p, k * p))
    for a in range(k):
        for b in range(a, k):
            curvature = v * P[:, a] * ((a == b) - P[:, b])
            block = _gram(Z, curvature) / m
            block[np.arange(p - 1), np.arange(p - 1)] -= pooled
            H[a * p:(a + 1) * p, b * p:(b + 1) * p] = block
            H[b * p:(b + 1) * p, a * p:(a + 1) * p] = block.T
    H[np.diag_indices_from(H)] += np.tile(ridge, k)
    return H


def newton(Z: np.ndarray, Y: np.ndarray, v: np.ndarray, l2: float, start: np.ndarray,
           model: str = "logistic") -> np.ndarray:
    """The softmax weights (features + 1 × classes, the first class's 0: logistic's for two) of rows ``Z``,
    one-hot labels ``Y`` and weights ``v``, by Newton's method with a backtracking line search from ``start``
    (weights of the same shape), under a ridge of RIDGE / rows + ``l2`` (a number, or one per feature) on the
    other classes' weights, and of BIAS_RIDGE alone on their biases (the last row), which training does not
    penalize (kernels/optimizers.py): the fitted biases make the weighted mean of p − y over the rows 0 for every
    class.  Softmax trains a weight vector for every class, the first's too, and --l2 penalizes them all: with
    the first held at 0 and the others' mean ū, that is l2/2 · Σ ‖wⱼ − ū‖², l2/2 · (Σ_{j>0} ‖wⱼ‖² − ‖Σ_{j>0} wⱼ‖²
    / classes).  It stops where the curvature cannot be solved (a row of 10**100 times the others' weight)."""
    m, p = Z.shape
    k = Y.shape[1] - 1
    ridge = ridges(m, p, l2)
    pooled = pooled_l2(model, l2, k + 1)
    theta = start[:, 1:].copy()
    value = penalized(Z, Y, v, theta, ridge, pooled)
    for _ in range(NEWTON_STEPS):
        P = probabilities(class_scores(Z, theta))[:, 1:]
        gradient = Z.T @ ((P - Y[:, 1:]) * v[:, None]) / m + ridge[:, None] * theta
        gradient[:-1] -= pooled[:, None] * theta[:-1].sum(axis=1, keepdims=True)
        gradient = gradient.T.ravel()  # class-major
        try:
            step = -np.linalg.solve(hessian(Z, P, v, ridge, pooled), gradient)
        except np.linalg.LinAlgError:
            break
        decrement = -float(gradient @ step)
        if not decrement > 1e-12:
            break
        found = _backtracked(lambda w: penalized(Z, Y, v, w, ridge, pooled), theta, step.reshape(k, p).T, value,
                             decrement)
        if found is None:
            break
        theta, value = found
    return np.column_stack([np.zeros(p), theta])


def _backtracked(objective, theta: np.ndarray, step: np.ndarray, value: float, decrement: float):
    """(theta + t · step, its ``objective``) for the first t of 1, 1/2, 1/4, ... whose objective is below ``value``
    by 1e-4 · t · ``decrement`` at least (Armijo's condition); None where none above 1e-8 is."""
    t = 1.0
    while t > 1e-8:
        trial = theta + t * step
        trial_value = objective(trial)
        if trial_value <= value - 1e-4 * t * decrement:
            return trial, trial_value
        t /= 2
    return None


def lasso_newton(model: str, Z: np.ndarray, Y: np.ndarray, v: np.ndarray, l2, l1, start: np.ndarray) -> np.ndarray:
    """The weights (features + 1 × classes) of rows ``Z``, one-hot labels ``Y`` and weights ``v`` under
    ``newton``'s objective plus --l1's Σ l1 · |w| (``l1`` a number, or one per feature; not on the biases), from
    ``start`` (``newton``'s fit without it): logistic's as ``newton``'s, the first class's 0; softmax's every
    class's, as training steps them (the loss is the same for weights shifted alike across the classes, --l1's
    penalty not: it is least where each feature's weights' median over the classes is 0, not their mean), the
    penalty of ``l2`` on each.  Proximal Newton steps, each to the least of the objective's quadratic model at the
    weights plus that penalty (linearfit.lasso), with a backtracking line search on the objective, until a step
    promises no more than rounding's scale (the inner solves' steps, of (classes · p)² each, at most
    linearfit.LASSO_STEPS in all, as a linear fit's one solve).  Each step is solved in the rows' own standardized
    units (linearfit.standardizing), the model and the penalty carried into them: on raw features far from 0
    (--no-standardize: a year, a price), whose bias dwarfs the weights, the inner solve's steps, sized and stopped
    by the largest, moved no weight, and the fit stayed at ``start``."""
    m, p = Z.shape
    ridge, penalty = ridges(m, p, l2), _lasso_penalty(l1, p)
    every = model == "softmax"  # the classes whose weights are fitted: every one, or all but the first
    theta = (start - start.mean(axis=1, keepdims=True)) if every else start[:, 1:].copy()
    Y = Y if every else Y[:, 1:]
    q = theta.shape[1]
    centre, spread, varies = units = standardizing(Z)
    to_raw = np.eye(p)  # raw_params's map M: θ = M θ', θ' in the standardized units, for each class
    to_raw[np.arange(p - 1), np.arange(p - 1)] = varies / spread
    to_raw[-1, :-1] = -centre * varies / spread
    to_raw = np.kron(np.eye(q), to_raw)
    scaled = penalty.copy()  # l1 · |w| = l1 / spread · |w'|
    scaled[:-1] /= spread
    scaled = np.tile(scaled, q)

    def objective(w: np.ndarray) -> float:
        return _lasso_objective(Z, Y, v, w, every, ridge, penalty)

    value = objective(theta)
    steps = LASSO_STEPS  # left to the inner solves of every Newton step together
    for _ in range(NEWTON_STEPS):
        if not steps:
            break
        P = probabilities(_scores(Z, theta, every))[:, 0 if every else 1:]
        gradient = Z.T @ ((P - Y) * v[:, None]) / m + ridge[:, None] * theta
        H = to_raw.T @ hessian(Z, P, v, ridge, np.zeros(p - 1)) @ to_raw
        there = theta.copy()  # M⁻¹θ, a constant feature's weight taken into the bias
        there[:-1] *= (spread * varies)[:, None]
        there[-1] += centre @ theta[:-1]
        g = np.column_stack([standardized_gradient(gradient[:, j], units) for j in range(q)])
        there, g = there.T.ravel(), g.T.ravel()  # class-major, as ``hessian``'s
        inner, taken = lasso(H, H @ there - g, scaled, there, steps)
        steps -= taken
        inner = inner.reshape(q, p).T
        step = np.column_stack([raw_params(inner[:, j], units) for j in range(q)]) - theta
        decrement = -float(np.sum(gradient * step) + np.sum(penalty[:, None] * (np.abs(theta + step) - np.abs(theta))))
        if not decrement > 1e-12:
            break
        found = _backtracked(objective, theta, step, value, decrement)
        if found is None:
            break
        theta, value = found
    return theta if every else np.column_stack([np.zeros(p), theta])


def _scores(Z: np.ndarray, theta: np.ndarray, every: bool) -> np.ndarray:
    """The classes' scores of weights ``theta``: every class's (``every``), or the first class's 0."""
    return Z @ theta if every else class_scores(Z, theta)


def _lasso_objective(Z, Y, v, theta, every: bool, ridge: np.ndarray, penalty: np.ndarray) -> float:
    """``lasso_newton``'s objective of weights ``theta`` (every class's, or all but the first's), whose one-hot
    labels are ``Y`` (the same classes'): the mean loss, ``ridge``'s penalty on each and ``penalty``'s (--l1's)."""
    S = _scores(Z, theta, every)
    top = S.max(axis=1)
    lse = top + np.log(np.exp(S - top[:, None]).sum(axis=1))
    fitted = S if every else S[:, 1:]
    return float(np.sum(v * (lse - (fitted * Y).sum(axis=1))) / len(Z) + 0.5 * np.sum(ridge[:, None] * theta**2)
                 + np.sum(penalty[:, None] * np.abs(theta)))


def _lasso_penalty(l1, p: int) -> np.ndarray:
    """--l1's ``l1`` (a number, or one per feature) on each of ``p`` values, the bias's (last) 0."""
    return np.append(np.broadcast_to(np.asarray(l1, dtype=np.float64), (p - 1,)), 0.0)
