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

from sgdcli.kernels.jit import kernel

LINEAR, LOGISTIC, SOFTMAX, HINGE = 0, 1, 2, 3
CODES = {"linear": LINEAR, "logistic": LOGISTIC, "softmax": SOFTMAX, "hinge": HINGE}


@kernel(callee=True)
def loss_grad_one(model, z, target):
    """(loss, d loss / d z) of a single-output model (linear, logistic, hinge) at score ``z``.

    Scalars in and out: the kernels' hot loop for these models keeps everything
    in registers, faster than going through ``loss_grad``'s arrays.
    """
    if model == LINEAR:
        r = z - target
        return 0.5 * r * r, r
    if model == LOGISTIC:
        # log(1 + e^z) − t·z with e = exp(−|z|) ≤ 1, so nothing overflows; no
        # branch (once a model fits, the sign of z is a coin flip to the CPU).
        e = math.exp(-abs(z))
        inv = 1.0 / (1.0 + e)
        p = inv if z >= 0 else e * inv
        return math.log1p(e) + max(z, 0.0) - target * z, p - target
    # HINGE
    sign = 2.0 * target - 1.0
    margin = 1.0 - sign * z
    if margin > 0:
        return margin, -sign
    return 0.0, 0.0


@kernel(callee=True)
def loss_grad(model, s, target, g):
    """Loss of scores ``s`` for ``target``; writes the derivative into ``g``."""
    if model != SOFTMAX:
        loss, dz = loss_grad_one(model, s[0], target)
        g[0] = dz
        return loss
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
