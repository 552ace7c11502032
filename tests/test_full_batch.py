"""Full-batch logistic runs at --lr auto: where there is no fit of the sample to start at, the bias starts at the
labels' log-odds (training/start.py), and a run that ends far above a fit of its sample is told so
(training/fullbatch.py)."""

import re
import warnings

import h5py
import numpy as np
import pytest

from sgdcli import generate, load_model, train
from sgdcli.options import TrainOptions
from sgdcli.training.fullbatch import NEAR, above
from sgdcli.training.runlog import FitWarning

import naive
from conftest import cli, sample_rows, short_fits, write_table
from test_convergence import l1_objective, lasso_logistic, logistic_objective, newton_logistic


def _rare(tmp_path, n=4000, d=5, seed=3):
    """About 1% positives."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    p = 1 / (1 + np.exp(-(X.astype(np.float64) @ rng.standard_normal(d) * 0.5 - 5.5)))
    y = (rng.random(n) < p).astype(np.float32)
    return write_table(tmp_path / "rare.h5", X, y), X.astype(np.float64), y.astype(np.float64)


def _loss(model, X, y):
    W = model.raw_weights()
    return logistic_objective(W[0, :-1], W[0, -1], X, y, 0.0)


def test_rare_positives_on_full_batches_end_near_the_optimum(tmp_path):
    """From a bias of 0, the first steps at 1/L with momentum threw it far below the log-odds, where its curvature
    is nearly 0, and 30 full-batch steps ended far above the optimum's loss (over 40% here)."""
    path, X, y = _rare(tmp_path)
    assert 0.005 < y.mean() < 0.02
    m = train(path, TrainOptions(model="logistic", batch_size="full", epochs=30, threads=1))
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    w, b = newton_logistic(Z, y, 0.0)
    assert _loss(m, X, y) < 1.02 * logistic_objective(w, b, Z, y, 0.0)


def _entropy(p):
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


@short_fits
def test_a_full_batchs_first_loss_is_the_best_constant_models(tmp_path):
    """A full batch's first epoch's loss is that of the start: where no fit of the sample starts it (256 features
    and the bias: more than a fit's FIT_WIDE weights), the mean log loss of the labels' share p,
    -(p log p + (1 - p) log(1 - p)) (it was log 2, the bias's start at 0)."""
    path, X, y = _rare(tmp_path, d=256)
    m = train(path, TrainOptions(model="logistic", batch_size="full", epochs=2, threads=1))
    assert m.history[0]["train_loss"] == pytest.approx(_entropy(y.mean()), rel=1e-9)


@short_fits
def test_the_bias_starts_at_the_weighted_labels_log_odds(tmp_path):
    """Sample weights: the share is the positives' weight over all the weight; with --class-weight balanced it is
    one half, the bias 0 (rows too wide for a fit of the sample to start at)."""
    path, X, y = _rare(tmp_path, d=256)
    w = np.random.default_rng(0).uniform(0.0, 3.0, len(y))
    with h5py.File(path, "a") as f:
        f["w"] = w
    m = train(path, TrainOptions(model="logistic", batch_size="full", epochs=2, threads=1, sample_weight="w"))
    assert m.history[0]["train_loss"] == pytest.approx(_entropy(np.sum(w * y) / np.sum(w)), rel=1e-9)
    m = train(path, TrainOptions(model="logistic", batch_size="full", epochs=2, threads=1, class_weight="balanced"))
    assert m.history[0]["train_loss"] == pytest.approx(np.log(2), rel=1e-9)


def _separable(tmp_path, rows, features=10):
    path = tmp_path / "sep.h5"
    generate(path, task="binary", rows=rows, features=features, noise=0.1, seed=2)
    with h5py.File(path) as f:
        return path, f["X"][:].astype(np.float64), f["y"][:].astype(np.float64)


def _optimum(X, y):
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    w, b = newton_logistic(Z, y, 0.0, iters=100)
    return logistic_objective(w, b, Z, y, 0.0)


def test_a_full_batch_far_above_the_optimum_of_nearly_separable_rows_is_told_so(tmp_path, no_fit_start):
    """Nearly separable rows, 150 full-batch steps from the log-odds: the run ends over NEAR above the optimum's
    loss (computed here), and its loss fell too slowly at the cosine's end to be warned of; it was not told."""
    path, X, y = _separable(tmp_path, 3000)
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(model="logistic", batch_size="full", epochs=150, threads=1))
    assert _loss(m, X, y) > (1 + 2 * NEAR) * _optimum(X, y)
    (text,) = m.training["warnings"]
    assert [str(w.message) for w in caught] == [text]
    found = re.fullmatch(r"the model's mean loss on the run's sample of ([\d,]+) rows, ([\d.]+), is ([\d.]+)% above "
                         r"the optimum's, estimated by a fit of them \(Newton's method\), ([\d.]+): the model may be "
                         r"far from the optimum; raise --epochs \(to about (\d+)\), lower --batch-size or add --l2",
                         text)
    assert found is not None, text
    loss, best = float(found[2]), float(found[4])
    assert float(found[3]) == pytest.approx(100 * (loss / best - 1), abs=0.5)
    assert int(found[5]) == pytest.approx(150 * ((loss / best - 1) / NEAR) ** 2, rel=0.01)  # of the figures shown
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "logistic", "--batch-size", "full",
                       "--epochs", "150", "--threads", "1", "-q")
    assert (code, err) == (0, f"sgdcli: warning: {text}\n")


def test_the_optimums_estimate_on_a_sample_of_the_rows_is_near_its_loss_there(tmp_path, no_fit_start,
                                                                             small_full_batch_sample):
    """The sample holds 4,096 of 20,000 rows (a full batch's larger one would be every row): the fit's loss on them, plus what a fit gains on the rows it fits, is
    within a few percent of the loss there of the optimum over all rows (computed here)."""
    path, X, y = _separable(tmp_path, 20_000, features=20)
    with pytest.warns(FitWarning):
        m = train(path, TrainOptions(model="logistic", batch_size="full", epochs=100, threads=1))
    best = float(m.training["warnings"][-1].split("(Newton's method), ")[1].split(":")[0])
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    w, b = newton_logistic(Z, y, 0.0, iters=100)
    rows = sample_rows(path, "logistic")
    there = logistic_objective(w, b, Z[rows], y[rows], 0.0)
    assert best == pytest.approx(there, rel=0.03)


def test_an_l1_full_batch_at_its_optimum_is_not_told_it_is_far(tmp_path):
    """The fit of a classifier's sample fits no --l1, and an --l1 optimum's mean loss is above that fit's by what
    the penalty costs: a full batch at the optimum was told that its loss was 11% above the optimum's and to raise
    --epochs to about 277.  --l1 runs are not set against the fit, as --l2 runs are not."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5000, 30))
    y = (X[:, :10] @ rng.standard_normal(10) + rng.logistic(size=5000) > 0).astype(np.float64)
    path = write_table(tmp_path / "d.h5", X.astype(np.float32), y.astype(np.float32))
    Z = X.astype(np.float32).astype(np.float64)
    Z = (Z - Z.mean(axis=0)) / Z.std(axis=0)
    w, b = lasso_logistic(Z, y, 0.02)
    unpenalized = logistic_objective(*newton_logistic(Z, y, 0.0), Z, y, 0.0)
    assert logistic_objective(w, b, Z, y, 0.0) > (1 + 1.1 * NEAR) * unpenalized  # the premise
    m = train(str(path), TrainOptions(model="logistic", l1=0.02, batch_size="full", epochs=60, threads=1))
    assert l1_objective(m.weights[0], m.bias[0], Z, y, 0.02) < 1.0001 * l1_objective(w, b, Z, y, 0.02)
    assert "warnings" not in m.training


def _nearly_separable(tmp_path):
    """5,000 rows of 20 standard normal features and logistic labels of weights of norm about 18: the file, the
    features standardized (float64) and the labels."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((5000, 20)).astype(np.float32)
    z = X.astype(np.float64) @ rng.standard_normal(20) * 4
    y = (rng.random(5000) < 1 / (1 + np.exp(-z))).astype(np.float64)
    path = write_table(tmp_path / "d.h5", X, y.astype(np.float32))
    Z = X.astype(np.float64)
    return str(path), (Z - Z.mean(axis=0)) / Z.std(axis=0), y


def test_a_full_batch_epochs_objective_is_that_of_the_weights_it_started_from(tmp_path, no_fit_start):
    """A full batch's loss is that of the weights its epoch started from, the epoch before's end: the objective
    its record holds is their --l1 objective, the model's of a run one epoch shorter, not its loss plus the
    penalty of its end's weights, which the record holds as ``penalty``.  (From the log-odds: from the fit of its
    sample the run starts at the optimum, and its weights barely move.)"""
    path, Z, y = _nearly_separable(tmp_path)
    options = dict(model="logistic", l1=0.001, batch_size="full", threads=1, schedule="constant")
    with warnings.catch_warnings():  # few updates: the end says so
        warnings.simplefilter("ignore", FitWarning)
        four, five = (train(path, TrainOptions(**options, epochs=epochs)) for epochs in (4, 5))
    last = five.history[-1]
    assert last["objective"] == pytest.approx(l1_objective(four.weights[0], four.bias[0], Z, y, 0.001), rel=1e-9)
    assert last["objective"] == pytest.approx(last["train_loss"] + four.history[-1]["penalty"], rel=1e-12)
    assert last["penalty"] == pytest.approx(0.001 * np.abs(five.weights).sum(), rel=1e-12)
    assert abs(last["penalty"] - four.history[-1]["penalty"]) > 1e-4  # the pairing tells them apart


def test_an_l1_full_batch_of_few_updates_is_judged_by_its_objective(tmp_path, no_fit_start):
    """Under a penalty the mean loss goes on falling as the weights grow while the objective settles: on nearly
    separable rows, 20 full-batch epochs at --l1 0.001 ended within 0.1% of the lasso optimum, and were told that
    the loss was still falling and to raise --epochs.  Each epoch's record holds the penalty of its end's weights,
    and the few updates' rule judges the objective against the lasso fit of the run's sample (training/
    classifierfit.py ``lasso_newton``).  After 5 epochs, far above the optimum, the run is told so (from
    the log-odds, where a sample without a fit starts it)."""
    path, Z, y = _nearly_separable(tmp_path)
    best = l1_objective(*lasso_logistic(Z, y, 0.001), Z, y, 0.001)
    m = train(str(path), TrainOptions(model="logistic", l1=0.001, batch_size="full", epochs=20, threads=1))
    assert l1_objective(m.weights[0], m.bias[0], Z, y, 0.001) < 1.001 * best
    assert "warnings" not in m.training
    assert m.history[-1]["penalty"] == pytest.approx(0.001 * np.abs(m.weights).sum(), rel=1e-12)
    with pytest.warns(FitWarning):
        m = train(str(path), TrainOptions(model="logistic", l1=0.001, batch_size="full", epochs=5, threads=1))
    kept = l1_objective(m.weights[0], m.bias[0], Z, y, 0.001)
    assert kept > (1 + NEAR) * best
    # the sample is every row: the objective measured is the model's, the fit's the lasso optimum
    assert m.training["warnings"] == [
        f"only 5 updates in all (5 epochs × 1 iteration of batch 5000): the model's objective (its mean loss and the "
        f"penalties) on the run's sample of 5,000 rows, {kept:.4g}, is {above(kept, best)} the "
        f"optimum's, estimated by a fit of them (proximal Newton steps), {best:.4g}: the model may be far from the "
        "optimum; lower --batch-size or raise --epochs"]


def test_early_stopping_without_validation_rows_judges_an_l1_runs_objective(tmp_path, no_fit_start):
    """Under --l1 a full batch's mean loss rose from its third epoch on as its objective fell to the optimum:
    early stopping, which judges the training loss where there are no validation rows, kept epoch 3, over 0.3%
    above the lasso optimum's objective.  It judges the objective, as the end's warnings do (from the log-odds:
    from the fit of its sample the run starts at the optimum)."""
    path = tmp_path / "binary.h5"
    generate(path, task="binary", rows=20000, features=16, noise=0.5, seed=1)  # sample_data/binary.h5
    with h5py.File(path) as f:
        X, y = f["X"][:].astype(np.float64), f["y"][:].astype(np.float64)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    best = l1_objective(*lasso_logistic(Z, y, 0.01), Z, y, 0.01)
    m = train(str(path), TrainOptions(model="logistic", l1=0.01, batch_size="full", epochs=20, threads=1,
                                      early_stopping=True))
    losses = [record["train_loss"] for record in m.history]
    assert losses[3] > losses[2] and min(losses) == losses[2]  # the premise: the mean loss's least at epoch 3
    assert m.training["best_epoch"] > 3
    assert l1_objective(m.weights[0], m.bias[0], Z, y, 0.01) < 1.001 * best


def test_a_large_batch_l1_run_at_its_optimum_is_not_told_its_rows_are_nearly_separable(tmp_path):
    """The balance of nearly separable rows (training/decayingrate.py) is measured by a fit of the sample that fits
    no --l1, whose optimum is nearer: at batch 5000 and --l1 0.01, a run within 0.1% of the lasso optimum was told
    that the rows are nearly separable and to raise --epochs to about 4783."""
    path = tmp_path / "binary.h5"
    generate(path, task="binary", rows=20000, features=10)
    with h5py.File(path) as f:
        X, y = f["X"][:].astype(np.float64), f["y"][:].astype(np.float64)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    best = l1_objective(*lasso_logistic(Z, y, 0.01), Z, y, 0.01)
    m = train(str(path), TrainOptions(model="logistic", l1=0.01, batch_size=5000, epochs=20, threads=1))
    assert l1_objective(m.weights[0], m.bias[0], Z, y, 0.01) < 1.001 * best
    assert "warnings" not in m.training


def test_a_full_batch_near_the_optimum_is_not_told_anything(tmp_path):
    path, X, y = _rare(tmp_path)
    m = train(path, TrainOptions(model="logistic", batch_size="full", epochs=150, threads=1))
    assert _loss(m, X, y) < (1 + NEAR) * _optimum(X, y)
    assert "warnings" not in m.training


def test_a_full_batch_of_softmax_far_above_its_optimum_is_told_so(tmp_path, no_fit_start):
    """Nearly separable classes, 120 full-batch steps from 0: softmax ends far above the optimum's loss (computed
    here by L-BFGS) and is told so; nothing was said."""
    from test_cosine_rate import _softmax_loss, _softmax_optimum

    path = tmp_path / "classes.h5"
    generate(path, task="multiclass", classes=4, rows=3000, features=6, noise=0.1, seed=0)
    with h5py.File(path) as f:
        X, y = f["X"][:].astype(np.float64), f["y"][:].astype(np.int64)
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(model="softmax", batch_size="full", epochs=120, threads=1))
    assert _softmax_loss(m, X, y) > (1 + 2 * NEAR) * _softmax_optimum(X, y)
    assert [str(w.message) for w in caught] == m.training["warnings"]
    assert m.training["warnings"][0].startswith("the model's mean loss on the run's sample of ")


@pytest.mark.parametrize("rows", ["dense", "sparse"])
def test_a_full_batchs_momentum_does_not_carry_it_past_the_optimum(tmp_path, no_fit_start, rows):
    """Nesterov's velocity at 1/L (--optimizer auto, --lr auto) carried a full batch past the optimum and up the
    other side, where the cosine schedule's falling rate left it: dense rows ended 7.9% above the optimum after
    10 epochs, one-hot rows (3 fields of 3) 4.2% after 20.  The velocity is dropped where it points uphill
    (kernels/optimizers.py ``_uphill``): both end within 0.1%."""
    rng = np.random.default_rng(0)
    if rows == "dense":
        X = rng.standard_normal((5000, 20)).astype(np.float32).astype(np.float64)
        z, epochs, l2 = X @ rng.standard_normal(20), 10, 0.0
        path = write_table(tmp_path / "dense.h5", X.astype(np.float32))
    else:
        X = np.zeros((20_000, 9))
        X[np.arange(20_000)[:, None], rng.integers(0, 3, (20_000, 3)) + [0, 3, 6]] = 1.0
        z, epochs, l2 = X @ rng.standard_normal(9), 20, 1e-4
        path = tmp_path / "onehot.h5"
        with h5py.File(path, "w") as f:
            g = f.create_group("X")
            g.attrs["shape"] = X.shape
            g["data"], g["indices"] = np.ones(60_000, np.float32), np.flatnonzero(X.ravel()) % 9
            g["indptr"] = np.arange(0, 60_001, 3)
    z = 2 * (z - z.mean()) / z.std()
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-z))).astype(np.float64)
    with h5py.File(path, "a") as f:
        f["y"] = y.astype(np.float32)
    m = train(str(path), TrainOptions(model="logistic", batch_size=None, epochs=epochs, l2=l2, threads=1))
    W = m.raw_weights()[0]
    best = logistic_objective(*newton_logistic(X, y, l2), X, y, l2)
    assert logistic_objective(W[:-1], W[-1], X, y, l2) < 1.001 * best


@pytest.mark.parametrize("extra,told", [
    (["--batch-size", "full"], "gradient"),
    (["--batch-size", "400"], "gradient"),
    (["--batch-size", "399"], None),
    (["--batch-size", "full", "--l1", "0.01"], "gradient, --l1 included"),
    (["--batch-size", "full", "--optimizer", "adam"], None),
])
def test_verbose_says_where_a_full_batch_restarts_momentum(tmp_path, extra, told):
    """The log names the restart where each step is on every training row (a batch as large as the 400 rows
    too), with momentum or Nesterov, and what it is judged by; not for batches of fewer rows, or other rules."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 3)).astype(np.float32)
    path = write_table(tmp_path / "d.h5", X, (X[:, 0] > 0).astype(np.float32))
    code, _, err = cli("train", str(path), "-o", str(tmp_path / "m.h5"), "-v", "--epochs", "1", *extra)
    assert code == 0, err
    said = re.findall(r"a full batch: nesterov's velocity is dropped before a step wherever it points uphill of the "
                      r"step's (.*) \(adaptive restart\)", err)
    assert said == ([told] if told else []), err


def test_a_full_batch_of_wide_sparse_rows_restarts_too(tmp_path):
    """Far more columns than its rows hold nonzeros: a mini-batch's momentum would step on a batch's columns
    alone (kernels/lazymomentum.py), which never drops its velocity; a full batch steps on every weight, as the
    naive reference with the restart does, and the log says so."""
    rng = np.random.default_rng(0)
    n, d = 60, 3000
    X = np.zeros((n, d))
    cols = np.sort(rng.choice(d, size=(n, 5), replace=True), axis=1)
    X[np.arange(n)[:, None], cols] = rng.uniform(0.5, 2, (n, 5)).astype(np.float32)
    y = (X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n) > 0).astype(np.float64)
    path = tmp_path / "wide.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("X")
        g.attrs["shape"] = X.shape
        rows, columns = np.nonzero(X)
        g["data"], g["indices"] = X[rows, columns].astype(np.float32), columns
        g["indptr"] = np.searchsorted(rows, np.arange(n + 1))
        f["y"] = y.astype(np.float32)
    code, _, err = cli("train", str(path), "-o", str(tmp_path / "m.h5"), "--batch-size", "full", "--epochs", "40",
                       "--lr", "0.5", "--lr-scaling", "none", "--schedule", "constant", "--l2", "0.01", "-v")
    assert code == 0, err
    assert "--optimizer auto: nesterov (sparse input, 3,000 columns against about 300 nonzeros a batch: a full " \
           "batch, whose one step an epoch is on every weight)" in err
    W = load_model(str(tmp_path / "m.h5")).raw_weights()
    start = np.append(np.zeros(d), np.log(y.mean() / (1 - y.mean())))[None]  # the bias at the labels' log-odds
    expected = naive.minibatch_sgd("logistic", X, y, np.arange(n), n, 0.5, "nesterov", epochs=40, l2=0.01,
                                   start=start, restart=True)
    np.testing.assert_allclose(W, expected, rtol=1e-6, atol=1e-9)
    kept = naive.minibatch_sgd("logistic", X, y, np.arange(n), n, 0.5, "nesterov", epochs=40, l2=0.01, start=start)
    assert np.abs(expected - kept).max() > 1e-3
