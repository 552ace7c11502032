"""Quality gates: --fail-under / --fail-over on evaluate and train (exit 3, results still written)."""

import json

import numpy as np
import pytest

from conftest import cli, make_problem, run, write_table
from sgdcli import load_model


@pytest.fixture
def binary_model(tmp_path, binary_file):
    model = tmp_path / "m.h5"
    code, _, err = cli("train", binary_file, "-o", model, "-q", "--epochs", "2")
    assert code == 0, err
    return str(model)


def metrics_of(model, data):
    code, out, err = cli("evaluate", model, data, "--json")
    assert code == 0, err
    return json.loads(out)


def last_line(err):
    lines = err.strip().splitlines()
    assert sum("error:" in line for line in lines) == 1, err
    return lines[-1]


def test_gates_that_hold_exit_0(binary_model, binary_file):
    m = metrics_of(binary_model, binary_file)
    code, out, err = cli("evaluate", binary_model, binary_file, "--json",
                         "--fail-under", f"accuracy={m['accuracy'] - 0.01}", "--fail-over", f"log_loss={m['log_loss'] + 0.01}")
    assert code == 0, err
    assert json.loads(out) == m


def test_a_failed_gate_exits_3_after_printing_the_metrics(binary_model, binary_file):
    m = metrics_of(binary_model, binary_file)
    code, out, err = cli("evaluate", binary_model, binary_file, "--json", "--fail-under", "accuracy=0.999")
    assert code == 3
    assert json.loads(out) == m  # the metrics still reach stdout
    assert last_line(err) == (f"sgdcli: error: quality gate failed on {binary_file}: "
                              f"accuracy {m['accuracy']:.6g} is under 0.999 (--fail-under)")


def test_every_failed_gate_is_named(binary_model, binary_file):
    m = metrics_of(binary_model, binary_file)
    code, out, err = cli("evaluate", binary_model, binary_file, "--fail-under", "accuracy=0.999",
                         "--fail-over", "log_loss=0.01", "--fail-under", "auc=0")
    assert code == 3
    assert out.splitlines()[0] == f"rows {m['rows']}"
    assert last_line(err) == (f"sgdcli: error: quality gate failed on {binary_file}: "
                              f"accuracy {m['accuracy']:.6g} is under 0.999 (--fail-under); "
                              f"log_loss {m['log_loss']:.6g} is over 0.01 (--fail-over)")


@pytest.mark.parametrize("args,message", [
    (["--fail-under", "acc=0.9"], "--fail-under: unknown metric 'acc' (known: accuracy, auc, below, deviance, f1, "
                                  "huber, log_loss, mae, mse, pinball, precision, r2, recall, rmse)"),
    (["--fail-over", "log_loss"], "--fail-over: expected METRIC=VALUE, got 'log_loss'"),
    (["--fail-over", "log_loss=low"], "--fail-over log_loss: bound 'low' is not a number"),
    # a bound no value of the metric passes, or every value does: a gate that fails every night, or never
    (["--fail-under", "accuracy=90"], "--fail-under accuracy: bound 90 is outside the values accuracy takes, from 0 "
                                      "to 1 (a fraction: 0.9 for 90%)"),
    (["--fail-over", "auc=-0.1"], "--fail-over auc: bound -0.1 is outside the values auc takes, from 0 to 1"),
    (["--fail-over", "log_loss=-1"], "--fail-over log_loss: bound -1 is outside the values log_loss takes, 0 or "
                                     "more"),  # (train's loss is any number: poisson's is below 0 at large counts)
    (["--fail-under", "r2=0.5"], "--fail-under r2: {model} (a logistic model) has no such metric "
                                 "(it has accuracy, log_loss, auc, precision, recall, f1)"),
])
def test_bad_gates_are_usage_errors(binary_model, binary_file, args, message):
    code, out, err = cli("evaluate", binary_model, binary_file, *args)
    assert code == 2
    assert out == ""
    assert last_line(err) == "sgdcli: error: " + message.format(model=binary_model)


def test_train_gates_check_the_kept_epoch_and_still_write_the_model(tmp_path, binary_file):
    model = tmp_path / "gated.h5"
    proc = run("train", binary_file, "-o", model, "-q", "--epochs", "3", "--val-fraction", "0.2",
               "--fail-over", "loss=0", "--fail-under", "accuracy=0")
    assert proc.returncode == 3, proc.stderr
    m = load_model(model)  # written, so a pipeline can inspect it
    kept = m.training["best_epoch"]
    assert kept == 3
    val_loss = m.history[kept - 1]["val_loss"]
    assert proc.stderr.strip().splitlines()[-1] == (
        f"sgdcli: error: quality gate failed on the validation rows (epoch 3, the model written to {model}): "
        f"loss {val_loss:.6g} is over 0 (--fail-over)")
    assert f"val_loss {val_loss:.6g}" in proc.stdout


def test_train_gates_need_validation_data(tmp_path, binary_file):
    model = tmp_path / "m.h5"
    code, out, err = cli("train", binary_file, "-o", model, "--fail-under", "accuracy=0.9")
    assert code == 2
    assert last_line(err) == ("sgdcli: error: --fail-under: the gates apply to validation metrics; "
                              "give --val FILE or --val-fraction F")
    assert not model.exists()


def test_train_gate_on_a_metric_the_task_lacks(tmp_path, regression_file):
    code, _, err = cli("train", regression_file, "-o", tmp_path / "m.h5", "--model", "linear", "--val-fraction", "0.1",
                       "--fail-under", "auc=0.5")
    assert code == 2
    assert last_line(err) == ("sgdcli: error: --fail-under auc: a linear model's validation has no such metric "
                              "(it has loss, mse, rmse, mae, r2)")


def test_a_failed_gates_line_tells_the_value_from_the_bound():
    """Both were written to 6 digits: "accuracy 0.848 is under 0.848"; the bound is written as given, the value
    to as many digits as tell them apart."""
    from sgdcli.cli.gates import failures, parse

    gates = [parse("accuracy=0.8480001", under=True), parse("log_loss=0.42709", under=False)]
    assert failures(gates, {"accuracy": 0.848, "log_loss": 0.4270900001}) == [
        "accuracy 0.848 is under 0.8480001 (--fail-under)", "log_loss 0.4270900001 is over 0.42709 (--fail-over)"]
    assert failures([parse("auc=0.8", under=True)], {"auc": 0.7}) == ["auc 0.7 is under 0.8 (--fail-under)"]
    assert failures([parse("accuracy=0.8479999", under=True)], {"accuracy": 0.84799985}) == [
        "accuracy 0.8479998 is under 0.8479999 (--fail-under)"]  # (to 6 digits, 0.848: over the bound)


def test_an_infinite_metric_is_compared_and_only_nan_is_undefined():
    """A poisson score beyond exp's range makes mse inf and r2 -inf: they were "undefined", which failed
    --fail-under mse=1 and --fail-over r2=0.5, gates that inf and -inf hold."""
    from sgdcli.cli.gates import failures, parse

    values = {"mse": float("inf"), "r2": float("-inf"), "auc": float("nan")}
    assert failures([parse("mse=1", under=True), parse("r2=0.5", under=False)], values) == []
    assert failures([parse("mse=1", under=False), parse("r2=0.5", under=True), parse("auc=0.5", under=True)],
                    values) == ["mse inf is over 1 (--fail-over)", "r2 -inf is under 0.5 (--fail-under)",
                                "auc is undefined (--fail-under auc=0.5)"]


def test_a_gate_on_train_s_loss_takes_a_bound_below_0(tmp_path):
    """poisson's loss, μ − y·z, is below 0 where the counts are large: a bound there is a gate that can hold or
    fail, not a bound outside the values the loss takes."""
    X, _ = make_problem("binary", n=2000, d=3, seed=1)
    counts = np.random.default_rng(1).poisson(np.exp(3 + X[:, 0]))
    path = write_table(tmp_path / "p.h5", X, counts.astype(np.float64))
    args = ["train", path, "-o", tmp_path / "m.h5", "--model", "poisson", "--val-fraction", "0.2", "-q"]
    code, _, err = cli(*args, "--fail-over", "loss=-1")
    assert code == 0, err
    code, _, err = cli(*args, "--fail-under", "loss=-1")
    assert code == 3 and "is under -1 (--fail-under)" in err, err
