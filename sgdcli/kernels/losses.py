"""The losses, each one definition used by training, validation and tests.

A loss is a function of the raw scores ``s`` (one per output) and the encoded
target: it returns the loss and writes d loss / d s into ``g``.  The inverse
link (identity, exp, sigmoid, softmax) turns scores into predictions.  A loss
is given as ``(code, param, class weights)`` (``loss_of``): the param is
huber's epsilon or quantile's q, unused by the others; the class weights
(None for none) multiply a row's loss and its derivative by its class's.

Targets: the regression losses (linear, huber, quantile, poisson) take the
value; logistic, hinge, squared_hinge and modified_huber take the class index
0/1 (the hinges use y = ±1 internally); softmax takes the class index.  The
definitions are scikit-learn's (SGDRegressor's huber and epsilon,
SGDClassifier's squared_hinge and modified_huber, the pinball loss, and the
Poisson deviance's terms in the score, without the target's constant).
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from sgdcli.kernels.jit import kernel
from sgdcli.kernels.vecmath import exp_nonpositive, log1p_unit

ROWS_TOGETHER = 4  # rows logistic_rows takes at once (batches._accumulate_logistic scores four together)
LINEAR, LOGISTIC, SOFTMAX, HINGE, HUBER, QUANTILE, POISSON, SQUARED_HINGE, MODIFIED_HUBER = range(9)
CODES = {"linear": LINEAR, "logistic": LOGISTIC, "softmax": SOFTMAX, "hinge": HINGE, "huber": HUBER,
         "quantile": QUANTILE, "poisson": POISSON, "squared_hinge": SQUARED_HINGE, "modified_huber": MODIFIED_HUBER}


def loss_of(objective: tuple) -> tuple:
    """The ``(code, param, class weights)`` the kernels take for an objective ``(model, param[, class
    weights])`` (``options.objective``).  No class weights is None, which Numba compiles away (``_weigh``)."""
    weights = objective[2] if len(objective) > 2 else None
    return (CODES[objective[0]], float(objective[1]),
            None if weights is None else np.ascontiguousarray(weights, dtype=np.float64))


@kernel(callee=True)
def _class_weight(weights, cls):
    """The weight of class ``cls``; 1 without class weights (None: this branch is decided at compile time)."""
    if weights is None:
        return 1.0
    return weights[cls]


@kernel(callee=True)
def loss_grad_one(loss, z, target):
    """(loss, d loss / d z) of a single-output model (all but softmax) at score ``z``, times the weight of
    the target's class where the loss has class weights.

    Scalars in and out: the kernels' hot loop for these models keeps everything
    in registers, faster than going through ``loss_grad``'s arrays.
    """
    value, dz = _loss_grad_one(loss[0], loss[1], z, target)
    return _class_weighed(loss[2], target, value, dz)


@kernel(callee=True)
def _class_weighed(weights, target, value, dz):
    """(value, dz) times the weight of the target's class; as they are without class weights (None)."""
    if weights is None:
        return value, dz
    w = _class_weight(weights, int(target))
    return w * value, w * dz


@kernel(callee=True, vector=True)
def logistic_rows(loss, z, y, sw, r, m):
    """The logistic loss of the ``ROWS_TOGETHER`` rows from ``r`` whose scores are ``z``, of which the first
    ``m`` count: returns their summed loss, and ``z`` becomes their derivatives, each weighted as
    ``loss_grad_one`` and ``weighed`` weight them (rows past ``m`` get 0; they are scored as row ``r``, so
    they are finite where it is).  Without branches or calls (vecmath.py), LLVM unrolls the loop and the
    four rows' losses overlap.
    """
    total = 0.0
    for q in range(ROWS_TOGETHER):
        i = r + q if q < m else r
        value, dz = logistic_one(z[q], y[i])
        value, dz = weighed(sw, i, *_class_weighed(loss[2], y[i], value, dz))
        keep = 1.0 if q < m else 0.0
        total += keep * value
        z[q] = keep * dz
    return total


@kernel(callee=True, vector=True)
def logistic_one(z, target):
    """log(1 + e^z) − t·z and its derivative, with e = exp(−|z|) ≤ 1, so that nothing overflows; no branch
    (once a model fits, the sign of z is a coin flip to the CPU)."""
    e = exp_nonpositive(-abs(z))
    inv = 1.0 / (1.0 + e)
    p = inv if z >= 0 else e * inv
    return log1p_unit(e) + max(z, 0.0) - target * z, p - target


@kernel(callee=True)
def weighed(sw, r, value, dz):
    """A single-output row's loss and derivative times the row's sample weight ``sw[r]``; as they are without
    sample weights (None: this branch is decided at compile time, as ``_class_weight``'s)."""
    if sw is None:
        return value, dz
    v = sw[r]
    return v * value, v * dz


@kernel(callee=True)
def weighed_scores(sw, r, value, g):
    """``weighed`` for a loss of several scores: scales the derivatives ``g`` in place, returns the loss."""
    if sw is None:
        return value
    v = sw[r]
    for k in range(g.shape[0]):
        g[k] *= v
    return v * value


@kernel(callee=True)
def _loss_grad_one(model, param, z, target):
    if model == LINEAR:
        r = z - target
        return 0.5 * r * r, r
    if model == LOGISTIC:
        return logistic_one(z, target)
    if model == HUBER:  # squared within epsilon of the target, linear beyond
        r = z - target
        eps = param
        if abs(r) <= eps:
            return 0.5 * r * r, r
        return eps * abs(r) - 0.5 * eps * eps, eps if r > 0 else -eps
    if model == QUANTILE:  # pinball: q per unit under the target, 1 − q per unit over it
        r = target - z
        q = param
        if r > 0:
            return q * r, -q
        return (q - 1.0) * r, (1.0 - q) if r < 0 else 0.0
    if model == POISSON:  # log link: the mean is exp(z); the terms of the deviance in z
        mu = math.exp(z)
        return mu - target * z, mu - target
    sign = 2.0 * target - 1.0
    margin = 1.0 - sign * z
    # Past the margin the loss is 0·margin: 0, but NaN for a NaN score, so that the kernels' check of the loss
    # catches a row of bad data (a plain 0 trained past it, or left it to poison the gradient of its batch).
    # Without 'nnan' among the fast-math flags LLVM keeps the multiplication.
    if model == SQUARED_HINGE:
        if margin > 0:
            return margin * margin, -2.0 * sign * margin
        return 0.0 * margin, 0.0
    if model == MODIFIED_HUBER:  # squared hinge, linear below a margin of −1
        if sign * z >= -1.0:
            if margin > 0:
                return margin * margin, -2.0 * sign * margin
            return 0.0, 0.0
        return -4.0 * sign * z, -4.0 * sign
    # HINGE
    if margin > 0:
        return margin, -sign
    return 0.0 * margin, 0.0


@kernel(callee=True)
def loss_grad(loss, s, target, g):
    """Loss of scores ``s`` for ``target``; writes the derivative into ``g``."""
    if loss[0] != SOFTMAX:
        value, dz = loss_grad_one(loss, s[0], target)
        g[0] = dz
        return value
    k = s.shape[0]
    top = s[0]
    for c in range(1, k):
        if s[c] > top:
            top = s[c]
    total = 0.0
    for c in range(k):
        g[c] = math.exp(s[c] - top)
        total += g[c]
    cls = int(target)
    w = _class_weight(loss[2], cls)
    for c in range(k):
        g[c] = w * g[c] / total
    g[cls] -= w
    return w * (math.log(total) + top - s[cls])


@kernel(parallel=True)
def row_losses(loss, S, targets, out, scratch):
    """Per-row loss of a score matrix ``S`` (rows × outputs); ``scratch`` is like ``S``."""
    for i in prange(S.shape[0]):
        out[i] = loss_grad(loss, S[i], targets[i], scratch[i])
    return out


def inverse_link(model: str, S: np.ndarray) -> np.ndarray:
    """Probabilities (classifiers) or values (regression) from raw scores, in NumPy."""
    if model in ("linear", "huber", "quantile"):
        return S[:, 0].copy()
    if model == "poisson":
        return np.exp(S[:, 0])
    if model == "modified_huber":  # scikit-learn's estimate: (clip(z, −1, 1) + 1) / 2
        p1 = (np.clip(S[:, 0], -1.0, 1.0) + 1.0) / 2.0
        return np.column_stack([1.0 - p1, p1])
    if model in ("logistic", "hinge", "squared_hinge"):  # the hinges' scores are not calibrated: only ordered
        p1 = 0.5 * (1.0 + np.tanh(0.5 * S[:, 0]))
        return np.column_stack([1.0 - p1, p1])
    top = S.max(axis=1, keepdims=True)
    e = np.exp(S - top)
    return e / e.sum(axis=1, keepdims=True)
