"""The fit of poisson's objective on a run's sample (training/poissonfit.py), against L-BFGS's optimum computed
here, and the deviance the end's measures judge it by."""

import numpy as np
import pytest
from scipy.optimize import minimize

from sgdcli.model import zeroloss
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
    np.testing.assert_allclose(zeroloss.saturated(y), [0.0, 1.0, 4.0 - 4.0 * np.log(4.0)])
    s = np.linspace(-5, 5, 100_001)  # the loss μ − y·s over scores s: its least is the saturated model's
    assert all(np.min(np.exp(s) - c * s) == pytest.approx(zeroloss.saturated(np.array([c]))[0], abs=1e-8)
               for c in (1.0, 4.0))


def test_the_newton_decrement_is_the_objective_above_the_optimum_near_it():
    """Near the optimum the objective is its quadratic: half of gᵀH⁻¹g, with the gradient and the curvature at
    a model, is how far that model's objective is above the optimum's (the fit's ridge aside), and the change to
    another model is their objectives' difference."""
    Z, y = _counts(seed=3, n=4000)
    best = poissonfit.fit(Z, y)
    params = best + 0.02 * np.random.default_rng(0).standard_normal(len(best))
    s = Z @ params
    gradient = Z.T @ (np.exp(s) - y) / len(y)
    fall, change = poissonfit.newton_gap(Z, y, None, 0.0, params, gradient, best)

    def objective(theta):
        return np.mean(np.exp(Z @ theta) - y * (Z @ theta))

    assert fall == pytest.approx(objective(params) - objective(best), rel=0.05)
    assert change == pytest.approx(objective(best) - objective(params), rel=1e-9)


def test_a_row_of_weight_zero_beyond_exps_range_adds_no_curvature():
    """A row that weighs nothing, whose score overflows exp: 0 times an infinite curvature was NaN."""
    Z, y = _counts(seed=4)
    Z[0, 0] = 1e6
    v = np.ones(len(y))
    v[0] = 0.0
    params = np.full(Z.shape[1], 0.01)
    fall, _ = poissonfit.newton_gap(Z, y, v, 0.0, params, np.full(Z.shape[1], 1e-3), params)
    assert np.isfinite(fall)


def test_the_fit_of_raw_rows_far_from_0_is_the_fit_of_them_standardized():
    """A reparametrization moves no optimum: on features offset by 10,000 and of scales 1 to 1,000, the fit and
    the Newton decrement are those of the same rows standardized, mapped back.  Solved in the rows' own units, the
    solve's ridge held the flattest direction back (a full batch's fit of t, …, t⁵ ended 4% to 23% above the
    optimum); poissonfit solves in their standardized units (linearfit.standardizing)."""
    Z, y = _counts(seed=5, n=3000, d=4)
    scale, offset = np.array([1.0, 10.0, 100.0, 1000.0]), np.array([1e4, 0.0, -5e3, 0.0])
    raw = np.column_stack([Z[:, :4] * scale + offset, Z[:, 4]])
    theta, plain = poissonfit.fit(raw, y), poissonfit.fit(Z, y)
    assert raw @ theta == pytest.approx(Z @ plain, rel=1e-7, abs=1e-9)  # the same scores: the same model
    params = plain + 0.02 * np.random.default_rng(0).standard_normal(len(plain))
    gradient = Z.T @ (np.exp(Z @ params) - y) / len(y)
    w = params[:4] / scale  # those weights on the raw rows, and their gradient there
    raw_params = np.append(w, params[4] - w @ offset)
    raw_gradient = raw.T @ (np.exp(raw @ raw_params) - y) / len(y)
    fall = poissonfit.newton_gap(Z, y, None, 0.0, params, gradient, plain)[0]
    assert poissonfit.newton_gap(raw, y, None, 0.0, raw_params, raw_gradient, theta)[0] == pytest.approx(fall, rel=1e-6)


def test_a_feature_of_one_value_over_the_rows_gets_weight_0_whatever_its_means_rounding():
    """A rare indicator absent from a full batch's sample is, standardized, one value on every sampled row: its
    float64 mean was an ulp off, so its spread some 1e-15, and solved in the rows' standardized units its weight,
    divided by that spread, was 1e14 (the full batch diverged at every rate).  It is constant: weight 0, the same
    scores as without it, and a Newton decrement of about 0 at the optimum."""
    from sgdcli.training import linearfit

    Z, y = _counts(seed=6, n=3000, d=3)
    flag = np.column_stack([Z[:, :3], np.full(len(y), -0.0031622776601683794), Z[:, 3]])
    assert linearfit.moments(flag)[1][3] == 0.0
    theta, plain = poissonfit.fit(flag, y), poissonfit.fit(Z, y)
    assert theta[3] == 0.0 and flag @ theta == pytest.approx(Z @ plain, rel=1e-8, abs=1e-9)  # (the ridge: another trace)
    gradient = flag.T @ (np.exp(flag @ theta) - y) / len(y)
    assert poissonfit.newton_gap(flag, y, None, 0.0, theta, gradient, theta)[0] < 1e-12
    w = linearfit.fit(flag, y)
    assert w[3] == 0.0 and flag @ w == pytest.approx(Z @ linearfit.fit(Z, y), rel=1e-8, abs=1e-9)


@pytest.mark.parametrize("unlabelled", [False, True])
def test_a_row_of_weight_zero_beyond_exps_range_leaves_the_fit_where_it_would_be(unlabelled):
    """A row that weighs nothing (or has no count), far out (its score at the optimum some 1,600): 0 times its
    overflowed exp was NaN in the curvature and the objective, and the fit stopped short of the optimum."""
    rng = np.random.default_rng(2)
    T = rng.standard_normal((2000, 2))
    y = rng.poisson(np.exp(0.8 * T[:, 0] + 1.0)).astype(float)
    v = np.ones(len(y))
    T[0, 0] = 2000.0
    if unlabelled:
        y[0] = np.nan
    else:
        v[0] = 0.0
    Z = np.column_stack([T, np.ones(len(y))])
    assert poissonfit.fit(Z, y, v) == pytest.approx(poissonfit.fit(Z[1:], y[1:]), rel=1e-6)
