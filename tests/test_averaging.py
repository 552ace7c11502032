"""--parallel average: shards of every epoch on threads of one process, models averaged every K steps."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import h5py
import numpy as np
import pytest

from sgdcli import train
from sgdcli.data.table import Table
from sgdcli.errors import DivergedError, InputError, Interrupted
from sgdcli.options import TrainOptions
from sgdcli.parallel import averaging
from sgdcli.parallel.threads import ThreadExecutor, ThreadRounds
from sgdcli.reporting.reporter import Reporter
from sgdcli.training.checkpoint import check_compatible, load_latest
from sgdcli.training.control import RunControl
from sgdcli.training.run import Run

import naive
from conftest import ROOT, make_problem, run, run_process, short_fits, write_table
from test_convergence import logistic_objective, newton_logistic

SMALL = 2**20  # the least --memory: blocks of about 1,200 rows at 100 features


@pytest.fixture
def data(tmp_path):
    X, y = make_problem("binary", n=4000, d=100, seed=11)
    return write_table(tmp_path / "b.h5", X, y)


def same(a, b) -> bool:
    return a.weights.tobytes() == b.weights.tobytes() and a.bias.tobytes() == b.bias.tobytes()


@pytest.mark.parametrize("batch,optimizer,sync", [(32, "adam", 1), (None, "sgd", None), (1, "sgd", 50),
                                                  (7, "nesterov", 3)])
@short_fits
def test_one_thread_is_the_default_mode_bit_for_bit(data, batch, optimizer, sync):
    opts = TrainOptions(batch_size=batch, optimizer=optimizer, lr=0.05, epochs=2, memory=SMALL, seed=3,
                        val_fraction=0.3, threads=1, standardize=True, average=batch == 7)
    plain = train(data, opts)
    averaged = train(data, replace(opts, parallel="average", sync_every=sync))
    assert same(plain, averaged)
    assert [r["iterations"] for r in averaged.history] == [r["iterations"] for r in plain.history]
    assert [r["val_loss"] for r in averaged.history] == [r["val_loss"] for r in plain.history]
    # the default K: about a million rows' worth of steps (full batch: counted in the file's rows)
    assert averaged.training["sync_every"] == (sync or averaging.DEFAULT_SYNC_ROWS // (batch or 4000))


@short_fits
def test_a_round_goes_on_in_the_window_its_shard_left_without_reading_it_again(data, monkeypatch):
    """Each round read the window it started in again (its visiting order, labels and rows), however few rows it
    trained: rounds of 200 rows took 37 ms at the default --memory, and one thread averaging every 50 steps took
    540 times as long as the default mode for the same model.  Now every window is read once an epoch, as where
    the threads average once an epoch, and the model is the same bytes as before."""
    from sgdcli.data.shuffle import PageShuffle

    visits = []
    real = PageShuffle.visit

    def counted(self, epoch, w, *args, **kwargs):
        visits.append((epoch, w))
        return real(self, epoch, w, *args, **kwargs)

    monkeypatch.setattr(PageShuffle, "visit", counted)
    opts = TrainOptions(batch_size=10, lr=0.05, epochs=2, memory=SMALL, seed=3, threads=2, parallel="average")
    once = train(data, replace(opts, sync_every=10**6))  # one round an epoch
    read = sorted(visits)
    visits.clear()
    often = train(data, replace(opts, sync_every=3))  # 30 rows a round: some 70 rounds a shard an epoch
    assert often.training["updates"] == once.training["updates"] and often.training["sync_every"] == 3
    assert sorted(visits) == read and len(read) < 20  # the premise: a few windows, each read once an epoch
    plain = train(data, replace(opts, sync_every=3, threads=1))
    assert same(plain, train(data, replace(opts, sync_every=None, threads=1, parallel="batch")))


@short_fits
def test_one_thread_skipping_bad_rows_is_the_default_mode_where_its_rounds_span_windows(tmp_path):
    """One shard's windows are not cut around the rows --bad-rows skip leaves out, so a window trains fewer rows
    than its segment counts: a round that stopped reading windows where the counts said its rows would end
    (so as not to read one ahead in vain) returned at a window's end with a batch half filled, whose rows no
    round trained: 419 iterations an epoch of the default mode's 421, a model of other bytes, and a resumed run
    not the straight one (helper-148's review).  It reads on to where its rows end."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6000, 100)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.standard_normal(6000) > 0).astype(np.float64)
    X[rng.random(6000) < 0.3, 3] = np.nan
    path = write_table(tmp_path / "bad.h5", X, y)
    opts = TrainOptions(batch_size=10, lr=0.05, epochs=2, memory=SMALL, seed=3, threads=1, bad_rows="skip")
    plain = train(path, opts)
    averaged = train(path, replace(opts, parallel="average", sync_every=200))  # rounds of 2,000 rows: windows
    # of about 1,200 rows, some 850 of them trained
    assert [(r["iterations"], r["rows"]) for r in averaged.history] == [(421, 4201)] * 2
    assert [(r["iterations"], r["rows"]) for r in plain.history] == [(421, 4201)] * 2
    assert same(plain, averaged)


def test_a_batch_above_a_threads_share_is_said_as_the_share_its_steps_take(data, tmp_path):
    """Each thread steps on its share of an epoch, 2,000 of the 4,000 rows: the run's first line and its result
    said `batch 4000`, a batch no thread took (the few-updates warning already said the share)."""
    code, out, err = run("train", data, "-o", tmp_path / "m.h5", "--parallel", "average", "--threads", "2",
                         "--batch-size", "full", "--epochs", "2", "--progress", "plain", "-v")
    assert code == 0, err
    assert "training on 4000 rows: 2 epochs × 2 iterations of a thread's whole share of the rows, about 2000, " in err
    assert ("shares: an epoch's 4000 training rows are cut into 2 shares of 2000 rows, one per model, which take 1 "
            "step of a model's whole share of the rows, about 2000 each") in err, err
    assert out.startswith(f"model {tmp_path / 'm.h5'}: logistic, 100 features, 2 epochs × 2 iterations (a thread's "
                          "whole share of the rows, about 2000, lr "), out
    code, out, err = run("train", data, "-o", tmp_path / "m.h5", "--parallel", "average", "--threads", "2",
                         "--batch-size", "2000", "--epochs", "1", "--progress", "plain")
    assert "2 iterations of batch 2000, " in err and "(batch 2000, lr " in out


@short_fits
def test_a_reporter_gets_the_batch_in_words_where_its_begin_takes_them(data):
    """``batch`` was passed to every reporter's begin, and one written as docs/python-api.md showed it, without
    that keyword, failed the run with a TypeError (helper-148's review): it is passed where begin takes it."""
    from sgdcli import Reporter

    told = []

    class Old(Reporter):
        def begin(self, *, epochs, iterations, rows, batch_size, lr):
            told.append(("old", batch_size))

    class New(Reporter):
        def begin(self, *, epochs, iterations, rows, batch_size, lr, batch=None):
            told.append(("new", batch))

    class Any(Reporter):
        def begin(self, **kwargs):
            told.append(("any", kwargs["batch"]))

    class Builtin(Reporter):  # a begin whose signature Python cannot tell (helper-149): every keyword
        def __init__(self):
            self.seen = {}
            self.begin = self.seen.update

    opts = TrainOptions(batch_size="full", epochs=1, threads=2, parallel="average")
    builtin = Builtin()
    for reporter in (Old(), New(), Any(), builtin):
        train(data, opts, reporter=reporter)
    assert told == [("old", 4000), ("new", "a thread's whole share of the rows, about 2000"),
                    ("any", "a thread's whole share of the rows, about 2000")]
    assert builtin.seen["batch"] == "a thread's whole share of the rows, about 2000"


def test_two_threads_reach_the_optimum_and_train_every_row_once_an_epoch(tmp_path):
    X, y = make_problem("binary", n=4000, d=100, seed=5, noise=10.0)
    path = write_table(tmp_path / "b.h5", X, y, chunks=256)
    l2 = 0.01
    opts = TrainOptions(model="logistic", l2=l2, batch_size=64, lr=0.5, epochs=30, schedule="invscaling",
                        average=True, memory=SMALL, threads=2, parallel="average", sync_every=8)
    X64 = X.astype(np.float64)
    w_opt, b_opt = newton_logistic(X64, y, l2)
    best = logistic_objective(w_opt, b_opt, X64, y, l2)
    model = train(path, opts)
    assert best <= logistic_objective(model.weights[0], model.bias[0], X64, y, l2) <= best * 1.005
    assert [r["rows"] for r in model.history] == [4000] * 30
    # each thread ends its equal share with a partial batch of its own: ceil(2000 / 64) steps each
    assert [r["iterations"] for r in model.history] == [2 * 32] * 30
    assert model.training["round_timings"]["rounds"] == 30 * 4  # 32 steps per shard an epoch, 8 per round


class Recorder(Reporter):
    def __init__(self):
        self.calls, self.messages = [], []

    def advance(self, epoch, iteration, rows, loss, lr, detail=""):
        self.calls.append((epoch, iteration, rows, detail))

    def message(self, text):
        self.messages.append(text)


def test_same_seed_threads_and_sync_give_the_same_model_and_k_matters(data):
    opts = TrainOptions(batch_size=16, optimizer="momentum", lr=0.02, epochs=2, memory=SMALL, threads=2,
                        parallel="average", sync_every=5)
    progress = Recorder()
    a, b = train(data, opts, reporter=progress), train(data, opts)
    assert same(a, b)
    assert not same(a, train(data, replace(opts, sync_every=6)))
    assert not same(a, train(data, replace(opts, parallel="batch", sync_every=None)))
    assert "--parallel average: 2 threads, each 5 steps (80 rows) per round, then the models are averaged" \
        in progress.messages
    first, last = progress.calls[0], [c for c in progress.calls if c[0] == 0][-1]
    # after the first round (10 steps of 16 rows in all), each shard's place among its segments of the windows
    from sgdcli.data.shuffle import deal, pages_for

    with Table(data) as table:
        pages = table.page_shuffle(SMALL // 2, pages_for(opts.batch_size), opts.seed, opts.shuffle)
    sizes = pages.window_sizes(pages.extent_order(0))
    places = [int(np.searchsorted(np.cumsum([hi - lo for _, lo, hi in share]), 80, side="right"))
              for share in deal(np.arange(len(sizes)), sizes, 2)]
    assert first[:3] == (0, 10, 160) and first[3].startswith(f"windows t1 {places[0]}/") \
        and f" t2 {places[1]}/" in first[3]
    assert last[1:] == (2 * 125, 4000, "windows t1 done t2 done")


def test_the_log_says_the_steps_a_round_takes_where_a_share_of_an_epoch_is_fewer_than_sync_every(data):
    """By default a round is about a million rows: the line said 'each 65536 step(s) (1048576 rows) per round'
    while each thread's share of an epoch, which ends every round, was 125 steps: the models met once an epoch."""
    heard = Recorder()
    model = train(data, TrainOptions(batch_size=16, lr=0.02, epochs=2, threads=2, parallel="average"), reporter=heard)
    assert model.training["round_timings"]["rounds"] == 2  # one a epoch
    lines = [m for m in heard.messages if m.startswith("--parallel average: ")]
    assert lines == ["--parallel average: 2 threads, each its share of an epoch (up to 2000 rows, 125 steps) "
                     "per round, then the models are averaged"]


def test_each_thread_streams_blocks_from_its_share_of_the_memory_budget(data):
    opts = TrainOptions(batch_size=16, epochs=1, memory=4 * SMALL, threads=2, parallel="average")
    model = train(data, opts)
    with Table(data) as table:
        assert model.training["block_rows"] == table.block_rows(2 * SMALL) < table.block_rows(4 * SMALL)
    assert model.training["threads"] == 2


@pytest.mark.parametrize("standardize", [[], ["--no-standardize"]])
def test_a_bad_row_in_the_second_share_is_the_single_thread_error(tmp_path, monkeypatch, standardize):
    """Without the standardizing pass, which finds it first, the thread that met the row named the file by the
    absolute path it opened, not as the command line named it."""
    X, y = make_problem("binary", n=4000, d=100, seed=3)
    X[3000, 7] = np.inf  # in the second thread's share
    write_table(tmp_path / "bad.h5", X, y)
    monkeypatch.chdir(tmp_path)
    args = ["train", "bad.h5", "-o", "m.h5", "--memory", SMALL, "-q", *standardize]
    single = run(*args, "--threads", "1")
    averaged = run(*args, "--threads", "2", "--parallel", "average")
    assert single.returncode == averaged.returncode == 2
    assert averaged.stderr == single.stderr == "sgdcli: error: bad.h5:X: non-finite feature value at row 3000, column 7\n"
    assert not (tmp_path / "m.h5").exists()


def test_divergence_names_the_step_and_what_to_change(data):
    opts = TrainOptions(model="linear", batch_size=8, lr=50.0, epochs=2, memory=SMALL, threads=2,
                        parallel="average", sync_every=3, lr_scaling="linear", base_batch_size=8)
    # the rate used is 50 × 2 × 8 rows / 8 (--lr-scaling linear; replicas would stop at --lr itself here); the
    # advice is a tenth of --lr 50, not of that rate, which --lr-scaling would double again; the plan each shard
    # gets says the rate was given
    with pytest.raises(DivergedError, match=r"^training diverged in epoch 1 at iteration \d+: .*\(of a rate of 100 "
                                           r"before the schedule: --lr 50 scaled by --lr-scaling\); try a smaller "
                                           r"--lr \(e\.g\. 5\), a larger --batch-size, or --lr auto "
                                           r"\([0-9.e+-]+ here\)$"):
        train(data, opts)


def test_a_stop_mid_round_abandons_it_and_keeps_the_last_whole_round(data):
    """The shards check for a stop at the engine's safe points; the round is dropped, never half-applied."""
    with Table(data) as table:
        opts = TrainOptions(batch_size=4, epochs=1, memory=SMALL, threads=2, parallel="average", sync_every=10)
        stopping = [False]
        executor = ThreadExecutor(table, opts, 2, stop=lambda: 15 if stopping[0] else None)
        r = Run(table, None, opts, executor, Reporter(), RunControl())
        try:
            before = r.state.W.copy()

            class Stop(Exception):
                pass

            def on_stop():
                raise Stop()

            rounds = [averaging.Round(w, shard, 0, 0, 0, r.state.W, None, 0, executor.sync_every, 0)
                      for w, shard in enumerate(_dealt(executor, r.plan))]
            stopping[0] = True
            with pytest.raises(Stop):
                executor.pool.rounds(executor.job, rounds, on_stop)
            assert np.array_equal(r.state.W, before)
            stopping[0] = False
            results = executor.pool.rounds(executor.job, rounds, on_stop)
            assert [x.shard for x in results] == [0, 1] and all(x.steps == executor.sync_every for x in results)
        finally:
            executor.close()


def test_a_stop_that_answers_a_shard_once_stops_the_run_as_one_thread_does(data, tmp_path):
    """``stop`` may answer a signal once and None after: the run stops on it, with a checkpoint, and resumes to
    the model of a run never stopped.  The shard that saw it gave up its round, and the safe point that
    checkpoints asked again, got None, and the internal ``Abandoned`` escaped ``train``."""
    opts = TrainOptions(batch_size=16, epochs=2, memory=SMALL, threads=2, parallel="average", sync_every=4)
    asked = []

    def once():  # SIGTERM to the first question a shard's thread asks, None to every other
        shard = threading.current_thread().name.startswith("sgdcli-shard")
        asked.append(shard)
        return signal.SIGTERM if shard and asked.count(True) == 1 else None

    ckpt = str(tmp_path / "m.ckpt")
    control = RunControl(checkpoint=ckpt, resume=True, stop=once)  # the same for both runs: each asks anew
    with pytest.raises(Interrupted, match=r"^stopped by SIGTERM at epoch 1, iteration 0/250; checkpoint saved to ") \
            as stopped:
        train(data, opts, control=control)
    assert stopped.value.exit_code == 143 and os.path.exists(ckpt)
    resumed = train(data, opts, control=control)
    assert same(resumed, train(data, opts))


def _dealt(executor, plan):
    from sgdcli.data.shuffle import deal

    sizes = plan.pages.window_sizes(plan.pages.extent_order(0))
    return deal(np.arange(len(sizes)), sizes, executor.shards)


def _cmd(path, out, *extra):
    return [sys.executable, "-m", "sgdcli", "train", str(path), "-o", str(out), "--parallel", "average",
            "--threads", "2", "--sync-every", "4", "--batch-size", "16", "--epochs", "2", "--memory", str(SMALL),
            *extra]


def _stopped_mid_run(data, out, *extra):
    """The run, stopped by SIGTERM once it trains (64 rounds of at least 50 ms each: it cannot finish first)."""
    env = {**os.environ, "SGDCLI_TEST_SAFE_POINT_DELAY": "0.05"}
    proc = subprocess.Popen(_cmd(data, out, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)
    for line in proc.stderr:
        if "--parallel average: 2 threads" in line:
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    return proc


def test_sigterm_then_resume_ends_with_the_straight_run_bytes(data, tmp_path):
    reference = tmp_path / "reference.h5"
    subprocess.run(_cmd(data, reference), check=True, capture_output=True, cwd=ROOT)
    out = tmp_path / "model.h5"
    proc = _stopped_mid_run(data, out)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert "checkpoint saved" in stderr and not out.exists()
    saved = load_latest(str(out) + ".ckpt")
    assert saved.position.shards is not None and len(saved.position.shards) == 2
    resumed = subprocess.run(_cmd(data, out, "--resume"), capture_output=True, text=True, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stderr
    with h5py.File(reference) as a, h5py.File(out) as b:
        for key in ("weights", "bias"):
            assert a[key][()].tobytes() == b[key][()].tobytes()


def test_resume_with_another_thread_count_or_mode_is_refused(data, tmp_path):
    out = tmp_path / "m.h5"
    proc = _stopped_mid_run(data, out)
    proc.communicate(timeout=120)
    assert proc.returncode == 143
    base = ["train", data, "-o", out, "--batch-size", "16", "--epochs", "2", "--memory", SMALL, "-q", "--resume"]
    other = run(*base, "--parallel", "average", "--threads", "1", "--sync-every", "4")
    assert other.returncode == 2 and "threads (checkpoint: 2, now: 1)" in other.stderr
    plain = run(*base, "--threads", "2")
    assert plain.returncode == 2 and "parallel (checkpoint: 'average', now: 'batch')" in plain.stderr


def test_a_checkpoint_from_before_an_option_existed_counts_it_as_its_default():
    defaults = TrainOptions().as_dict()
    old = {k: v for k, v in defaults.items() if k not in ("parallel", "sync_every")}

    class Saved:
        options = old
        data = {"train": 1}

    check_compatible(Saved, {**defaults}, {"train": 1}, "c.ckpt", defaults=defaults)
    with pytest.raises(InputError, match=r"parallel \(checkpoint: 'batch', now: 'average'\)"):
        check_compatible(Saved, {**defaults, "parallel": "average"}, {"train": 1}, "c.ckpt", defaults=defaults)


@pytest.mark.parametrize("args,message", [
    (["--parallel", "average", "--threads", "0"], "--threads: must be >= 1, got 0"),
    (["--parallel", "both"], None),
    (["--sync-every", "0", "--parallel", "average"], None),
    # each share of 2,000 rows is an incomplete last batch: every epoch trained nothing, exit 0
    (["--parallel", "average", "--threads", "2", "--batch-size", "3000", "--drop-last"],
     "--drop-last: each of the 2 models averaged gets at most 2,000 training rows an epoch, fewer than a batch of "
     "3,000, so no batch would train; lower --batch-size or leave out --drop-last"),
    (["--parallel", "average", "--threads", "2", "--batch-size", "full", "--drop-last"],
     "--drop-last: each of the 2 models averaged gets at most 2,000 training rows an epoch, fewer than a batch of "
     "4,000, so no batch would train; lower --batch-size or leave out --drop-last"),
])
def test_bad_parallel_options_are_exit_2(data, tmp_path, args, message):
    proc = run("train", data, "-o", tmp_path / "m.h5", *args)
    assert proc.returncode == 2
    if message is not None:  # (after the passes over the data, for --drop-last: they count the training rows)
        assert proc.stderr.splitlines()[-1] == f"sgdcli: error: {message}"
    else:
        assert len(proc.stderr.splitlines()) == 1 and ("--parallel" in proc.stderr or "--sync-every" in proc.stderr)
    assert not (tmp_path / "m.h5").exists()


def test_round_result_fields_add_up_over_an_epoch(data):
    """A round's loss and rows are the epoch's sums: the averaged epoch reports every row's loss once."""
    opts = TrainOptions(batch_size=32, epochs=1, memory=SMALL, threads=2, parallel="average", sync_every=7)
    model = train(data, opts)
    record = model.history[0]
    assert record["rows"] == 4000 and np.isfinite(record["train_loss"])
    assert record["iterations"] == 2 * 63  # ceil(2000 / 32) steps in each share


def test_a_budget_too_small_to_split_between_the_threads_names_one_that_is_not(tmp_path):
    """Each of 2 threads needs two blocks of one chunk: 1,024 rows of 300 float32 features and a float64
    label, twice, and 160 bytes of bookkeeping a row (data/table.py) = 2,637,824 bytes, 5,275,648 for both,
    which 6M holds and 5M does not.  The refusal named no --memory."""
    X, y = make_problem("binary", n=4000, d=300, seed=2)
    path = write_table(tmp_path / "c.h5", X, y, chunks=1024)
    need = 2 * 1024 * (2 * (300 * 4 + 8) + 2 * 80)
    assert (5 << 20) < need <= (6 << 20)
    args = ["train", path, "-o", tmp_path / "m.h5", "--threads", "2", "--parallel", "average", "--epochs", "1"]
    for memory, each in (("1M", "512.0 KiB"), ("5M", "2.5 MiB")):
        proc = run(*args, "--memory", memory)
        assert (proc.returncode, proc.stdout) == (2, "")
        assert proc.stderr == (f"sgdcli: error: --memory: {memory[0]}.0 MiB split between the 2 threads of --parallel "
                               f"average leaves {each} each, less than two blocks of one chunk of {path}:X; raise "
                               f"--memory to at least 6M or lower --threads\n")
        assert not (tmp_path / "m.h5").exists()
    proc = run(*args, "--memory", "6M", "-q")
    assert proc.returncode == 0, proc.stderr
    assert run("train", path, "-o", tmp_path / "m.h5", "--memory", "3M", "--threads", "2", "-q").returncode == 0


def test_the_memory_named_for_threads_is_the_least_whole_mib_that_holds_their_blocks(tmp_path):
    """The search (doubling, then bisection) finds what trying every whole MiB finds, for any thread count."""
    from sgdcli.parallel.threads import _least_shared

    X, y = make_problem("binary", n=3000, d=300, seed=2)
    with Table(write_table(tmp_path / "c.h5", X, y, chunks=1000)) as table:
        def holds(mib, streams):
            try:
                table.block_rows((mib << 20) // streams)
                table.block_rows((mib << 20) // streams, windows=True)
            except InputError:
                return False
            return True

        for streams in (2, 3, 5, 8):
            least = next(mib for mib in range(1, 200) if holds(mib, streams))
            assert all(holds(mib, streams) for mib in range(least, least + 20))  # and every budget above it
            for memory in (1, 1 << 20, (least - 1) << 20, ((least - 1) << 20) + 12345):
                assert _least_shared(table, streams, memory) == least << 20


def test_averaged_threads_scale_the_rate_and_match_one_thread(tmp_path):
    """Two averaged models make the progress of one at twice the batch: the rate doubles by default
    (--lr-scaling replicas), and the test loss matches one thread's; without the scaling it does not."""
    from sgdcli import evaluate

    X, y = make_problem("binary", n=44000, d=10, seed=5)
    path = write_table(tmp_path / "d.h5", X[:40000], y[:40000])
    test = write_table(tmp_path / "t.h5", X[40000:], y[40000:])
    base = naive.options(model="logistic", batch_size=1024, epochs=3, memory=SMALL)
    one = train(path, replace(base, threads=1))
    progress = Recorder()
    two = train(path, replace(base, threads=2, parallel="average"), reporter=progress)
    plain = train(path, replace(base, threads=2, parallel="average", lr_scaling="none"))
    assert (one.training["lr"], two.training["lr"], plain.training["lr"]) == (0.01, 0.02, 0.01)
    assert "--lr-scaling replicas: lr 0.01 × 2 models averaged → 0.02" in progress.messages
    loss = {name: evaluate(m, test)["log_loss"] for name, m in (("one", one), ("two", two), ("plain", plain))}
    assert loss["two"] <= 1.01 * loss["one"]
    assert loss["plain"] > 1.03 * loss["one"]


def test_the_auto_rate_of_averaged_threads_is_sized_for_their_effective_batch(tmp_path):
    """Under --lr auto (the default) the rate is the curvature's for replicas × B rows, not scaled again,
    and two averaged threads give the test loss of one."""
    from sgdcli import evaluate
    from sgdcli.training import curvature

    X, y = make_problem("binary", n=44000, d=10, seed=5)
    path = write_table(tmp_path / "d.h5", X[:40000], y[:40000])
    test = write_table(tmp_path / "t.h5", X[40000:], y[40000:])
    base = TrainOptions(model="logistic", batch_size=1024, epochs=3, memory=SMALL)
    one = train(path, replace(base, threads=1))
    progress = Recorder()
    two = train(path, replace(base, threads=2, parallel="average"), reporter=progress)
    for m, batch in ((one, 1024), (two, 2048)):
        auto = m.training["lr_auto"]
        assert m.training["lr"] == auto["lr"] == pytest.approx(
            1 / (curvature.CURVATURE["logistic"] * (auto["lambda_max"] + auto["trace"] / (batch * (1 - base.momentum)))))
    assert not any(line.startswith("--lr-scaling") for line in progress.messages)
    assert any(line.endswith("(batch 1024 × 2 models averaged)") for line in progress.messages)
    assert evaluate(two, test)["log_loss"] <= 1.01 * evaluate(one, test)["log_loss"]


@short_fits
def test_each_thread_rounds_its_share_up_to_whole_batches(tmp_path):
    """docs/training.md, "Iterations and epochs": 2,000 rows at batch 32 are 63 iterations on one model, and
    2 × ceil(1,000 / 32) = 64 on two threads that average; 2 × floor(1,000 / 32) = 62 with --drop-last."""
    path = write_table(tmp_path / "b.h5", *make_problem("binary", n=2000, d=4, seed=0))
    one = train(path, TrainOptions(epochs=1, threads=1))
    two = train(path, TrainOptions(epochs=1, threads=2, parallel="average"))
    dropped = train(path, TrainOptions(epochs=1, threads=2, parallel="average", drop_last=True))
    assert [m.training["iterations_per_epoch"] for m in (one, two, dropped)] == [63, 64, 62]
    assert [m.history[0]["iterations"] for m in (one, two, dropped)] == [63, 64, 62]


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """A regression where batches of one row are noise-limited: the rate for R rows is about R times the rate
    for one (bench/results/2026-12-02-average-rates.md)."""
    from sgdcli import generate

    path = tmp_path_factory.mktemp("noisy") / "r.h5"
    generate(path, task="regression", rows=4000, features=20, seed=5)
    return path


def test_replicas_scale_an_explicit_rate_only_as_far_as_their_local_steps_stay_stable(noisy, tmp_path):
    """--lr 0.01 trains one model at batch 1; × 2 models averaged once an epoch, each of them took 0.02 on its
    own rows of batch 1 and blew up (exit 1). --lr-scaling replicas stops at the rate --lr auto gives the
    models' local steps, here below --lr itself, so the rate stays --lr; a small --lr still doubles."""
    from sgdcli import load_model

    base = ["train", noisy, "--model", "linear", "--batch-size", "1", "--epochs", "1"]
    one = run(*base, "--lr", "0.01", "-o", tmp_path / "one.h5")
    assert one.returncode == 0, one.stderr
    two = run(*base, "--lr", "0.01", "--parallel", "average", "--threads", "2", "-o", tmp_path / "two.h5")
    assert two.returncode == 0, two.stderr
    assert ("--lr-scaling replicas: lr 0.01 × 2 models averaged → 0.02, held at 0.01 (--lr itself): each of the 2 "
            "models takes 2000 steps on batches of 1 row between averagings, and a larger rate can make those steps "
            "blow up (docs/distributed.md)") in two.stderr
    assert load_model(tmp_path / "two.h5").training["lr"] == 0.01
    small = train(noisy, TrainOptions(model="linear", batch_size=1, epochs=1, lr=0.002, threads=2,
                                      parallel="average"))
    assert small.training["lr"] == 0.004


def test_the_auto_rate_of_many_averaged_models_is_what_their_local_steps_can_take(noisy, tmp_path):
    """4 models averaged once an epoch at batch 1: the rate for 4 rows, about 4 times one row's, blew up and
    was halved; it is held at twice the rate for the rows of one model's step. Averaged after every step
    (--sync-every 1) they are one step on 4 rows, at the rate for 4 rows."""
    from sgdcli import load_model

    base = ["train", noisy, "--model", "linear", "--batch-size", "1"]
    rate = {}
    for name, extra in (("one", ["--epochs", "1"]), ("four rows", ["--epochs", "1", "--batch-size", "4"]),
                        ("held", ["--epochs", "2", "--parallel", "average", "--threads", "4"]),
                        ("every step", ["--epochs", "1", "--parallel", "average", "--threads", "4",
                                        "--sync-every", "1"])):
        out = tmp_path / f"{name}.h5"
        ran = run_process(*base, *extra, "-o", out, env={"NUMBA_NUM_THREADS": "4"})
        assert ran.returncode == 0, ran.stderr
        assert "starting over" not in ran.stderr, ran.stderr
        rate[name] = load_model(out).training["lr"]
        if name == "held":
            assert f"--lr auto: {rate[name]:.4g} = 2 × {rate['one']:.4g}, the rate of one model's step on 1 row" in \
                ran.stderr
            assert load_model(out).training["lr_auto"]["halvings"] == 0
    assert rate["held"] == 2 * rate["one"]
    assert rate["every step"] == rate["four rows"] > 3 * rate["one"]


def test_averaged_rate_holds_the_rate_for_all_rows_at_twice_one_models(tmp_path):
    from sgdcli.training import replicas
    from sgdcli.training.rate import AutoRate

    def rate_for(rows):  # a noise-limited step: its rate grows almost in proportion to its rows
        return AutoRate(lr=1.0 / (0.1 + 1.0 / rows), lambda_max=0.1, trace=1.0, rows=100)

    assert replicas.averaged_rate(rate_for, 1, 4, 1) == (rate_for(4), None)  # every step averaged: one of 4 rows
    assert replicas.averaged_rate(rate_for, 1, 1, 100) == (rate_for(1), None)
    assert replicas.averaged_rate(rate_for, 1, 2, 100) == (rate_for(2), None)  # under twice: as it was
    rate, held = replicas.averaged_rate(rate_for, 1, 4, 100)
    assert rate.lr == 2 * rate_for(1).lr and held == replicas.Held(rate_for(4).lr, rate_for(1))
    assert replicas.local_steps(None, 37) == 37 and replicas.local_steps(5, 37) == 5


def test_a_held_rate_from_the_balance_of_distance_and_noise_is_not_called_unstable():
    """Where the rate for all R·B rows is the cosine's balance (training/decayingrate.py), which grows with the
    rows' count as the noise of a batch falls, it is no step's stability bound: the log said the local steps'
    rate was held because that rate "would make unstable" their steps."""
    import dataclasses
    import math

    from sgdcli.training import replicas
    from sgdcli.training.rate import AutoRate

    def rate_for(rows):  # the balance: √rows times one row's; 1/L (λmax 0.1, c 1) holds one row's, not 4's
        lr = 0.5 * math.sqrt(rows)
        return AutoRate(lr=lr, lambda_max=0.1, trace=1.0, rows=100, curvature=1.0, balanced=lr, distance=3.0,
                        fit_noise=0.2, updates=100)

    rate, held = replicas.averaged_rate(rate_for, 1, 16, 100)
    assert rate.lr == 2 * rate_for(1).lr and held == replicas.Held(rate_for(16).lr, rate_for(1), True)
    text = replicas.held_text(held, rate, "logistic", 1, 16, 100, "sgd")
    assert "unstable" not in text and text.endswith(
        "which the balance of distance and noise for all 16 × 1 rows, 2, counts the noise of rows that no step "
        "has (docs/distributed.md)")
    curvature = replicas.averaged_rate(lambda rows: dataclasses.replace(rate_for(rows), balanced=math.nan), 1, 16,
                                       100)[1]
    assert not curvature.balanced and replicas.held_text(curvature, rate, "logistic", 1, 16, 100, "sgd").endswith(
        "which the rate for all 16 × 1 rows, 2, would make unstable (docs/distributed.md)")


def test_with_held_out_rows_no_share_takes_more_iterations_than_the_epoch_announces(tmp_path):
    """The shares are cut equal in the rows not held out: cut by the file's rows, a share could hold more
    training rows than the run's iterations per epoch allow (progress `iteration 159/158`), and its cosine
    schedule then took its last update at rate 0."""
    X, y = make_problem("binary", n=20000, d=50, seed=1)
    path = write_table(tmp_path / "d.h5", X, y)
    for seed in range(1, 8):
        model = train(path, TrainOptions(batch_size=64, epochs=2, parallel="average", threads=2, val_fraction=0.5,
                                         seed=seed, lr=0.1, memory=6 << 20))
        announced = model.training["iterations_per_epoch"]
        n_train = model.training["rows"]
        assert announced == sum(math.ceil(rows / 64) for rows in (n_train // 2, n_train - n_train // 2)), seed
        assert all(h["iterations"] == announced for h in model.history), (seed, model.history)
        assert model.history[-1]["lr"] > 0, seed


@pytest.mark.parametrize("shuffle", [False, True])
def test_rows_bad_rows_skip_leaves_out_are_dealt_so_every_share_trains_as_many(tmp_path, monkeypatch, shuffle):
    """The shares were cut equal in the rows not held out, bad ones included: with the first 30% of rows bad and
    --no-shuffle, one thread took 40 steps an epoch and the other 100, against 70 announced and scheduled, so the
    step clock ran to 200 of 140 and the cosine schedule's last 30% of updates ran at rate 0.  Now each share
    trains 7,000 rows, 70 steps, an epoch (the bound: shares of equal rows ±1 differ by a step at most)."""
    X, y = make_problem("binary", n=20000, d=50, seed=1)
    X[:6000, 0] = np.nan
    path = write_table(tmp_path / "bad.h5", X, y)
    taken = {}  # (epoch, shard) -> steps
    rounds = ThreadRounds.rounds

    def recorded(self, job, todo, on_stop):
        results = rounds(self, job, todo, on_stop)
        for r in results:
            taken[todo[0].epoch, r.shard] = taken.get((todo[0].epoch, r.shard), 0) + r.steps
        return results

    monkeypatch.setattr(ThreadRounds, "rounds", recorded)
    model = train(path, TrainOptions(batch_size=100, epochs=2, threads=2, parallel="average", bad_rows="skip",
                                     shuffle=shuffle, lr=0.1, memory=SMALL))
    assert model.training["rows"] == 14000 and model.training["bad_rows"] == 6000
    share_steps = math.ceil(14000 / 2 / 100)
    assert model.training["iterations_per_epoch"] == 2 * share_steps == 140
    assert taken == {(e, w): share_steps for e in range(2) for w in range(2)}
    assert [h["iterations"] for h in model.history] == [140, 140]
    assert model.training["updates"] == 2 * share_steps  # the step clock ends at the schedule's horizon
    assert model.history[-1]["lr"] > 0


def test_sigterm_then_resume_with_bad_rows_ends_with_the_straight_run_bytes(tmp_path):
    """The shares of a run with bad rows come from a pass over the features that a resumed run takes again."""
    X, y = make_problem("binary", n=4000, d=100, seed=11)
    X[:1200, 3] = np.nan
    data = write_table(tmp_path / "bad.h5", X, y)
    extra = ("--bad-rows", "skip", "--no-shuffle")
    reference = tmp_path / "reference.h5"
    subprocess.run(_cmd(data, reference, *extra), check=True, capture_output=True, cwd=ROOT)
    out = tmp_path / "model.h5"
    proc = _stopped_mid_run(data, out, *extra)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    resumed = subprocess.run(_cmd(data, out, "--resume", *extra), capture_output=True, text=True, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stderr
    with h5py.File(reference) as a, h5py.File(out) as b:
        for key in ("weights", "bias"):
            assert a[key][()].tobytes() == b[key][()].tobytes()
        assert json.loads(b.attrs["training"])["updates"] == 2 * math.ceil(2800 / 2 / 16)
