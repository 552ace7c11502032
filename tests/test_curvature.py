"""Huber's and the pinball loss's curvature in --lr auto's rate: from the scale of the residuals, so that targets
of any scale train to their optimum (training/curvature.py)."""

import math
from statistics import NormalDist

import numpy as np
import pytest
from scipy.optimize import linprog, minimize

from sgdcli import train
from sgdcli.options import TrainOptions
from sgdcli.training import curvature

from conftest import cli, write_table

N, D = 4000, 5


def targets(scale: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)).astype(np.float32)
    y = scale * (X.astype(np.float64) @ rng.standard_normal(D) + 2.0 + 0.3 * rng.standard_normal(N))
    return X, y


def huber_objective(w, Z, y, eps):
    r = y - Z @ w
    a = np.abs(r)
    loss = np.where(a <= eps, 0.5 * r**2, eps * (a - 0.5 * eps))
    return loss.mean(), -(Z.T @ np.clip(r, -eps, eps)) / len(y)


def pinball_objective(w, Z, y, q):
    r = y - Z @ w
    return float(np.mean(np.maximum(q * r, (q - 1) * r)))


def optimum(model, Z, y, param):
    """The least mean loss over the weights of the standardized features and the bias: L-BFGS on huber's smooth
    loss, the linear program of quantile regression (min Σ q·u⁺ + (1 − q)·u⁻ with Zw + u⁺ − u⁻ = y)."""
    if model == "huber":
        start = np.linalg.lstsq(Z, y, rcond=None)[0]
        best = minimize(huber_objective, start, args=(Z, y, param), jac=True, method="L-BFGS-B",
                        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000})
        return float(best.fun)
    n, d = Z.shape
    cost = np.concatenate([np.zeros(d), np.full(n, param), np.full(n, 1.0 - param)])
    equal = np.hstack([Z, np.eye(n), -np.eye(n)])
    lp = linprog(cost, A_eq=equal, b_eq=y, bounds=[(None, None)] * d + [(0, None)] * (2 * n), method="highs")
    assert lp.status == 0
    return float(lp.fun) / n


def loss_and_optimum(model, m, Z, y):
    """The mean loss of model ``m`` on the rows ``Z`` (with the bias's column) and labels ``y``, and the least
    there is (ε 0.1, q 0.5)."""
    w = np.append(m.weights[0], m.bias[0])
    if model == "huber":
        return huber_objective(w, Z, y, 0.1)[0], optimum("huber", Z, y, 0.1)
    return pinball_objective(w, Z, y, 0.5), optimum("quantile", Z, y, 0.5)


@pytest.mark.parametrize("model,scale", [("huber", 1000.0), ("quantile", 1000.0), ("quantile", 1e-3),
                                         ("huber", 1.0)])
def test_targets_of_any_scale_train_to_the_optimum(tmp_path, model, scale):
    """Huber's and the pinball loss's gradients are bounded (by ε, by max(q, 1 − q)): with the curvature of
    squared error in the rate, targets about a thousand ended 387% (huber) and 269% (quantile) above the
    optimum after the default 5 epochs, and targets about a thousandth overshot to a model worse than none."""
    X, y = targets(scale)
    m = train(write_table(tmp_path / "d.h5", X, y), TrainOptions(model=model, quantile=0.5))
    Z = np.column_stack([(X.astype(np.float64) - m.center) / m.scale, np.ones(N)])
    got, best = loss_and_optimum(model, m, Z, y)
    assert got <= 1.01 * best, (got, best)


@pytest.mark.parametrize("schedule,epochs", [("constant", 200), ("step", 200)])
def test_a_full_batch_whose_rate_does_not_decay_reaches_hubers_optimum(tmp_path, schedule, epochs):
    """Residuals mostly beyond ε made huber's c 0.1 and the full batch's rate 5 times gradient descent's stable
    2/L: at a constant rate it settled in a cycle 6.8% above the optimum's loss, however many epochs.  The rate
    a schedule ends at takes huber's bound, 1 (a step schedule's last phase, a twentieth of it, is stable as it
    is)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4)).astype(np.float32)
    y = X.astype(np.float64) @ rng.standard_normal(4) + rng.standard_t(2, 80)
    m = train(write_table(tmp_path / "d.h5", X, y), TrainOptions(model="huber", batch_size=None, epochs=epochs,
                                                                  schedule=schedule, gamma=0.05, step_epochs=50))
    Z = np.column_stack([(X.astype(np.float64) - m.center) / m.scale, np.ones(len(y))])
    got, best = loss_and_optimum("huber", m, Z, y)
    assert got <= best * (1 + 1e-6), (got, best)
    lam = np.linalg.eigvalsh(Z.T @ Z / len(y)).max()
    c = m.training["lr_auto"]["curvature"]
    assert (c == 1.0) if schedule == "constant" else (c < 0.2)  # step: the residuals' own, 0.1
    assert m.training["lr"] == pytest.approx(1.0 / (c * lam), rel=0.05)  # (λmax of a sample of the rows)


def test_the_pinball_losss_rate_follows_the_targets_scale_exactly(tmp_path):
    """The pinball loss of targets × S is S times their pinball loss, its gradient the same: the rate that trains
    one trains the other at S times it, and the models are S times each other's."""
    X, y = targets(1.0)
    one = train(write_table(tmp_path / "one.h5", X, y), TrainOptions(model="quantile", epochs=1))
    big = train(write_table(tmp_path / "big.h5", X, 1024.0 * y), TrainOptions(model="quantile", epochs=1))
    assert big.training["lr"] == pytest.approx(1024.0 * one.training["lr"], rel=1e-9)
    np.testing.assert_allclose(big.weights, 1024.0 * one.weights, rtol=1e-6)


def test_the_residuals_scale_is_measured_on_rows_the_fit_did_not_see():
    """Gaussian residuals of standard deviation 2 read as about 2; with as many features as rows to fit, a fit
    on the rows themselves would pass through them (a scale of 0, and with it a rate of 0), where the other
    half's rows keep the scale at least the noise's."""
    rng = np.random.default_rng(1)
    Z = np.column_stack([rng.standard_normal((4000, 5)), np.ones(4000)])
    y = Z @ rng.standard_normal(6) + 2.0 * rng.standard_normal(4000)
    assert curvature.residual_scale(y, Z) == pytest.approx(2.0, rel=0.05)
    wide = np.column_stack([rng.standard_normal((400, 399)), np.ones(400)])
    noise = 2.0 * rng.standard_normal(400)
    assert curvature.residual_scale(noise, wide) >= 2.0
    assert curvature.residual_scale(noise, None) == pytest.approx(2.0, rel=0.15)  # sparse rows: the labels' spread
    labels = np.array([np.nan, 1.0, 2.0, 4.0, 100.0])
    assert curvature.residual_scale(labels, None) == pytest.approx(curvature.MAD_TO_SD)  # NaN left out; the lower
    # median, 2, and that of the deviations 1, 0, 2, 98
    assert math.isnan(curvature.residual_scale(np.full(3, np.nan), None))


def test_the_curvature_of_each_loss():
    labels = np.array([1.0, 3.0, np.nan])
    assert curvature.bound("logistic", labels) == 0.25 and curvature.bound("linear", labels) == 1.0
    assert curvature.bound("poisson", labels) == 1.0  # its rows weighted by their own:
    assert curvature.row_curvature("poisson", labels).tolist() == [2.0, 3.0, 2.0]  # counts, at least the mean, 2
    assert curvature.row_curvature("poisson", np.array([0.0, 0.5])).tolist() == [1.0, 1.0]  # and 1
    assert curvature.row_curvature("linear", labels) is None
    assert curvature.bound("huber", labels, param=0.1, scale=0.5) == pytest.approx(math.erf(0.1 / (0.5 * 2**0.5)))
    assert curvature.bound("huber", labels, param=0.1, scale=1e-6) == pytest.approx(1.0)  # squared error
    normal = NormalDist()
    assert curvature.bound("quantile", labels, param=0.9, scale=4.0) == pytest.approx(
        normal.pdf(normal.inv_cdf(0.9)) / 4.0)
    for sigma in (0.0, math.nan):  # an exact fit, constant labels, none finite: squared error's bound
        assert curvature.bound("quantile", labels, param=0.5, scale=sigma) == 1.0
        assert curvature.bound("huber", labels, param=0.1, scale=sigma) == 1.0


@pytest.mark.parametrize("model", ["huber", "quantile"])
def test_bounded_gradient_losses_start_at_the_least_squares_fit(tmp_path, model):
    """From the all-zero weights (the bias at the labels' median), huber's and the pinball loss's bounded steps
    crawled along the flat directions of features that are not standardized: `sgdcli generate`'s regression
    (features of means −1.9 to 1.7 and deviations 0.5 to 2.3) ended 373% and 251% above the optimum after the
    default 5 epochs.  They start at the sample's least-squares fit, its bias moved to the median (q-th quantile)
    of its residuals, with each row's weight."""
    import h5py

    from sgdcli.data.table import Table
    from sgdcli.training.sampling import sample_spans
    from sgdcli.training.start import start_weights

    path = tmp_path / "d.h5"
    assert cli("generate", path, "--task", "regression", "--rows", N, "--features", 10)[0] == 0
    with h5py.File(path) as f:
        X, y = f["X"][()], f["y"][()]
    m = train(path, TrainOptions(model=model, standardize=False))
    Z = np.column_stack([X.astype(np.float64), np.ones(N)])
    got, best = loss_and_optimum(model, m, Z, y)
    assert got <= 1.01 * best, (got, best)

    def weigh(labels):
        return np.where(labels > np.median(y), 4.0, 1.0)

    with Table(path) as table:
        start = start_weights(model, 0.3, table, np.zeros(10), np.ones(10), weigh)
        rows = np.concatenate([np.arange(a, b) for a, b in sample_spans(table, TrainOptions().memory)])
    Zs, ys, v = Z[rows], y[rows], weigh(y[rows])
    fit = np.linalg.lstsq(Zs * np.sqrt(v)[:, None], ys * np.sqrt(v), rcond=None)[0]
    np.testing.assert_allclose(start[:-1], fit[:-1], rtol=1e-6)  # the solve's ridge is at rounding's scale
    residuals = ys - Zs @ start
    q = 0.5 if model == "huber" else 0.3
    assert np.sum(v[residuals < 0]) / v.sum() == pytest.approx(q, abs=5 / len(rows))  # the weighted quantile at 0


def test_the_residuals_scale_counts_each_row_with_its_weight():
    """Rows that weigh nearly nothing count nearly nothing in the objective, and so in the curvature: their noise
    (a hundred times the heavy rows') set σ, and with it a rate a hundred times too large (huber 22%, quantile
    5.5% above the optimum where the heavy rows were clean)."""
    rng = np.random.default_rng(3)
    Z = np.column_stack([rng.standard_normal((4000, 4)), np.ones(4000)])
    light = rng.random(4000) < 0.5
    y = Z @ rng.standard_normal(5) + np.where(light, 100.0, 1.0) * rng.standard_normal(4000)
    weights = np.where(light, 1e-6, 1.0)
    assert curvature.residual_scale(y, Z, weights) == pytest.approx(1.0, rel=0.1)
    assert curvature.residual_scale(y, Z) > 5.0  # unweighted: the light rows widen it
    assert curvature.residual_scale(y, None, np.where(light, 0.0, 1.0)) == curvature.residual_scale(y[~light], None)
