"""The four losses, each one definition used by training, validation and tests.

A loss is a function of the raw scores ``s`` (one per output) and the encoded
target: it returns the loss and writes d loss / d s into ``g``.  The inverse
link (identity, sigmoid, softmax) turns scores into predictions.

Targets: linear takes the value, logistic and hinge take the class index 0/1
(hinge uses y = ±1 internally), softmax takes the class index.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from sgdcli.jit import kernel

LINEAR, LOGISTIC, SOFTMAX, HINGE = 0, 1, 2, 3
CODES = {"linear": LINEAR, "logistic": LOGISTIC, "softmax": SOFTMAX, "hinge": HINGE}


@kernel()
def loss_grad(model, s, target, g):
    """Loss of scores ``s`` for ``target``; writes the derivative into ``g``."""
    if model == LINEAR:
        r = s[0] - target
        g[0] = r
        return 0.5 * r * r
    if model == LOGISTIC:
        z = s[0]
        if z >= 0:
            e = math.exp(-z)
            p = 1.0 / (1.0 + e)
            loss = math.log1p(e) + (1.0 - target) * z
        else:
            e = math.exp(z)
            p = e / (1.0 + e)
            loss = math.log1p(e) - target * z
        g[0] = p - target
        return loss
    if model == HINGE:
        sign = 2.0 * target - 1.0
        margin = 1.0 - sign * s[0]
        if margin > 0:
            g[0] = -sign
            return margin
        g[0] = 0.0
        return 0.0
    # SOFTMAX
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
    for c in range(k):
        g[c] /= total
    g[cls] -= 1.0
    return math.log(total) + top - s[cls]


@kernel(parallel=True)
def row_losses(model, S, targets, out, scratch):
    """Per-row loss of a score matrix ``S`` (rows × outputs); ``scratch`` is like ``S``."""
    for i in prange(S.shape[0]):
        out[i] = loss_grad(model, S[i], targets[i], scratch[i])
    return out


def inverse_link(model: str, S: np.ndarray) -> np.ndarray:
    """Probabilities (classifiers) or values (linear) from raw scores, in NumPy."""
    if model == "linear":
        return S[:, 0].copy()
    if model in ("logistic", "hinge"):  # hinge scores are not calibrated; the sigmoid only orders them
        p1 = 0.5 * (1.0 + np.tanh(0.5 * S[:, 0]))
        return np.column_stack([1.0 - p1, p1])
    top = S.max(axis=1, keepdims=True)
    e = np.exp(S - top)
    return e / e.sum(axis=1, keepdims=True)
