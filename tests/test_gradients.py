"""Finite-difference checks, in float64, of every loss and penalty.

The compiled gradient is read off one plain SGD step with lr = 1
(w_new = w − ∇objective), and compared with central differences of the
objective written out in NumPy (tests/reference.py).
"""

import numpy as np
import pytest

from sgdcli.kernels import batches
from sgdcli.kernels import state as ks
from sgdcli.kernels.state import Scratch, TrainState
from sgdcli.options import TrainOptions
from sgdcli.kernels.state import kernel_config

from naive import objective


def compiled_gradient(model, W, X, y, l1=0.0, l2=0.0, center=None, scale=None, class_weights=None):
    """Gradient of the objective in standardized units, (x − center)·scale, read off one SGD step of a small
    rate; each row's loss times its class's weight in ``class_weights`` where given.  --l1's proximal step
    moves a weight that it does not bring to zero by the rate times l1·sign(w), the subgradient's step: the
    rate (a power of 2, so that dividing by it is exact) is small enough that none here reaches zero."""
    k_out, d1 = W.shape
    standardize = center is not None
    center = np.zeros(d1 - 1) if center is None else center
    scale = np.ones(d1 - 1) if scale is None else scale
    lr = 2.0**-20
    opts = TrainOptions(model=model, lr=lr, l1=l1, l2=l2, optimizer="sgd", standardize=standardize)
    cfg = kernel_config(opts, batch=len(y), threads=1, total_iterations=1, class_weights=class_weights)
    state = TrainState.zeros(k_out, d1 - 1)
    state.W[:] = W
    buf = Scratch.make(1, k_out, d1 - 1)
    status = batches.train_block(cfg, X, y.astype(np.float64), np.arange(len(y), dtype=np.int64), center, scale, state, buf)
    assert status == ks.OK
    assert state.counters[ks.T] == 1  # exactly one update: the batch is the whole set
    return (W - state.W) / lr, state.sums[ks.EPOCH_LOSS] / len(y)


def numeric_gradient(model, W, X, y, l1, l2, h=1e-6):
    G = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        up, down = W.copy(), W.copy()
        up[idx] += h
        down[idx] -= h
        G[idx] = (objective(model, up, X, y, l1, l2) - objective(model, down, X, y, l1, l2)) / (2 * h)
    return G


CASES = [
    ("linear", 1, lambda rng, n: rng.standard_normal(n)),
    ("logistic", 1, lambda rng, n: rng.integers(0, 2, n).astype(float)),
    ("hinge", 1, lambda rng, n: rng.integers(0, 2, n).astype(float)),
    ("softmax", 4, lambda rng, n: rng.integers(0, 4, n).astype(float)),
    ("huber", 1, lambda rng, n: rng.standard_normal(n) * 3),  # residuals on both sides of epsilon
    ("quantile", 1, lambda rng, n: rng.standard_normal(n) * 3),
    ("poisson", 1, lambda rng, n: rng.poisson(2.0, n).astype(float)),
    ("squared_hinge", 1, lambda rng, n: rng.integers(0, 2, n).astype(float)),
    ("modified_huber", 1, lambda rng, n: rng.integers(0, 2, n).astype(float)),
]


@pytest.mark.parametrize("model,k_out,labels", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("l1,l2", [(0.0, 0.0), (0.0, 0.3), (0.2, 0.0), (0.1, 0.5)], ids=["plain", "l2", "l1", "l1+l2"])
def test_gradient_matches_finite_differences(model, k_out, labels, l1, l2):
    rng = np.random.default_rng(7)
    n, d = 40, 5
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = labels(rng, n)
    W = rng.standard_normal((k_out, d + 1)) * 0.7
    W[:, :d][np.abs(W[:, :d]) < 0.05] = 0.1  # keep weights off the kink of |w|
    grad, loss = compiled_gradient(model, W, X, y, l1, l2)
    expected = numeric_gradient(model, W, X, y, l1, l2)
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-7)
    # the loss reported by the kernel is the mean data loss at the starting weights
    assert loss == pytest.approx(objective(model, W, X, y), rel=1e-12)


CLASSIFIERS = [case for case in CASES if case[0] in ("logistic", "hinge", "softmax", "squared_hinge",
                                                      "modified_huber")]


@pytest.mark.parametrize("model,k_out,labels", CLASSIFIERS, ids=[c[0] for c in CLASSIFIERS])
def test_class_weights_scale_the_gradient_as_they_scale_the_loss(model, k_out, labels):
    """--class-weight: the objective is the mean of each row's loss times its class's weight; its gradient, by
    finite differences, is the one the kernel steps by (a kernel that weighed only the loss trained unweighted)."""
    rng = np.random.default_rng(11)
    n, d = 40, 5
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = labels(rng, n)
    W = rng.standard_normal((k_out, d + 1)) * 0.7
    weights = np.array([1.0, 3.5, 0.5, 4.0][:max(k_out, 2)])

    def weighted(Wh):
        return float(np.mean([weights[int(y[i])] * objective(model, Wh, X[i:i + 1], y[i:i + 1]) for i in range(n)]))

    expected = np.zeros_like(W)
    h = 1e-6
    for idx in np.ndindex(W.shape):
        up, down = W.copy(), W.copy()
        up[idx] += h
        down[idx] -= h
        expected[idx] = (weighted(up) - weighted(down)) / (2 * h)
    grad, loss = compiled_gradient(model, W, X, y, class_weights=weights)
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-7)
    assert loss == pytest.approx(weighted(W), rel=1e-12)
    assert not np.allclose(grad, compiled_gradient(model, W, X, y)[0], rtol=1e-3)  # the weights do matter here


@pytest.mark.parametrize("model,k_out,labels", CASES, ids=[c[0] for c in CASES])
def test_gradient_in_standardized_units(model, k_out, labels):
    """The raw-feature sums mapped back per batch equal the gradient on standardized features."""
    rng = np.random.default_rng(3)
    n, d = 30, 4
    X = (rng.standard_normal((n, d)) * [1, 5, 0.2, 3] + [2, -1, 10, 0]).astype(np.float32)
    center, scale = X.astype(np.float64).mean(axis=0), 1 / X.astype(np.float64).std(axis=0)
    y = labels(rng, n)
    W = rng.standard_normal((k_out, d + 1)) * 0.5
    grad, loss = compiled_gradient(model, W, X, y, 0.05, 0.1, center, scale)
    Z = (X.astype(np.float64) - center) * scale
    np.testing.assert_allclose(grad, numeric_gradient(model, W, Z, y, 0.05, 0.1), rtol=1e-6, atol=1e-7)
    assert loss == pytest.approx(objective(model, W, Z, y), rel=1e-10)


def test_bias_is_not_penalised():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 3)).astype(np.float32)
    y = rng.standard_normal(10)
    W = np.full((1, 4), 2.0)
    g_plain, _ = compiled_gradient("linear", W, X, y)
    g_pen, _ = compiled_gradient("linear", W, X, y, l1=0.5, l2=0.5)
    assert g_pen[0, 3] == pytest.approx(g_plain[0, 3], abs=1e-12)
    np.testing.assert_allclose(g_pen[0, :3] - g_plain[0, :3], 0.5 * 2.0 + 0.5, rtol=1e-12)


def test_logistic_loss_is_stable_for_huge_scores():
    W = np.array([[1000.0, 0.0]])
    X = np.array([[1.0], [-1.0]], dtype=np.float32)
    y = np.array([0.0, 1.0])  # both badly wrong: loss ≈ 1000 each, finite
    grad, loss = compiled_gradient("logistic", W, X, y)
    assert loss == pytest.approx(1000.0, rel=1e-9)
    assert np.isfinite(grad).all()
