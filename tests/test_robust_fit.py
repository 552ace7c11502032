"""The fit of huber's and the pinball loss's objective on a run's sample (training/robustfit.py), against optima
computed here: a linear program's for the pinball loss, L-BFGS's for huber's (whose gradient is continuous)."""

import numpy as np
import pytest
from scipy.optimize import linprog, minimize
from scipy.stats import norm

from sgdcli.training import robustfit


def _rows(seed=3, n=400, d=8):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3, d)
    y = X @ rng.standard_normal(d) + rng.standard_t(2, n) + 10  # heavy tails, as robust regression meets
    return np.column_stack([X, np.ones(n)]), y


def _pinball_optimum(Z, y, v, q):
    """min Σ v·(q·u⁺ + (1 − q)·u⁻) / m subject to Zθ + u⁺ − u⁻ = y: the pinball loss's exact optimum."""
    m, p = Z.shape
    c = np.concatenate([np.zeros(p), q * v / m, (1 - q) * v / m])
    found = linprog(c, A_eq=np.hstack([Z, np.eye(m), -np.eye(m)]), b_eq=y,
                    bounds=[(None, None)] * p + [(0, None)] * (2 * m), method="highs")
    return found.fun


def _huber_optimum(Z, y, v, eps, l2):
    penalty = np.append(np.broadcast_to(l2, (Z.shape[1] - 1,)), 0.0)

    def f(theta):
        u = y - Z @ theta
        psi = np.clip(u, -eps, eps)
        loss = np.where(np.abs(u) <= eps, 0.5 * u * u, eps * np.abs(u) - 0.5 * eps * eps)
        return (v @ loss / len(y) + 0.5 * penalty @ theta**2, -Z.T @ (v * psi) / len(y) + penalty * theta)

    return minimize(f, np.zeros(Z.shape[1]), jac=True, method="L-BFGS-B",
                    options={"maxiter": 100_000, "ftol": 1e-15, "gtol": 1e-12}).fun


@pytest.mark.parametrize("q", [0.5, 0.9, 0.1])
def test_the_pinball_fit_is_a_linear_programs_optimum(q):
    Z, y = _rows()
    theta = robustfit.fit("quantile", q, Z, y)
    got = np.mean(robustfit.losses("quantile", q, y - Z @ theta))
    best = _pinball_optimum(Z, y, np.ones(len(y)), q)
    assert best <= got <= best * (1 + 1e-3)


@pytest.mark.parametrize("eps", [0.1, 1.35])
def test_the_huber_fit_is_the_optimum_under_l2_per_feature(eps):
    Z, y = _rows(seed=4)
    l2 = np.linspace(0.0, 0.05, Z.shape[1] - 1)  # raw features' penalties are one a feature (fitgap.py)
    theta = robustfit.fit("huber", eps, Z, y, l2=l2)
    got = np.mean(robustfit.losses("huber", eps, y - Z @ theta)) + 0.5 * l2 @ theta[:-1] ** 2
    assert got == pytest.approx(_huber_optimum(Z, y, np.ones(len(y)), eps, l2), rel=1e-4)


def test_rows_without_a_label_are_left_out_and_weights_weigh_the_rest():
    Z, y = _rows(seed=5)
    v = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    y_missing = y.copy()
    y_missing[::7] = np.nan
    kept = np.isfinite(y_missing)
    theta = robustfit.fit("quantile", 0.7, Z, y_missing, v)
    got = v[kept] @ robustfit.losses("quantile", 0.7, (y - Z @ theta)[kept]) / kept.sum()
    best = _pinball_optimum(Z[kept], y[kept], v[kept], 0.7)
    assert best <= got <= best * (1 + 1e-3)
    theta = robustfit.fit("huber", 0.5, Z, y_missing, v)
    got = v[kept] @ robustfit.losses("huber", 0.5, (y - Z @ theta)[kept]) / kept.sum()
    assert got == pytest.approx(_huber_optimum(Z[kept], y[kept], v[kept], 0.5, 0.0), rel=1e-4)


def test_the_noise_of_gaussian_residuals_is_the_losss_own():
    """E[ψ²] / E[ψ'] for residuals N(0, σ²): the pinball loss's q(1 − q) / (φ(Φ⁻¹(q)) / σ) at its quantile;
    huber's E[clip(r, ±ε)²] / P(|r| < ε)."""
    sigma, rows = 2.0, 400_000
    r = np.random.default_rng(6).standard_normal(rows) * sigma
    for q in (0.5, 0.8):
        u = r - norm.ppf(q) * sigma  # the residuals of the q-th quantile's fit
        expected = q * (1 - q) / (norm.pdf(norm.ppf(q)) / sigma)
        assert robustfit.noise("quantile", q, u, None) == pytest.approx(expected, rel=0.02)
    eps = 0.5
    inside = norm.cdf(eps / sigma) - norm.cdf(-eps / sigma)
    a = eps / sigma  # E[min(r², ε²)] for r ~ N(0, σ²)
    clipped = sigma**2 * (inside - 2 * a * norm.pdf(a)) + eps**2 * (1 - inside)
    assert robustfit.noise("huber", eps, r, None) == pytest.approx(clipped / inside, rel=0.02)


def test_residuals_of_no_spread_have_no_noise_to_measure():
    assert robustfit.noise("huber", 0.1, np.zeros(10), None) == np.inf
