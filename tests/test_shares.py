"""What a run that averages models (--parallel average, --dask) says of its shares: the pass that counts the rows
--bad-rows skip leaves out, and the iterations of an epoch, each share's own summed."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from sgdcli import train
from sgdcli.errors import Interrupted
from sgdcli.options import TrainOptions
from sgdcli.reporting.reporter import Reporter
from sgdcli.training.control import RunControl

from conftest import ROOT, make_problem, run, short_fits, write_table

# a few rows and epochs, to count shares and steps: the fit warnings are right and beside the point
pytestmark = short_fits

SMALL = 2**20  # the least --memory
SHARING = "stopped by SIGTERM while counting the rows each model averaged trains, before training began; " \
          "nothing to resume yet"


class Events(Reporter):
    """What a run told its reporter, in order."""

    def __init__(self, events: list):
        self.events = events

    def begin(self, *, epochs, iterations, rows, batch_size, lr):  # (written before ``batch`` was passed)
        self.events.append(("begin", iterations))

    def epoch_start(self, epoch):
        self.events.append(("epoch", epoch))

    def advance(self, epoch, iteration, rows, loss, lr, detail=""):
        self.events.append(("advance", iteration))

    def epoch_end(self, record):
        self.events.append(("end", record["iterations"]))

    def message(self, text):
        self.events.append(("message", text))


@pytest.fixture
def bad(tmp_path):
    X, y = make_problem("binary", n=6000, d=20, seed=1)
    X[:1800, 0] = np.nan
    return write_table(tmp_path / "bad.h5", X, y)


def _counting(path, models=2) -> str:
    return (f"counting where --bad-rows skip leaves rows of {path} out (one pass over the features), so that the "
            f"{models} models averaged train equal shares")


def test_the_pass_that_counts_the_bad_rows_is_announced_and_made_before_training(bad, monkeypatch):
    """It read the whole file inside the first epoch, silently: no line, the bar at 0, and in the epoch's time
    and rows/s.  Now it is a pass of the set-up, announced as the others are, before the run's first line."""
    import sgdcli.engine.passes as passes

    events = []
    counted = passes.skipped_pass
    monkeypatch.setattr(passes, "skipped_pass", lambda *a, **k: (events.append(("pass",)), counted(*a, **k))[1])
    model = train(bad, TrainOptions(batch_size=50, epochs=1, threads=2, parallel="average", bad_rows="skip",
                                    lr=0.1, memory=SMALL), reporter=Events(events))
    said = events.index(("message", _counting(bad)))
    assert said < events.index(("pass",)) < events.index(("begin", model.training["iterations_per_epoch"]))
    assert events.count(("pass",)) == 1
    assert [e for e in events if e[0] == "message" and e[1].startswith("counting")] == [("message", _counting(bad))]


@pytest.mark.parametrize("opts", [dict(threads=1, parallel="average"), dict(threads=2)])
def test_one_model_counts_nothing_and_says_nothing(bad, opts):
    events = []
    train(bad, TrainOptions(batch_size=50, epochs=1, bad_rows="skip", lr=0.1, memory=SMALL, **opts),
          reporter=Events(events))
    assert not [e for e in events if e[0] == "message" and "counting" in e[1]]


def test_a_signal_during_the_counting_pass_stops_the_run_there(bad, tmp_path):
    """As the label pass: a stop between its blocks, before training, with nothing to checkpoint."""
    events = []

    def stop():
        return signal.SIGTERM if ("message", _counting(bad)) in events else None

    out = tmp_path / "m.h5"
    with pytest.raises(Interrupted) as stopped:
        train(bad, TrainOptions(batch_size=50, epochs=1, threads=2, parallel="average", bad_rows="skip", lr=0.1,
                                memory=SMALL), output=str(out),
              control=RunControl(checkpoint=str(out) + ".ckpt", stop=stop), reporter=Events(events))
    assert (stopped.value.exit_code, str(stopped.value)) == (143, SHARING)
    assert not [e for e in events if e[0] == "begin"]
    assert not out.exists() and not os.path.exists(str(out) + ".ckpt")


def test_a_signal_while_the_held_out_rows_are_counted_stops_the_run_there(tmp_path, monkeypatch):
    """The count of the rows --val-fraction does not hold out in each run of rows hashes every row number of the
    file, and asked no stop: a signal then waited for the first round."""
    from sgdcli.data import shuffle

    X, y = make_problem("binary", n=3000, d=5, seed=2)
    path = write_table(tmp_path / "d.h5", X, y)
    started = []
    count = shuffle.kept_per_extent
    monkeypatch.setattr(shuffle, "kept_per_extent", lambda *a, **k: (started.append(1), count(*a, **k))[1])
    with pytest.raises(Interrupted) as stopped:
        train(path, TrainOptions(epochs=1, threads=2, parallel="average", val_fraction=0.2, memory=SMALL),
              control=RunControl(stop=lambda: signal.SIGTERM if started else None))
    assert str(stopped.value) == SHARING


def test_sigterm_during_the_counting_pass_stops_the_process_promptly(bad, tmp_path):
    out = tmp_path / "m.h5"
    env = {**os.environ, "SGDCLI_TEST_SAFE_POINT_DELAY": "0.2"}
    env.pop("SGDCLI_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-m", "sgdcli", "train", str(bad), "-o", str(out), "--parallel",
                             "average", "--threads", "2", "--bad-rows", "skip", "--memory", "1M", "--progress",
                             "plain"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    seen = []
    while "counting where --bad-rows skip" not in (line := proc.stderr.readline()):
        seen.append(line)
        assert line, f"the run said nothing of the pass: {''.join(seen)}"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == f"sgdcli: {SHARING}", err
    assert not out.exists() and not os.path.exists(str(out) + ".ckpt")


def shares(n: int, w: int) -> list[int]:
    """The rows of each of w shares of n rows, cut equal (±1) as the docs say."""
    return [n * (i + 1) // w - n * i // w for i in range(w)]


@pytest.mark.parametrize("n,batch,drop_last,val_fraction,bad_rows", [
    (129, 32, False, 0.0, 0),  # shares of 64 and 65 rows: 2 + 3 steps
    (2001, 10, False, 0.0, 0),  # 1000 and 1001 rows: 100 + 101
    (2000, 10, False, 0.0, 0),  # 1000 each: 100 + 100
    (1001, 100, True, 0.0, 0),  # --drop-last: 500 and 501 rows, 5 + 5
    (3000, 32, False, 0.3, 0),  # the rows --val-fraction leaves, shared out
    (3000, 32, True, 0.2, 250),  # and those --bad-rows skip leaves
    (3001, 33, False, 0.0, 40),
    (10, None, False, 0.0, 0),  # a full batch: one step a share
])
def test_an_epochs_iterations_are_each_shares_steps_summed(tmp_path, n, batch, drop_last, val_fraction, bad_rows):
    """docs/training.md: an epoch has ceil(rows / batch size) iterations, and with shares, each share's own; a run
    announced T × ceil(ceil(rows / T) / batch size), up to T - 1 more, so that the bar of every epoch ended short
    of its total and the model card named more iterations than any epoch took."""
    X, y = make_problem("binary", n=n, d=4, seed=n)
    X[np.random.default_rng(n).choice(n, bad_rows, replace=False), 1] = np.inf
    path = write_table(tmp_path / "d.h5", X, y)
    events = []
    threads = 2
    model = train(path, TrainOptions(batch_size=batch, epochs=2, threads=threads, parallel="average", lr=0.1,
                                     drop_last=drop_last, val_fraction=val_fraction, seed=3, memory=SMALL,
                                     bad_rows="skip" if bad_rows else "error"), reporter=Events(events))
    rows = model.training["rows"]
    b = rows if batch is None else batch
    exact = sum(r // b if drop_last else math.ceil(r / b) for r in shares(rows, threads))
    assert model.training["iterations_per_epoch"] == exact
    assert [r["iterations"] for r in model.history] == [exact, exact]
    assert [e for e in events if e[0] in ("begin", "end")] == [("begin", exact), ("end", exact), ("end", exact)]
    assert max(e[1] for e in events if e[0] == "advance") == exact
    # the step clock the schedule counts: the largest share's steps an epoch
    most = max(r // b if drop_last else math.ceil(r / b) for r in shares(rows, threads))
    assert model.training["updates"] == 2 * most


def test_the_card_and_verbose_lines_name_the_iterations_an_epoch_takes(tmp_path):
    X, y = make_problem("binary", n=129, d=4, seed=5)
    path = write_table(tmp_path / "d.h5", X, y)
    ran = run("train", path, "-o", tmp_path / "m.h5", "--parallel", "average", "--threads", "2", "--epochs", "1",
              "--lr", "0.1", "--verbose", "--progress", "plain")
    assert ran.returncode == 0, ran.stderr
    assert "1 epoch × 5 iterations (batch 32, lr 0.2)" in ran.stdout
    assert "training on 129 rows: 1 epoch × 5 iterations of batch 32" in ran.stderr
    assert "epoch 1/1, 5 iterations" in ran.stderr
    assert ("shares: an epoch's 129 training rows are cut into 2 shares of 64 to 65 rows, one per model, which take "
            "2 to 3 steps of batch 32 each (a last, partial batch a step of its own): 5 iterations an epoch; the step "
            "clock the schedule counts advances by the largest share's 3") in ran.stderr


def test_a_round_of_a_whole_share_is_said_in_the_shares_rows(tmp_path):
    """A round that is a whole share of an epoch, of 65 rows at most, was said as its 3 steps' whole batches:
    '(96 rows) (its share of an epoch)'."""
    X, y = make_problem("binary", n=129, d=4, seed=5)
    path = write_table(tmp_path / "d.h5", X, y)
    ran = run("train", path, "-o", tmp_path / "m.h5", "--parallel", "average", "--threads", "2", "--epochs", "1",
              "--lr", "0.1", "--progress", "plain")
    assert ran.returncode == 0, ran.stderr
    assert ("--parallel average: 2 threads, each its share of an epoch (up to 65 rows, 3 steps) per round, then "
            "the models are averaged") in ran.stderr


def test_the_bar_ends_full_at_what_the_epoch_took(tmp_path):
    """The rich bar's total stayed the larger of what was announced and what the epoch took."""
    import io

    from sgdcli.reporting.bars import RichReporter

    reporter = RichReporter(io.StringIO())
    reporter.begin(epochs=1, iterations=6, rows=129, batch_size=32, lr=0.1)
    reporter.epoch_start(0)
    reporter.advance(0, 5, 129, 0.5, 0.1)
    task = reporter.progress.tasks[reporter.iter_task]
    reporter.epoch_end({"epoch": 1, "iterations": 5, "train_loss": 0.5, "lr": 0.1, "seconds": 1.0,
                        "rows_per_s": 129.0})
    assert (task.completed, task.total) == (5, 5)
    reporter.close()
