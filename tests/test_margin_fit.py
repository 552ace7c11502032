"""The fit of the hinge family's objective on a run's sample (training/marginfit.py), against optima computed here:
a linear program's for hinge, L-BFGS's for squared_hinge and modified_huber (whose gradients are continuous), and
for hinge under --l2 the bracket of L-BFGS's optimum of its smoothing, which lies below the loss."""

import numpy as np
import pytest
from scipy.optimize import linprog, minimize

from naive import loss_and_grad
from sgdcli.training import marginfit


def _rows(seed=3, n=600, d=8, separable=False, collinear=False):
    """Rows of ``d`` features (``collinear``: six of them one signal and a little noise, as sensors of one
    quantity read), the bias's 1 last, and classes 0/1 of a logistic draw (``separable``: of the score's sign)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if collinear:
        X[:, :6] = rng.standard_normal((n, 1)) + 0.05 * rng.standard_normal((n, 6))
    score = 20 * (X[:, 0] - X[:, 1]) + X[:, 2] if collinear else X @ rng.standard_normal(d)
    score = 2 * score / score.std()
    classes = (score > 0 if separable else score + rng.logistic(size=n) > 0).astype(np.float64)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return np.column_stack([X, np.ones(n)]), classes


def _hinge_optimum(Z, classes, v):
    """min Σ v·ξ / m subject to ξ ≥ 1 − y·Zθ, ξ ≥ 0: the hinge loss's exact optimum."""
    m, p = Z.shape
    y = 2 * classes - 1
    found = linprog(np.concatenate([np.zeros(p), v / m]), A_ub=np.hstack([-y[:, None] * Z, -np.eye(m)]),
                    b_ub=-np.ones(m), bounds=[(None, None)] * p + [(0, None)] * m, method="highs")
    return found.fun


def _lbfgs(f, p):
    return minimize(f, np.zeros(p), jac=True, method="L-BFGS-B",
                    options={"maxiter": 100_000, "ftol": 1e-15, "gtol": 1e-12}).fun


def _smooth_optimum(model, Z, classes, v, l2, width=0.0):
    """L-BFGS's optimum of ``model``'s objective (hinge's smoothed within ``width`` into the quadratic
    (1 − m)²/(2·width): below the loss everywhere)."""
    return _lbfgs(_smooth_objective(model, Z, classes, v, l2, width), Z.shape[1])


def _smooth_objective(model, Z, classes, v, l2, width=0.0):
    """``model``'s objective and its gradient, of the weights and bias, written here from the losses'
    definitions (``_smooth_optimum``)."""
    y = 2 * classes - 1
    penalty = np.append(np.broadcast_to(l2, (Z.shape[1] - 1,)), 0.0)

    def f(theta):
        m = y * (Z @ theta)
        z = 1 - m
        if model == "hinge":
            loss = np.where(z <= 0, 0, np.where(z < width, z * z / (2 * width), z - width / 2))
            slope = -np.clip(z / width, 0, 1)
        else:
            loss, slope = np.maximum(z, 0) ** 2, -2 * np.maximum(z, 0)
            if model == "modified_huber":
                loss, slope = np.where(m < -1, -4 * m, loss), np.where(m < -1, -4.0, slope)
        return (v @ loss / len(m) + 0.5 * penalty @ theta**2, Z.T @ (v * slope * y) / len(m) + penalty * theta)

    return f


def _objective(model, Z, classes, v, theta, l2=0.0):
    penalty = np.append(np.broadcast_to(l2, (Z.shape[1] - 1,)), 0.0)
    return v @ marginfit.losses(model, Z @ theta, classes) / len(classes) + 0.5 * penalty @ theta**2


ROWS = [{}, {"collinear": True}, {"separable": True}]


@pytest.mark.parametrize("model", marginfit.MODELS)
def test_the_losses_are_the_kernels(model):
    scores = np.linspace(-3, 3, 61)
    for c in (0, 1):
        expected = [loss_and_grad(model, np.array([s]), c)[0] for s in scores]
        np.testing.assert_allclose(marginfit.losses(model, scores, np.full(61, float(c))), expected, rtol=1e-15)


@pytest.mark.parametrize("rows", ROWS, ids=["plain", "collinear", "separable"])
def test_the_hinge_fit_is_a_linear_programs_optimum(rows):
    Z, classes = _rows(**rows)
    v = np.ones(len(classes))
    theta = marginfit.fit("hinge", Z, classes)
    best = _hinge_optimum(Z, classes, v)
    assert best - 1e-9 <= _objective("hinge", Z, classes, v, theta) <= best + marginfit.SMOOTHED / 2  # the bound
    smoothed = _smooth_objective("hinge", Z, classes, v, 0.0, marginfit.SMOOTHED)  # which the fit is the optimum of
    assert smoothed(theta)[0] == pytest.approx(_smooth_optimum("hinge", Z, classes, v, 0.0, marginfit.SMOOTHED),
                                               rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("model", ["squared_hinge", "modified_huber"])
@pytest.mark.parametrize("rows", ROWS, ids=["plain", "collinear", "separable"])
def test_the_smooth_fits_are_the_optimum_under_l2_per_feature(model, rows):
    Z, classes = _rows(seed=4, **rows)
    v = np.ones(len(classes))
    l2 = np.linspace(0.0, 0.05, Z.shape[1] - 1)  # raw features' penalties are one a feature (fitgap.py)
    got = _objective(model, Z, classes, v, marginfit.fit(model, Z, classes, l2=l2), l2)
    best = _smooth_optimum(model, Z, classes, v, l2)
    assert best - 1e-12 <= got <= best + 1e-9 * max(best, 1.0)
    if not rows:  # and without a penalty
        got = _objective(model, Z, classes, v, marginfit.fit(model, Z, classes))
        assert got == pytest.approx(_smooth_optimum(model, Z, classes, v, 0.0), rel=1e-9)


def test_the_hinge_fit_under_l2_lies_within_its_smoothings_bound_of_the_optimum():
    """The hinge's objective lies above its smoothing's within h, and within h/2 of it: the fit, the smoothing's
    optimum at SMOOTHED, is within SMOOTHED/2 of the optimum, which lies above the optimum of a smoothing of
    1e-6, and within 5e-7 of it."""
    Z, classes = _rows(seed=5, collinear=True)
    v = np.ones(len(classes))
    for l2 in (1e-3, 0.1):
        got = _objective("hinge", Z, classes, v, marginfit.fit("hinge", Z, classes, l2=l2), l2)
        below = _smooth_optimum("hinge", Z, classes, v, l2, width=1e-6)
        assert below <= got <= below + marginfit.SMOOTHED / 2 + 5e-7


def test_rows_without_a_label_are_left_out_and_weights_weigh_the_rest():
    Z, classes = _rows(seed=6)
    v = np.random.default_rng(0).uniform(0.2, 3.0, len(classes))
    missing = classes.copy()
    missing[::7] = np.nan
    kept = np.isfinite(missing)
    theta = marginfit.fit("hinge", Z, missing, v)
    got = _objective("hinge", Z[kept], classes[kept], v[kept], theta)
    best = _hinge_optimum(Z[kept], classes[kept], v[kept])
    assert best - 1e-9 <= got <= best + marginfit.SMOOTHED / 2
    theta = marginfit.fit("squared_hinge", Z, missing, v)
    got = _objective("squared_hinge", Z[kept], classes[kept], v[kept], theta)
    assert got == pytest.approx(_smooth_optimum("squared_hinge", Z[kept], classes[kept], v[kept], 0.0), rel=1e-9)


def test_rows_of_one_class_have_no_fit():
    """The bias alone fits them; such a fit scores the other class's rows as it never saw them."""
    Z, classes = _rows(seed=7)
    one = np.where(classes == 1, 1.0, np.nan)
    assert marginfit.fit("hinge", Z, one) is None
    weighed = np.where(classes == 1, 1.0, 0.0)  # the other class's rows weigh nothing
    assert marginfit.fit("modified_huber", Z, classes, weighed) is None


@pytest.mark.parametrize("model", marginfit.MODELS)
def test_the_noise_says_what_a_fit_gains_on_its_own_rows(model):
    """What a fit of p weights to m rows gains on them over the optimum of the rows they are drawn from is, on
    average, p/2m times the noise: measured here over 60 draws of 500 rows, against the optimum of 200,000."""
    p, m = 6, 500
    rng = np.random.default_rng(8)
    X = rng.standard_normal((200_000, p - 1))
    Z = np.column_stack([X, np.ones(len(X))])
    classes = (X @ np.array([1.0, -0.5, 0.5, 0.0, 0.0]) + rng.logistic(size=len(X)) > 0).astype(np.float64)
    v = np.ones(len(classes))
    optimum = marginfit.fit(model, Z, classes)
    gains, noises = [], []
    for _ in range(60):
        drawn = rng.choice(len(X), m, replace=False)
        fitted = marginfit.fit(model, Z[drawn], classes[drawn])
        gains.append(_objective(model, Z[drawn], classes[drawn], v[:m], optimum)
                     - _objective(model, Z[drawn], classes[drawn], v[:m], fitted))
        noises.append(marginfit.noise(model, Z[drawn] @ fitted, classes[drawn], None))
    expected = p / (2 * m) * np.mean(noises)
    assert np.mean(gains) == pytest.approx(expected, rel=0.2)
