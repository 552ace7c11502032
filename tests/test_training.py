"""Training semantics: determinism, validation, early stopping, schedules, metrics, memory."""

import contextlib
import json
import math
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from sgdcli import evaluate, train
from sgdcli.model.metrics import BinaryMetrics, RegressionMetrics
from sgdcli.errors import InputError
from sgdcli.options import TrainOptions
from sgdcli.sizes import parse_size
from sgdcli.reporting.plain import PlainReporter
from sgdcli.kernels.schedules import lr_at
from sgdcli.kernels.state import kernel_config
from sgdcli.training.early_stopping import EarlyStopping, settled
from sgdcli.training.fullbatch import NEAR
from sgdcli.training.runlog import FitWarning

import naive
from test_convergence import logistic_objective, newton_logistic
from conftest import RSS_SAMPLER, cli, make_problem, run, run_process, short_fits, write_table
from sgdcli.cli.render import number as render_number


def model_contents(path, skip=("created", "history")):
    with h5py.File(path) as f:
        data = {}
        f.visititems(lambda name, obj: data.update({name: obj[()].tobytes()}) if isinstance(obj, h5py.Dataset)
                     else None)
        attrs = {k: v for k, v in f.attrs.items() if k not in skip}
        history = json.loads(f.attrs["history"])
    for rec in history:
        rec.pop("seconds"), rec.pop("rows_per_s")
    return data, attrs, history


@pytest.mark.parametrize("threads", ["1", "2"])
def test_same_seed_and_threads_give_byte_identical_models(tmp_path, threads):
    X, y = make_problem("multiclass", n=6000, d=8, k=3, seed=1)
    path = write_table(tmp_path / "d.h5", X, y, chunks=500)
    args = ["--model", "softmax", "--batch-size", "512", "--threads", threads, "--memory", "1M",
            "--val-fraction", "0.1", "--optimizer", "adam", "-q"]
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        run("train", path, "-o", tmp_path / f"{name}.h5", "--seed", seed, *args, check=True)
    assert model_contents(tmp_path / "a.h5") == model_contents(tmp_path / "b.h5")
    assert model_contents(tmp_path / "a.h5")[0] != model_contents(tmp_path / "c.h5")[0]


@short_fits
@pytest.mark.parametrize("threads", [1, 2])
def test_the_rows_of_a_kernel_call_change_a_model_only_in_its_last_bits(tmp_path, monkeypatch, threads):
    """SGDCLI_SLICE_ROWS (testhooks.py) moves the kernel calls' ends.  One inside a mini-batch adds that batch's
    sums in another order (the logistic loop takes rows in fours from a call's start; two threads split each
    call's rows of a batch between them), so the model may differ in its last bits, never more: the same rows
    in the same batches, the same updates, and the same model again at the same setting."""
    from sgdcli.engine import epoch

    X, y = make_problem("binary", n=10007, d=8, seed=5)
    path = write_table(tmp_path / "d.h5", X, y)
    opts = TrainOptions(batch_size=256, epochs=2, threads=threads, val_fraction=0.1)
    default = train(path, opts)
    monkeypatch.setattr(epoch, "SLICE_ROWS", 301)
    sliced, again = train(path, opts), train(path, opts)
    assert [(r["iterations"], r["rows"]) for r in sliced.history] == [
        (r["iterations"], r["rows"]) for r in default.history] == [(36, 9006)] * 2
    assert np.allclose(sliced.weights, default.weights, rtol=1e-12, atol=1e-15)
    assert np.allclose([r["train_loss"] for r in sliced.history], [r["train_loss"] for r in default.history],
                       rtol=1e-12, atol=0)
    assert sliced.weights.tobytes() == again.weights.tobytes()


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_the_same_command_in_other_processes_gives_the_same_model(tmp_path, sparse):
    """4-class softmax gave one of two models, differing in their last bits, about one run in three: which loop
    LLVM ran (vectorized or scalar, which round differently under fastmath reassoc) hung on where malloc had put
    the arrays the kernels write, and that differs from process to process, not between runs of one process
    (kernels/state.py: GUARD).  Eight processes: one kind of model in all, at the old rate, about one time in
    twenty."""
    X, y = make_problem("multiclass", n=3000, d=8, k=4, seed=5)
    if sparse:
        X[np.abs(X) < 0.5] = 0
    path = write_table(tmp_path / "d.h5", X, y)
    if sparse:
        sp = pytest.importorskip("scipy.sparse")
        from sklearn.datasets import dump_svmlight_file

        dump_svmlight_file(sp.csr_matrix(X), y, str(tmp_path / "d.svm"), zero_based=True)
        path = tmp_path / "s.h5"
        run_process("convert", tmp_path / "d.svm", "-o", path, "--zero-based", check=True)
    args = ["--model", "softmax", "--threads", "1", "--epochs", "2", "--optimizer", "adam", "-q"]
    for i in range(8):
        run_process("train", path, "-o", tmp_path / f"m{i}.h5", *args, check=True)
    first = model_contents(tmp_path / "m0.h5")
    assert all(model_contents(tmp_path / f"m{i}.h5") == first for i in range(1, 8))


@short_fits
def test_validation_file_and_early_stopping_keep_the_best_epoch(tmp_path):
    X, y = make_problem("binary", n=3000, d=5, seed=2)
    path = write_table(tmp_path / "train.h5", X, y)
    # a validation set whose labels are flipped gets worse as training improves
    Xv, yv = make_problem("binary", n=500, d=5, seed=2)
    vpath = write_table(tmp_path / "val.h5", Xv, 1 - yv, x="features", yname="labels")
    m = train(path, naive.options(val=vpath, val_x="features", val_y="labels", early_stopping=True, patience=2,
                                  epochs=20, lr=0.05))
    assert m.training["stopped_early"] and m.training["epochs_run"] == 3 and m.training["best_epoch"] == 1
    losses = [h["val_loss"] for h in m.history]
    assert losses[0] < losses[1] < losses[2]
    metrics = evaluate(m, vpath, x="features", y="labels")
    # the returned weights are those of epoch 1
    first = train(path, naive.options(epochs=1, lr=0.05))
    np.testing.assert_array_equal(m.weights, first.weights)
    assert metrics["log_loss"] == pytest.approx(m.history[0]["val_loss"])
    # the command prints the metrics of that epoch, which its gates check, not the last epoch's
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--val", vpath, "--val-x", "features", "--val-y",
                         "labels", "--early-stopping", "--patience", "2", "--epochs", "20", "--lr", "0.05",
                         "--optimizer", "sgd", "--schedule", "constant", "--no-standardize",
                         "--fail-over", f"loss={m.history[0]['val_loss'] * 1.0001}")
    lines = out.splitlines()
    assert code == 0 and lines[1] == "kept_epoch 1", out + err
    assert lines[3] == f"val_loss {render_number(m.history[0]['val_loss'])}", out


@short_fits
def test_patience_that_runs_out_on_the_last_epoch_is_no_early_stop(tmp_path):
    """A validation set whose loss rises every epoch, --patience 2 and --epochs 3: patience runs out on the last
    epoch, which the run made anyway. It kept epoch 1, and did not stop early: stopped_early was true, and the log
    said "early stopping after epoch 3", of a run that made every epoch it was given."""
    X, y = make_problem("binary", n=3000, d=5, seed=2)
    path = write_table(tmp_path / "train.h5", X, y)
    Xv, yv = make_problem("binary", n=500, d=5, seed=2)
    vpath = write_table(tmp_path / "val.h5", Xv, 1 - yv)
    args = ["--val", vpath, "--early-stopping", "--patience", "2", "--lr", "0.05", "--optimizer", "sgd", "--schedule",
            "constant"]
    for epochs, stopped in ((3, False), (4, True)):
        code, out, err = cli("train", path, "-o", tmp_path / f"m{epochs}.h5", "--epochs", str(epochs), *args)
        assert code == 0 and out.splitlines()[1] == "kept_epoch 1", out + err
        assert ("early stopping after epoch 3: no decrease of more than 0.0001 for 2 epochs; keeping epoch 1"
                in err) is stopped, err
        with h5py.File(tmp_path / f"m{epochs}.h5") as f:
            training = json.loads(f.attrs["training"])
        assert (training["epochs_run"], training["best_epoch"], training["stopped_early"]) == (3, 1, stopped)


def test_early_stopping_waits_for_the_cosine_to_decay(tmp_path):
    """50 epochs under the default cosine: the validation loss stopped falling at epoch 1, at the noise of a rate
    still near its peak, and early stopping ended the run at epoch 4 with a model 12% above least squares.
    Patience counts from the first epoch that ends at a twentieth of the peak rate (epoch 43 of 50), so the
    run stops no earlier than epoch 45 (patience 3)."""
    rng = np.random.default_rng(21)
    Z = rng.standard_normal((5000, 10))
    y = 1e6 + Z @ (rng.standard_normal(10) * 1000) + rng.standard_normal(5000) * 500
    path = write_table(tmp_path / "r.h5", Z.astype(np.float32), y)
    A = np.column_stack([Z.astype(np.float32).astype(np.float64), np.ones(len(y))])
    best = np.mean(0.5 * (A @ np.linalg.lstsq(A, y, rcond=None)[0] - y) ** 2)
    model = train(path, TrainOptions(model="linear", epochs=50, early_stopping=True, val_fraction=0.1, seed=1))
    W = model.raw_weights()
    assert len(model.history) >= 45 and np.mean(0.5 * (A @ W[0] - y) ** 2) < 1.01 * best


def test_early_stopping_without_validation_rows_keeps_a_late_epoch_of_a_mini_batch_run_under_l2(tmp_path):
    """Early stopping judges a mini-batch epoch's objective by its mean loss and its end's penalty: with the mean
    of its start's (zero weights) and its end's, a first epoch's objective was half its penalty low, below every
    later epoch's, and early stopping kept epoch 1 of logistic and softmax runs at --l2 0.01 (objective 0.240,
    against 0.232 at the last epoch)."""
    from sgdcli import generate

    path = tmp_path / "binary.h5"
    generate(path, task="binary", rows=20000, features=10)
    with h5py.File(path) as f:
        X, y = f["X"][:].astype(np.float64), f["y"][:].astype(np.float64)
    Z = np.column_stack([(X - X.mean(axis=0)) / X.std(axis=0), np.ones(len(y))])

    def objective(m):  # the mean logistic loss and --l2's penalty, in the standardized units the model keeps
        w = np.append(m.weights[0], m.bias[0])
        return float(np.mean(np.logaddexp(0, Z @ w) - y * (Z @ w))) + 0.005 * float(m.weights[0] @ m.weights[0])

    options = dict(model="logistic", l2=0.01, batch_size=64, epochs=12, threads=1)
    stopped = train(str(path), TrainOptions(**options, early_stopping=True))
    last = train(str(path), TrainOptions(**options))
    assert stopped.training["best_epoch"] > 1
    assert objective(stopped) < objective(last) + 1e-3


def test_full_batch_early_stopping_keeps_the_weights_whose_loss_it_judged_best(tmp_path, no_fit_start):
    """A full batch's epoch record gives the training loss of the weights the epoch started from: its one step
    comes after.  At a rate too large the loss rises and falls, and early stopping without validation rows kept
    the weights one step past those of its best record, whose loss the next record had measured higher (1.27
    against 0.507 here).  Where the last record is the best, the run keeps its last step, as one without early
    stopping does.  The epoch kept is far above the optimum, and the run is told to lower the rate it was given
    (stopchoice.loss_chose)."""
    X, y = make_problem("binary", n=2000, d=5, seed=0)
    path = write_table(tmp_path / "p.h5", X, y)

    def loss(m):  # the model's mean loss over every training row
        s = X.astype(np.float64) @ m.raw_weights()[0, :-1] + m.raw_weights()[0, -1]
        return float(np.mean(np.logaddexp(0, s) - y * s))

    Z = (X - X.mean(axis=0)) / X.std(axis=0, dtype=np.float64)
    optimum = logistic_objective(*newton_logistic(Z, y, 0.0), Z, y, 0.0)
    options = dict(model="logistic", batch_size="full", threads=1, schedule="constant", lr=20.0)
    for patience in (1000, 3):  # the run outlasts it; it stops the run
        with pytest.warns(FitWarning, match=r"the model may be far from the optimum, though no later epoch's training "
                                            r"loss was lower; .*, or use --lr auto \(the rate given, 20, is [\d.]+ "
                                            r"times the [\d.]+ that --lr auto chooses here\)$"):
            m = train(path, TrainOptions(**options, epochs=30, early_stopping=True, patience=patience, min_delta=0.0))
        losses = [r["train_loss"] for r in m.history]
        best = m.training["best_epoch"]
        assert losses[best - 1] == min(losses) and losses[best] > 1.5 * losses[best - 1]  # the next rose
        assert loss(m) == pytest.approx(losses[best - 1], rel=1e-9)
        assert loss(m) > (1 + NEAR) * optimum
    options.update(lr=1.0, epochs=5)  # a loss falling to the end
    stopped = train(path, TrainOptions(**options, early_stopping=True, patience=1000))
    assert stopped.training["best_epoch"] == 5
    np.testing.assert_array_equal(stopped.raw_weights(), train(path, TrainOptions(**options)).raw_weights())


def test_early_stopping_counts_no_patience_while_the_rate_is_near_its_peak():
    stopper = EarlyStopping(patience=1, min_delta=0.0)
    params = np.zeros((1, 3))
    assert not stopper.update(1.0, params, 1) and not stopper.update(2.0, params, 2, counts=False)
    assert (stopper.stale, stopper.best_epoch) == (0, 1)
    assert stopper.update(2.0, params, 3, counts=True) and stopper.best_epoch == 1


@pytest.mark.parametrize("schedule,epochs,first", [("cosine", 50, 43), ("cosine", 5, 5), ("step", 30, 21),
                                                   ("constant", 50, 1)])
def test_the_schedule_is_settled_from_a_twentieth_of_its_peak_rate(schedule, epochs, first):
    """The epochs whose end ``settled`` says count for early stopping's patience: cosine's from 0.05 of its
    peak (its last 14%), step's from its third phase (γ 0.1, 10 epochs each), a constant rate's all."""
    from sgdcli.kernels import state as ks
    from sgdcli.kernels.state import TrainState, kernel_config

    cfg = kernel_config(TrainOptions(schedule=schedule, lr=0.3, warmup_iterations=100), 32, 1, 100 * epochs)
    state = TrainState.zeros(1, 3)
    counted = []
    for epoch in range(epochs):
        state.counters[ks.T], state.counters[ks.EPOCH] = 100 * (epoch + 1), epoch
        counted.append(settled(cfg, state))
    assert counted == [e + 1 >= first for e in range(epochs)]


@pytest.mark.parametrize("standardize", [False, True])
def test_validation_fraction_loss_matches_evaluation_of_held_out_rows(tmp_path, standardize):
    from sgdcli.data.shuffle import validation_mask

    X, y = make_problem("binary", n=4000, d=5, seed=4)
    X[:, 1] = X[:, 1] * 30 + 7  # a feature far from standard, so a wrong fold shows
    path = write_table(tmp_path / "d.h5", X, y)
    # raw, that feature holds the run far from the optimum, and it is told so (training/unscaled.py)
    with contextlib.nullcontext() if standardize else pytest.warns(FitWarning, match="drop --no-standardize"):
        m = train(path, TrainOptions(val_fraction=0.3, seed=9, epochs=2, standardize=standardize))
    held = validation_mask(0, 4000, 0.3, 9)
    hpath = write_table(tmp_path / "held.h5", X[held], y[held])
    assert m.training["val_rows"] == held.sum()
    assert m.history[-1]["val_loss"] == pytest.approx(evaluate(m, hpath)["log_loss"], rel=1e-12)
    # and the log loss written out here, from the saved weights on the held-out rows
    Z = X[held].astype(np.float64)
    if standardize:
        Z = (Z - m.center) / m.scale
    else:
        assert m.center is None
    z = Z @ m.weights[0] + m.bias[0]
    assert m.history[-1]["val_loss"] == pytest.approx(np.mean(np.logaddexp(0.0, z) - y[held] * z), rel=1e-9)
    assert m.history[-1]["val_accuracy"] == pytest.approx(evaluate(m, hpath)["accuracy"])


def test_schedules():
    def cfg(schedule, warmup=0):
        opts = TrainOptions(schedule=schedule, lr=0.1, power_t=0.5, gamma=0.5, step_epochs=2, warmup_iterations=warmup)
        return kernel_config(opts, batch=1, threads=1, total_iterations=100)

    assert lr_at(cfg("constant"), 50, 3) == pytest.approx(0.1)
    assert lr_at(cfg("invscaling"), 3, 0) == pytest.approx(0.1 / 2)
    assert lr_at(cfg("step"), 0, 3) == pytest.approx(0.1 * 0.5)
    assert lr_at(cfg("step"), 0, 4) == pytest.approx(0.1 * 0.25)
    assert lr_at(cfg("cosine"), 0, 0) == pytest.approx(0.1)
    assert lr_at(cfg("cosine"), 50, 0) == pytest.approx(0.05)
    assert lr_at(cfg("cosine"), 100, 0) == pytest.approx(0.0)
    assert lr_at(cfg("constant", warmup=10), 4, 0) == pytest.approx(0.05)
    assert lr_at(cfg("constant", warmup=10), 10, 0) == pytest.approx(0.1)


def test_step_schedule_is_recorded_per_epoch(tmp_path, binary_file):
    m = train(binary_file, TrainOptions(schedule="step", step_epochs=2, gamma=0.5, lr=0.1, epochs=5))
    assert [h["lr"] for h in m.history] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_a_cosine_run_decays_its_rate_to_zero_at_its_last_update(binary_file):
    """cosine's horizon is the run's updates, epochs × iterations per epoch: each epoch's recorded rate (of its
    last update, number e·N − 1) is lr · ½(1 + cos(π (e·N − 1) / (E·N))), and the run's last is about 0."""
    m = train(binary_file, TrainOptions(schedule="cosine", lr=0.1, epochs=3, batch_size=64))
    n = m.training["iterations_per_epoch"]
    assert [h["iterations"] for h in m.history] == [n] * 3
    assert [h["lr"] for h in m.history] == pytest.approx(
        [0.1 * 0.5 * (1 + math.cos(math.pi * (e * n - 1) / (3 * n))) for e in (1, 2, 3)], rel=1e-12)
    assert m.history[-1]["lr"] < 1e-3 * 0.1


def test_binary_metrics_match_exact_computation():
    rng = np.random.default_rng(0)
    n = 20000
    score = rng.standard_normal(n) * 2
    y = (score + rng.standard_normal(n) > 0).astype(float)
    acc = BinaryMetrics()
    for s in range(0, n, 3000):
        acc.update(score[s : s + 3000, None], y[s : s + 3000])
    r = acc.result()
    order = np.argsort(score)
    ranks = np.empty(n)
    ranks[order] = np.arange(1, n + 1)
    pos = y == 1
    exact_auc = (ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum())
    assert r["auc"] == pytest.approx(exact_auc, abs=1e-4)
    pred = score > 0
    tp, fp, fn = (pred & pos).sum(), (pred & ~pos).sum(), (~pred & pos).sum()
    assert r["precision"] == pytest.approx(tp / (tp + fp))
    assert r["recall"] == pytest.approx(tp / (tp + fn))
    assert r["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    p = 1 / (1 + np.exp(-score))
    assert r["log_loss"] == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), rel=1e-10)
    assert r["accuracy"] == pytest.approx((pred == pos).mean())


def test_regression_metrics_match_exact_computation():
    rng = np.random.default_rng(1)
    y = rng.standard_normal(5000) * 3 + 10
    s = y + rng.standard_normal(5000)
    acc = RegressionMetrics()
    for i in range(0, 5000, 777):
        acc.update(s[i : i + 777, None], y[i : i + 777])
    r = acc.result()
    assert r["mse"] == pytest.approx(np.mean((s - y) ** 2))
    assert r["rmse"] == pytest.approx(math.sqrt(np.mean((s - y) ** 2)))
    assert r["mae"] == pytest.approx(np.mean(np.abs(s - y)))
    assert r["r2"] == pytest.approx(1 - np.sum((s - y) ** 2) / np.sum((y - y.mean()) ** 2))


def test_plain_progress_is_rate_limited_and_has_no_control_codes():
    import io

    now = [0.0]
    out = io.StringIO()
    rep = PlainReporter(out, interval=5.0, clock=lambda: now[0])
    rep.begin(epochs=1, iterations=1000, rows=10**6, batch_size=1000, lr=0.1)
    rep.epoch_start(0)
    for i in range(1, 1001):
        now[0] = i * 0.01  # 10 s in all
        rep.advance(0, i, i * 1000, 0.5, 0.1)
    rep.epoch_end({"epoch": 1, "iterations": 1000, "train_loss": 0.5, "lr": 0.1, "seconds": 10.0, "rows_per_s": 1e5})
    lines = out.getvalue().splitlines()
    progress = [l for l in lines if "iteration " in l]
    assert len(progress) == 2  # at 5 s and 10 s
    assert "iteration 500/1000 (50%)" in progress[0] and "eta 0:00:05" in progress[0]
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()


def test_sparkline_scales_from_the_smallest_to_the_largest_value():
    from sgdcli.reporting.reporter import sparkline

    assert sparkline([4.0, 3.0, 2.0, 1.0]) == "█▆▃▁"  # floor((v - min) / (max - min) · 8), 8 capped to 7
    assert sparkline([1.0, 1.0]) == "▁▁"
    assert sparkline([2.0, float("nan"), 1.0, float("inf")]) == "█ ▁ "
    assert sparkline([]) == ""


def test_bar_mode_ends_with_the_loss_curve_on_one_line(tmp_path, binary_file):
    """A real train in bar mode, on a terminal-less stream: the last line is the sparkline of its epochs."""
    import io

    from sgdcli.reporting.bars import RichReporter
    from sgdcli.reporting.reporter import sparkline

    out = io.StringIO()
    model = train(binary_file, TrainOptions(epochs=4, val_fraction=0.2), reporter=RichReporter(out))
    train_loss = [r["train_loss"] for r in model.history]
    val_loss = [r["val_loss"] for r in model.history]
    last = out.getvalue().strip().splitlines()[-1]
    assert last == (f"loss per epoch: train {sparkline(train_loss)} {train_loss[0]:.4g} → {train_loss[-1]:.4g}, "
                    f"val {sparkline(val_loss)} {val_loss[0]:.4g} → {val_loss[-1]:.4g}")
    assert sparkline(train_loss)[0] == "█" and sparkline(train_loss)[-1] == "▁"  # the loss fell


def test_parse_size():
    assert parse_size("512M") == 512 * 2**20
    assert parse_size("1.5G") == int(1.5 * 2**30)
    assert parse_size("64KiB") == 64 * 1024
    assert parse_size("1000") == 1000
    with pytest.raises(InputError, match=r"^--memory: 5,000 digits are no size; use e\.g\. 512M or 2G$"):
        parse_size("9" * 5000)  # past Python's digits of an integer's text: an internal error
    code, _, err = cli("train", "any.h5", "-o", "m.h5", "--memory", "9" * 5000)  # one line, not of 5,000 digits
    assert code == 2 and err.startswith("sgdcli train: error: Invalid value for '--memory': cannot read size "
                                        f"'{'9' * 80}'... (5,000 characters); use e.g. 512M or 2G"), err


RSS_PROBE = RSS_SAMPLER + """
from sgdcli import train
from sgdcli.options import TrainOptions
train(sys.argv[1], TrainOptions(memory=4 * 2**20, epochs=1, batch_size=256, val_fraction=0.1, standardize=True))
time.sleep(0.05)
print(peak[0])
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_memory_is_bounded_by_the_budget_not_the_file(tmp_path):
    """Peak anonymous memory on a file 20× the budget stays within budget + slack of a small file's."""
    from sgdcli import generate

    peaks = {}
    for name, rows in (("small", 20000), ("large", 400000)):  # 0.8 MB vs 80 MB of float32 features
        path = tmp_path / f"{name}.h5"
        generate(path, task="binary", rows=rows, features=50, chunk_rows=2048, compression="lzf")
        proc = subprocess.run([sys.executable, "-c", RSS_PROBE, str(path)], capture_output=True, text=True, check=True)
        peaks[name] = int(proc.stdout.strip().splitlines()[-1])
    file_bytes = 400000 * 50 * 4
    growth = peaks["large"] - peaks["small"]
    assert growth < 4 * 2**20 + 16 * 2**20, (peaks, growth)
    assert growth < file_bytes / 4


GENERATE_PROBE = RSS_SAMPLER + """
from sgdcli import generate
generate(sys.argv[1], task="multiclass", rows=int(sys.argv[2]), features=50, classes=5)
time.sleep(0.05)
print(peak[0])
"""


def test_generate_writes_large_files_in_bounded_memory(tmp_path):
    peaks = {}
    for rows in (100000, 600000):  # 20 MB vs 120 MB of features, both many blocks
        proc = subprocess.run([sys.executable, "-c", GENERATE_PROBE, str(tmp_path / f"{rows}.h5"), str(rows)],
                              capture_output=True, text=True, check=True)
        peaks[rows] = int(proc.stdout.strip().splitlines()[-1])
    assert peaks[600000] - peaks[100000] < 16 * 2**20, peaks


def test_bad_rows_skip_matches_training_on_the_clean_rows(tmp_path):
    X, y = make_problem("binary", n=5000, d=6, seed=12)
    y = y.astype(np.float64)
    Xd, yd = X.copy(), y.copy()
    bad_x, bad_y = [3, 777, 4000, 4001], [0, 10, 2500]  # row 0's label: the one compiling the kernels read
    Xd[bad_x, [0, 5, 2, 2]] = [np.nan, np.inf, -np.inf, np.nan]
    yd[bad_y] = np.nan
    dirty = write_table(tmp_path / "dirty.h5", Xd, yd, chunks=512)
    keep = np.setdiff1d(np.arange(5000), bad_x + bad_y)
    clean = write_table(tmp_path / "clean.h5", X[keep], y[keep], chunks=512)
    # an explicit rate: --lr auto samples rows at places of the file, which the skipped rows move
    opts = dict(epochs=2, standardize=True, shuffle=False, memory=2**20, val_fraction=0.0, lr=0.05)
    m = train(dirty, TrainOptions(bad_rows="skip", **opts))
    ref = train(clean, TrainOptions(**opts))
    np.testing.assert_allclose(m.weights, ref.weights, rtol=1e-6)
    assert m.training["bad_rows"] == 7 and m.training["rows"] == 4993
    assert [h["bad_rows"] for h in m.history] == [7, 7]
    assert m.training["iterations_per_epoch"] == ref.training["iterations_per_epoch"]
    with pytest.raises(InputError, match=r"dirty\.h5:y: label missing \(NaN\) at row 0$"):
        train(dirty, TrainOptions(**opts))
    # the count is a result, printed with -q too (it was a log line, which -q hid); none where nothing was left out
    code, out, err = cli("train", dirty, "-o", tmp_path / "m.h5", "--bad-rows", "skip", "--lr", "0.05", "-q")
    assert (code, out.splitlines()[0], err) == (0, f"model {tmp_path / 'm.h5'}: logistic, 6 features, 5 epochs × 157 "
                                                   "iterations (batch 32, lr 0.05); left out 7 training rows with "
                                                   "NaN or inf (--bad-rows skip)", "")
    code, out, err = cli("train", clean, "-o", tmp_path / "m.h5", "--bad-rows", "skip", "--lr", "0.05", "-q")
    assert out.splitlines()[0].endswith("(batch 32, lr 0.05)")


def test_bad_rows_skip_with_validation_fraction(tmp_path):
    X, y = make_problem("binary", n=4000, d=4, seed=13)
    X[::97, 1] = np.nan
    path = write_table(tmp_path / "d.h5", X, y)
    m = train(path, TrainOptions(bad_rows="skip", val_fraction=0.2, epochs=2))
    held = __import__("sgdcli.data.shuffle", fromlist=["x"]).validation_mask(0, 4000, 0.2, 0)
    bad = np.zeros(4000, bool)
    bad[::97] = True
    assert m.training["bad_rows"] == int((bad & ~held).sum())
    assert np.isfinite(m.history[-1]["val_loss"])


def test_a_non_finite_feature_of_the_val_file_is_found_before_training(tmp_path):
    """Not after the first epoch, which on a large file is hours of a nightly run; --bad-rows skip skips it."""
    X, y = make_problem("binary", n=300, d=3, seed=0)
    train_path = write_table(tmp_path / "t.h5", X, y)
    X[7, 1] = np.nan
    val = write_table(tmp_path / "v.h5", X, y)
    code, out, err = cli("train", train_path, "--val", val, "-o", tmp_path / "m.h5", "-v")
    assert (code, err.strip().splitlines()[-1]) == (2, f"sgdcli: error: {val}:X: non-finite feature value at row 7, "
                                                       "column 1")
    assert "epoch 1/" not in err and not (tmp_path / "m.h5").exists()
    assert cli("train", train_path, "--val", val, "-o", tmp_path / "m.h5", "--bad-rows", "skip", "-q")[0] == 0


def test_a_refusal_of_the_val_files_datasets_names_the_val_options(tmp_path):
    """The --val file's table was refused in --x's and --y's words: "try --x X --y y" to a --val-y that named
    a pandas Series' table, where the training options were right and --val-x and --val-y were not."""
    import warnings

    import pandas as pd

    X, y = make_problem("binary", n=200, d=3, seed=0)
    for name in ("t.h5", "v.h5"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pd.DataFrame(X, columns=["a", "b", "c"]).to_hdf(tmp_path / name, key="X", mode="w")
            pd.Series(y).to_hdf(tmp_path / name, key="y")
    argv = ["train", tmp_path / "t.h5", "--x", "X", "--y", "y", "-o", tmp_path / "m.h5", "--val", tmp_path / "v.h5"]
    val = tmp_path / "v.h5"
    for options, said in [(["--val-y", "y/table"], f"{val}:y/table: no such dataset; this looks like a pandas "
                                                   "frame: try --val-x X --val-y y"),
                          (["--val-x", "y"], f"{val}:y: is a pandas Series, one column, which sgdcli reads as "
                                             "labels (--val-y y), not as features: --val-x names a frame, a matrix "
                                             "or a table (series.to_frame() makes a frame of one feature)")]:
        assert cli(*argv, *options) == (2, "", f"sgdcli: error: {said}\n")
    assert not (tmp_path / "m.h5").exists()
    # a refusal of the training file keeps --x's and --y's words
    assert cli(*argv[:5], "y/table", *argv[6:])[2] == (f"sgdcli: error: {tmp_path / 't.h5'}:y/table: no such dataset; "
                                                      "this looks like a pandas frame: try --x X --y y\n")


def test_a_validation_fraction_that_holds_out_no_row_is_refused(tmp_path):
    """Metrics over no rows are undefined: a small file and a small --val-fraction would validate on nothing."""
    X, y = make_problem("binary", n=40, d=3, seed=0)
    path = write_table(tmp_path / "small.h5", X, y)
    assert not __import__("sgdcli.data.shuffle", fromlist=["x"]).validation_mask(0, 40, 0.01, 0).any()
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--val-fraction", "0.01", "--batch-size", "4")
    assert (code, err.strip().splitlines()[-1]) == (2, f"sgdcli: error: --val-fraction 0.01: holds out none of the "
                                                       f"40 rows of {path}; raise it, or validate on a file of its "
                                                       "own with --val")
    assert not (tmp_path / "m.h5").exists()


def test_too_few_classes_left_to_train_on_says_how_many_rows_were_left(tmp_path):
    """Both classes are in the file; the message says the one row --val-fraction left is what had one."""
    X, y = make_problem("binary", n=1000, d=3, seed=0)
    path = write_table(tmp_path / "d.h5", X, y)
    kept = ~__import__("sgdcli.data.shuffle", fromlist=["x"]).validation_mask(0, 1000, 0.999, 0)
    assert kept.sum() == 1 and len(set(y)) == 2
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--val-fraction", "0.999", "--batch-size", "1")
    label = int(y[kept][0])
    assert (code, err.strip().splitlines()[-1]) == (2, f"sgdcli: error: {path}:y: --model logistic needs exactly 2 "
                                                       f"distinct labels, found 1 in the 1 row left to train on "
                                                       f"({label}); both classes must be present")


def test_no_rows_left_to_train_on(tmp_path):
    X, y = make_problem("binary", n=50, d=3, seed=0)
    X[:] = np.nan
    path = write_table(tmp_path / "nan.h5", X, y)
    with pytest.raises(Exception, match=r"nan\.h5: no rows left to train on \(0 held out by --val-fraction, 50 skipped"):
        train(path, TrainOptions(bad_rows="skip"))


@pytest.mark.parametrize("given,message", [
    (dict(batch_size=32.5), "--batch-size: expected a positive integer or 'full', got 32.5"),
    (dict(batch_size=True), "--batch-size: expected a positive integer or 'full', got True"),
    (dict(epochs=2.5), "--epochs: expected an integer, got 2.5"),
    (dict(shuffle="false"), "shuffle (--no-shuffle): expected True or False, got 'false'"),
    (dict(standardize=1), "--standardize: expected True, False or None, got 1"),
    (dict(lr="0.1"), "--lr: expected a number or auto, got '0.1'"),
    (dict(l2="0"), "--l2: expected a number, got '0'"),
    (dict(memory="256M"), "--memory: expected an integer, got '256M'"),
    (dict(model=None), "--model: expected text, got None"),
    (dict(page_rows=4.0), "--page-rows: expected an integer or None, got 4.0"),
])
def test_the_python_api_checks_each_options_type_as_the_command_line_does(given, message):
    """TrainOptions took batch_size=32.5 (an error deep in the compiled code), epochs=2.5 (three epochs) and
    shuffle="false" (true): the CLI's parameter types had checked them, the API nothing."""
    from sgdcli.errors import InputError

    with pytest.raises(InputError) as caught:
        TrainOptions(**given)
    assert str(caught.value) == message


def test_the_python_api_takes_numpy_numbers_and_full_and_keeps_them_as_python_values():
    options = TrainOptions(batch_size=np.int64(64), lr=np.float32(0.5), epochs=np.int32(2), l2=0)
    assert (type(options.batch_size), type(options.lr), type(options.epochs), type(options.l2)) == (int, float, int,
                                                                                                   float)
    assert TrainOptions(batch_size="full").batch_size is None
    json.dumps(options.as_dict())  # the model card's record of them


def test_bad_rows_error_names_a_bad_label_first_and_a_bad_feature_in_the_order_features_are_read(tmp_path):
    """docs/training.md, "Rows with NaN or inf": with the default --bad-rows error the labels' pass comes first;
    the standardization pass reads the features in file order, and without it the shuffle's order decides, so the
    row named need not be the first bad one (seed 0 reaches row 1500 before row 10, seed 1 the other way)."""
    X, y = make_problem("binary", n=2000, d=4, seed=0)
    X[10, 3], X[1500, 0] = np.nan, np.inf
    path = write_table(tmp_path / "bad.h5", X, y)
    said = {seed: cli("train", path, "-o", tmp_path / "m.h5", "-q", "--no-standardize", "--seed", seed)
            for seed in (0, 1)}
    assert said[0] == (2, "", f"sgdcli: error: {path}:X: non-finite feature value at row 1500, column 0\n")
    assert said[1] == (2, "", f"sgdcli: error: {path}:X: non-finite feature value at row 10, column 3\n")
    assert cli("train", path, "-o", tmp_path / "m.h5", "-q") == (
        2, "", f"sgdcli: error: {path}:X: non-finite feature value at row 10, column 3\n")
    labels = y.astype(np.float64)
    labels[30] = np.nan
    path = write_table(tmp_path / "bad_label.h5", X, labels)
    assert cli("train", path, "-o", tmp_path / "m.h5", "-q") == (
        2, "", f"sgdcli: error: {path}:y: label missing (NaN) at row 30\n")
    assert not (tmp_path / "m.h5").exists()
