"""The passes outside the epochs (the labels, the feature moments, the --val file's check, validation) tell the
reporter how far they have read: at 10^8 rows each took minutes with no line in a cron log."""

import io
import itertools

import numpy as np
import pytest

import sgdcli
from sgdcli import Reporter, TrainOptions

from conftest import make_problem, write_table

ROWS = 50_000
MEMORY = 4 << 20  # blocks of about 12,000 rows of 20 features: several a pass


class Heard(Reporter):
    """Each pass's calls, in order, by stage."""

    def __init__(self):
        self.calls = []

    def pass_progress(self, stage, done, total):
        self.calls.append((stage, done, total))

    def passes(self) -> list[tuple[str, list[int], set[int]]]:
        """(stage, rows read as told, totals told) of each pass: a pass starts at 0 rows."""
        starts = [i for i, (_, done, _) in enumerate(self.calls) if done == 0] + [len(self.calls)]
        assert starts[0] == 0
        return [(self.calls[a][0], [done for _, done, _ in self.calls[a:b]], {total for *_, total in self.calls[a:b]})
                for a, b in itertools.pairwise(starts)]


@pytest.fixture
def big_file(tmp_path):
    X, y = make_problem("binary", n=ROWS, d=20, seed=3)
    w = np.random.default_rng(0).uniform(0.5, 2.0, ROWS)
    path = write_table(tmp_path / "big.h5", X, y, chunks=2048)
    import h5py

    with h5py.File(path, "a") as f:
        f.create_dataset("w", data=w, chunks=(2048,))
    return path


def _block_rows_told(dones: list[int], total: int, ends_at_total: bool) -> None:
    """From 0, rising by a block at a time, to the start of the last block (a pass told before each block) or to
    the total (validation, told after each too)."""
    assert dones[0] == 0
    steps = np.diff(dones)
    assert (steps > 0).all(), dones
    assert len(dones) >= 3, dones  # several blocks
    if ends_at_total:
        assert dones[-1] == total
    else:
        assert 0 < total - dones[-1] <= steps.max(), (dones, total)


@pytest.mark.parametrize("options, stages", [
    (dict(), ["reading the labels", "standardizing"]),
    (dict(bad_rows="skip", sample_weight="w"), ["reading the labels", "standardizing"]),
    (dict(standardize=False), ["reading the labels"]),
    (dict(val_fraction=0.1), ["reading the labels", "standardizing", "validating", "validating"]),
    (dict(parallel="average", threads=2, sync_every=8), ["reading the labels", "standardizing"]),
])
def test_each_pass_tells_the_rows_it_has_read_of_the_files(big_file, options, stages):
    heard = Heard()
    sgdcli.train(big_file, TrainOptions(epochs=2, batch_size=64, memory=MEMORY, **options), reporter=heard)
    passes = heard.passes()
    assert [stage for stage, _, _ in passes] == stages
    for stage, dones, totals in passes:
        assert totals == {ROWS}, (stage, totals)  # validation reads every row of the file, scores those held out
        _block_rows_told(dones, ROWS, ends_at_total=stage == "validating")


def test_the_pass_that_cuts_the_shares_of_models_averaged_tells_its_rows(tmp_path):
    """--parallel average with --bad-rows skip reads the features once more where rows are bad."""
    from sgdcli.training.run import SHARING

    X, y = make_problem("binary", n=ROWS, d=20, seed=3)
    X[::1000, 0] = np.nan
    data = write_table(tmp_path / "bad.h5", X, y, chunks=2048)
    heard = Heard()
    sgdcli.train(data, TrainOptions(epochs=1, batch_size=64, memory=MEMORY, bad_rows="skip", parallel="average",
                                    threads=2, sync_every=8), reporter=heard)
    passes = heard.passes()
    assert [stage for stage, _, _ in passes] == ["reading the labels", "standardizing", SHARING]
    _, dones, totals = passes[-1]
    assert totals == {ROWS}
    _block_rows_told(dones, ROWS, ends_at_total=False)


def test_the_check_of_the_val_file_tells_its_own_rows(tmp_path, big_file):
    X, y = make_problem("binary", n=30_000, d=20, seed=4)
    val = write_table(tmp_path / "val.h5", X, y, chunks=2048)
    heard = Heard()
    sgdcli.train(big_file, TrainOptions(epochs=1, batch_size=64, memory=MEMORY, val=str(val)), reporter=heard)
    passes = {stage: (dones, totals) for stage, dones, totals in heard.passes()}
    dones, totals = passes["checking the --val file"]
    assert totals == {30_000}
    _block_rows_told(dones, 30_000, ends_at_total=False)
    assert passes["validating"][1] == {30_000}


def test_plain_lines_of_a_pass_come_every_interval_after_the_line_that_announced_it():
    from sgdcli.reporting.plain import PlainReporter

    now, out = [100.0], io.StringIO()
    rep = PlainReporter(out, interval=5.0, clock=lambda: now[0])
    for t, done in [(100.0, 0), (103.0, 300), (106.0, 600), (108.0, 800), (112.0, 900)]:
        now[0] = t
        rep.pass_progress("reading the labels", done, 1000)
    now[0] = 113.0
    rep.pass_progress("standardizing", 0, 1000)  # another pass: timed from its own start
    now[0] = 118.0
    rep.pass_progress("standardizing", 250, 1000)
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == ["reading the labels: 600 of 1,000 rows (60%), 100 rows/s, 0:00:04 left",
                     "reading the labels: 900 of 1,000 rows (90%), 75 rows/s, 0:00:01 left",
                     "standardizing: 250 of 1,000 rows (25%), 50 rows/s, 0:00:15 left"]


def test_plain_lines_of_a_real_run_name_each_pass(big_file):
    from sgdcli.reporting.plain import PlainReporter

    out = io.StringIO()
    sgdcli.train(big_file, TrainOptions(epochs=1, batch_size=64, memory=MEMORY), reporter=PlainReporter(out, 0.0))
    told = [line.split(" ", 1)[1].split(":")[0] for line in out.getvalue().splitlines() if " rows (" in line]
    assert told[0] == "reading the labels" and "standardizing" in told


def test_bars_of_a_pass_before_training_go_as_training_starts_and_validation_bars_go_with_the_epoch():
    """rich draws one live display at a time: a pass's own bars must stop before the epochs' start."""
    from sgdcli.reporting.bars import RichReporter

    rep = RichReporter(io.StringIO())
    rep.pass_progress("reading the labels", 0, 1000)
    before, task = rep._pass
    assert before.live.is_started and before.tasks[0].description == "reading the labels"
    rep.pass_progress("reading the labels", 600, 1000)
    assert before.tasks[0].completed == 600
    rep.pass_progress("standardizing", 0, 1000)
    assert not before.live.is_started  # the labels' bars ended as the next pass began
    rep.begin(epochs=1, iterations=10, rows=1000, batch_size=100, lr=0.1)
    assert rep._pass is None
    rep.epoch_start(0)
    rep.pass_progress("validating", 0, 1000)
    assert [t.description for t in rep.progress.tasks] == ["epoch 1/1", "iteration", "validating"]
    rep.pass_progress("validating", 1000, 1000)
    rep.epoch_end({"epoch": 1, "iterations": 10, "rows": 1000, "train_loss": 0.3, "lr": 0.1, "seconds": 1.0,
                   "rows_per_s": 1000.0})
    assert [t.description for t in rep.progress.tasks] == ["epoch 1/1", "iteration"]
    rep.close()
