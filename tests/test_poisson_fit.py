"""The fit of poisson's objective on a run's sample (training/poissonfit.py), against L-BFGS's optimum computed
here, and the deviance the end's measures judge it by."""

import numpy as np
import pytest
from scipy.optimize import minimize

from sgdcli.training import poissonfit


def _counts(seed=1, n=500, d=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return np.column_stack([X, np.ones(n)]), rng.poisson(np.exp(0.4 * X @ rng.standard_normal(d) + 1.0)).astype(float)


def _optimum(Z, y, v, l2):
    penalty = np.append(np.broadcast_to(l2, (Z.shape[1] - 1,)), 0.0)

    def f(theta):
        s = Z @ theta
        return (v @ (np.exp(s) - y * s) / len(y) + 0.5 * penalty @ theta**2,
                Z.T @ (v * (np.exp(s) - y)) / len(y) + penalty * theta)

    return minimize(f, np.zeros(Z.shape[1]), jac=True, method="L-BFGS-B",
                    options={"maxiter": 100_000, "ftol": 1e-15, "gtol": 1e-12}).fun


@pytest.mark.parametrize("l2", [0.0, 0.1, np.linspace(0.0, 0.2, 6)])  # one a feature: raw features' (fitgap.py)
def test_the_fit_is_the_optimum(l2):
    Z, y = _counts()
    theta = poissonfit.fit(Z, y, l2=l2)
    penalty = np.append(np.broadcast_to(l2, (Z.shape[1] - 1,)), 0.0)
    got = np.mean(np.exp(Z @ theta) - y * (Z @ theta)) + 0.5 * penalty @ theta**2
    assert got == pytest.approx(_optimum(Z, y, np.ones(len(y)), l2), rel=1e-9, abs=1e-12)


def test_rows_without_a_count_are_left_out_and_weights_weigh_the_rest():
    Z, y = _counts(seed=2)
    v = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    missing = y.copy()
    missing[::5] = np.nan
    kept = np.isfinite(missing)
    theta = poissonfit.fit(Z, missing, v)
    s = Z[kept] @ theta
    got = v[kept] @ (np.exp(s) - y[kept] * s) / kept.sum()
    assert got == pytest.approx(_optimum(Z[kept], y[kept], v[kept], 0.0), rel=1e-9)


def test_counts_all_zero_have_no_optimum():
    Z, _ = _counts()
    assert poissonfit.fit(Z, np.zeros(len(Z))) is None


def test_the_saturated_loss_is_each_counts_least():
    y = np.array([0.0, 1.0, 4.0])
    np.testing.assert_allclose(poissonfit.saturated(y), [0.0, 1.0, 4.0 - 4.0 * np.log(4.0)])
    s = np.linspace(-5, 5, 100_001)  # the loss μ − y·s over scores s: its least is the saturated model's
    assert all(np.min(np.exp(s) - c * s) == pytest.approx(poissonfit.saturated(np.array([c]))[0], abs=1e-8)
               for c in (1.0, 4.0))
