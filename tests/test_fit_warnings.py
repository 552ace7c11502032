"""The warning that a run's loss was still falling where training stopped (fitwarnings._still_falling): judged by its
pace at the end, per unit of learning rate, against its pace over the whole run (progress.end_pace), where that
pace can be read: a full batch, whose losses are exact, or a rate far under --lr auto's, whose batches leave little
noise in the epochs' means."""

import dataclasses
import json
import math
import re

import h5py
import numpy as np
import pytest

from sgdcli import evaluate, load_model, train
from sgdcli.options import TrainOptions
from sgdcli.training.progress import end_pace, objective, objectives
from sgdcli.training.fitwarnings import PACE, FitWarning

from conftest import cli, make_problem, sample_rows, write_table


def _history(losses, rates, iterations=1):
    return [{"train_loss": loss, "lr": lr, "iterations": iterations} for loss, lr in zip(losses, rates)]


def _cosine(epochs):
    return [0.5 * (1 + math.cos(math.pi * (e + 1) / epochs)) for e in range(epochs)]


def test_the_pace_is_the_fall_per_unit_of_rate_at_the_end_against_the_whole_runs():
    """Under cosine the last steps are small: a loss that fell in proportion to the rate falls little at the end
    and still has the pace it had from the start (1); one that settled has none; the first epoch's fall, from
    where training started, is not the end's."""
    rates = _cosine(100)
    time = np.cumsum(rates) - rates  # a full batch's loss is that before the epoch's update
    steady = 10 - 0.05 * time
    assert end_pace(_history(steady, rates), True, steady[0]) == (pytest.approx(1.0), 76)
    settled = 1 + 9 * np.exp(-time)
    assert end_pace(_history(settled, rates), True, settled[0])[0] == pytest.approx(0, abs=1e-9)
    assert end_pace(_history([2.0, 1.0], rates[:2]), True, 2.0) is None  # no fall after the first


def test_an_epochs_objective_adds_the_penalty_of_the_weights_its_loss_was_measured_at():
    """A full batch's loss is that of the weights its epoch started from (the epoch before's end, the first's the
    start); a mini-batch epoch's is the mean over weights that moved from its start to its end, most of the way
    in its first batches: its end's.  Records of a checkpoint of an older sgdcli hold no objective: the losses
    alone are judged, every epoch's."""
    assert objective(1.0, 0.05, 0.1, exact=True) == 1.05 and objective(1.0, 0.05, 0.1, exact=False) == 1.1
    history = [{"train_loss": 1.0, "objective": 1.05}, {"train_loss": 0.8, "objective": 0.9}]
    assert objectives(history)[1] == "objective" and objectives(history)[0].tolist() == [1.05, 0.9]
    assert objectives([{"train_loss": 1.1}, *history])[0].tolist() == [1.1, 1.0, 0.8]
    assert objectives([{"train_loss": 1.1}, *history])[1] == "loss"


def test_a_mini_batch_loss_that_falls_with_the_rate_is_the_batches_noise_dying_down():
    """Means of 157 batches an epoch, 5 epochs: a loss 0.1 × the epoch's mean rate above where the model settled
    falls in every epoch, and has no pace; the same fall in proportion to the rate time is progress."""
    rates = np.array(_cosine(5))
    mean_rate = (np.concatenate([rates[:1], rates[:-1]]) + rates) / 2
    noise = 0.6 + 0.1 * mean_rate
    assert end_pace(_history(noise, rates, 157), False, 0.7)[0] == pytest.approx(0, abs=1e-9)
    time = np.cumsum(mean_rate * 157) - mean_rate * 157 / 2
    progress = 0.69 - 1e-4 * time
    assert end_pace(_history(progress, rates, 157), False, 0.7)[0] > 0.5
    assert end_pace(_history(progress[:4], rates[:4], 157), False, 0.7) is None  # 2 falls after the first


def test_a_full_batch_of_many_epochs_whose_loss_still_falls_is_told_so(tmp_path, no_fit_start):
    """100 full-batch updates, more than the few-updates rule counts, on raw features of scales 1, 0.05 and 0.02
    (second moments 1 to 1/2,500): the loss only crept down at the end because cosine's last steps are small,
    and the model was written with no warning at 80 times the optimum's loss (from 0: a full batch of linear now
    starts at the fit of its sample, training/start.py)."""
    rng = np.random.default_rng(0)
    scales = np.array([1, 0.05, 0.02])
    X = (rng.standard_normal((2000, 3)) * scales).astype(np.float32)
    y = X.astype(np.float64) @ (1 / scales) + 0.1 * rng.standard_normal(2000)
    path = write_table(tmp_path / "ill.h5", X, y)
    with pytest.warns(FitWarning):
        m = train(path, TrainOptions(model="linear", batch_size="full", epochs=100, standardize=False))
    share, since = end_pace(m.history, True, m.history[0]["train_loss"])
    assert share >= PACE and since == 76
    first, last = m.history[75]["train_loss"], m.history[99]["train_loss"]
    Z = np.column_stack([X, np.ones(2000)]).astype(np.float64)
    optimum = np.mean((Z @ np.linalg.lstsq(Z, y, rcond=None)[0] - y) ** 2) / 2
    assert last > 50 * optimum
    expected = (f"the loss was still falling ({first:.4g} at epoch 76, {last:.4g} at epoch 100; per unit of learning "
                f"rate, at {share:.0%} of its pace over the whole run): the model may be far from the optimum; lower "
                "--batch-size or raise --epochs")
    # and, as the features are raw, that standardizing them is the cure (training/unscaled.py)
    pace, raw = m.training["warnings"]
    assert pace == expected and raw.endswith("training crawls along its flat directions; drop --no-standardize")
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--batch-size", "full",
                       "--epochs", "100", "--no-standardize", "-q")
    assert (code, err) == (0, f"sgdcli: warning: {expected}\nsgdcli: warning: {raw}\n") and (tmp_path / "m.h5").exists()


def test_a_full_batch_that_reached_the_optimum_is_not_told_anything(tmp_path):
    X, y = make_problem("binary", n=2000, d=8, seed=2)
    path = write_table(tmp_path / "b.h5", X, y)
    m = train(path, TrainOptions(batch_size="full", epochs=100))
    assert m.history[-1]["train_loss"] == pytest.approx(m.history[-10]["train_loss"], rel=1e-9)
    assert "warnings" not in m.training


def test_a_small_explicit_rate_whose_loss_settled_is_not_told_to_raise_it(tmp_path):
    """A hundredth of --lr auto's rate: the model is as good as --lr auto's, its epochs' mean losses still fall a
    little (the batches' noise going down with the rate), and it was told "raise --lr"."""
    X, y = make_problem("binary", n=4000, d=10, seed=3, noise=2.0)
    path = write_table(tmp_path / "b.h5", X, y)
    m = train(path, TrainOptions())
    auto, best = m.training["lr_auto"]["lr"], evaluate(m, path)["log_loss"]
    m = train(path, TrainOptions(lr=auto / 100))
    assert m.history[3]["train_loss"] > m.history[4]["train_loss"]
    assert "warnings" not in m.training and evaluate(m, path)["log_loss"] < best


@pytest.mark.parametrize("model", ["logistic", "linear"])
def test_a_rate_so_small_that_the_loss_did_not_fall_is_told_to_raise_it(tmp_path, model, request):
    """--lr 1e-30: the model stays where it started, its loss does not fall at all, and the pace (of a fall
    there is not) was not read: nothing was said.  A fit of the sample puts the optimum far below, and the run
    is told to raise --lr.  (A linear run from the fit of its sample stays at it, near the optimum: told
    nothing, below; this one starts at the labels' mean.)"""
    if model == "linear":
        request.getfixturevalue("no_fit_start")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 10)).astype(np.float32)
    score = X @ rng.standard_normal(10) + rng.logistic(size=20_000)
    y = (score > np.median(score)).astype(np.float32)  # balanced: the start is the all-zero model, log 2
    path = write_table(tmp_path / "rows.h5", X, y)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", model, "--lr", "1e-30", "-q")
    assert code == 0
    assert err.startswith("sgdcli: warning: the loss did not fall (") and " at a rate of 1e-30, " in err, err
    assert err.count("warning") == 1 and err.rstrip().endswith("may be far from the optimum; raise --lr"), err


def test_a_fall_within_rounding_is_no_fall(tmp_path):
    """On the sample data, logistic at --lr 1e-30: the epochs' losses, means of their batches', and the start's, a
    pass's, differ in their last digits (the last epoch's 2e-15 of the loss below the start), and that "fall" was
    read as a pace: the run was told only the fit's distance, not that its loss did not fall."""
    from sgdcli import generate

    path = tmp_path / "binary.h5"
    generate(path, task="binary", rows=20000, features=16, noise=0.5, seed=1)  # sample_data/binary.h5
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--lr", "1e-30", "-q")
    assert code == 0
    assert err.startswith("sgdcli: warning: the loss did not fall (") and " at a rate of 1e-30, " in err, err
    assert err.count("warning") == 1 and err.rstrip().endswith("may be far from the optimum; raise --lr"), err
    # at --lr 1e-13 the loss falls by 3e-10 of it, as the rate makes it: a fall, whose pace is read
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--lr", "1e-13", "-q")
    assert code == 0 and err.startswith("sgdcli: warning: the loss was still falling ("), err


def test_a_linear_run_from_the_fit_at_a_rate_so_small_that_it_stays_there_is_told_nothing(tmp_path):
    """From the fit of its sample (training/start.py ``fitted``), a linear run at --lr 1e-30 keeps it: within a
    few thousandths of the optimum (least squares over every row, computed here), which the end's fit measures."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 10)).astype(np.float32)
    y = X @ rng.standard_normal(10) + rng.standard_normal(20_000)
    path = write_table(tmp_path / "rows.h5", X, y)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--lr", "1e-30", "-q")
    assert (code, err) == (0, "")
    Z = np.column_stack([X.astype(np.float64), np.ones(len(y))])
    best = 0.5 * np.mean((Z @ np.linalg.lstsq(Z, y, rcond=None)[0] - y) ** 2)
    W = load_model(tmp_path / "m.h5").raw_weights()[0]
    assert 0.5 * np.mean((Z @ W - y) ** 2) < 1.005 * best


@pytest.mark.parametrize("model", ["huber", "quantile"])
def test_a_robust_run_at_a_rate_so_small_that_the_loss_did_not_fall_is_told_to_raise_it(tmp_path, model):
    """Huber and quantile start at least squares' fit, which a tenth of outliers pulled far from their optimum:
    at --lr 1e-30 the loss did not fall, and the pace was read from the all-zero model's loss, far above the
    start, as if the run had fallen all that way: nothing was said.  The fall is read from the first epoch, and
    the fit of the sample puts the optimum far below."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8_000, 10)).astype(np.float32)
    y = X @ rng.standard_normal(10) + rng.standard_t(2, 8_000) + 10
    moved = rng.random(8_000) < 0.1
    y[moved] += 20 * X[moved, 0]
    path = write_table(tmp_path / "rows.h5", X, y)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", model, "--lr", "1e-30", "-q")
    assert code == 0
    found = re.match(r"sgdcli: warning: the loss did not fall \(([\d.]+) where training started, ([\d.]+) at epoch 5\) "
                     r"at a rate of 1e-30, .*?; the model's mean loss on the run's sample of 4,096 rows, [\d.]+, is "
                     r"([\d.]+)% above the optimum's, .*: the model may be far from the optimum; raise --lr\n$", err)
    assert found is not None and found[1] == found[2] and float(found[3]) > 5, err


def test_a_poisson_run_at_a_rate_so_small_that_the_loss_did_not_fall_is_told_to_raise_it(tmp_path):
    """Poisson's bias starts at the log of the mean count, far below the all-zero model's loss, from which its
    pace was read: at --lr 1e-30 nothing was said.  Its deviance (poissonfit.py) puts the optimum far below."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20_000, 8)).astype(np.float32)
    path = write_table(tmp_path / "counts.h5", X, rng.poisson(np.exp(0.3 * X @ rng.standard_normal(8) + 1.0)))
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "poisson", "--lr", "1e-30", "-q")
    assert code == 0
    found = re.match(r"sgdcli: warning: the loss did not fall \((\S+) where training started, (\S+) at epoch 5\) "
                     r"at a rate of 1e-30, .*?; the model's mean deviance on the run's sample of 4,096 rows, [\d.]+, "
                     r"is ([\d.]+)% above the optimum's, .*: the model may be far from the optimum; raise --lr\n$", err)
    assert found is not None and found[1] == found[2] and float(found[3]) > 100, err


def test_a_slow_rate_still_falling_within_rounding_of_the_optimum_is_not_told_to_raise_it(tmp_path):
    """Labels the features do not predict: at --lr 1e-6 the loss fell from log 2 by rounding-level steps, at
    its pace over the run, and the run was told "raise --lr or --epochs", where the optimum (fitted here) is
    within a thousandth of its loss.  A rate that leaves a predictive problem far still is told so."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 5)).astype(np.float32)
    noise = write_table(tmp_path / "noise.h5", X, (rng.random(20_000) < 0.5).astype(np.float32))
    m = train(noise, TrainOptions(lr=1e-6, epochs=5))
    Z = np.column_stack([(X - X.mean(0)) / X.std(0), np.ones(len(X))]).astype(np.float64)
    with h5py.File(noise) as f:
        y = f["y"][()].astype(np.float64)
    w = np.zeros(6)
    for _ in range(20):  # Newton's method on the mean log loss: the optimum of these rows
        p = 1 / (1 + np.exp(-Z @ w))
        w -= np.linalg.solve((Z * (p * (1 - p))[:, None]).T @ Z / len(y), Z.T @ (p - y) / len(y))
    p = 1 / (1 + np.exp(-Z @ w))
    best = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert m.history[-1]["train_loss"] < m.history[1]["train_loss"] < (1 + 1e-3) * best  # still falling, near
    assert "warnings" not in m.training
    code, _, err = cli("train", noise, "-o", tmp_path / "m.h5", "--lr", "1e-6", "-q")
    assert (code, err) == (0, "")
    X, y = make_problem("binary", n=20_000, d=5, seed=2)
    signal = write_table(tmp_path / "signal.h5", X, y)
    code, _, err = cli("train", signal, "-o", tmp_path / "m.h5", "--lr", "1e-6", "-q")
    assert code == 0 and err.startswith("sgdcli: warning: the loss was still falling (") and err.rstrip().endswith(
        "may be far from the optimum; raise --lr or --epochs"), err


def test_a_run_of_auto_rate_halved_after_blow_ups_whose_loss_still_falls_is_told_so(tmp_path, monkeypatch):
    """Poisson counts with means from about 0.01 to 1,000, at --lr auto's rate times 2^8 (poisson's own rate
    halved 6 times on these counts, before its curvature counted each row's count): it blows up and halves its
    rate until it trains, and the rate left is too small for 5 epochs; nothing said so."""
    from sgdcli.training import rate

    real = rate.auto_rate
    monkeypatch.setattr("sgdcli.training.runrate.auto_rate",
                        lambda *args, **kw: dataclasses.replace(chosen := real(*args, **kw), lr=chosen.lr * 2**8))
    rng = np.random.default_rng(41)
    X = rng.normal(size=(5000, 8)).astype(np.float32)
    y = rng.poisson(np.exp(X @ (rng.normal(size=8) * 0.9))).astype(float)
    path = write_table(tmp_path / "p.h5", X, y)
    with pytest.warns(FitWarning):
        m = train(path, TrainOptions(model="poisson"))
    halvings = m.training["lr_auto"]["halvings"]
    assert halvings >= 5  # under SLOW_RATE of --lr auto's
    share, since = end_pace(m.history, False, m.history[0]["train_loss"])  # poisson's start: its first epoch
    assert share >= PACE
    assert m.training["warnings"] == [
        f"the loss was still falling ({m.history[since - 1]['train_loss']:.4g} at epoch {since}, "
        f"{m.history[-1]['train_loss']:.4g} at epoch 5; per unit of learning rate, at {share:.0%} of its pace over "
        f"the whole run) at --lr auto's rate halved {halvings} times after blow-ups, {m.training['lr']:.4g}: the "
        "model may be far from the optimum; raise --epochs"]


def test_a_mini_batch_runs_pace_is_measured_from_the_loss_it_started_at(monkeypatch):
    """A fresh logistic model starts with its bias at the labels' log-odds, whose loss (run.start_loss) on 5%
    positives is far below the all-zero model's log 2: measured from log 2, the whole run's pace counted a fall
    training never made, and a loss still falling at the end at over PACE of its real pace was not told."""
    from types import SimpleNamespace

    from sgdcli.training import fitwarnings

    rates = 0.001 * np.array(_cosine(6))  # an explicit rate far under --lr auto's 1 (SLOW_RATE)
    mean_rate = (np.concatenate([rates[:1], rates[:-1]]) + rates) / 2
    time = np.cumsum(mean_rate * 100) - mean_rate * 100 / 2
    start = -(0.05 * math.log(0.05) + 0.95 * math.log(0.95))  # the best constant model's loss: the bias's start
    losses = start - 0.1 * time  # falling as fast, per unit of rate, at the end as from the start
    history = _history(losses, rates, 100)
    assert end_pace(history, False, math.log(2))[0] < PACE <= end_pace(history, False, start)[0]
    monkeypatch.setattr(fitwarnings.runrate, "compared", lambda run: SimpleNamespace(lr=1.0))
    run = SimpleNamespace(stopper=None, batch=32, n_train=3200, shards=1, lr=0.001, history=history, auto=None,
                          zero_loss=math.log(2), start_loss=start, rate_opts=SimpleNamespace(lr=0.001), init=None,
                          opts=SimpleNamespace(model="logistic"))
    assert [text.split(": ")[-1] for text in fitwarnings._still_falling(run, lambda: None)] == [  # no fit measured
        "the model may be far from the optimum; raise --lr or --epochs"]


def test_a_warm_start_not_below_its_poor_start_is_not_said_to_be_below_it(monkeypatch):
    """From an initial model above the all-zero model's loss, a kept model within the margin above it (not worse
    than it started, by warmend.WORSE) was said to be "below" it."""
    from types import SimpleNamespace

    from sgdcli.training import endedworse, warmend

    run = SimpleNamespace(history=[{}], init=SimpleNamespace(path="poor.h5"), auto=object(),
                          rate_opts=SimpleNamespace(lr=0.1), opts=TrainOptions())
    for kept, near in ((0.92, "not far above"), (0.8, "below")):
        monkeypatch.setattr(warmend, "measure", lambda run, kept=kept: warmend.Ended(kept, 0.9, 0.6931, 4096))
        assert endedworse._worse_than_init(run) == [
            f"the model kept has a mean loss of {kept:.4g} on the run's sample of 4,096 rows, {near} the 0.9 of the "
            "model it started from (--init poor.h5) but above the all-zero model's 0.6931: the model may be far "
            "from the optimum; raise --epochs"]
    monkeypatch.setattr(warmend, "measure", lambda run: warmend.Ended(0.96, 0.9, 0.6931, 4096))  # 0.06 > 5% of 0.9
    assert endedworse._worse_than_init(run)[0].endswith("training ended worse than it started. The rate may be "
                                                        "too large: try --lr 0.01")


def _labels_about_a_million(path, rows=20000):
    """Features that explain most of labels about 1,000,000: the all-zero model's huber loss is thousands of times
    the least-squares fit's."""
    rng = np.random.default_rng(21)
    Z = rng.standard_normal((rows, 10)).astype(np.float32)
    y = 1e6 + Z.astype(np.float64) @ (rng.standard_normal(10) * 1000) + rng.standard_normal(rows) * 500
    return write_table(path, Z, y), Z.astype(np.float64), y


def _huber(r, eps=0.1):  # the model's loss (--epsilon's default), scikit-learn's
    a = np.abs(r)
    return float(np.mean(np.where(a <= eps, 0.5 * r * r, eps * a - 0.5 * eps * eps)))


def test_a_fresh_huber_run_that_ends_far_worse_than_its_fitted_start_is_told_so(tmp_path):
    """Huber starts at the least-squares fit of its sample, its bias at the residuals' median (training/start.py),
    whose loss no pass counts; it was held to the all-zero model's, 100,000 here, so a constant rate that left the
    model many times its start's loss said nothing.  It is held to its start on the run's sample now."""
    path, Z, y = _labels_about_a_million(tmp_path / "big.h5")
    A = np.c_[Z, np.ones(len(y))]
    fit = np.linalg.lstsq(A, y, rcond=None)[0]
    start = _huber(y - A @ fit - np.median(y - A @ fit))  # the start, as near as the whole file's fit puts it
    code, out, err = cli("train", path, "-o", tmp_path / "bad.h5", "--model", "huber", "--lr", "1e5", "--schedule",
                         "constant", "-q")
    from sgdcli import load_model

    bad = load_model(tmp_path / "bad.h5").raw_weights()[0]
    assert _huber(y - A @ bad) > 5 * start  # what the warning says is so: far worse than where it started
    assert code == 0 and re.fullmatch(
        r"sgdcli: warning: the model kept has a mean loss of [0-9.e+]+ on the run's sample of 4,096 rows, above "
        r"the [0-9.]+ of the model it started from \(the least-squares fit of its sample, its bias at the "
        r"residuals' median\): training ended worse than it started. The rate may be too large: try --lr auto, or a "
        r"tenth of this rate, --lr 1e\+04\n", err), err
    code, out, err = cli("train", path, "-o", tmp_path / "good.h5", "--model", "huber", "-q")
    good = load_model(tmp_path / "good.h5").raw_weights()[0]
    assert code == 0 and err == "" and _huber(y - A @ good) < 1.01 * start, err


def test_a_sparse_quantile_run_is_held_to_its_bias_at_the_labels_quantile(tmp_path):
    scipy_sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(2)
    # 3,000 columns against a batch's 288 nonzeros: too wide to centre, so no fit of the sample to start at
    M = scipy_sparse.random(20000, 3000, density=0.003, format="csr", dtype=np.float32, random_state=2)
    y = 1e4 + M @ rng.standard_normal(3000) * 100 + rng.standard_normal(20000) * 10
    with h5py.File(tmp_path / "s.h5", "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"] = M.data, M.indices, M.indptr
        g.attrs["shape"], g.attrs["encoding-type"] = M.shape, "csr_matrix"
        f["y"] = y
    code, out, err = cli("train", tmp_path / "s.h5", "-o", tmp_path / "m.h5", "--model", "quantile", "--quantile",
                         "0.9", "--lr", "1e4", "--schedule", "constant", "-q")
    assert code == 0 and ("of the model it started from (the best constant model, its bias at the labels' 0.9 "
                          "quantile): training ended worse than it started") in err, err


def test_labels_the_features_do_not_predict_are_not_told_to_lower_the_rate(tmp_path):
    """Each batch's loss is taken before its step, so on noise labels the last epoch's average stays above the
    loss of the model the run started from (the bias at the labels' log-odds) while the model kept is at it: the
    run was told it ended worse than it started and to lower the rate.  A rate too large still is."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((2000, 10)).astype(np.float32), rng.integers(0, 2, 2000).astype(np.float64)
    path = write_table(tmp_path / "noise.h5", X, y)
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "-q", "--metrics", tmp_path / "m.jsonl")
    p = y.mean()
    start = -(p * np.log(p) + (1 - p) * np.log(1 - p))  # the bias at the labels' log-odds: their entropy
    with open(tmp_path / "m.jsonl") as fh:
        last = [json.loads(line) for line in fh][-1]
    assert last["train_loss"] > 1.01 * start  # what the warning was told: the last epoch's average, above
    from sgdcli import load_model

    W = load_model(tmp_path / "m.h5").raw_weights()[0]
    s = X.astype(np.float64) @ W[:-1] + W[-1]
    kept = np.mean(np.logaddexp(0, s) - y * s)
    assert kept < 1.001 * start < last["train_loss"] / 1.01  # the model kept is within rounding of its start
    assert code == 0 and err == "", err
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "-q", "--lr", "30", "--schedule", "constant")
    assert code == 0 and "training ended worse than it started. Either the rate is too large" in err, err


def test_an_explicit_rate_too_large_is_told_so_though_its_kept_model_is_below_its_start(tmp_path):
    """1% positives: too few in the sample for a fit to judge the end.  At --lr 30 under the cosine the last steps
    bring the model kept below its start (the bias at the labels' log-odds) but far above the optimum; the
    epoch's average, far above the start, is what says the rate is too large."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((50000, 20)).astype(np.float32)
    score = X.astype(np.float64) @ (rng.standard_normal(20) * 0.5) - 6.2
    y = (rng.random(50000) < 1 / (1 + np.exp(-score))).astype(np.float64)
    path = write_table(tmp_path / "rare.h5", X, y)
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "-q", "--lr", "30")
    assert code == 0 and ("training ended worse than it started. Either the rate is too large (try --lr auto, or a "
                          "tenth of this rate, --lr 3)") in err, err


@pytest.mark.parametrize("model,args", [("quantile", []), ("quantile", ["--batch-size", "full"]),
                                        ("quantile", ["--batch-size", "1"]), ("quantile", ["--epochs", "1"]),
                                        ("linear", ["--batch-size", "full"])])
def test_labels_all_the_same_are_not_judged_by_their_rounding(tmp_path, model, args):
    """Labels all 3: every model ends within rounding of the constant, its loss some 1e-13 or less, which was
    told it ended worse than its start (3e-17: lower the rate) or 3e11 % above the optimum (1e-32)."""
    X = np.random.default_rng(0).standard_normal((300, 5)).astype(np.float32)
    path = write_table(tmp_path / "same.h5", X, np.full(300, 3.0))
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", model, "-q", *args)
    assert (code, err) == (0, "")
    assert float(re.search(r"train_loss (\S+)", out)[1]) < 1e-10
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "huber", "--lr", "1000", "--epochs", "1",
                         "-q")
    assert code == 0 and "training ended worse than it started" in err, err  # a loss far above rounding still is


def test_the_rounding_of_a_regressions_labels_is_the_loss_of_a_residual_at_rounding_of_their_size():
    from sgdcli.training.fullbatch import rounding

    labels, r = np.array([3.0, -4.0, np.nan]), 2.0**-32 * np.sqrt(12.5)  # the finite labels' root mean square
    assert rounding("linear", 0.0, labels, None) == pytest.approx(0.5 * r * r)
    assert rounding("quantile", 0.9, labels, None) == pytest.approx(0.9 * r)  # the larger side's slope
    assert rounding("huber", 0.1, labels, None) == pytest.approx(0.5 * r * r)  # within ε: squared
    assert rounding("logistic", 0.0, labels, None) == rounding("poisson", 0.0, labels, None) == 0.0


def test_a_robust_run_under_a_strong_l2_is_held_to_its_starts_objective(tmp_path):
    """Huber starts at least squares' fit, whose weights --l2 0.1 shrinks: the model kept has a larger mean loss
    than that start (0.36 against 0.14) and a smaller objective, and was told it ended worse than it started.  The
    objectives, penalty and all, are held against each other: a rate too large is still told, by its objective
    (the kept model's, computed here)."""
    rng = np.random.default_rng(7)
    X = (rng.standard_normal((20_000, 10)) * rng.uniform(0.5, 3, 10)).astype(np.float32)
    y = X @ rng.standard_normal(10) + rng.standard_t(2, 20_000) + 10
    path = write_table(tmp_path / "rows.h5", X, y)
    m = train(path, TrainOptions(model="huber", l2=0.1, threads=1))
    assert "warnings" not in m.training
    with pytest.warns(FitWarning):
        m = train(path, TrainOptions(model="huber", l2=0.01, lr=30, schedule="constant", threads=1))
    (text,) = m.training["warnings"]
    found = re.match(r"the model kept has an objective \(its mean loss and --l2's penalty\) of ([\d.]+) on the run's "
                     r"sample of 4,096 rows, above the ([\d.]+) of the model it started from \(the least-squares fit "
                     r"of its sample, its bias at the residuals' median\): training ended worse than it started", text)
    assert found is not None, text
    rows = sample_rows(path)
    W = m.raw_weights()[0]
    u = y[rows] - (X[rows].astype(np.float64) @ W[:-1] + W[-1])
    loss = np.mean(np.where(np.abs(u) <= 0.1, 0.5 * u * u, 0.1 * np.abs(u) - 0.005))
    standardized = W[:-1] * X.astype(np.float64).std(axis=0)  # the weights as the kernels step them
    assert float(found[1]) == pytest.approx(loss + 0.005 * np.sum(standardized**2), rel=1e-3)
    assert float(found[1]) > float(found[2])


def test_a_model_a_hundred_times_the_optimums_loss_or_more_is_told_in_times():
    """Labels all 3 at --lr 1000: 0.79 against an optimum of 4.5e-20 read 1756348063086433271808% above it."""
    from sgdcli.training.fullbatch import measured

    assert ", 0.7904, is 1.76e+19 times the optimum's, estimated" in measured(0.7904, 4.5e-20, 300)
    assert ", 0.2, is 100% above the optimum's, estimated" in measured(0.2, 0.1, 300)


def test_a_model_under_ten_percent_above_the_optimum_is_told_to_a_tenth_of_a_percent():
    """NEAR is 5%: a model 5.15% above read "5% above", against that line; 10% and more stay whole percents."""
    from sgdcli.training.fullbatch import NEAR, above

    assert NEAR == 0.05
    assert above(1.0515, 1.0) == "5.2% above"
    assert above(1.004, 1.0) == "0.4% above"
    assert above(1.0949, 1.0) == "9.5% above"
    assert above(1.097, 1.0) == "9.7% above"
    assert above(1.0996, 1.0) == "10% above"  # (not "10.0%")
    assert above(1.104, 1.0) == "10% above"
    assert above(1.26, 1.0) == "26% above"
