"""The end check of runs on raw features (training/unscaled.py): a linear, logistic, softmax, huber or quantile
model that ended far from the optimum on features whose curvature standardizing would even out is told to
standardize them."""

import re

import numpy as np
import pytest

from sgdcli import train
from sgdcli.options import TrainOptions
from sgdcli.training import classifierfit, fitgap
from sgdcli.training.runlog import FitWarning

from conftest import robust_loss, robust_optimum, sample_rows, write_table

TOLD = re.compile(r"the model's (mean loss|objective \(its mean loss and --l2's penalty\)) on the run's sample of "
                  r"([\d,]+) rows, ([\d.e+-]+), is ([\d.]+)% above the optimum's, estimated by a fit of them "
                  r"\((least squares|Newton's method|iteratively reweighted least squares)\), ([\d.e+-]+): the "
                  r"features are not standardized \((.*?)\), "
                  r"which leaves the loss's curvature ([\d.e+]+) times as uneven as on standardized features, and "
                  r"training crawls along its flat directions; (.*)$")
SCALES = np.array([0.01, 0.1, 10.0, 100.0])  # four features' spreads, 10,000 apart


def _rows(tmp_path, model, scales=SCALES, offset=0.0, n=4000, seed=0):
    """``n`` rows of standard normal features times ``scales`` plus ``offset``; linear targets (noise 1) or
    logistic labels of true weights of norm 2 on the standard normal features; the file, features and labels."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n, len(scales)))
    w = rng.standard_normal(len(scales))
    score = G @ (2 * w / np.linalg.norm(w))
    y = score + rng.standard_normal(n) if model == "linear" else (rng.random(n) < 1 / (1 + np.exp(-score)))
    X = (G * scales + offset).astype(np.float32)
    path = write_table(tmp_path / f"{model}.h5", X, y.astype(np.float32))
    return path, X.astype(np.float64), y.astype(np.float64)


def _told(model) -> list[str]:
    return [text for text in model.training.get("warnings", []) if "are not standardized" in text]


def _condition(Z):
    Z = np.column_stack([Z, np.ones(len(Z))])
    return np.linalg.cond(Z) ** 2  # of the second moments, ZᵀZ / n: the square of Z's


def test_linear_on_features_of_uneven_scales_is_told_to_standardize_them(tmp_path, no_fit_start):
    """Four features whose spreads run from 0.01 to 100: --lr auto's rate, sized for the largest curvature, moves
    the weight of the feature of spread 0.01 by 10⁻⁸ of it, and the run ends far above the optimum; the same rows
    standardized end near it and are told nothing.  (From the fit of its sample, solved in the sample's own
    standardized units, a linear run of up to start.FIT_WIDE weights starts near the optimum: this one starts at
    the labels' mean, as wider ones do.)  The figures of the warning are the written model's loss on
    the sample's rows, and the curvature's unevenness of those rows, raw against standardized."""
    path, X, y = _rows(tmp_path, "linear")
    with pytest.warns(FitWarning):
        raw = train(path, TrainOptions(model="linear", epochs=5, threads=1, standardize=False))
    (text,) = _told(raw)
    found = TOLD.match(text)
    assert found is not None, text
    rows = sample_rows(path)
    W = raw.raw_weights()[0]
    loss = 0.5 * np.mean((X[rows] @ W[:-1] + W[-1] - y[rows]) ** 2)
    assert (found[1], found[2], found[3], found[5]) == ("mean loss", f"{len(rows):,}", f"{loss:.4g}",
                                                        "least squares")
    assert (found[7], found[9]) == ("--no-standardize", "drop --no-standardize")
    Zs = X[rows]
    ratio = _condition(Zs) / _condition((Zs - Zs.mean(axis=0)) / Zs.std(axis=0))
    assert float(found[8]) == pytest.approx(ratio, rel=2e-3)
    # the estimate is the optimum of all the rows, its loss on the sample's, within the fit's noise
    theta = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)[0]
    on_sample = 0.5 * np.mean((X[rows] @ theta[:-1] + theta[-1] - y[rows]) ** 2)
    assert float(found[6]) == pytest.approx(on_sample, rel=0.02)
    assert loss > 1.5 * on_sample
    standardized = train(path, TrainOptions(model="linear", epochs=5, threads=1))
    W = standardized.raw_weights()[0]
    assert 0.5 * np.mean((X[rows] @ W[:-1] + W[-1] - y[rows]) ** 2) < 1.01 * on_sample
    assert "warnings" not in standardized.training


@pytest.mark.parametrize("model", ["huber", "quantile"])
def test_robust_regression_on_features_of_uneven_scales_is_told_to_standardize_them(tmp_path, model):
    """Features of spreads 0.01 to 100, two offset by 100 and 1,000, and labels of heavy-tailed noise, where least
    squares' fit, where training starts, is not the optimum: the raw run ends far above it, which nothing told
    before these losses had a fit of their sample; standardized, near it and told nothing."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((8_000, 8)) * [0.01, 0.1, 1, 10, 100, 1, 1, 1] + [0, 0, 100, 0, 0, 1000, 0, 0]
    y = (X - X.mean(axis=0)) / X.std(axis=0) @ rng.standard_normal(8) + rng.standard_t(2, len(X))
    X = X.astype(np.float32).astype(np.float64)
    path = write_table(tmp_path / "raw.h5", X.astype(np.float32), y)
    with pytest.warns(FitWarning):
        raw = train(path, TrainOptions(model=model, epochs=5, threads=1, standardize=False))
    (text,) = _told(raw)
    found = TOLD.match(text)
    assert found is not None, text
    rows = sample_rows(path)
    Z = np.column_stack([(X - X.mean(axis=0)) / X.std(axis=0), np.ones(len(X))])  # the optimum is the same
    W = raw.raw_weights()[0]
    loss = robust_loss(model, W, np.column_stack([X[rows], np.ones(len(rows))]), y[rows])
    assert (found[1], found[3], found[5], found[9]) == ("mean loss", f"{loss:.4g}", "iteratively reweighted least "
                                                        "squares", "drop --no-standardize")
    on_sample = robust_loss(model, robust_optimum(model, Z, y), Z[rows], y[rows])
    assert float(found[6]) == pytest.approx(on_sample, rel=0.02)
    assert loss > 1.05 * on_sample  # fullbatch.NEAR
    standardized = train(path, TrainOptions(model=model, epochs=5, threads=1))
    W = standardized.raw_weights()[0]
    assert robust_loss(model, W, np.column_stack([X[rows], np.ones(len(rows))]), y[rows]) < 1.02 * on_sample
    assert "warnings" not in standardized.training


def test_raw_features_of_even_scales_are_not_told(tmp_path):
    """Standard normal features, raw: standardizing them changes nothing, and the run ends near the optimum."""
    path, _, _ = _rows(tmp_path, "linear", scales=np.ones(4))
    model = train(path, TrainOptions(model="linear", epochs=5, threads=1, standardize=False))
    assert "warnings" not in model.training


def test_logistic_on_offset_features_under_l2_is_told_by_its_objective(tmp_path):
    """Features of mean 100 and spreads 0.2 to 2: nearly all the curvature lies along the direction that moves the
    bias and every weight together.  Under --l2 the objective is the mean loss and the penalty of the raw weights,
    which the kernels step: the written model's is what the warning gives, and the optimum's is estimated of that
    objective, not of the penalty on the standardized weights the fit steps."""
    path, X, y = _rows(tmp_path, "logistic", scales=np.array([0.2, 0.5, 1.0, 2.0]), offset=100.0, n=8000)
    with pytest.warns(FitWarning):
        model = train(path, TrainOptions(model="logistic", epochs=5, threads=1, standardize=False, l2=1e-3))
    (text,) = _told(model)
    found = TOLD.match(text)
    assert found is not None, text
    rows = sample_rows(path)
    W = model.raw_weights()[0]
    s = X[rows] @ W[:-1] + W[-1]
    objective = np.mean(np.logaddexp(0, s) - y[rows] * s) + 0.5e-3 * np.sum(W[:-1] ** 2)
    assert (found[1], found[3], found[5]) == ("objective (its mean loss and --l2's penalty)", f"{objective:.4g}",
                                              "Newton's method")
    assert float(found[4]) > 10
    # the estimate is the objective on the sample's rows of the optimum of all the rows, within the fit's noise
    theta = _raw_optimum(X, y, 1e-3)
    s = X[rows] @ theta[:-1] + theta[-1]
    on_sample = np.mean(np.logaddexp(0, s) - y[rows] * s) + 0.5e-3 * np.sum(theta[:-1] ** 2)
    assert float(found[6]) == pytest.approx(on_sample, rel=0.02)


def _raw_optimum(X, y, l2):
    """The logistic weights and bias (last) of least mean loss plus l2/2 · ‖w‖² on the raw rows ``X``: Newton's
    method on the standardized rows, whose penalty is l2 / s² per feature, carried back."""
    mean, spread = X.mean(axis=0), X.std(axis=0)
    Z = np.column_stack([(X - mean) / spread, np.ones(len(X))])
    penalty = np.append(l2 / spread**2, 0.0)
    t = np.zeros(Z.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(Z @ t)))
        t -= np.linalg.solve((Z * (p * (1 - p))[:, None]).T @ Z / len(Z) + np.diag(penalty),
                             Z.T @ (p - y) / len(Z) + penalty * t)
    return np.append(t[:-1] / spread, t[-1] - (t[:-1] / spread) @ mean)


def test_a_full_batch_from_the_fit_of_its_sample_is_not_told(tmp_path):
    """A full-batch logistic run starts at the fit of its sample (training/start.py), raw features or not, and
    stays near it: nothing to tell."""
    path, _, _ = _rows(tmp_path, "logistic", scales=np.ones(4), offset=100.0, n=8000)
    model = train(path, TrainOptions(model="logistic", batch_size="full", epochs=5, threads=1, standardize=False))
    assert _told(model) == []


def test_a_warm_start_from_raw_features_is_told_to_restandardize(tmp_path, no_fit_start):
    """--init of a model trained on raw features trains in its units, raw, unless --restandardize (the first run
    from the labels' mean, not the fit of its sample, which would end near the optimum)."""
    path, _, _ = _rows(tmp_path, "linear")
    first = tmp_path / "first.h5"
    with pytest.warns(FitWarning):
        train(path, TrainOptions(model="linear", epochs=1, threads=1, standardize=False), output=str(first))
    with pytest.warns(FitWarning):
        warm = train(path, TrainOptions(model="linear", epochs=2, threads=1, init=str(first)))
    (text,) = _told(warm)
    found = TOLD.match(text)
    assert (found[7], found[9]) == ("the initial model's (--init) are not", "add --restandardize")
    restandardized = train(path, TrainOptions(model="linear", epochs=2, threads=1, init=str(first),
                                              restandardize=True))
    assert _told(restandardized) == []


@pytest.mark.parametrize("model,classes", [("logistic", 2), ("softmax", 3)])
def test_the_fit_of_standardized_rows_under_a_penalty_per_feature_is_the_fit_of_the_raw_rows(model, classes):
    """The objective is the same whatever the units: raw weights w under --l2 λ are standardized ones w' = w · s
    under λ / s² each (softmax's penalty on every class's weights too).  On rows well enough conditioned for a fit
    in either, the two fits' objectives agree to the fits' own ridge."""
    rng = np.random.default_rng(3)
    n, d = 3000, 3
    X = rng.standard_normal((n, d)) * np.array([0.5, 1.0, 3.0]) + np.array([1.0, -2.0, 0.5])
    W = rng.standard_normal((d, classes))
    S = (X - X.mean(axis=0)) / X.std(axis=0) @ W
    labels = np.array([rng.choice(classes, p=np.exp(s) / np.exp(s).sum()) for s in S], dtype=np.float64)
    raw = np.column_stack([X, np.ones(n)])
    Z = np.column_stack([(X - X.mean(axis=0)) / X.std(axis=0), np.ones(n)])
    l2 = 0.05
    assert classifierfit.fit_objective(model, Z, labels, None, l2 / X.std(axis=0) ** 2) == pytest.approx(
        classifierfit.fit_objective(model, raw, labels, None, l2), rel=1e-4)
    # and a penalty per feature is the scalar one where all are equal
    assert classifierfit.fit_objective(model, Z, labels, None, np.full(d, l2)) == pytest.approx(
        classifierfit.fit_objective(model, Z, labels, None, l2), rel=1e-12)


def test_the_rows_are_standardized_in_place_and_the_curvature_compared():
    """``_standardize`` centres and scales the features by the rows' own mean and spread, in place, a constant
    feature to 0 and left out, and gives the ratio of the raw rows' condition number (with the bias's 1) to the
    standardized rows'.  The raw rows' counts the constant feature (7 times the bias's 1: its curvature caps the
    rate): its weight and the bias's move the score along one direction, as a bias of curvature 1 + 7² would."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 3)) * np.array([1.0, 30.0, 0.2]) + np.array([5.0, 0.0, -1.0])
    X[:, 1] = 7.0  # constant
    Z = np.column_stack([X, np.ones(len(X))])
    ratio, spread = fitgap._standardize(Z)
    varying = X[:, [0, 2]]
    expected = (varying - varying.mean(axis=0)) / varying.std(axis=0)
    np.testing.assert_allclose(Z[:, [0, 2]], expected, atol=1e-12)
    assert (Z[:, 1] == 0).all() and (Z[:, 3] == 1).all()
    np.testing.assert_allclose(spread, [X[:, 0].std(), 1.0, X[:, 2].std()])
    raw = np.linalg.cond(np.column_stack([varying, np.full(len(X), np.sqrt(1 + 7.0**2))])) ** 2
    assert ratio == pytest.approx(raw / _condition(expected), rel=1e-6)


def test_a_raw_column_constant_far_from_0_is_told_to_be_standardized_not_called_nearly_separable(tmp_path):
    """A column constant at 7,500 (an export's date) beside features of spread 1: its curvature capped the rate
    at 7e-8, logistic ended at the constant model (log loss ln 2, 88% above the optimum), and the run was told
    that the rows were nearly separable and to raise --epochs to about a million; the constant was left out of
    the raw rows' unevenness, which measured them even.  Standardized, its scale is 0 and it is no feature."""
    path, X, y = _rows(tmp_path, "logistic")
    X = np.column_stack([X / SCALES, np.full(len(X), 7500.0)])
    path = write_table(tmp_path / "constant.h5", X.astype(np.float32), y.astype(np.float32))
    with pytest.warns(FitWarning):
        raw = train(path, TrainOptions(model="logistic", epochs=5, threads=1, standardize=False))
    (text,) = raw.training["warnings"]
    found = TOLD.match(text)
    assert found is not None and found.group(9) == "drop --no-standardize", text
    assert float(found.group(8)) > 1e6  # 7,500² against spreads of 1
    assert "warnings" not in train(path, TrainOptions(model="logistic", epochs=5, threads=1)).training


def test_labels_the_features_do_not_predict_on_raw_uneven_features_are_not_called_nearly_separable(tmp_path):
    """Three classes drawn at random, on features offset by 100 to 10,000: the model ends at the optimum (the
    classes' shares), nothing to tell.  The separability check's rate 1/L is held down by the raw features'
    curvature, not by the rows, and it told this run that the rows were nearly separable and to raise --epochs
    to about 3,500."""
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((3000, 4)) + np.array([100.0, 0.0, 5.0, 1e4])).astype(np.float32)
    y = rng.integers(0, 3, len(X)).astype(np.float32)
    path = write_table(tmp_path / "random.h5", X, y)
    model = train(path, TrainOptions(model="softmax", threads=1, standardize=False))
    shares = np.bincount(y.astype(np.int64)) / len(y)
    assert model.history[-1]["train_loss"] < 1.005 * -np.sum(shares * np.log(shares))
    assert "warnings" not in model.training
