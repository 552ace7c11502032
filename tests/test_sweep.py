"""sgdcli sweep: one run per (batch size, lr) through train's engine; diverged runs are rows."""

import json
import math
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import cli, short_fits
from sgdcli import sweep, train
from sgdcli.options import TrainOptions
from sgdcli.training.progress import end_pace
from sgdcli.training.runlog import FitWarning


def sweep_json(*args):
    code, out, err = cli("sweep", *args, "--json", "-q")
    assert code == 0, err
    return json.loads(out)


@short_fits
def test_each_run_is_the_train_run_with_those_options(binary_file):
    runs = sweep_json(binary_file, "--batch-sizes", "1,64,full", "--lrs", "0.05,0.2", "--epochs", "2", "--val-fraction", "0.1")
    assert [(r["batch_size"], r["lr"]) for r in runs] == [
        (1, 0.05), (1, 0.2), (64, 0.05), (64, 0.2), ("full", 0.05), ("full", 0.2)]
    for r in runs:
        batch = None if r["batch_size"] == "full" else r["batch_size"]
        model = train(binary_file, TrainOptions(batch_size=batch, lr=r["lr"], epochs=2, val_fraction=0.1))
        assert r["train_loss"] == model.history[-1]["train_loss"]  # same engine, seed and threads: bit for bit
        assert r["val_loss"] == model.history[-1]["val_loss"]
        assert r["iterations_per_epoch"] == model.training["iterations_per_epoch"]
        assert r["iterations"] == 2 * r["iterations_per_epoch"] and r["epochs"] == 2
        assert r["diverged"] is False and r["seconds"] > 0 and r["rows_per_s"] > 0
    rows = runs[0]["iterations_per_epoch"]  # batch 1: one iteration per training row
    assert runs[2]["iterations_per_epoch"] == math.ceil(rows / 64) and runs[4]["iterations_per_epoch"] == 1


def test_a_diverged_run_is_a_row_not_a_failure(tmp_path, regression_file):
    code, out, err = cli("sweep", regression_file, "--model", "linear", "--batch-sizes", "8", "--lrs", "0.01,1000",
                         "--epochs", "2", "--metrics-dir", tmp_path / "runs", "--progress", "plain")
    assert code == 0, err
    header, ok, blown = out.strip().splitlines()
    assert header.split() == ["batch", "lr", "iters/epoch", "iterations", "epochs", "train_loss", "val_loss", "seconds",
                              "rows/s", "diverged"]
    assert ok.split()[0:2] == ["8", "0.01"] and ok.split()[-1] == "no"
    assert blown.split()[0:2] == ["8", "1000"] and blown.split()[-1] == "yes"
    assert "run 1/2: batch 8, lr 0.01" in err and "run 2/2: batch 8, lr 1000" in err
    files = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert files == ["run01-batch-8-lr-0.01.jsonl", "run02-batch-8-lr-1000.jsonl"]
    epochs = [json.loads(line) for line in (tmp_path / "runs" / files[0]).read_text().splitlines()]
    assert [e["epoch"] for e in epochs] == [1, 2]


def test_a_sweep_stopped_before_its_first_file_leaves_no_directory_it_made(tmp_path, binary_file):
    """--metrics-dir a/b/runs, made with its parents, is removed again when the first run fails (here: --val names
    no file); a directory that was there stays, and so does one a run's file went into."""
    args = ["sweep", binary_file, "--batch-sizes", "32", "--epochs", "1", "-q"]
    where = tmp_path / "out"
    where.mkdir()
    code, out, err = cli(*args, "--val", tmp_path / "missing.h5", "--metrics-dir", where / "a" / "b" / "runs")
    assert (code, out, err) == (2, "", f"sgdcli: error: {tmp_path / 'missing.h5'}: no such file\n")
    assert os.listdir(where) == []
    (where / "kept").mkdir()
    assert cli(*args, "--val", tmp_path / "missing.h5", "--metrics-dir", where / "kept" / "runs")[0] == 2
    assert os.listdir(where) == ["kept"] and os.listdir(where / "kept") == []
    assert cli(*args, "--metrics-dir", where / "kept" / "runs")[0] == 0
    assert os.listdir(where / "kept" / "runs") == ["run01-batch-32-lr-auto.jsonl"]


def test_diverged_run_fields(regression_file):
    runs = sweep_json(regression_file, "--model", "linear", "--batch-sizes", "8", "--lrs", "1000", "--epochs", "3")
    (r,) = runs
    assert r["diverged"] is True and r["epochs"] < 3
    assert r["error"].startswith("training diverged in epoch 1")
    assert r["iterations_per_epoch"] == math.ceil(3000 / 8)


def test_lr_scaling_shows_the_rate_used(binary_file):
    runs = sweep_json(binary_file, "--batch-sizes", "32,128", "--lrs", "0.01", "--lr-scaling", "linear", "--epochs", "1")
    assert [r["lr"] for r in runs] == [pytest.approx(0.01), pytest.approx(0.04)]


@short_fits
def test_an_auto_rate_sits_among_the_others(binary_file):
    """--lrs auto: the rate --lr auto chooses, trained beside the given ones."""
    runs = sweep_json(binary_file, "--batch-sizes", "32", "--lrs", "0.01,auto", "--epochs", "1", "--standardize")
    auto = train(binary_file, TrainOptions(lr="auto", standardize=True, epochs=1))
    assert [r["lr"] for r in runs] == [pytest.approx(0.01), pytest.approx(auto.training["lr"])]
    assert runs[1]["lr"] != 0.01


@pytest.mark.parametrize("args,message", [
    (["--batch-sizes", "1,0"], "--batch-sizes: batch sizes must be >= 1, got 0"),
    (["--batch-sizes", "1,big"], "--batch-sizes: 'big' is neither a positive integer nor 'full'"),
    (["--batch-sizes", "8", "--lrs", "0.1,fast"], "--lrs: 'fast' is neither a number nor 'auto'"),
    (["--batch-sizes", "8", "--lrs", "-1"], "--lrs: learning rates must be finite and > 0, got -1"),
])
def test_bad_lists_are_usage_errors(binary_file, args, message):
    code, out, err = cli("sweep", binary_file, *args)
    assert (code, out) == (2, "")
    assert err.strip() == f"sgdcli: error: {message}"


def test_a_batch_size_larger_than_the_file_is_refused_before_the_first_run(binary_file, tmp_path):
    """Found when its own run began, it threw away the runs before it (and left their metrics files)."""
    import h5py

    with h5py.File(binary_file) as f:
        rows = len(f["y"])
    code, out, err = cli("sweep", binary_file, "--batch-sizes", f"32,{rows + 1}", "--epochs", "1", "--metrics-dir",
                         tmp_path / "runs", "-q")
    assert (code, out, err.strip()) == (2, "", f"sgdcli: error: --batch-sizes: {rows + 1} is larger than the "
                                               f"{rows:,} rows of {binary_file}")
    assert not (tmp_path / "runs").exists()


def test_a_batch_size_larger_than_the_training_rows_left_by_val_fraction_is_refused_before_the_first_run(
        binary_file, tmp_path):
    """With --val-fraction it was found when its run began, named train's --batch-size, and threw away the
    runs before it; the training rows are those the hash of each row's number keeps, counted here."""
    from sgdcli.data.shuffle import held_out

    with h5py.File(binary_file) as f:
        rows = len(f["y"])
    trained = int((~held_out(np.arange(rows), 0.5, 7)).sum())
    for size, said in ((trained + 1, "rejected"), (trained, "trains")):
        code, out, err = cli("sweep", binary_file, "--batch-sizes", f"32,{size}", "--val-fraction", "0.5",
                             "--seed", "7", "--epochs", "1", "--metrics-dir", tmp_path / said, "-q")
        if said == "trains":
            assert code == 0, err
            continue
        assert (code, out, err) == (2, "", f"sgdcli: error: --batch-sizes: {size} is larger than the {trained:,} "
                                           f"training rows of {binary_file} (of its {rows:,}, --val-fraction 0.5 "
                                           "holds out the rest)\n")
        assert not (tmp_path / said).exists()


def test_a_warning_names_its_run_by_the_rate_given_and_measures_the_rate_used(binary_file):
    """--lrs 0.001 at batch 32 under --lr-scaling linear from batch 8 trains at 0.004, the table's rate: the
    slow-rate warning said "at a rate of 0.001" and put it 4 times further below --lr auto's than it was."""
    code, out, err = cli("sweep", binary_file, "--batch-sizes", "32", "--lrs", "0.001", "--lr-scaling", "linear",
                         "--base-batch-size", "8", "--json", "-q")
    (row,) = json.loads(out)
    with pytest.warns(FitWarning) as warned:
        model = train(binary_file, TrainOptions(batch_size=32, lr=0.001, lr_scaling="linear", base_batch_size=8))
    auto = train(binary_file, TrainOptions(batch_size=32, epochs=1)).training["lr_auto"]["lr"]  # --lr auto's rate
    share, since = end_pace(model.history, False, max(model.history[0]["train_loss"], math.log(2)))
    first, last = model.history[since - 1]["train_loss"], model.history[-1]["train_loss"]
    said = (f"the loss was still falling ({first:.4g} at epoch {since}, {last:.4g} at epoch 5; per unit of learning "
            f"rate, at {share:.0%} of its pace over the whole run) at a rate of 0.004 (--lr 0.001 after --lr-scaling "
            f"linear), {auto / 0.004:.3g} times smaller than the {auto:.4g} that --lr auto chooses here: the model "
            "may be far from the optimum; raise --lr or --epochs")
    assert row["lr"] == pytest.approx(0.004) and row["warnings"] == model.training["warnings"] == [said]
    assert [(w.category, str(w.message)) for w in warned] == [(FitWarning, said)]
    assert (code, err) == (0, f"sgdcli: warning: batch 32, lr 0.001: {said}\n")


def test_a_rows_warnings_are_its_runs_whatever_the_filters_and_no_other_threads(binary_file):
    """They were taken from a hook on warnings.showwarning: empty where the caller's filters ignore FitWarning,
    and holding the FitWarnings of a training in another thread, which were then not shown as that thread's."""
    import threading
    import warnings

    from sgdcli import Reporter, sweep
    from sgdcli.training.runlog import FitWarning

    # no fit of the sample (hinge under --l1): one epoch warns
    few = TrainOptions(model="hinge", l1=1e-4, epochs=1, batch_size=1000)
    with pytest.warns(FitWarning):
        alone = train(binary_file, few).training["warnings"]  # three updates in all
    assert len(alone) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (row,) = sweep(binary_file, few, [1000], ["auto"])
    assert row.warnings == row.as_dict()["warnings"] == alone

    class Meanwhile(Reporter):
        def begin(self, **_):  # while the sweep's run trains, another thread trains and warns
            other = threading.Thread(target=train, args=(binary_file, few))
            other.start()
            other.join()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (row,) = sweep(binary_file, TrainOptions(model="hinge", epochs=1), [8], ["auto"],
                       reporter_for=lambda *_: Meanwhile())
    assert row.warnings == []
    assert [str(w.message) for w in caught if w.category is FitWarning] == alone  # the other thread's, as it is


def test_with_early_stopping_a_row_is_the_epoch_train_keeps(regression_file):
    """The row's losses were the last epoch's, not those of the model train keeps and prints (kept_epoch): runs were
    ranked by models train throws away."""
    args = ["--model", "linear", "--optimizer", "sgd", "--schedule", "constant", "--epochs", "10", "--val-fraction",
            "0.2", "--early-stopping", "--patience", "2"]
    (row,) = sweep_json(regression_file, "--batch-sizes", "8", "--lrs", "0.3", *args)
    with pytest.warns(FitWarning, match="and so is the last epoch's"):  # (the constant rate's noise)
        model = train(regression_file, TrainOptions(model="linear", batch_size=8, lr=0.3, optimizer="sgd",
                                                    schedule="constant", epochs=10, val_fraction=0.2,
                                                    early_stopping=True, patience=2))
    kept = model.training["best_epoch"]
    assert kept < len(model.history) == row["epochs"]  # the case: an earlier epoch kept
    assert row["kept_epoch"] == kept
    assert row["train_loss"] == model.history[kept - 1]["train_loss"]
    assert row["val_loss"] == model.history[kept - 1]["val_loss"]
    code, out, err = cli("sweep", regression_file, "--batch-sizes", "8", "--lrs", "0.3", *args, "-q")
    header, line = out.strip().splitlines()
    assert header.split()[4:8] == ["epochs", "kept_epoch", "train_loss", "val_loss"]
    assert line.split()[4:8] == [str(row["epochs"]), str(kept), f"{row['train_loss']:.6g}", f"{row['val_loss']:.6g}"]


def test_under_a_penalty_a_row_gives_its_kept_epochs_objective_beside_its_loss(binary_file):
    """Under --l1 the mean loss alone ranks batch sizes otherwise than the objective, the loss and the penalty:
    each row gives the training objective of the epoch it shows, as train's records do (a full batch's: its loss
    and the penalty of the weights its epoch started from); without a penalty, no column."""
    (row,) = sweep_json(binary_file, "--batch-sizes", "32", "--epochs", "2", "--l1", "0.01")
    model = train(binary_file, TrainOptions(batch_size=32, epochs=2, l1=0.01))
    last = model.history[-1]
    assert row["train_loss"] == last["train_loss"] and row["objective"] == last["train_loss"] + last["penalty"]
    assert last["penalty"] > 0 and "penalty" not in row
    code, out, err = cli("sweep", binary_file, "--batch-sizes", "32", "--epochs", "2", "--l1", "0.01", "-q")
    header, line = out.strip().splitlines()
    assert header.split()[5:7] == ["train_loss", "objective"]
    assert line.split()[5:7] == [f"{row['train_loss']:.6g}", f"{row['objective']:.6g}"]
    assert sweep_json(binary_file, "--batch-sizes", "32", "--epochs", "2")[0]["objective"] is None


def test_without_early_stopping_the_last_epoch_is_kept(binary_file):
    (row,) = sweep_json(binary_file, "--batch-sizes", "32", "--epochs", "2")
    assert row["kept_epoch"] == row["epochs"] == 2
    code, out, err = cli("sweep", binary_file, "--batch-sizes", "32", "--epochs", "2", "-q")
    assert "kept_epoch" not in out


def test_a_run_that_lr_auto_started_over_is_the_run_train_keeps(tmp_path, regression_file, monkeypatch):
    """--lr auto starts a run that blew up over at half the rate: the row had the first rate and counted the epochs
    thrown away, and the metrics file held them too."""
    from sgdcli.training import rate

    real = rate.auto_rate

    def too_fast(*args, **kw):  # 2^6 times the curvature's rate, no blow-up check: overflows in a later epoch
        chosen = real(*args, **kw)
        return rate.AutoRate(chosen.lr * 2**6, chosen.lambda_max, chosen.trace, chosen.rows)

    monkeypatch.setattr("sgdcli.training.runrate.auto_rate", too_fast)
    monkeypatch.setattr("sgdcli.training.runrate.MAX_HALVINGS", 20)
    (row,) = sweep_json(regression_file, "--model", "linear", "--batch-sizes", "32", "--epochs", "3", "--metrics-dir",
                        tmp_path / "runs")
    model = train(regression_file, TrainOptions(model="linear", batch_size=32, epochs=3))
    assert model.training["lr_auto"]["halvings"] > 0  # the case
    assert (row["lr"], row["epochs"], row["iterations"], row["train_loss"]) == (
        model.training["lr"], 3, model.training["updates"], model.history[-1]["train_loss"])
    written = [json.loads(line) for line in (tmp_path / "runs" / "run01-batch-32-lr-auto.jsonl").read_text().splitlines()]
    assert [r["train_loss"] for r in written] == [r["train_loss"] for r in model.history]


def test_a_run_that_diverged_after_lr_auto_halved_its_rate_shows_the_rate_it_diverged_at(regression_file,
                                                                                          monkeypatch):
    """A run that still blew up at --lr auto's rate halved twice had the first, unhalved rate in its row (1261
    where it last trained at 315.2, as the line before its divergence said)."""
    from sgdcli.training import rate

    real, chosen = rate.auto_rate, []

    def too_fast(*args, **kw):  # 2^12 times the curvature's rate: still diverges halved twice
        auto = real(*args, **kw)
        chosen.append(auto.lr * 2**12)
        return rate.AutoRate(auto.lr * 2**12, auto.lambda_max, auto.trace, auto.rows)

    monkeypatch.setattr("sgdcli.training.runrate.auto_rate", too_fast)
    monkeypatch.setattr("sgdcli.training.runrate.MAX_HALVINGS", 2)
    code, out, err = cli("sweep", regression_file, "--model", "linear", "--batch-sizes", "32", "--epochs", "2",
                         "--json", "--progress", "plain")
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["diverged"] and len(chosen) == 1
    assert row["lr"] == chosen[0] / 2**2
    assert f"starting over from epoch 1 at half the rate, {row['lr']:.4g}" in err


def test_a_metrics_dir_holding_run_files_is_refused_before_the_first_run(tmp_path, binary_file):
    """An earlier sweep's run files were left beside the new ones (two run01-*), and plot DIR/*.jsonl drew both
    sweeps; a directory with other files is fine."""
    runs = tmp_path / "runs"
    args = ["sweep", binary_file, "--epochs", "1", "-q", "--metrics-dir", runs]
    assert cli(*args, "--batch-sizes", "1,32")[0] == 0
    before = {p.name: p.read_bytes() for p in runs.iterdir()}
    code, out, err = cli(*[a for a in args if a != "-q"], "--batch-sizes", "64", "--progress", "plain")
    assert (code, out) == (2, "")
    assert err == (f"sgdcli: error: --metrics-dir {runs}: holds run01-batch-1-lr-auto.jsonl and 1 more run file of "
                   f"an earlier sweep, which sgdcli plot {runs / '*.jsonl'} would draw beside this sweep's runs; "
                   "remove them or give another directory\n")  # before training: no progress line
    assert {p.name: p.read_bytes() for p in runs.iterdir()} == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("kept")
    assert cli(*args[:-1], other, "--batch-sizes", "64")[0] == 0
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt", "run01-batch-64-lr-auto.jsonl"]


@pytest.mark.parametrize("form", ["table", "json"])
def test_a_sweep_stopped_by_sigterm_prints_the_rows_of_the_runs_that_ended(tmp_path, binary_file, form):
    """stdout was empty though run 1 had ended (its metrics file was there): a long sweep stopped near its end lost
    its whole table.  A real process: the subject is a signal."""
    import signal
    import subprocess
    import sys

    runs = tmp_path / "runs"
    env = {**os.environ, "SGDCLI_SLICE_ROWS": "256", "SGDCLI_TEST_SAFE_POINT_DELAY": "0.05"}  # run 2 takes seconds
    env.pop("SGDCLI_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-m", "sgdcli", "sweep", binary_file, "--batch-sizes", "64,32,16",
                             "--lrs", "0.1", "--epochs", "2", "--metrics-dir", runs, "--plot", tmp_path / "p.png",
                             "--progress", "plain", *(["--json"] if form == "json" else [])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stderr:
        if "run 2/3: batch 32" in line:
            proc.send_signal(signal.SIGTERM)
            break
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.splitlines()[-1] == (f"sgdcli: stopped by SIGTERM before finishing; stdout has the rows of the 1 of 3 "
                                    f"runs that ended (their records are in {runs}); --plot {tmp_path / 'p.png'} was "
                                    "not drawn; no partial output file was left")
    assert os.listdir(runs) == ["run01-batch-64-lr-0.1.jsonl"] and not (tmp_path / "p.png").exists()
    (ended,) = sweep_json(binary_file, "--batch-sizes", "64", "--lrs", "0.1", "--epochs", "2")
    if form == "json":
        (row,) = json.loads(out)
        assert {k: v for k, v in row.items() if k not in ("seconds", "rows_per_s")} == \
            {k: v for k, v in ended.items() if k not in ("seconds", "rows_per_s")}
    else:
        header, row = out.strip().splitlines()
        assert header.split()[0] == "batch" and row.split()[:6] == ["64", "0.1", str(ended["iterations_per_epoch"]),
                                                                   str(ended["iterations"]), "2",
                                                                   f"{ended['train_loss']:.6g}"]


def test_the_batch_size_check_reads_no_labels(tmp_path, monkeypatch):
    """The check of --batch-sizes against the file's rows, before the first run, needs its rows only: a text label
    column's names are found once a run (by the run), not once more for the check."""
    from sgdcli.data import textlabels

    rng = np.random.default_rng(3)
    table = np.zeros(400, np.dtype([("f0", "<f4"), ("f1", "<f4"), ("label", "S8")]))
    table["f0"], table["f1"] = rng.standard_normal((2, 400))
    table["label"] = np.where(table["f0"] + table["f1"] > 0, b"cat", b"dog")
    path = tmp_path / "t.h5"
    with h5py.File(path, "w") as f:
        f["T"] = table
    scans = []
    real = textlabels.scan_names
    monkeypatch.setattr(textlabels, "scan_names", lambda *args, **kw: scans.append(args[1]) or real(*args, **kw))
    runs = sweep_json(path, "--x", "T", "--label-column", "label", "--batch-sizes", "16,32", "--lrs", "0.1",
                      "--epochs", "1")
    assert [r["batch_size"] for r in runs] == [16, 32]
    assert scans == [f"{path}:T:label"] * 2  # one a run
    code, _, err = cli("sweep", path, "--x", "T", "--label-column", "label", "--batch-sizes", "401", "-q")
    assert (code, err) == (2, f"sgdcli: error: --batch-sizes: 401 is larger than the 400 rows of {path}\n")
    assert scans == [f"{path}:T:label"] * 2


@pytest.mark.parametrize("given", ["data", "val", "init"])
def test_plot_on_an_input_is_refused_before_any_run(tmp_path, binary_file, given):
    """`--plot curves.png`, a link to the data (or the --val file, or the --init model), drew the image over it,
    exit 0: the input was lost; and --print-config passed it."""
    model = tmp_path / "m.h5"
    assert cli("train", binary_file, "-o", model, "--epochs", "1", "-q")[0] == 0
    target = {"data": binary_file, "val": binary_file, "init": model}[given]
    extra = {"data": [], "val": ["--val", binary_file], "init": ["--init", model]}[given]
    (tmp_path / "curves.png").symlink_to(target)
    before = Path(target).read_bytes()
    for check in ([], ["--print-config"]):
        code, out, err = cli("sweep", binary_file, "--batch-sizes", "32", "--epochs", "1", "-q", *extra,
                             "--plot", tmp_path / "curves.png", *check)
        assert (code, out, err) == (2, "", f"sgdcli: error: --plot {tmp_path / 'curves.png'}: is also an input of "
                                           "this command; choose another output path\n"), check
    assert Path(target).read_bytes() == before


@short_fits
@pytest.mark.parametrize("parallel", [[], ["--parallel", "average", "--threads", "2"]])  # (steps between averagings
def test_the_runs_read_the_labels_and_moments_once_for_all(tmp_path, monkeypatch, parallel):  # by the batch size)
    """Every run of a sweep would read the same labels, weights and feature moments (its options differ in the batch
    size and rate alone): the first run's passes serve the others (training/setup.py ``shared_facts``), each a pass
    over the whole file, minutes on one larger than memory.  The rows are those each run alone would train on, bit
    for bit (test_each_run_is_the_train_run_with_those_options), and a run of other data reads its own."""
    from sgdcli.engine import passes

    rng = np.random.default_rng(4)
    X = rng.standard_normal((600, 3)).astype(np.float32)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["X"], f["y"], f["w"] = X, (X[:, 0] > 0).astype(np.float64), rng.uniform(0.5, 2.0, 600)
    reads = []
    for name in ("label_pass", "moment_pass"):
        real = getattr(passes, name)
        monkeypatch.setattr(passes, name,
                            lambda *a, _real=real, _name=name, **kw: reads.append(_name) or _real(*a, **kw))
    code, _, err = cli("sweep", tmp_path / "d.h5", "--sample-weight", "w", "--batch-sizes", "16,64,full", "--lrs",
                       "0.05,auto", "--epochs", "1", *parallel)
    assert code == 0, err
    assert reads == ["label_pass", "moment_pass"]
    assert err.count(f"labels, weights and feature moments of {tmp_path / 'd.h5'}: as an earlier run of the sweep "
                     "read them (no pass)") == 5
    rows = sweep_json(tmp_path / "d.h5", "--sample-weight", "w", "--batch-sizes", "16", "--lrs", "0.05", "--epochs",
                      "1")
    model = train(tmp_path / "d.h5", TrainOptions(batch_size=16, lr=0.05, epochs=1, sample_weight="w"))
    assert rows[0]["train_loss"] == model.history[-1]["train_loss"]
    assert reads[2:] == ["label_pass", "moment_pass"] * 2  # the second sweep's own, and train's
    del reads[:]

    def rewrite(run):  # another file at that path after the first run: the second reads it
        if not reads[2:]:
            with h5py.File(tmp_path / "d.h5", "r+") as f:
                f["w"][...] = rng.uniform(0.5, 2.0, 600)
            os.utime(tmp_path / "d.h5", ns=(0, 10**18))

    sweep(tmp_path / "d.h5", TrainOptions(epochs=1, sample_weight="w"), [16, 64, 128], [0.05], on_run=rewrite)
    assert reads == ["label_pass", "moment_pass"] * 2


def test_a_sweep_stopped_before_a_run_ended_prints_an_empty_json_array_and_one_drawing_its_plot_says_so(
        tmp_path, binary_file, monkeypatch):
    """--json stopped before its first run ended wrote nothing, so `sweep --json > runs.json` left a file no program
    could parse; a stop while --plot was drawn, after every run ended, gave only the generic stop line.  (The stop
    is the exception the command line's SIGTERM handler raises; tests/test_sigterm.py sends real signals.)"""
    import signal

    import sgdcli
    from sgdcli import errors
    from sgdcli.reporting import plot

    def stopped(*args, **kwargs):
        raise errors.Terminated(signal.SIGTERM)

    with monkeypatch.context() as patched:
        patched.setattr(sgdcli, "sweep", stopped)
        assert cli("sweep", binary_file, "--batch-sizes", "32,64", "--json", "-q") == (
            143, "[]\n", "sgdcli: stopped by SIGTERM before finishing; stdout has the rows of the 0 of 2 runs that "
                         "ended; no partial output file was left\n")
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(plot, "save", stopped)
    code, out, err = cli("sweep", binary_file, "--batch-sizes", "64", "--epochs", "1", "--plot", tmp_path / "p.png",
                         "-q")
    assert (code, len(out.strip().splitlines())) == (143, 2)  # the header and the run's row
    assert err == (f"sgdcli: stopped by SIGTERM before finishing; stdout has the rows of the 1 of 1 runs that ended; "
                   f"--plot {tmp_path / 'p.png'} was not drawn; no partial output file was left\n")
