"""A fresh full-batch linear model starts at the least-squares fit of the run's sample (training/start.py
``fitted``, training/linearfit.py): of the objective trained, --l2 and the rows' weights included, solved in the
sample's own standardized units.  A full batch's first epoch scores every training row at the start, so its loss
is that fit's over every row, computed here."""

import h5py
import numpy as np
import pytest

from sgdcli import train
from sgdcli.options import TrainOptions
from sgdcli.training import curvature, linearfit
from sgdcli.training.runlog import FitWarning

from conftest import sample_rows, write_table


def _rows(tmp_path, n=20_000, offset=0.0, scales=(1.0, 1.0, 1.0, 1.0), seed=0):
    """``n`` rows of standard normal features times ``scales`` plus ``offset``, targets of weights of norm 2 on
    the standard normal features and noise 1; the file, the features (as written) and targets (float64)."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n, len(scales)))
    w = rng.standard_normal(len(scales))
    y = G @ (2 * w / np.linalg.norm(w)) + 3.0 + rng.standard_normal(n)
    X = (G * np.array(scales) + offset).astype(np.float32)
    return write_table(tmp_path / "rows.h5", X, y.astype(np.float32)), X.astype(np.float64), y


def _with_bias(X):
    return np.column_stack([X, np.ones(len(X))])



def _ridge(X, y, v, l2):
    """The weights and bias of least Σ v·½r² / n + l2/2 · ‖w‖², by an exact solve in float64 on centred rows."""
    mean = np.average(X, axis=0, weights=v)
    Xc = X - mean
    A = np.zeros((X.shape[1] + 1, X.shape[1] + 1))
    A[:-1, :-1] = (Xc * v[:, None]).T @ Xc / len(X) + l2 * np.eye(X.shape[1])
    A[:-1, -1] = A[-1, :-1] = (Xc * v[:, None]).sum(axis=0) / len(X)
    A[-1, -1] = v.sum() / len(X)
    theta = np.linalg.solve(A, np.append((Xc * (v * y)[:, None]).sum(axis=0), (v * y).sum()) / len(X))
    return np.append(theta[:-1], theta[-1] - theta[:-1] @ mean)


def test_a_full_batch_starts_at_the_least_squares_fit_of_its_sample(tmp_path):
    path, X, y = _rows(tmp_path)
    rows = sample_rows(path, "linear")
    Z = (X - X.mean(axis=0)) / X.std(axis=0)  # the model's standardized features (over every training row)
    theta = np.linalg.lstsq(_with_bias(Z[rows]), y[rows], rcond=None)[0]
    m = train(path, TrainOptions(model="linear", batch_size="full", epochs=2, threads=1))
    assert m.history[0]["train_loss"] == pytest.approx(0.5 * np.mean((_with_bias(Z) @ theta - y) ** 2), rel=1e-6)
    assert m.training.get("warnings") is None


def test_raw_features_far_from_zero_end_far_from_the_optimum_from_zero(tmp_path, no_fit_start):
    """Features offset by 10,000: their second moments are 10¹⁵ times as ill-conditioned as standardized ones, so
    5 full-batch steps from 0 stay far above the optimum (and are told so: training/unscaled.py)."""
    path, X, y = _rows(tmp_path, offset=1e4)
    theta = np.linalg.lstsq(_with_bias(X - 1e4), y, rcond=None)[0]  # the rows' least squares, exactly
    with pytest.warns(FitWarning) as caught:  # and of the few updates: 5
        m = train(path, TrainOptions(model="linear", batch_size="full", threads=1, standardize=False))
    assert [w for w in caught if str(w.message).endswith("drop --no-standardize")]
    W = m.raw_weights()[0]
    assert 0.5 * np.mean((X @ W[:-1] + W[-1] - y) ** 2) > 2 * 0.5 * np.mean((_with_bias(X - 1e4) @ theta - y) ** 2)


def test_raw_features_far_from_zero_are_fitted_in_standardized_units(tmp_path):
    """From the fit the same run ends near the optimum.  The fit is the sample's least squares, where a solve of
    the raw rows' second moments (curvature.least_squares) loses the directions that matter to rounding."""
    path, X, y = _rows(tmp_path, offset=1e4)
    rows = sample_rows(path, "linear")
    m = train(path, TrainOptions(model="linear", batch_size="full", threads=1, standardize=False))
    W = m.raw_weights()[0]
    theta = np.linalg.lstsq(_with_bias(X - 1e4), y, rcond=None)[0]
    best = 0.5 * np.mean((_with_bias(X - 1e4) @ theta - y) ** 2)
    assert 0.5 * np.mean((X @ W[:-1] + W[-1] - y) ** 2) < 1.005 * best
    assert m.training.get("warnings") is None
    # the start itself, the sample's fit: a solve of the raw rows' second moments is far from it
    Zs = _with_bias(X[rows])
    fit = linearfit.fit(Zs, y[rows])
    exact = np.linalg.lstsq(_with_bias(X[rows] - 1e4), y[rows], rcond=None)[0]
    np.testing.assert_allclose(fit[:-1], exact[:-1], rtol=1e-6)
    raw_solve = curvature.least_squares(Zs, y[rows])
    assert np.abs(raw_solve[:-1] - exact[:-1]).max() > 100 * np.abs(fit[:-1] - exact[:-1]).max()


def test_the_fit_is_of_the_objective_trained_l2_and_weights_included(tmp_path):
    """Under --l2 on raw features of spreads 0.1 to 10, and sample weights, the fit is the penalized weighted
    least squares of the sample's rows: the run, at a rate too small to move, steps nowhere from it."""
    path, X, y = _rows(tmp_path, n=3000, scales=(0.1, 1.0, 3.0, 10.0))
    v = np.exp(np.random.default_rng(1).standard_normal(len(y)))
    with h5py.File(path, "a") as f:
        f["w"] = v
    rows = sample_rows(path, "linear")
    m = train(path, TrainOptions(model="linear", batch_size="full", epochs=1, threads=1, standardize=False, l2=0.01,
                                 sample_weight="w", lr=1e-12, optimizer="sgd", schedule="constant"))
    # the weights' mean over the training rows is 1 (model/weights.py); the objective's mean is over the sample's
    reference = _ridge(X[rows], y[rows], v[rows] / v.mean(), 0.01)
    np.testing.assert_allclose(m.raw_weights()[0], reference, rtol=1e-7, atol=1e-9)


def _lasso_reference(Z, y, l1, sweeps=5000):
    """The weights and bias of least Σ ½r² / n + l1 · ‖w‖₁ on the centred rows ``Z``, by plain coordinate
    descent on their second moments (the bias is the labels' mean)."""
    G, c = Z.T @ Z / len(Z), Z.T @ (y - y.mean()) / len(Z)
    w = np.zeros(Z.shape[1])
    for _ in range(sweeps):
        for j in np.flatnonzero(np.diag(G) > 0):  # (a constant feature's weight stays 0)
            rest = c[j] - G[j] @ w + G[j, j] * w[j]
            w[j] = np.sign(rest) * max(abs(rest) - l1, 0.0) / G[j, j]
    return w, y.mean()


def test_the_fit_under_l1_is_the_soft_threshold_of_orthogonal_features():
    """Where the standardized features are orthogonal, the lasso's weights are each feature's least-squares
    weight shrunk by l1 toward 0, and 0 within l1 of it: exactly, whatever order the fit's steps take."""
    rng = np.random.default_rng(4)
    A = rng.standard_normal((400, 5))
    Q, _ = np.linalg.qr(A - A.mean(axis=0))  # (combinations of centred columns: centred)
    Z = Q * np.sqrt(400)  # centred columns of mean square 1, orthogonal
    y = Z @ np.array([0.9, -0.3, 0.05, -0.02, 0.4]) + 0.1 * rng.standard_normal(400) + 2.0
    own = Z.T @ (y - y.mean()) / 400
    fit = linearfit.fit(_with_bias(Z), y, l1=0.1)
    expected = np.sign(own) * np.maximum(np.abs(own) - 0.1, 0.0)
    assert (expected == 0).sum() == 2
    np.testing.assert_allclose(fit[:-1], expected, atol=1e-8)
    assert fit[-1] == pytest.approx(y.mean() - Z.mean(axis=0) @ fit[:-1], abs=1e-8)


def test_a_full_batch_under_l1_starts_at_the_fit_of_its_penalized_objective(tmp_path):
    """Two features that are one and its double (plus noise a thousandth as large) and one constant: least
    squares gives the pair weights of ±20 that cancel, which --l1 0.05 makes ±0.5.  The run started at least
    squares, a few steps of a full batch barely moved it, and it ended over three times the optimum's objective,
    unwarned; it now ends within 1% of the optimum of a plain coordinate descent."""
    rng = np.random.default_rng(0)
    G = rng.standard_normal((20_000, 4))
    X = np.column_stack([G, G[:, 1] * 2 + 1e-3 * rng.standard_normal(len(G)), np.full(len(G), 7.0)])
    y = G @ np.array([1.0, -1.0, 0.5, 2.0]) + rng.standard_normal(len(G))
    path = write_table(tmp_path / "pair.h5", X.astype(np.float32), y.astype(np.float32))
    X = X.astype(np.float32).astype(np.float64)
    spread = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    Z = (X - X.mean(axis=0)) / spread  # the model's standardized features
    w, b = _lasso_reference(Z, y.astype(np.float32).astype(np.float64), 0.05)
    y = y.astype(np.float32).astype(np.float64)

    def objective(W, bias):
        return 0.5 * np.mean((Z @ W + bias - y) ** 2) + 0.05 * np.abs(W).sum()

    m = train(path, TrainOptions(model="linear", batch_size="full", l1=0.05, threads=1))
    assert objective(m.weights[0], m.bias[0]) < 1.01 * objective(w, b)
    assert np.abs(m.weights[0]).max() < 3  # not the cancelling pair of least squares


def _powers(tmp_path, n=50_000):
    """t, …, t⁵ (t ~ U(0, 10)) and 5 noise features: standardized, the powers are nearly collinear, and from the
    labels' mean the default mini-batch run ended 126% above the optimum (told so), crawling along the flattest
    directions; targets 3·sin(t) plus the noise features' and noise 0.5."""
    rng = np.random.default_rng(1)
    t, Q = rng.uniform(0, 10, n), rng.standard_normal((n, 5))
    X = np.column_stack([t ** k for k in range(1, 6)] + [Q]).astype(np.float32)
    y = 3 * np.sin(t) + Q @ rng.standard_normal(5) + 0.5 * rng.standard_normal(n)
    return write_table(tmp_path / "powers.h5", X, y), X.astype(np.float64), y


@pytest.mark.parametrize("batch", [1, 32, 256])
def test_a_mini_batch_run_starts_at_the_fit_and_ends_near_the_optimum(tmp_path, batch):
    """A mini-batch linear run starts at the least-squares fit of its sample too (up to start.FIT_WIDE weights):
    its steps barely move along the flat directions, where the fit is right already, and recover the steep ones
    in a few updates.  Within 0.2% of the optimum (least squares over every row, computed here), told nothing."""
    from conftest import cli

    path, X, y = _powers(tmp_path)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--batch-size", str(batch))
    assert code == 0, err
    assert "starting at the fit of the run's sample of 4,096 rows (least squares)\n" in err
    assert "warning" not in err
    Z = _with_bias(X)
    best = 0.5 * np.mean((Z @ np.linalg.lstsq(Z, y, rcond=None)[0] - y) ** 2)
    from sgdcli import load_model

    W = load_model(tmp_path / "m.h5").raw_weights()[0]
    assert 0.5 * np.mean((Z @ W - y) ** 2) < 1.002 * best


def test_a_mini_batch_run_of_more_weights_than_fit_wide_starts_at_the_labels_mean(tmp_path):
    """Over start.FIT_WIDE weights the fit of the sample's rows would cost more than FIT_WORK: the run starts at
    the labels' mean, as before."""
    from conftest import cli
    from sgdcli.training.start import FIT_WIDE

    rng = np.random.default_rng(2)
    X = rng.standard_normal((5000, FIT_WIDE)).astype(np.float32)
    for d, told in ((FIT_WIDE, False), (FIT_WIDE - 1, True)):  # and the bias
        path = write_table(tmp_path / f"wide{d}.h5", X[:, :d], X[:, 0] + rng.standard_normal(5000))
        code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--epochs", "1")
        assert code == 0, err
        assert ("starting at the fit of the run's sample" in err) == told


def test_a_mini_batch_run_from_the_fit_on_features_that_do_not_predict_is_told_nothing(tmp_path):
    """From the fit of its sample (of the rows --memory 6M holds, some 46 a weight) to 100 features that do not
    predict the label, the run is held to the best constant model, as from the labels' mean: each batch's loss,
    taken before its step, leaves an epoch's average above that model's (0.5074 against 0.4963), while the model
    kept is not.  Held to the fit's loss on the sample, below the best constant model's by what 100 weights gain
    on its rows, it was told that it ended worse than it started, at a rate --lr auto sized."""
    from conftest import cli

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 100)).astype(np.float32)
    path = write_table(tmp_path / "noise.h5", X, rng.standard_normal(20_000))
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--memory", "6M")
    assert code == 0, err
    assert "starting at the fit of the run's sample of 4,592 rows (least squares)" in err
    assert "warning" not in err


def test_an_adaptive_rate_is_sized_about_the_labels_mean_not_the_fits_intercept(tmp_path, monkeypatch):
    """Adam's --lr auto is its step per weight times the labels' root mean square about where the bias starts
    (training/rate.py): the labels' mean, also where the run starts at a fit, whose intercept on raw features
    offset by 10,000 lies some 15,000 from the labels (the rate came out 5,000 times too large, and the run blew
    up five times).  The same rate as a run from the labels' mean."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20_000, 5))
    X[:, :2] += 1e4
    y = X @ np.array([0.5, 1.0, -1.0, 2.0, 0.3]) + rng.standard_normal(20_000)
    path = write_table(tmp_path / "offset.h5", X.astype(np.float32), y)
    options = TrainOptions(model="linear", optimizer="adam", standardize=False, threads=1, epochs=1)
    m = train(path, options)
    from sgdcli.training import run as run_mod

    monkeypatch.setattr(run_mod, "fitted", lambda *args, **kwargs: None)
    with pytest.warns(FitWarning):  # (from the mean, raw features far from 0 leave it far: told so)
        mean = train(path, options)
    assert m.training["lr_auto"]["lr"] == mean.training["lr_auto"]["lr"]
    assert m.training["lr"] == m.training["lr_auto"]["lr"]  # no blow-up halved it


def test_a_few_updates_from_the_fit_at_too_large_a_rate_are_told_to_lower_it_alone(tmp_path):
    """20 updates from the fit of the sample at a rate that takes the model away: the loss ends above the best
    constant model's, and the run is told the rate is too large; it was also told to raise --epochs or lower
    --batch-size, as if it had started at the labels' mean, far from the optimum."""
    from conftest import cli

    path, _, _ = _powers(tmp_path, n=20_000)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--batch-size", "1024",
                       "--epochs", "1", "--lr", "0.5", "-q")
    assert code == 0, err
    assert err.count("warning") == 1 and "training ended worse than it started" in err, err
    assert "the run started below it, at the fit of its sample" in err
