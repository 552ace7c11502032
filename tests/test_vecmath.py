"""exp and log1p written out for vectorizing (kernels/vecmath.py) against NumPy's, in units in the last place,
and the logistic loss of four rows at once (losses.logistic_rows) against the loss of one row."""

import numba
import numpy as np
import pytest

from sgdcli.kernels import losses
from sgdcli.kernels.vecmath import exp_nonpositive, log1p_unit


@numba.njit
def _exp_all(x, out):
    for i in range(x.shape[0]):
        out[i] = exp_nonpositive(x[i])


@numba.njit
def _log1p_all(x, out):
    for i in range(x.shape[0]):
        out[i] = log1p_unit(x[i])


@numba.njit
def _rows(loss, z, y, sw, r, m):
    return losses.logistic_rows(loss, z, y, sw, r, m)


@numba.njit
def _one(loss, z, target):
    return losses.loss_grad_one(loss, z, target)


def _ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Units in the last place between doubles of one sign."""
    return np.abs(a.view(np.int64) - b.view(np.int64))


def _applied(fn, x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    fn(x, out)
    return out


def test_exp_is_within_one_unit_in_the_last_place():
    rng = np.random.default_rng(0)
    x = -np.concatenate([rng.uniform(0, 708, 200_000), rng.exponential(1.0, 200_000), rng.uniform(0, 1e-8, 10_000),
                         np.arange(0, 708, 0.25), [0.0, 5e-324, 1e-300, 708.0]])
    assert _ulps(_applied(_exp_all, x), np.exp(x)).max() <= 1


def test_exp_keeps_nan_and_stops_at_the_last_normal_power():
    got = _applied(_exp_all, np.array([np.nan, -0.0, -708.5, -745.2, -np.inf]))
    assert np.isnan(got[0]) and got[1] == 1.0
    assert (got[2:] == _applied(_exp_all, np.array([-708.0]))).all()  # where the loss uses it, a change < 1e-307
    assert _ulps(got[2:3], np.exp([-708.0])).max() <= 1


def test_log1p_is_within_two_units_in_the_last_place():
    rng = np.random.default_rng(1)
    e = np.concatenate([rng.uniform(0, 1, 200_000), np.exp(-rng.uniform(0, 708, 100_000)),
                        np.linspace(0.4142, 0.4143, 10_001), [0.0, 5e-324, 1e-300, 2.0 ** -53, 0.5, 1.0]])
    got = _applied(_log1p_all, e)
    assert _ulps(got, np.log1p(e)).max() <= 2
    assert got[-6] == 0.0 and got[-1] == np.log(2.0)
    assert np.isnan(_applied(_log1p_all, np.array([np.nan]))[0])


@pytest.mark.parametrize("class_weights", [None, np.array([0.5, 3.0])])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_four_rows_at_once_are_four_rows_one_at_a_time(m, weighted, class_weights):
    """The vector loop's loss and derivatives are those of ``loss_grad_one`` and ``weighed`` (bit for bit
    but for the order in which fast-math multiplies a class and a row weight), and rows past ``m`` add
    nothing."""
    rng = np.random.default_rng(m)
    loss = losses.loss_of(("logistic", 0.0) if class_weights is None else ("logistic", 0.0, class_weights))
    y = rng.integers(0, 2, 9).astype(np.float64)
    sw = rng.uniform(0, 3, 9) if weighted else None
    for r in (0, 5):
        scores = np.array([-40.0, -1.5, 0.0, 2.5]) * rng.uniform(0.5, 2.0) + rng.normal(0, 1e-3, 4)
        z = scores.copy()
        total = _rows(loss, z, y, sw, r, m)
        want_total = 0.0
        for q in range(m):
            value, dz = _one(loss, scores[q], y[r + q])
            weight = 1.0 if sw is None else sw[r + q]
            assert z[q] == (weight * dz if sw is None or class_weights is None else pytest.approx(weight * dz, rel=3e-16))
            want_total += weight * value
        assert (z[m:] == 0.0).all()
        assert total == pytest.approx(want_total, rel=1e-15, abs=0.0)


def test_the_logistic_loss_is_log_1_plus_exp():
    """To within rounding of the score: the loss is log1p(e) + max(z, 0) − t·z, a sum whose terms cancel where
    the loss is small (the epoch's loss is a sum of these, so absolute error is what counts)."""
    z = np.linspace(-30, 30, 601)
    for target in (0.0, 1.0):
        got = np.array([_one(losses.loss_of(("logistic", 0.0)), v, target) for v in z])
        p = 1.0 / (1.0 + np.exp(-z))
        np.testing.assert_allclose(got[:, 0], np.logaddexp(0.0, z if target == 0 else -z), rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(got[:, 1], p - target, rtol=1e-14, atol=1e-15)
