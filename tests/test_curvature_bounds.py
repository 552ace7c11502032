"""Each loss's curvature bound, which ``--lr auto`` divides by, is the largest second derivative of the loss the
kernels compute, measured here by finite differences of their gradients (softmax: the largest eigenvalue of its
Hessian in the scores)."""

import numba
import numpy as np
import pytest

from sgdcli.kernels import losses
from sgdcli.training.curvature import CURVATURE

H = 1e-5


@numba.njit
def _derivatives(loss, z, target, out):  # the kernels' callees are inlined into callers, not called from Python
    for i in range(z.shape[0]):
        out[i] = losses.loss_grad_one(loss, z[i], target)[1]


@numba.njit
def _gradient(loss, s, target, g):
    losses.loss_grad(loss, s, target, g)


@pytest.mark.parametrize("model", ["linear", "logistic", "squared_hinge", "modified_huber"])
def test_the_bound_is_the_largest_second_derivative_of_a_single_output_loss(model):
    loss = losses.loss_of((model, 0.0))
    z = np.linspace(-6.0, 6.0, 24001)
    largest = 0.0
    for target in (0.0, 1.0):
        ahead, behind = np.empty_like(z), np.empty_like(z)
        _derivatives(loss, z + H, target, ahead)
        _derivatives(loss, z - H, target, behind)
        largest = max(largest, float(np.max(np.abs(ahead - behind)) / (2 * H)))
    assert largest == pytest.approx(CURVATURE[model], rel=1e-3)


def test_the_softmax_bound_is_the_largest_eigenvalue_of_its_hessian():
    """diag(p) − ppᵀ: its eigenvalues reach ½ where two classes share the probability and the others have none."""
    loss = losses.loss_of(("softmax", 0.0))
    rng = np.random.default_rng(0)
    scores = [np.array([0.0, 0.0, -40.0])] + [rng.normal(0.0, 3.0, 3) for _ in range(300)]
    largest = 0.0
    for s in scores:
        hessian = np.empty((3, 3))
        for j in range(3):
            step = np.zeros(3)
            step[j] = H
            ahead, behind = np.empty(3), np.empty(3)
            _gradient(loss, s + step, 0, ahead)
            _gradient(loss, s - step, 0, behind)
            hessian[:, j] = (ahead - behind) / (2 * H)
        largest = max(largest, float(np.linalg.eigvalsh((hessian + hessian.T) / 2).max()))
    assert largest == pytest.approx(CURVATURE["softmax"], rel=1e-3)
