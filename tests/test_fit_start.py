"""A fresh full-batch logistic or softmax model (and poisson, last) starts at the fit of the run's sample
(training/start.py ``fitted``): its weights and bias by Newton's method on the sample's rows, standardized as the
model sees them, under the fit's ridge and --l2. A full batch's first epoch scores every training row at the start,
so its loss is the loss over every row of that fit, computed here: to 1e-4, as the sample's fit stops where Newton's
decrement is at rounding's scale, and the loss over every row moves at first order with what is left (--l2 1e-3, or
the log-odds, move it by percents)."""

import json
import re

import h5py
import numpy as np
import pytest

from sgdcli import load_model, train
from sgdcli.data.table import Table
from sgdcli.options import DEFAULT_MEMORY, TrainOptions
from sgdcli.training import classifierfit
from sgdcli.training.sampling import sample_spans

from conftest import cli, sample_rows, short_fits, write_table
from test_bias_start import unpredictive
from test_convergence import logistic_objective, newton_logistic
from test_full_batch import _optimum, _separable
from test_full_batch_end import logistic_rows


def _strong(tmp_path):
    """About 2% positives of strong features (true weights of norm 6): 5 full-batch steps from the labels'
    log-odds ended about 140% above the optimum."""
    return logistic_rows(tmp_path / "strong.h5", 20_000, 10, 6.0, -9.0)


def _standardized(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _sample_fit(path, Z, y, l2=0.0):
    """The fit of the run's sample: Newton's method on its rows under the fit's ridge on the weights and ``l2``."""
    rows = sample_rows(path, "logistic")
    return newton_logistic(Z[rows], y[rows], classifierfit.RIDGE / len(rows) + l2, iters=60)


@short_fits
@pytest.mark.parametrize("l2", [0.0, 1e-3])
def test_a_full_batch_starts_at_the_fit_of_its_sample(tmp_path, l2):
    path, X, y = _strong(tmp_path)
    Z = _standardized(X)
    w, b = _sample_fit(path, Z, y, l2)
    m = train(path, TrainOptions(model="logistic", batch_size="full", epochs=2, threads=1, l2=l2))
    assert m.history[0]["train_loss"] == pytest.approx(logistic_objective(w, b, Z, y, 0.0), rel=1e-4)


@short_fits
def test_the_fit_is_of_the_positive_class_the_model_scores(tmp_path):
    """--positive-class names the smaller label: the fit's sign follows (the same loss, of weights negated)."""
    path, X, y = _strong(tmp_path)
    Z = _standardized(X)
    w, b = _sample_fit(path, Z, y)
    m = train(path, TrainOptions(model="logistic", batch_size="full", epochs=2, threads=1, positive_class="0"))
    assert m.history[0]["train_loss"] == pytest.approx(logistic_objective(w, b, Z, y, 0.0), rel=1e-4)


@short_fits
def test_the_fit_weighs_the_rows_as_the_objective_does(tmp_path):
    """--class-weight balanced: the fit of the sample weighs each class's rows as the loss trained does."""
    path, X, y = _strong(tmp_path)
    Z = _standardized(X)
    rows = sample_rows(path, "logistic")
    v = np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))
    A = np.column_stack([Z[rows], np.ones(len(rows))])
    theta, ridge = np.zeros(A.shape[1]), np.append(np.full(Z.shape[1], classifierfit.RIDGE / len(rows)), 0.0)
    for _ in range(60):
        p = 1 / (1 + np.exp(-(A @ theta)))
        grad = A.T @ (v[rows] * (p - y[rows])) / len(rows) + ridge * theta
        theta -= np.linalg.solve((A * (v[rows] * p * (1 - p))[:, None]).T @ A / len(rows) + np.diag(ridge), grad)
    s = Z @ theta[:-1] + theta[-1]
    expected = np.sum(v * (np.logaddexp(0, s) - y * s)) / np.sum(v)
    m = train(path, TrainOptions(model="logistic", batch_size="full", epochs=2, threads=1, class_weight="balanced"))
    assert m.history[0]["train_loss"] == pytest.approx(expected, rel=1e-4)


@short_fits
def test_five_full_batch_steps_from_the_fit_end_near_the_optimum(tmp_path):
    """From the labels' log-odds they ended about 140% above the optimum's loss (computed here)."""
    path, X, y = _strong(tmp_path)
    Z = _standardized(X)
    w, b = newton_logistic(Z, y, 0.0, iters=100)
    m = train(path, TrainOptions(model="logistic", batch_size="full", threads=1))
    W = m.raw_weights()[0]
    assert logistic_objective(W[:-1], W[-1], X, y, 0.0) < 1.05 * logistic_objective(w, b, Z, y, 0.0)


@short_fits
def test_mini_batches_and_wide_rows_start_at_the_log_odds(tmp_path):
    """The fit starts full batches of up to FIT_WIDE weights alone: 256 features and the bias are too many, and a
    batch of 2,000 rows is no full batch (its first epoch steps from the start, its loss no longer the start's)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4000, 256)).astype(np.float32)
    y = (rng.random(4000) < 0.1).astype(np.float32)
    path = write_table(tmp_path / "wide.h5", X, y)
    m = train(path, TrainOptions(model="logistic", batch_size="full", epochs=2, threads=1))
    p = y.mean()
    assert m.history[0]["train_loss"] == pytest.approx(-(p * np.log(p) + (1 - p) * np.log(1 - p)), rel=1e-9)
    path, X, y = _strong(tmp_path)
    starts = []
    from sgdcli.training import run as run_mod

    real = run_mod.fitted
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_mod, "fitted", lambda *a, **kw: starts.append(real(*a, **kw)) or starts[-1])
        train(path, TrainOptions(model="logistic", batch_size=2000, epochs=1, threads=1))
        assert starts == [None]  # (a mini-batch linear run's alone starts at a fit)
        train(path, TrainOptions(model="logistic", batch_size="full", epochs=1, threads=1))
        assert len(starts) == 2 and starts[1] is not None


def _class_outside_the_sample(tmp_path, y, value, every, seed):
    """Labels ``y`` with 3 standard normal features, and the label ``value`` on every ``every``-th row outside the
    sample's runs: a class the sample never holds; a Sample of the file (its table open)."""
    from sgdcli.training import sampling

    X = np.random.default_rng(seed).standard_normal((len(y), 3)).astype(np.float32)
    path = write_table(tmp_path / "outside.h5", X, y)
    with Table(path) as table:
        spans = sample_spans(table, DEFAULT_MEMORY)
    outside = np.setdiff1d(np.arange(len(y)), np.concatenate([np.arange(a, b) for a, b in spans]))
    with h5py.File(path, "a") as f:
        f["y"][outside[::every]] = value
    return sampling.Sample(Table(path))


def _fitted(drawn, model, classes):
    from sgdcli.training import start

    return start.fitted(model, drawn, lambda raw: raw.astype(np.int64), classes, np.zeros(3), np.ones(3),
                        lambda raw: None, 0.0)


def test_a_sample_of_one_class_has_no_fit(tmp_path):
    """Every sampled row negative (the positives lie outside the sample's runs): no fit, the log-odds start."""
    drawn = _class_outside_the_sample(tmp_path, np.zeros(20_000, dtype=np.float32), 1.0, 7, 2)
    with drawn.table:
        assert _fitted(drawn, "logistic", 2) is None


def test_a_full_batch_from_the_fit_that_ends_above_the_best_constant_model_is_told(tmp_path):
    """Features that do not predict rare labels at a rate far too large: the run starts at the fit of the sample,
    below the best constant model's loss, and ends above it; the warning says which loss it was held to.  The
    sample is every row, so the fit is their optimum, where the gradient is all but 0: a rate far past 2 over the
    curvature throws the model off it all the same, by the factor the rate times the curvature less 1 a step."""
    from sgdcli.training.runlog import FitWarning

    path, constant = unpredictive(tmp_path)
    with pytest.warns(FitWarning) as caught:  # and that the model is far from the optimum
        m = train(path, TrainOptions(model="logistic", batch_size="full", lr=40_000.0, optimizer="sgd",
                                     schedule="constant", epochs=3, threads=1))
    assert m.history[0]["train_loss"] < constant < m.history[-1]["train_loss"]
    (told,) = [str(w.message) for w in caught if "worse than it started" in str(w.message)]
    assert (f"is above the best constant model's (the bias at the labels' log-odds; the run started below it, at "
            f"the fit of its sample) {constant:.4g}: training ended worse") in told


@short_fits
def test_a_full_batch_of_softmax_from_the_fit_ends_near_the_optimum(tmp_path):
    """Nearly separable classes, 120 full-batch steps: from 0 softmax ended over 10% above the optimum's loss
    (computed here by L-BFGS); from the fit of its sample, within 2%."""
    from sgdcli import generate
    from test_cosine_rate import _softmax_loss, _softmax_optimum

    path = tmp_path / "classes.h5"
    generate(path, task="multiclass", classes=4, rows=3000, features=6, noise=0.1, seed=0)
    with h5py.File(path) as f:
        X, y = f["X"][:].astype(np.float64), f["y"][:].astype(np.int64)
    m = train(path, TrainOptions(model="softmax", batch_size="full", epochs=120, threads=1))
    assert _softmax_loss(m, X, y) < 1.02 * _softmax_optimum(X, y)
    assert "warnings" not in m.training


def test_a_softmax_sample_missing_a_class_has_no_fit(tmp_path):
    """Four classes, one of them only outside the sample's runs: the fit would know three, and starts nothing;
    the three the sample holds, a model of three classes, are fitted."""
    y = np.random.default_rng(4).integers(0, 3, 20_000).astype(np.float32)
    drawn = _class_outside_the_sample(tmp_path, y, 3.0, 5, 3)
    with drawn.table:
        assert _fitted(drawn, "softmax", 4) is None
        every = _fitted(drawn, "softmax", 3)
    assert every.shape == (3, 4) and np.allclose(every.sum(axis=0), 0.0)  # centred across the classes


@short_fits
def test_a_run_from_the_fit_at_lr_auto_is_not_judged_against_the_fit(tmp_path):
    """1% positives of weak features under --class-weight balanced: the run ends near the optimum (computed here),
    yet the end check's estimate of it, a fit of the sample's 40-odd positives of weight 50, told it it was 6%
    above; a run that started at that fit is not judged by it."""
    path, X, y = logistic_rows(tmp_path / "rare.h5", 20_000, 10, 1.0, -5.075)
    assert 0.005 < y.mean() < 0.02
    v = np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))
    Z = _standardized(X)
    A = np.column_stack([Z, np.ones(len(y))])
    theta = np.zeros(A.shape[1])
    for _ in range(60):
        p = 1 / (1 + np.exp(-(A @ theta)))
        theta -= np.linalg.solve((A * (v * p * (1 - p))[:, None]).T @ A, A.T @ (v * (p - y)))

    def objective(s):
        return np.sum(v * (np.logaddexp(0, s) - y * s)) / np.sum(v)

    m = train(path, TrainOptions(model="logistic", batch_size="full", threads=1, class_weight="balanced"))
    W = m.raw_weights()[0]
    assert objective(X @ W[:-1] + W[-1]) < 1.02 * objective(A @ theta)
    assert "warnings" not in m.training


def test_a_run_from_the_fit_at_too_large_a_rate_is_told_to_lower_it(tmp_path):
    """A full batch that starts at the fit of its sample and ends far from it got there by its own steps: the end
    check says to lower --lr, where it said to raise --epochs (by tens of thousands).  (The fit is of every row, as
    the previous test's: the rate is far past 2 over the curvature.)  The last step, at the cosine's half rate,
    threw the model off: the loss of the model before it was its start's, and the end check measures the step."""
    from sgdcli.training.runlog import FitWarning

    path, X, y = _strong(tmp_path)
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(model="logistic", batch_size="full", lr=10_000.0, epochs=2, threads=1))
    (told,) = [str(w.message) for w in caught if "from the gradient of its last step" in str(w.message)]
    W = m.raw_weights()[0]
    loss, best = logistic_objective(W[:-1], W[-1], X, y, 0.0), _optimum(X, y)
    assert loss > 10 * best  # far indeed
    start = float(told.split("the run started at the fit of that sample, at ")[1].split(",")[0])
    assert start == pytest.approx(best, rel=1e-3)  # the fit of every row
    assert told.endswith(", and its steps took it away: the model may be far from the optimum; lower --lr (try "
                         "1000) or use --lr auto"), told
    assert m.training["warnings"][-1] == told


@short_fits
def test_adaptive_steps_from_the_fit_are_not_sized_to_travel_from_zero(tmp_path):
    """Adam's rate is raised to the size of the weights fitted to the sample, the distance a model that starts at
    0 travels.  A full batch starts at that fit, and its first steps at that rate, each about the rate on every
    weight, threw it off: on nearly separable rows 5 epochs ended 27% above the optimum (computed here).  Its rate
    is the one for weights of size 1; a mini-batch run's is raised."""
    path, X, y = _separable(tmp_path, 5000)
    m = train(path, TrainOptions(model="logistic", batch_size="full", threads=1, optimizer="adam"))
    W = m.raw_weights()[0]
    assert logistic_objective(W[:-1], W[-1], X, y, 0.0) < 1.02 * _optimum(X, y)
    auto = m.training["lr_auto"]
    assert auto["from_fit"] and auto["raised"] == 1.0 and auto["lr"] == pytest.approx(0.1)
    mini = train(path, TrainOptions(model="logistic", batch_size=1024, epochs=1, threads=1, optimizer="adam"))
    assert not mini.training["lr_auto"]["from_fit"] and mini.training["lr_auto"]["raised"] > 5


def _powers(tmp_path, rows=20_000):
    """Counts of t, t², …, t⁵ (t ~ U(0, 10)) and 5 noise features: standardizing leaves the powers nearly
    collinear, and from the best constant model a full batch's 5 steps ended 293% above the optimum's
    deviance."""
    rng = np.random.default_rng(1)
    t, Q = rng.uniform(0, 10, rows), rng.standard_normal((rows, 5))
    X = np.column_stack([t ** k for k in range(1, 6)] + [Q]).astype(np.float32)
    y = rng.poisson(np.exp(2 + np.sin(t) + 0.3 * Q @ rng.standard_normal(5))).astype(np.float64)
    return write_table(tmp_path / "powers.h5", X, y), X, y


def test_a_full_batch_of_poisson_starts_at_the_fit_and_ends_near_the_optimum(tmp_path):
    """Poisson's Newton fit of the sample (training/poissonfit.py), where the run starts; 5 full-batch steps from
    it end within 1% of the optimum's deviance (scikit-learn's PoissonRegressor, computed here), told nothing."""
    from sklearn.linear_model import PoissonRegressor
    from sklearn.metrics import mean_poisson_deviance

    path, X, y = _powers(tmp_path)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "poisson", "--batch-size", "full")
    assert code == 0, err
    assert "starting at the fit of the run's sample of 20,000 rows (Newton's method)" in err
    assert "warning" not in err
    m = load_model(tmp_path / "m.h5")
    Z = (X - m.center) / m.scale
    best = mean_poisson_deviance(y, PoissonRegressor(alpha=0, tol=1e-12, max_iter=10_000).fit(Z, y).predict(Z))
    W = m.raw_weights()[0]
    assert mean_poisson_deviance(y, np.exp(X @ W[:-1] + W[-1])) < 1.01 * best


def test_a_full_batch_of_poisson_from_the_fit_at_too_large_a_rate_is_told_by_its_deviance(tmp_path):
    """A constant rate 15 times --lr auto's takes the model away from the fit, far above the optimum: measured by
    the deviance (twice the loss less the saturated model's, counted over every training row by the label pass),
    as poisson's loss has no floor at 0 that a share of it could be read against."""
    from sklearn.metrics import mean_poisson_deviance

    path, X, y = _powers(tmp_path)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "poisson", "--batch-size", "full",
                       "--lr", "0.2", "--schedule", "constant")
    assert code == 0, err
    found = re.search(r"warning: the model's mean deviance on every training row is ([\d.]+)% above the optimum's, "
                      r"estimated by a Newton step .* ([\d.]+); the run started at the fit of that sample, at "
                      r"([\d.]+), and its steps took it away: the model may be far from the optimum; lower --lr "
                      r"\(try 0.02\) or use --lr auto$", err.strip())
    assert found, err
    m = load_model(tmp_path / "m.h5")
    W = m.raw_weights()[0]
    deviance = mean_poisson_deviance(y, np.exp(X @ W[:-1] + W[-1]))
    assert float(found[1]) / 100 + 1 == pytest.approx(deviance / float(found[2]), rel=0.05)


def test_a_full_batch_of_poisson_on_raw_features_starts_at_the_fit_and_ends_near_the_optimum(tmp_path):
    """--no-standardize: poisson's fit is solved in the rows' own standardized units (training/linearfit.py
    ``standardizing``) and mapped back, so t⁵, which reaches 100,000, loses no direction to the solve's ridge (solved
    in the features' own units, it held the flattest back: 4% to 23% above the optimum, where the run started at
    the best constant model instead).  The optimum's deviance is the same in any units of the features: scikit-learn's
    PoissonRegressor fits it here on the rows standardized."""
    from sklearn.linear_model import PoissonRegressor
    from sklearn.metrics import mean_poisson_deviance

    path, X, y = _powers(tmp_path, rows=5_000)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "poisson", "--batch-size", "full",
                       "--no-standardize")
    assert code == 0, err
    assert "starting at the fit of the run's sample of 5,000 rows (Newton's method)" in err
    assert "warning" not in err
    X = X.astype(np.float64)  # (standardized in float32, t⁵'s rounding alone left the optimum 15% above)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    best = mean_poisson_deviance(y, PoissonRegressor(alpha=0, tol=1e-12, max_iter=10_000).fit(Z, y).predict(Z))
    W = load_model(tmp_path / "m.h5").raw_weights()[0]
    assert mean_poisson_deviance(y, np.exp(X @ W[:-1] + W[-1])) < 1.01 * best


def test_a_resumed_full_batch_of_poisson_is_told_by_its_deviance_as_the_straight_run_is(tmp_path, monkeypatch):
    """A resume without --sample-weight reads no labels again: the checkpoint keeps the saturated model's loss
    over every training row (checkpoint.py ``saturated_loss``), so the resumed run's end is measured in deviance,
    with the same figures as the straight run's.  Without it, the resumed run, which started at the fit, was judged
    only by its loss's fall, and told nothing."""
    import signal

    from sgdcli import RunControl
    from sgdcli.engine import epoch
    from sgdcli.errors import Interrupted
    from sgdcli.training.fitwarnings import FitWarning

    path, _, _ = _powers(tmp_path, rows=5_000)
    options = TrainOptions(model="poisson", batch_size="full", lr=0.2, schedule="constant", threads=1)
    with pytest.warns(FitWarning) as caught:
        straight = train(path, options)
    told = [str(w.message) for w in caught]
    assert len(told) == 1 and "mean deviance on every training row is" in told[0], told
    monkeypatch.setattr(epoch, "SLICE_ROWS", 1000)  # safe points every 1,000 rows: a stop in the third epoch
    checkpoint, calls = tmp_path / "ck.h5", []

    def stop():
        calls.append(1)
        return signal.SIGTERM if len(calls) == 12 else None

    with pytest.raises(Interrupted):
        train(path, options, control=RunControl(checkpoint=str(checkpoint), stop=stop))
    with h5py.File(checkpoint, "r") as f:
        assert json.loads(f.attrs["position"])["epoch"] >= 1  # an epoch or more done: the resume goes on mid-run
    with pytest.warns(FitWarning) as caught:
        resumed = train(path, options, control=RunControl(checkpoint=str(checkpoint), resume=True))
    assert resumed.raw_weights().tobytes() == straight.raw_weights().tobytes()
    assert [str(w.message) for w in caught] == told


@pytest.mark.parametrize("model", ["poisson", "linear"])
def test_a_rare_indicator_absent_from_the_sample_does_not_throw_the_fit_off(tmp_path, model):
    """A full batch's sample of a larger file misses a feature set on 3 rows: standardized, it is one value on
    every sampled row, whose rounded mean left it a spread of some 1e-15, and the fit gave it a weight of 1e14 (the
    run diverged at every rate, --lr auto's halvings included).  Constant over the sample, it gets weight 0
    (linearfit.moments) and the run ends near the optimum, told nothing."""
    rng = np.random.default_rng(1)
    n = 80_000
    X = rng.standard_normal((n, 3)).astype(np.float32)
    y = (rng.poisson(np.exp(0.3 * X[:, 0] - 0.2 * X[:, 1] + 1.0)) if model == "poisson" else
         X[:, 0] - 0.5 * X[:, 2] + 0.1 * rng.standard_normal(n))
    path = write_table(tmp_path / "rare.h5", np.column_stack([X, np.zeros(n, np.float32)]), y.astype(np.float64))
    outside = np.setdiff1d(np.arange(n), sample_rows(path, full_batch=model))
    assert len(outside) > 3
    with h5py.File(path, "r+") as f:
        f["X"][outside[[0, len(outside) // 2, -1]], 3] = 1.0
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", model, "--batch-size", "full")
    assert code == 0, err
    assert "starting at the fit of the run's sample" in err and "warning" not in err
    w = load_model(tmp_path / "m.h5").raw_weights()[0]
    assert np.all(np.abs(w) < 10)
