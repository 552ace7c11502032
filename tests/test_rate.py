"""--lr auto: the rate from the data's curvature, its log and record, and the restart at half the rate."""

import warnings

import numpy as np
import pytest

from sgdcli import evaluate, train
from sgdcli.data.table import Table
from sgdcli.options import TrainOptions
from sgdcli.training import curvature, decayingrate, rate, sampling
from sgdcli.training.progress import end_pace
from sgdcli.training.runlog import FitWarning

import naive
from conftest import cli, make_problem, short_fits, write_table


@pytest.mark.parametrize("model,optimizer,batch,l2", [("logistic", "sgd", 32, 0.0), ("linear", "momentum", 8, 0.0),
                                                      ("softmax", "sgd", 256, 0.0), ("logistic", "nesterov", 32, 5.0)])
@short_fits
def test_the_rate_is_one_over_the_curvature_of_the_sampled_rows(tmp_path, model, optimizer, batch, l2):
    """4,096 rows: the sample is every row (16 runs of 256), so the rate is computed here from the whole file.
    Momentum's noise term counts the 1/(1 − β) batches whose steps it sums; --l2 adds to every weight's
    curvature (without it, --l2 5 blew up and restarted twice)."""
    task = {"logistic": "binary", "linear": "regression", "softmax": "multiclass"}[model]
    X, y = make_problem(task, n=4096, d=6, seed=3)
    X[:, 2] *= 100.0  # one feature on another scale: standardization takes it out
    path = write_table(tmp_path / "d.h5", X, y)
    m = train(path, TrainOptions(model=model, optimizer=optimizer, batch_size=batch, lr="auto", standardize=True,
                                 epochs=1, l2=l2))
    Z = np.column_stack([(X.astype(np.float64) - m.center) / m.scale, np.ones(len(X))])
    C = Z.T @ Z / len(Z)
    batches = batch * (1 - 0.9) if optimizer in ("momentum", "nesterov") else batch
    expected = 1.0 / (curvature.CURVATURE[model] * (np.linalg.eigvalsh(C)[-1] + np.trace(C) / batches) + l2)
    auto = m.training["lr_auto"]
    if np.isfinite(auto["distance"]):  # nearly separable under cosine: the balance, up to 1/L (decayingrate.py)
        steps = (1 - 0.9 if optimizer in ("momentum", "nesterov") else 1.0) * decayingrate.BALANCE
        balance = steps * auto["distance"] * np.sqrt(batch / (auto["fit_noise"] * auto["updates"]))
        assert balance > expected and auto["balanced"] == pytest.approx(balance, rel=1e-12)
        expected = min(balance, 1.0 / (curvature.CURVATURE[model] * np.linalg.eigvalsh(C)[-1] + l2))
    assert m.training["lr"] == pytest.approx(expected, rel=1e-9)
    assert auto["rows"] == 4096 and auto["halvings"] == 0
    assert auto["lambda_max"] == pytest.approx(np.linalg.eigvalsh(C)[-1], rel=1e-9)
    assert m.options["lr"] == "auto"
    # the bias, which --l2 does not penalize, steps at the rate without it (training/biasrate.py)
    assert auto["bias_times"] == pytest.approx(1.0 + l2 * expected / (1.0 - l2 * expected), rel=1e-9)
    assert l2 or auto["bias_times"] == 1.0


@short_fits  # two epochs
@pytest.mark.parametrize("model,optimizer", [("logistic", "adam"), ("linear", "adam"), ("linear", "rmsprop"),
                                             ("softmax", "adagrad")])
def test_adaptive_optimizers_step_by_the_scale_of_the_weights_sought(tmp_path, model, optimizer):
    """Adam, rmsprop and adagrad step each weight by about the rate: their auto rate is a fixed step per
    optimizer, times the labels' root mean square about where the bias starts, their mean, for squared error
    (every row sampled here; about 0, a label's offset made a rate that threw the weights off), and for
    classifiers times the size of the weights a fit of the sample finds where that is over 1
    (tests/test_adaptive_size.py)."""
    task = {"logistic": "binary", "linear": "regression", "softmax": "multiclass"}[model]
    X, y = make_problem(task, n=4096, d=6, seed=3)
    if model == "linear":
        y = 50.0 + 20.0 * y  # labels far from unit scale
    path = write_table(tmp_path / "d.h5", X, y)
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", model, "--optimizer", optimizer,
                         "--epochs", "2")
    assert code == 0, err
    scale = np.std(y.astype(np.float64)) if model == "linear" else 1.0
    expected = rate.ADAPTIVE[optimizer] * scale
    line = next(l for l in err.splitlines() if "--lr auto:" in l)
    assert f"{rate.ADAPTIVE[optimizer]:g}, {optimizer}'s step per weight" in line
    m = train(path, TrainOptions(model=model, optimizer=optimizer, epochs=2))
    assert m.training["lr"] == pytest.approx(expected * m.training["lr_auto"]["raised"], rel=1e-9)
    if model == "linear":
        assert m.history[-1]["train_loss"] < 0.05 * np.var(y)  # it got to the labels' scale in two epochs


@pytest.mark.parametrize("options", [{"optimizer": "adam", "batch_size": 1000},
                                     {"optimizer": "adagrad", "batch_size": 1000},
                                     {"average": True, "schedule": "constant"}])
def test_labels_far_from_zero_are_fitted_from_their_mean(tmp_path, options):
    """Labels about 1,000,000 of spread 3,000: from a bias of 0, adam's and adagrad's rate (the labels' root mean
    square about where the bias starts) was 100,000 and they ended at r² −5 and −1,693, unwarned; --average kept
    the first iterates' bias, 140 times the optimum's loss.  From the labels' mean, each ends near least squares."""
    rng = np.random.default_rng(21)
    X = rng.standard_normal((20000, 10)).astype(np.float32)
    y = 1e6 + X.astype(np.float64) @ (rng.standard_normal(10) * 1000) + rng.standard_normal(20000) * 500
    path = write_table(tmp_path / "far.h5", X, y)
    Z = np.column_stack([X.astype(np.float64), np.ones(len(X))])
    best = np.mean((Z @ np.linalg.lstsq(Z, y, rcond=None)[0] - y) ** 2)
    m = train(path, TrainOptions(model="linear", **options))
    assert evaluate(m, path)["mse"] < 1.01 * best and "warnings" not in m.training


def test_adaptive_rates_of_huber_and_quantile_measure_the_labels_from_where_the_bias_starts(tmp_path):
    """Their bias starts at the labels' median (quantile: the q-th quantile); the labels' root mean square about
    0 made adam's step a thousand times too long for targets about 1e6 (r2 below -5)."""
    X, y = make_problem("regression", n=6096, d=6, seed=2)
    y = 1e6 + 3.0 * y
    path, test = write_table(tmp_path / "far.h5", X[:4096], y[:4096]), write_table(tmp_path / "t.h5", X[4096:],
                                                                                  y[4096:])
    X, y = X[:4096], y[:4096]
    for model in ("huber", "quantile"):
        m = train(path, TrainOptions(model=model, optimizer="adam", epsilon=1.0))
        center = np.median(y)  # the whole file is the sample
        assert m.training["lr_auto"]["label_center"] == pytest.approx(center, abs=1.0)
        scale = np.sqrt(np.mean((y - m.training["lr_auto"]["label_center"]) ** 2))
        assert m.training["lr"] == pytest.approx(rate.ADAPTIVE["adam"] * scale, rel=1e-9)
        assert evaluate(m, test)["r2"] > 0.95


def test_adaptive_rates_shrink_with_the_rows_squared_norm(tmp_path):
    """Every weight moves by about the rate a step, so a row's score by about the rate times the root of its
    squared norm: at 500 features adam's rate, unshrunk, ended at twice least squares' test error."""
    rng = np.random.default_rng(0)
    n, d = 3000, 500
    X = rng.standard_normal((n + 2000, d)).astype(np.float32)
    y = X.astype(np.float64) @ rng.standard_normal(d) + rng.standard_normal(n + 2000)
    path, test = write_table(tmp_path / "w.h5", X[:n], y[:n]), write_table(tmp_path / "wt.h5", X[n:], y[n:])
    fit = np.linalg.lstsq(np.column_stack([X[:n], np.ones(n)]), y[:n], rcond=None)[0]
    least = np.mean((np.column_stack([X[n:], np.ones(2000)]) @ fit - y[n:]) ** 2)
    for optimizer in ("adam", "rmsprop"):
        m = train(path, TrainOptions(model="linear", optimizer=optimizer))
        with Table(path) as table:
            rows = np.concatenate([np.arange(a, b) for a, b in sampling.sample_spans(table, sampling.DEFAULT_MEMORY)])
        Z = np.column_stack([(X[rows].astype(np.float64) - m.center) / m.scale, np.ones(len(rows))])
        trace = np.mean((Z**2).sum(axis=1))
        size = np.std(y[rows])  # about the bias's start, their mean
        width = np.sqrt(rate.WIDE_FROM_LABEL_SCALED / trace)
        assert m.training["lr"] == pytest.approx(rate.ADAPTIVE[optimizer] * size * width, rel=1e-9)
        assert m.training["lr_auto"]["width"] == pytest.approx(width, rel=1e-9)
        if optimizer == "adam":
            assert evaluate(m, test)["mse"] < 1.15 * least
    # adagrad's steps shrink by themselves, but the labels overstate each weight of a linear model as much
    assert train(path, TrainOptions(model="linear", optimizer="adagrad")).training["lr_auto"]["width"] < 1


def test_adaptive_rates_of_classifiers_follow_the_rows_norms_and_the_updates(tmp_path):
    """Adam's and rmsprop's steps follow the signs of the batch's gradient, which follow the batch's own rows, so a
    step moves their scores by about the rate times the sum of their absolute values: at √(65 / trace), adam's
    rate on 400 features ended 10% above the test log loss of a rate 13 times smaller.  Their rate is now REACH /
    (norm1 × √updates), adagrad's shrinks by √(65 / trace), and each sits within 1% of the best of three times
    larger and three times smaller; on raw features of scale 1000 too (a rule on the squared norm made adam's
    rate a thousand times too small there, its model little better than the constant one)."""
    rng = np.random.default_rng(0)
    n, d = 4000, 400
    X = rng.standard_normal((2 * n, d)).astype(np.float32)
    y = (X @ (rng.standard_normal(d) * 2 / np.sqrt(d)) + rng.logistic(size=2 * n) > 0).astype(np.int64)
    path, test = write_table(tmp_path / "w.h5", X[:n], y[:n]), write_table(tmp_path / "t.h5", X[n:], y[n:])
    with Table(path) as table:
        rows = np.concatenate([np.arange(a, b) for a, b in sampling.sample_spans(table, sampling.DEFAULT_MEMORY)])
    for optimizer in ("adam", "rmsprop", "adagrad"):
        m = train(path, TrainOptions(optimizer=optimizer))
        Z = np.column_stack([(X[rows].astype(np.float64) - m.center) / m.scale, np.ones(len(rows))])
        trace, norm1 = np.mean((Z**2).sum(axis=1)), np.mean(np.abs(Z).sum(axis=1))
        updates = TrainOptions().epochs * m.training["iterations_per_epoch"]
        want = (rate.REACH[optimizer] / (norm1 * np.sqrt(updates)) if optimizer in rate.REACH else
                rate.ADAPTIVE[optimizer] * np.sqrt(rate.WIDE_FROM / trace))
        assert m.training["lr"] == pytest.approx(want, rel=1e-9)
        loss = {f: evaluate(train(path, TrainOptions(optimizer=optimizer, lr=m.training["lr"] * f)), test)["log_loss"]
                for f in (3.0, 1 / 3)}
        assert evaluate(m, test)["log_loss"] < 1.01 * min(loss.values()), (optimizer, loss)
        if optimizer == "adam":
            before = train(path, TrainOptions(optimizer="adam",
                                              lr=rate.ADAPTIVE["adam"] * np.sqrt(rate.WIDE_FROM / trace)))
            assert evaluate(before, test)["log_loss"] > 1.1 * evaluate(m, test)["log_loss"]
    X = 1000 * X[:, :20]  # raw features of scale 1000, trained on as they are
    y = (X @ (rng.standard_normal(20) * 2 / np.sqrt(20)) / 1000 + rng.logistic(size=2 * n) > 0).astype(np.int64)
    path, test = write_table(tmp_path / "r.h5", X[:n], y[:n]), write_table(tmp_path / "rt.h5", X[n:], y[n:])
    for optimizer in ("adam", "rmsprop"):
        m = train(path, TrainOptions(optimizer=optimizer, standardize=False))
        loss = {f: evaluate(train(path, TrainOptions(optimizer=optimizer, standardize=False,
                                                     lr=m.training["lr"] * f)), test)["log_loss"] for f in (3.0, 1 / 3)}
        assert evaluate(m, test)["log_loss"] < 1.02 * min(loss.values()), (optimizer, loss)


def test_power_iteration_finds_the_largest_eigenvalue():
    Z = np.random.default_rng(0).standard_normal((500, 40)) * np.linspace(0.1, 3.0, 40)
    exact = np.linalg.eigvalsh(Z.T @ Z / 500)[-1]
    assert rate.largest_eigenvalue(Z) == pytest.approx(exact, rel=1e-12)  # eigendecomposition up to EXACT_UP_TO
    old = curvature.EXACT_UP_TO
    try:
        curvature.EXACT_UP_TO = 10
        assert rate.largest_eigenvalue(Z) == pytest.approx(exact, rel=1e-6)
    finally:
        curvature.EXACT_UP_TO = old


@short_fits
def test_the_choice_is_logged_and_gets_far_in_one_short_epoch(tmp_path):
    """2,000 rows, 63 steps: plain SGD at 0.01 (the defaults before issue 16) has barely moved the model; the
    defaults (--lr auto, nesterov, cosine, standardized) fit it."""
    X, y = make_problem("binary", n=2000, d=8, seed=4)
    X = X * np.logspace(-2, 2, 8).astype(np.float32)  # features on scales from 0.01 to 100
    path = write_table(tmp_path / "d.h5", X, y)
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--epochs", "1")
    assert code == 0, err
    line = next(l for l in err.splitlines() if "--lr auto:" in l)
    assert " = 1 / (0.25 × (" in line and "rows, logistic's curvature bound 0.25" in line
    auto = train(path, TrainOptions(epochs=1)).history[-1]["train_loss"]
    fixed = train(path, naive.options(standardize=True, epochs=1)).history[-1]["train_loss"]
    assert auto < 0.8 * fixed


def test_the_log_gives_the_bias_its_own_rate_under_l2(tmp_path):
    """--l2 slows the weights' rate, not the bias's: the log says how many times faster the bias steps, the rate
    without --l2's curvature over the rate with it."""
    X, y = make_problem("binary", n=4096, d=6, seed=3)
    path = write_table(tmp_path / "d.h5", X, y)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--epochs", "1", "--l2", "100", "--optimizer", "sgd")
    assert code == 0, err
    m = train(path, TrainOptions(epochs=1, l2=100.0, optimizer="sgd"))
    Z = np.column_stack([(X.astype(np.float64) - m.center) / m.scale, np.ones(len(X))])
    C = Z.T @ Z / len(Z)
    curvature_and_noise = 0.25 * (np.linalg.eigvalsh(C)[-1] + np.trace(C) / 32)
    times = (curvature_and_noise + 100.0) / curvature_and_noise
    assert m.training["lr_auto"]["bias_times"] == pytest.approx(times, rel=1e-9)
    line = next(line for line in err.splitlines() if "--lr auto:" in line)
    assert line.endswith(f"; the bias, which --l2 does not penalize, steps at {times:.4g} times the weights' rate, "
                         "the rate without --l2's curvature")
    code, _, err = cli("train", path, "-o", tmp_path / "m0.h5", "--epochs", "1", "--optimizer", "sgd")
    assert code == 0 and "the bias" not in next(line for line in err.splitlines() if "--lr auto:" in line)


def test_a_blow_up_starts_the_run_over_at_half_the_rate(tmp_path, monkeypatch):
    X, y = make_problem("regression", n=3000, d=5, seed=2)
    path = write_table(tmp_path / "d.h5", X, y)
    real = rate.auto_rate

    def too_fast(*args, **kw):  # 2^12 times the curvature's rate: diverges, then halves until it trains
        chosen = real(*args, **kw)
        return rate.AutoRate(chosen.lr * 2**12, chosen.lambda_max, chosen.trace, chosen.rows)

    monkeypatch.setattr("sgdcli.training.runrate.auto_rate", too_fast)
    monkeypatch.setattr("sgdcli.training.runrate.MAX_HALVINGS", 20)
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--lr", "auto", "--epochs", "2")
    assert code == 0, err
    restarts = [l for l in err.splitlines() if "starting over from epoch 1 at half the rate" in l]
    assert restarts and "--lr auto: training diverged in epoch" in restarts[0]
    m = train(path, TrainOptions(model="linear", lr="auto", epochs=2))
    assert m.training["lr_auto"]["halvings"] == len(restarts)
    assert m.training["lr"] == pytest.approx(m.training["lr_auto"]["lr"] / 2 ** len(restarts))
    assert len(m.history) == 2 and np.isfinite(m.history[-1]["train_loss"])


def test_checkpoint_every_counts_from_where_a_blown_up_run_starts_over(tmp_path, monkeypatch):
    """After a blow-up the run starts over from iteration 0, but --checkpoint-every still counted from the last
    checkpoint of the run that blew up: the restarted run saved none until its clock passed that iteration, so
    a stop then resumed from the checkpoint of a rate that blows up, and trained the halvings over again."""
    from sgdcli.training import checkpoint as ckpt_mod
    from sgdcli.training.control import RunControl

    X, y = make_problem("regression", n=3000, d=5, seed=2)
    path = write_table(tmp_path / "d.h5", X, y)
    real = rate.auto_rate

    def too_fast(*args, **kw):  # as above: diverges, then halves until it trains
        chosen = real(*args, **kw)
        return rate.AutoRate(chosen.lr * 2**12, chosen.lambda_max, chosen.trace, chosen.rows)

    monkeypatch.setattr("sgdcli.training.runrate.auto_rate", too_fast)
    monkeypatch.setattr("sgdcli.training.runrate.MAX_HALVINGS", 20)
    saved = []  # (halvings, epoch) of each checkpoint
    save = ckpt_mod.save

    def recorded(where, checkpoint, previous=True):
        saved.append((checkpoint.position.lr_halvings, checkpoint.position.epoch))
        return save(where, checkpoint, previous)

    monkeypatch.setattr(ckpt_mod, "save", recorded)
    m = train(path, TrainOptions(model="linear", lr="auto", epochs=2),
              control=RunControl(checkpoint=str(tmp_path / "c.ckpt"), checkpoint_every=1))
    halvings = m.training["lr_auto"]["halvings"]
    assert halvings > 0
    # from the first attempt that lived to a safe point (the first ones blow up within their first kernel call),
    # every attempt, the one that trained too, saved inside its first epoch, at the first safe point
    inside = sorted({h for h, epoch in saved if epoch == 0})
    assert len(inside) > 1 and inside == list(range(inside[0], halvings + 1)), saved


def test_an_explicit_rate_that_blows_up_still_stops_with_the_message(tmp_path):
    X, y = make_problem("regression", n=3000, d=5, seed=2)
    path = write_table(tmp_path / "d.h5", X * 100, y)
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--lr", "10")
    assert code == 1 and "training diverged in epoch 1" in err and "half the rate" not in err


@pytest.mark.parametrize("args,message", [
    (["--lr", "fast"], "Invalid value for '--lr': 'fast' is neither a number nor 'auto'"),
    (["--lr", "0"], "--lr: must be a finite number > 0 or auto, got 0.0"),
])
def test_bad_rates_are_usage_errors(binary_file, tmp_path, args, message):
    code, out, err = cli("train", binary_file, "-o", tmp_path / "m.h5", *args)
    assert code == 2 and message in err, err


def test_a_loss_that_grows_without_overflowing_is_a_blow_up_too(tmp_path, monkeypatch):
    """At 3× the curvature's rate squared error grows by orders of magnitude an epoch and no value overflows:
    the epoch's mean loss, far above the all-zero model's, is what shows it."""
    X, y = make_problem("regression", n=3000, d=5, seed=2)
    path = write_table(tmp_path / "d.h5", X, y + 100.0)
    real = rate.auto_rate

    def three_times(*args, **kw):  # the curvature's rate for sgd at batch 32, which a constant schedule lowers
        chosen = real(*args, **kw)
        lr = 3 / (chosen.curvature * (chosen.lambda_max + chosen.trace / 32))
        return rate.AutoRate(lr, chosen.lambda_max, chosen.trace, chosen.rows)

    monkeypatch.setattr("sgdcli.training.runrate.auto_rate", three_times)
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--optimizer", "sgd",
                         "--schedule", "constant", "--epochs", "3")
    assert code == 0, err
    restart = next(l for l in err.splitlines() if "starting over from epoch 1" in l)
    assert "is over 100 times the all-zero model's" in restart
    m = train(path, TrainOptions(model="linear", epochs=3))
    zero = 0.5 * np.mean((y + 100.0) ** 2)
    assert m.training["zero_loss"] == pytest.approx(zero, rel=1e-12)  # over every training row
    assert m.history[-1]["train_loss"] < 0.01 * zero


def test_the_zero_model_loss_of_each_model():
    from sgdcli.kernels.losses import loss_of
    from sgdcli.model.zeroloss import ZeroLoss, constant

    labels = np.array([1.0, -3.0, 2.0])

    def zero(model, param=0.0):
        total = ZeroLoss()
        total.add(loss_of((model, param)), labels, None)
        return total.mean()

    assert zero("linear") == pytest.approx(0.5 * np.mean(labels**2))
    assert zero("huber", param=1.5) == pytest.approx(np.mean([0.5 * 1**2, 1.5 * 3 - 1.125, 1.5 * 2 - 1.125]))
    assert zero("quantile", param=0.9) == pytest.approx(np.mean([0.9, 0.1 * 3, 0.9 * 2]))
    assert zero("poisson") == pytest.approx(1.0)  # e^0 − y·0
    assert constant("logistic", 1) == pytest.approx(np.log(2))
    assert constant("softmax", 10) == pytest.approx(np.log(10))
    assert constant("hinge", 1) == constant("squared_hinge", 1) == constant("modified_huber", 1) == 1.0


def test_a_penalty_that_blows_the_loss_up_says_to_lower_the_rate_times_l2(binary_file, tmp_path):
    """The blow-up caught by the loss (not a non-finite weight) said only 'a smaller --lr', where the rate times
    --l2 over 1 is the cause, as the non-finite path says."""
    code, out, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "--lr", "1", "--l2", "5", "-q")
    assert code == 1 and out == ""
    assert err.startswith("sgdcli: error: training diverged in epoch 1: its mean loss ")
    assert err.endswith(" at learning rate 1; the rate times --l2 is 5, over 1, so the penalty's pull alone overshoots "
                        "zero at each step: lower --l2 or --lr until their product is well under 1\n")


def test_raw_features_that_blow_the_loss_up_at_an_explicit_rate_say_what_to_change(tmp_path):
    """Features from 0.001 to 4,000 at --lr 0.01: no value overflows, but the loss is thousands of times the
    all-zero model's; it exits 1 with the message, and --standardize --lr auto trains the same file.  The
    message's tenth of the rate blows up too, so it says the rate --lr auto chooses, which trains the raw rows."""
    X, y = make_problem("binary", n=5000, d=6, seed=1)
    X = X * np.array([1e-3, 1, 10, 100, 1000, 4000], dtype=np.float32)
    path = write_table(tmp_path / "raw.h5", X, y)
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--epochs", "3", "--lr", "0.01", "--optimizer", "sgd",
                         "--schedule", "constant", "--no-standardize")
    assert code == 1 and out == ""
    assert err.splitlines()[-1].startswith("sgdcli: error: training diverged in epoch 1: its mean loss ")
    said = err.splitlines()[-1]
    assert " is over 100 times the all-zero model's 0.6931 at learning rate 0.01; try a smaller --lr (e.g. 0.001), " \
           "standardized features (--standardize), or --lr auto (" in said and said.endswith(" here)"), said
    assert not (tmp_path / "m.h5").exists()
    for lr in ("0.001", said.rsplit("(", 1)[1].split()[0]):  # the tenth blows up; --lr auto's rate does not
        code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--epochs", "3", "--lr", lr, "--optimizer", "sgd",
                           "--schedule", "constant", "--no-standardize", "-q")
        assert code == (1 if lr == "0.001" else 0), err
    assert cli("train", path, "-o", tmp_path / "m.h5", "--epochs", "3")[0] == 0  # the defaults train it


@pytest.mark.parametrize("weighted,d", [(False, 3000), (True, 3000), (False, 1000)])
def test_the_sample_of_wide_rows_stays_within_memory(tmp_path, weighted, d):
    """2,000 rows of 3,000 features: the whole file is the sample where memory allows, and its float64 copies
    took 170 MB.  At --memory 4M the sample is as many rows as fit, read and standardized within that.  At
    1,000 features the eigendecomposition's d × d matrices (24 MB) do not fit either: power iteration then."""
    import tracemalloc

    from sgdcli.data.table import Table

    X, y = make_problem("binary", n=2000, d=d, seed=1)
    path = write_table(tmp_path / "wide.h5", X, y)
    memory = 4 << 20
    weigh = (lambda labels: np.where(labels > 0, 2.0, 0.5)) if weighted else None
    with Table(path) as table:
        rows = sampling.sample_size(table, memory)
        assert rows == memory // (sampling.DENSE_SAMPLE_BYTES * (d + 1))
        assert sampling.sample_size(table, 1 << 30) == min(4096, (1 << 30) // (sampling.DENSE_SAMPLE_BYTES * (d + 1)))
        rate.auto_rate(table, "logistic", np.zeros(d), np.ones(d), 32, "sgd", memory=1 << 20)  # imports
        tracemalloc.start()
        try:
            auto = rate.auto_rate(table, "logistic", np.zeros(d), np.ones(d), 32, "sgd", weigh=weigh,
                                  memory=memory)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        spans = sampling.sample_spans(table, memory)
        sampled = np.concatenate([np.arange(a, b) for a, b in spans])  # equal runs: up to 15 rows fewer
        assert len(spans) == sampling.SAMPLE_RUNS and rows - sampling.SAMPLE_RUNS < len(sampled) <= rows
        assert auto.rows == len(sampled) and peak <= memory + (1 << 18)
        Z = np.column_stack([X[sampled].astype(np.float64), np.ones(len(sampled))])
        if weighted:
            Z *= np.sqrt(weigh(y[sampled]))[:, None]
        assert auto.lambda_max == pytest.approx(rate.largest_eigenvalue(Z, memory), rel=1e-9)  # of the rows sampled
        if d <= curvature.EXACT_UP_TO:  # power iteration's answer is the eigendecomposition's, near enough for a rate
            assert auto.lambda_max == pytest.approx(np.linalg.eigvalsh(Z.T @ Z / len(Z))[-1], rel=0.05)


def test_a_model_that_ends_above_the_all_zero_models_loss_is_written_with_a_warning(tmp_path):
    """An epoch 2.8 times above the all-zero model's loss is no blow-up (rate.blew_up), yet training ended worse
    than it started: the run says so, with -q too, and why it may be; the model is written, its card keeps the
    warning, and the Python API raises it as a FitWarning."""
    from sgdcli.training.runlog import FitWarning

    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 300)).astype(np.float32)
    y = X.astype(np.float64) @ rng.standard_normal(300) + rng.standard_normal(1000)
    path = write_table(tmp_path / "w.h5", X, y)
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(model="linear", lr=0.045))
    zero = 0.5 * np.mean(y**2)  # the all-zero model's loss over every training row
    assert m.training["zero_loss"] == pytest.approx(zero, rel=1e-12)
    start = 0.5 * np.mean((y - y.mean()) ** 2)  # where it started: the bias at the labels' mean (every row sampled)
    loss = m.history[-1]["train_loss"]
    assert zero < loss < rate.BLOWN_UP * zero
    expected = (f"epoch 5's training loss, averaged over its batches as they were trained, {loss:.4g}, is above the "
                f"model's it started from (the bias at the labels' mean, the best constant model) {start:.4g}: "
                "training ended worse than it started. Either the rate is too large (try --lr auto, or a tenth of this "
                "rate, --lr 0.0045) or the features do not predict the label.")
    assert [str(w.message) for w in caught] == [expected] and m.training["warnings"] == [expected]
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--lr", "0.045", "-q")
    assert (code, err) == (0, f"sgdcli: warning: {expected}\n")
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear")
    assert code == 0 and "warning" not in err


def _warned(path, options):
    """``train(path, options)``, which warns each of the warnings its model records as a FitWarning, and nothing
    else."""
    with pytest.warns(FitWarning) as said:
        m = train(path, options)
    assert [(w.category, str(w.message)) for w in said] == [(FitWarning, text) for text in m.training["warnings"]]
    return m


def test_a_run_of_few_updates_whose_loss_still_fell_says_so(tmp_path):
    """Full batch, the default 5 epochs: 5 updates, the loss still falling.  A run of as few updates whose loss
    has stopped falling is not told to run longer."""
    X, y = make_problem("multiclass", n=400, d=8, k=10, seed=1)
    path = write_table(tmp_path / "s.h5", X, y)
    m = _warned(path, TrainOptions(model="softmax", batch_size="full"))
    first, last = m.history[2]["train_loss"], m.history[4]["train_loss"]
    assert first - last > 0.01 * first
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "softmax", "--batch-size", "full", "-q")
    assert (code, err) == (0, "sgdcli: warning: only 5 updates in all (5 epochs × 1 iteration of batch 400), "
                              f"and the loss was still falling ({first:.4g} at epoch 3, {last:.4g} at epoch 5): the "
                              "model may be far from the optimum; lower --batch-size or raise --epochs\n")
    X, y = make_problem("binary", n=200, d=5, seed=1)  # well conditioned: 5 steps of gradient descent suffice
    path = write_table(tmp_path / "b.h5", X, y)
    m = train(path, TrainOptions(batch_size="full"))
    first, last = m.history[2]["train_loss"], m.history[4]["train_loss"]
    assert first - last <= 0.01 * first and "warnings" not in m.training
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--batch-size", "full", "-q")
    assert (code, err) == (0, "")
    # one epoch cannot tell, but one from the fit of its sample (training/start.py) started near the optimum
    m = train(path, TrainOptions(batch_size="full", epochs=1))
    assert "warnings" not in m.training


def test_an_explicit_rate_far_below_the_auto_rate_whose_loss_still_fell_says_so(tmp_path):
    """A thousandth of --lr auto's rate: the loss still falls in the last epochs, the run says so, with the rate
    --lr auto would have taken.  A tenth of it, whose loss also still falls (the noise of larger steps, decaying
    under the schedule), ends as good as --lr auto and is not told anything, nor is a run at --lr auto."""
    X, y = make_problem("binary", n=4000, d=10, seed=3)
    path = write_table(tmp_path / "b.h5", X, y)
    m = train(path, TrainOptions())
    auto, best = m.training["lr_auto"]["lr"], evaluate(m, path)["log_loss"]
    assert "warnings" not in m.training
    m = _warned(path, TrainOptions(lr=auto / 1000))
    p = np.mean(y)  # the bias starts at the labels' log-odds: the pace over the whole run is from that model's loss
    share, since = end_pace(m.history, False, max(m.history[0]["train_loss"], -p * np.log(p) - (1 - p) * np.log1p(-p)))
    first, last = m.history[since - 1]["train_loss"], m.history[4]["train_loss"]
    expected = (f"the loss was still falling ({first:.4g} at epoch {since}, {last:.4g} at epoch 5; per unit of "
                f"learning rate, at {share:.0%} of its pace over the whole run) at a rate of {auto / 1000:.4g}, 1e+03 "
                f"times smaller than the {auto:.4g} that --lr auto chooses here: the model may be far from the "
                "optimum; raise --lr or --epochs")
    assert m.training["warnings"] == [expected]
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--lr", repr(auto / 1000), "-q")
    assert (code, err) == (0, f"sgdcli: warning: {expected}\n")
    m = train(path, TrainOptions(lr=auto / 10))
    assert m.history[2]["train_loss"] > m.history[4]["train_loss"] and "warnings" not in m.training
    assert evaluate(m, path)["log_loss"] < 1.01 * best


def test_heavy_tailed_labels_do_not_make_a_falling_loss_look_above_the_start(tmp_path, no_fit_start):
    """Student-t labels of 2 degrees of freedom: the sample's all-zero loss was 7.96 where the file's is 9.76, and
    a run whose loss fell from 9.76 to 8.53 was told it ended worse than it started.  The all-zero loss, and the
    loss of the model a run starts from (the bias at the sample's mean), are the file's, summed in the label
    pass; a full batch's first epoch (not from the fit of its sample) is the start itself."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20000, 5)).astype(np.float32)
    y = X @ np.ones(5) + rng.standard_t(2, size=20000) + 3
    path = write_table(tmp_path / "heavy.h5", X, y)
    m = _warned(path, TrainOptions(model="linear", lr=1e-5))
    with Table(path) as table:
        labels = sampling.sample_labels(table)
    sample_start = 0.5 * np.mean((labels - labels.mean()) ** 2)
    start = 0.5 * np.mean((y - labels.mean()) ** 2)
    assert m.training["zero_loss"] == pytest.approx(np.mean(y**2) / 2, rel=1e-12)
    assert m.history[-1]["train_loss"] > 1.01 * sample_start and m.history[-1]["train_loss"] < start
    assert [w.split(" (")[0] for w in m.training["warnings"]] == ["the loss was still falling"]  # at 1e-5: slow
    m = _warned(path, TrainOptions(model="linear", batch_size="full", epochs=1))
    assert [w.split(" in all")[0] for w in m.training["warnings"]] == ["only 1 update"]


def test_the_few_updates_warning_counts_the_updates_made_by_threads_that_average(tmp_path, no_fit_start):
    """With T threads it counted T × ceil(ceil(rows / T) / batch) an epoch, the bound: a 1-row file on 2 threads
    made 1 update an epoch, not 2, and 3 rows make 2 + 1, not 2 × 2; and a full batch is each thread's share, not
    the whole file's rows (from 0: from the fit of its sample, its loss hardly falls)."""
    X, y = make_problem("regression", n=3, d=2, seed=1)
    one = write_table(tmp_path / "one.h5", X[:1], y[:1])
    m = train(one, TrainOptions(model="linear", batch_size=1, epochs=2, threads=2, parallel="average"))
    assert [r["iterations"] for r in m.history] == [1, 1]  # (from its label, the bias's start, nothing to learn)
    three = write_table(tmp_path / "three.h5", X, y)
    m = _warned(three, TrainOptions(model="linear", batch_size=1, epochs=2, threads=2, parallel="average"))
    assert [r["iterations"] for r in m.history] == [3, 3]
    assert m.training["warnings"][0].startswith("only 6 updates in all (2 epochs × 3 iterations of batch 1), ")
    X, y = make_problem("multiclass", n=3000, d=8, k=10, seed=1)
    path = write_table(tmp_path / "s.h5", X, y)
    m = _warned(path, TrainOptions(model="softmax", batch_size="full", epochs=3, threads=2, parallel="average"))
    assert [r["iterations"] for r in m.history] == [2, 2, 2]
    assert m.training["warnings"][0].startswith("only 6 updates in all (3 epochs × 2 iterations of a thread's whole "
                                                "share of the rows, about 1500), ")


@pytest.mark.parametrize("schedule,epochs", [("constant", 5), ("step", 5), ("step", 12)])
def test_a_schedule_that_does_not_decay_counts_the_noise_it_keeps(tmp_path, schedule, epochs):
    """A constant rate keeps the batches' noise to the end: the cosine's rate reused there ended logistic 32%
    above the optimum and worse than the all-zero model.  The noise term counts √T times (T the run's updates)
    at the rate the schedule ends at (step: × γ for each phase before its last), and the run ends near the
    optimum (scikit-learn's, on the same standardized rows)."""
    from sklearn.linear_model import LogisticRegression

    X, y = make_problem("binary", n=4096, d=10, seed=5, noise=2.0)
    path = write_table(tmp_path / "d.h5", X, y)
    m = train(path, TrainOptions(schedule=schedule, epochs=epochs))
    auto = m.training["lr_auto"]
    Z = np.column_stack([(X.astype(np.float64) - m.center) / m.scale, np.ones(len(X))])
    C, batches, updates = Z.T @ Z / len(Z), 32 * (1 - 0.9), epochs * 128
    lam, trace = np.linalg.eigvalsh(C)[-1], np.trace(C)
    ends_at = 1.0 if schedule == "constant" else 0.1 ** ((epochs - 1) // 10)
    expected = min(1 / (0.25 * (lam + trace / batches)),
                   1 / (0.25 * (lam + np.sqrt(updates) * trace / batches)) / ends_at)
    assert expected < 1 / (0.25 * (lam + trace / batches)) / 2  # the cosine's rate, twice over and more
    assert m.training["lr"] == auto["lr"] == pytest.approx(expected, rel=1e-9)
    best = LogisticRegression(C=1e8, tol=1e-12, max_iter=10_000).fit(Z[:, :-1], y)
    optimum = -np.mean(np.log(best.predict_proba(Z[:, :-1])[np.arange(len(y)), y]))
    assert evaluate(m, path)["log_loss"] < 1.02 * optimum


@pytest.mark.parametrize("optimizer,schedule,l2", [("nesterov", "constant", 0.0), ("sgd", "cosine", 0.0),
                                                   ("momentum", "step", 0.0), ("nesterov", "constant", 0.05)])
@short_fits
def test_a_full_batch_has_no_noise_term_and_takes_one_over_l(tmp_path, optimizer, schedule, l2):
    """Every step on every row: the gradient is exact, so --lr auto is 1/L (with --l2's curvature), whatever the
    schedule and the momentum (heavy ball is stable up to 2(1 + β)/L, nesterov up to 2(1 + β)/((1 + 2β)L)).  It
    added the mini-batch noise term trace / (n·(1 − β)), √T times over under constant: a third of 1/L, and a
    model 12% above the least-squares optimum after 60 epochs, where 1/L ends 3% above it."""
    rng = np.random.default_rng(1)
    n, d = 256, 30  # the sample is every row
    X = (rng.standard_normal((n, d)) @ (rng.standard_normal((d, d)) * 0.3 + np.eye(d))).astype(np.float32)
    y = X @ rng.standard_normal(d) + rng.standard_normal(n)
    path = write_table(tmp_path / "fb.h5", X, y)
    m = train(path, TrainOptions(model="linear", batch_size="full", optimizer=optimizer, schedule=schedule,
                                 epochs=60, l2=l2))
    Z = np.column_stack([(X.astype(np.float64) - m.center) / m.scale, np.ones(n)])
    L = np.linalg.eigvalsh(Z.T @ Z / n)[-1]
    assert m.training["lr"] == pytest.approx(1 / (L + l2), rel=1e-9)
    assert m.training["lr_auto"]["full"] is True
    if l2 == 0 and schedule == "constant":  # the least-squares optimum on the rows as the model sees them
        optimum = 0.5 * np.mean((Z @ np.linalg.lstsq(Z, y, rcond=None)[0] - y) ** 2)
        assert m.history[-1]["train_loss"] < 1.02 * optimum
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--batch-size", "full",
                         "--optimizer", optimizer, "--schedule", schedule, "--epochs", "60", "--l2", str(l2))
    assert code == 0, err
    line = next(l for l in err.splitlines() if "--lr auto:" in l)
    assert (f"--lr auto: {1 / (L + l2):.4g} = 1 / (1 × {L:.4g}" + (f" + {l2:g}" if l2 else "") + "): 1/L, for a "
            "full batch, whose gradient has no noise; ") in line


def test_poisson_weighs_each_sampled_row_by_its_count_where_counts_grow_with_the_features(tmp_path):
    """Counts exp(A·x0 + 0.3·x1): the curvature Σ μ_i z_i z_iᵀ / n is far above the mean count times that of
    the features where the counts grow with x0.  The mean count as the bound blew up and halved the rate 4 times
    at A = 2, and at A = 3, batch 256, after 5 halvings ended at 2,474 times the optimum's deviance, exit 0.
    Each sampled row now counts with its count (at least the mean count and 1), and a batch that holds the
    heaviest row may move its score by HEAVIEST_MOVE at most."""
    from sklearn.linear_model import PoissonRegressor
    from sklearn.metrics import mean_poisson_deviance

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 10)).astype(np.float32)
    for a, batch, within in ((2.0, 32, 1.01), (3.0, 256, 10.0)):
        y = rng.poisson(np.exp(a * X[:, 0] + 0.3 * X[:, 1])).astype(float)
        path = write_table(tmp_path / f"p{a:g}.h5", X, y)
        with warnings.catch_warnings(record=True) as caught:  # where it ends far, it is told (fitwarnings.py)
            warnings.simplefilter("always", FitWarning)
            m = train(path, TrainOptions(model="poisson", batch_size=batch))
        optimum = mean_poisson_deviance(y, PoissonRegressor(alpha=0, max_iter=1000).fit(X, y).predict(X))
        deviance = evaluate(m, path)["deviance"]
        assert deviance < within * optimum
        assert bool(caught) == (deviance > 1.05 * optimum)
        if a == 3.0:
            continue
        assert m.training["lr_auto"]["halvings"] == 0
        with Table(path) as table:
            sampled = np.concatenate([np.arange(s, e) for s, e in sampling.sample_spans(table, 256 << 20)])
        Z = np.column_stack([(X[sampled].astype(np.float64) - m.center) / m.scale, np.ones(len(sampled))])
        counts = np.maximum(y[sampled], max(1.0, y[sampled].mean()))
        terms = counts * np.einsum("ij,ij->i", Z, Z)
        lam = np.linalg.eigvalsh((Z * counts[:, None]).T @ Z / len(Z))[-1]
        noise = max(terms.mean() / (batch * 0.1), terms.max() / (rate.HEAVIEST_MOVE * batch * 0.1))
        assert m.training["lr"] == pytest.approx(1 / (lam + noise), rel=1e-9)
        import scipy.sparse

        from test_sparse import write_csr

        csr = write_csr(tmp_path / "csr.h5", scipy.sparse.csr_matrix(X), y)  # the same rows, raw: the same rate
        dense, sparse = (train(f, TrainOptions(model="poisson", standardize=False, epochs=1)).training["lr_auto"]
                         for f in (path, csr))
        assert sparse["trace"] == pytest.approx(dense["trace"], rel=1e-9)
        assert sparse["heaviest"] == pytest.approx(dense["heaviest"], rel=1e-9)
        assert sparse["lambda_max"] == pytest.approx(dense["lambda_max"], rel=1e-3)  # power iteration


def test_the_log_leaves_out_a_bias_rate_that_prints_as_the_weights():
    """A --l2 tiny beside the loss's curvature makes the bias's factor 1 to the log's four digits: the line does
    not say the bias steps at "1 times the weights' rate", as if it had a rate of its own."""
    from sgdcli.training import biasrate

    assert biasrate.times(1.0 / (0.3 + 1e-9), 1e-9, 0.25) != 1.0
    assert biasrate.text(biasrate.times(1.0 / (0.3 + 1e-9), 1e-9, 0.25)) == ""
    assert biasrate.text(1.0) == "" and "steps at 1.001 times" in biasrate.text(1.001)
