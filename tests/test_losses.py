"""The losses beyond squared error, log loss and hinge: trained with the defaults, checked against what each
is for (a quantile's coverage, scikit-learn's Poisson optimum, robustness to outliers) and evaluated with the
metrics that suit each."""

import json
import math

import h5py
import numpy as np
import pytest

from sgdcli import evaluate, load_model, train
from sgdcli.options import TrainOptions

from conftest import cli, short_fits, write_table

N, D = 20_000, 5


def regression(tmp_path, name, y_of, seed=0):
    """Train and test files of N rows, features standard normal, targets ``y_of(X, rng)``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2 * N, D)).astype(np.float32)
    y = y_of(X.astype(np.float64), rng)
    return (write_table(tmp_path / f"{name}.h5", X[:N], y[:N]), write_table(tmp_path / f"{name}-test.h5", X[N:], y[N:]),
            X[N:], y[N:])


W_TRUE = np.array([1.0, -2.0, 0.5, 0.0, 3.0])


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_a_quantile_model_covers_its_quantile(tmp_path, q):
    train_path, test_path, _, _ = regression(
        tmp_path, "q", lambda X, rng: X @ W_TRUE + (1 + np.abs(X[:, 0])) * rng.standard_normal(len(X)))
    model = train(train_path, TrainOptions(model="quantile", quantile=q, epochs=10))
    metrics = evaluate(model, test_path)
    assert list(metrics) == ["rows", "mse", "rmse", "mae", "r2", "pinball", "below"]
    assert metrics["below"] == pytest.approx(q, abs=0.02)


def test_poisson_reaches_scikit_learns_optimum_deviance(tmp_path):
    from sklearn.linear_model import PoissonRegressor
    from sklearn.metrics import mean_poisson_deviance

    w = W_TRUE * 0.3
    train_path, test_path, Xt, yt = regression(tmp_path, "p", lambda X, rng: rng.poisson(np.exp(X @ w + 0.5)))
    model = train(train_path, TrainOptions(model="poisson", epochs=10))
    metrics = evaluate(model, test_path)
    assert list(metrics) == ["rows", "mse", "rmse", "mae", "r2", "deviance"]
    with h5py.File(train_path) as f:
        X, y = f["X"][()].astype(np.float64), f["y"][()]
    best = PoissonRegressor(alpha=0.0, max_iter=1000, tol=1e-10).fit(X, y)
    optimum = mean_poisson_deviance(yt, best.predict(Xt.astype(np.float64)))
    assert metrics["deviance"] == pytest.approx(optimum, rel=0.05)
    assert metrics["deviance"] == pytest.approx(mean_poisson_deviance(yt, _predictions(tmp_path, model, test_path)),
                                                rel=1e-9)


def _predictions(tmp_path, model, data):
    model.save(tmp_path / "m.h5")
    code, out, err = cli("predict", tmp_path / "m.h5", data, "-o", tmp_path / "p.csv")
    assert code == 0, err
    return np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1)


def test_huber_resists_outliers_that_squared_error_follows(tmp_path):
    def y_of(X, rng):
        y = X @ W_TRUE + 0.1 * rng.standard_normal(len(X))
        gross = rng.random(len(X)) < 0.05
        y[gross] += rng.choice([-1, 1], gross.sum()) * 50.0  # 5% gross outliers, on both sides
        return y

    train_path, _, _, _ = regression(tmp_path, "h", y_of)
    errors = {}
    for model in ("linear", "huber"):
        m = train(train_path, TrainOptions(model=model, epochs=10, epsilon=1.0))
        errors[model] = float(np.linalg.norm(m.raw_weights()[0, :D] - W_TRUE))
    assert errors["huber"] < errors["linear"] / 5, errors


@pytest.mark.parametrize("model,extra", [("huber", {}), ("quantile", {"quantile": 0.8})])
def test_bounded_gradient_losses_fit_targets_far_from_zero_with_the_defaults(tmp_path, model, extra):
    """Huber's gradient is at most --epsilon, the pinball loss's max(q, 1 - q): a bias starting at 0 crawled
    towards labels about 1,000 (huber: r2 -39 after the default 5 epochs, where squared error fitted them).
    The bias starts at the sample's median (quantile: its q-th quantile), their best constant model."""
    train_path, test_path, _, _ = regression(
        tmp_path, "far", lambda X, rng: 1000 + X @ (10 * W_TRUE) + 5 * rng.standard_normal(len(X)))
    metrics = evaluate(train(train_path, TrainOptions(model=model, **extra)), test_path)
    if model == "huber":  # the noise's variance, 25, is the least mse there is
        assert metrics["mse"] < 1.05 * 25, metrics
    else:
        assert metrics["below"] == pytest.approx(0.8, abs=0.02) and metrics["r2"] > 0.95, metrics
    from sgdcli.data.table import Table
    from sgdcli.training.sampling import sample_labels
    from sgdcli.training.start import best_constant, start_weights

    with Table(train_path) as table:
        labels = sample_labels(table)
        for weights, q in ((None, 0.5), (np.where(labels > np.median(labels), 3.0, 1.0), 0.25)):
            got = best_constant("quantile", q, labels, weights)
            below = (labels < got) if weights is None else np.where(labels < got, weights, 0)
            share = below.sum() / (len(labels) if weights is None else weights.sum())
            assert got in labels and share == pytest.approx(q, abs=2 / len(labels))
        assert best_constant("huber", 0.9, labels, None) == best_constant("quantile", 0.5, labels, None)
        zeros = np.zeros(D + 1)
        assert np.array_equal(start_weights("hinge", 0.5, table, zeros[:D], zeros[:D] + 1, lambda _: 1 / 0),
                              zeros)  # labels not read
        # squared error's best constant model is the labels' mean
        assert np.array_equal(start_weights("linear", 0.5, table, zeros[:D], zeros[:D] + 1, lambda _: None),
                              np.append(zeros[:D], labels.mean()))


@short_fits  # 35 updates end about 5% above the optimum's deviance on 200 rows, which the end may tell
def test_poisson_starts_at_the_log_of_the_mean_count_and_fits_large_counts_in_few_steps(tmp_path):
    """The rate is sized for the curvature at the mean count, exp(score); a bias starting at a score of 0,
    where the curvature is 1, crept towards log 1,000 and 5 epochs of 200 rows (7 iterations each) ended
    worse than the constant model (r2 below 0)."""
    from sgdcli.data.table import Table
    from sgdcli.training.sampling import sample_labels
    from sgdcli.training.start import start_weights

    rng = np.random.default_rng(5)
    X = rng.standard_normal((2200, D)).astype(np.float32)
    y = rng.poisson(np.exp(np.log(1000.0) + 0.3 * X.astype(np.float64) @ W_TRUE / 4)).astype(np.float64)
    train_path, test_path = write_table(tmp_path / "c.h5", X[:200], y[:200]), write_table(tmp_path / "t.h5", X[200:],
                                                                                         y[200:])
    with Table(train_path) as table:
        labels = sample_labels(table)
        weights = np.where(labels > 1000, 2.0, 1.0)
        center, scale = np.zeros(D), np.ones(D)
        start = start_weights("poisson", 0.5, table, center, scale, lambda _: None)
        assert not start[:D].any() and start[D] == pytest.approx(np.log(labels.mean()), rel=1e-12)
        assert start_weights("poisson", 0.5, table, center, scale, lambda _: weights)[D] == pytest.approx(
            np.log(np.average(labels, weights=weights)), rel=1e-12)
    metrics = evaluate(train(train_path, TrainOptions(model="poisson")), test_path)
    assert metrics["r2"] > 0.9, metrics


@pytest.mark.parametrize("model", ["squared_hinge", "modified_huber"])
def test_the_hinge_variants_classify_with_the_classification_metrics(tmp_path, model):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((4000, D)).astype(np.float32)
    y = (X @ W_TRUE + 0.5 * rng.standard_normal(4000) > 0).astype(np.int64)
    path = write_table(tmp_path / "c.h5", X, y)
    m = train(path, TrainOptions(model=model, epochs=5))
    metrics = evaluate(m, path)
    assert list(metrics) == ["rows", "accuracy", "log_loss", "auc", "precision", "recall", "f1"]
    assert metrics["accuracy"] > 0.9
    m.save(tmp_path / "m.h5")
    code, out, err = cli("predict", tmp_path / "m.h5", path, "-o", tmp_path / "p.csv", "--proba")
    assert code == 0, err
    P = np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1)[:, 1:]
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    if model == "modified_huber":  # scikit-learn's estimate: (clip(score, -1, 1) + 1) / 2
        W = m.raw_weights()  # on raw features (the model's own are on standardized ones)
        scores = X.astype(np.float64) @ W[0, :D] + W[0, D]
        np.testing.assert_allclose(P[:, 1], (np.clip(scores, -1, 1) + 1) / 2, atol=1e-6)


def _huber(r, eps):
    r = np.abs(r)
    return float(np.mean(np.where(r <= eps, 0.5 * r * r, eps * r - 0.5 * eps * eps)))


def test_a_huber_model_reports_its_own_loss_at_its_epsilon(tmp_path):
    """``huber`` is the mean Huber loss at the model's ε, which the huber model lowers below the least-squares
    model's on data with gross outliers."""
    def y_of(X, rng):
        y = X @ W_TRUE + 0.5 * rng.standard_normal(len(X))
        y[rng.random(len(X)) < 0.05] += 30.0
        return y

    train_path, test_path, _, yt = regression(tmp_path, "h", y_of)
    model = train(train_path, TrainOptions(model="huber", epochs=5, epsilon=0.7))
    metrics = evaluate(model, test_path)
    assert list(metrics) == ["rows", "mse", "rmse", "mae", "r2", "huber"]
    assert metrics["huber"] == pytest.approx(_huber(yt - _predictions(tmp_path, model, test_path), 0.7), rel=1e-9)
    code, out, err = cli("evaluate", tmp_path / "m.h5", test_path, "--fail-over", f"huber={metrics['huber'] / 2}")
    assert code == 3 and f"huber {metrics['huber']:.6g} is over" in err, err
    least_squares = _predictions(tmp_path, train(train_path, TrainOptions(model="linear", epochs=5)), test_path)
    assert metrics["huber"] < _huber(yt - least_squares, 0.7) * 0.9


@pytest.mark.parametrize("args,message", [
    (["--model", "quantile", "--quantile", "1.5"], "--quantile: must be in (0, 1), got 1.5"),
    (["--model", "huber", "--epsilon", "0"], "--epsilon: must be a finite number > 0, got 0.0"),
    (["--model", "poisson"], "{path}:y: a poisson model's targets are counts (>= 0); found -1 at row 1"),
])
def test_bad_loss_settings_are_usage_errors(tmp_path, args, message):
    path = write_table(tmp_path / "r.h5", np.zeros((4, 2), np.float32), np.array([1.0, -1.0, 2.0, 0.0]))
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--batch-size", "2", *args)
    assert (code, err.strip().splitlines()[-1]) == (2, "sgdcli: error: " + message.format(path=path)), err


@pytest.mark.parametrize("model", ["linear", "huber", "quantile", "poisson"])
def test_a_regression_label_whose_square_sums_leave_float64_is_refused(tmp_path, model):
    """Labels of 1e300 trained a linear model into "diverged; try a smaller --lr" and huber and quantile ones
    with NumPy's overflow warnings: the squares a run sums (the loss, its measures) of 2^53 such labels pass
    float64's largest. Up to that limit a run trains without a warning."""
    limit = math.sqrt(np.finfo(np.float64).max / 2.0 ** 53)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 3))
    y = np.abs(X @ W_TRUE[:3] + 0.1 * rng.standard_normal(500)) * 1e140
    y[5] = limit
    path = write_table(tmp_path / "r.h5", X, y)
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", model, "--epochs", "5", "-q")
    assert (code, err) == (0, "")
    y[7] = -np.nextafter(limit, np.inf) if model != "poisson" else np.nextafter(limit, np.inf)
    path = write_table(tmp_path / "r.h5", X, y)
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", model, "-q")
    assert (code, err) == (2, f"sgdcli: error: {path}:y: label {float(y[7])!r} at row 7 is beyond ±1.4e+146, where "
                              "the sums of squares that training takes leave float64's range; rescale the labels\n")


def test_a_quality_gate_takes_a_models_own_metric(tmp_path):
    train_path, test_path, _, _ = regression(tmp_path, "g", lambda X, rng: X @ W_TRUE + rng.standard_normal(len(X)))
    train(train_path, TrainOptions(model="quantile", quantile=0.9, epochs=3)).save(tmp_path / "m.h5")
    code, out, err = cli("evaluate", tmp_path / "m.h5", test_path, "--json", "--fail-over", "pinball=10")
    assert code == 0 and set(json.loads(out)) >= {"pinball", "below"}, err
    code, out, err = cli("evaluate", tmp_path / "m.h5", test_path, "--fail-over", "deviance=1")
    assert code == 2 and "--fail-over deviance: " in err and "has no such metric" in err, err
    assert load_model(tmp_path / "m.h5").options["quantile"] == 0.9
