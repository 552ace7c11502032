"""What progress reporters hear: an epoch's last advance is its record, a reporter serves each run it is given
alone, and passes over CSV text report their rows as passes over HDF5 do."""

import io

import pytest

import sgdcli
from sgdcli import Reporter, TrainOptions

from conftest import cli, make_problem


class Last(Reporter):
    """Each epoch's last advance beside its record."""

    def __init__(self):
        self.last, self.pairs = None, []

    def advance(self, epoch, iteration, rows, loss, lr, detail=""):
        self.last = (epoch, iteration, rows)

    def epoch_end(self, record):
        self.pairs.append((self.last, (record["epoch"] - 1, record["iterations"], record["rows"])))


@pytest.mark.parametrize("options", [
    dict(batch_size=33),  # 3000 rows: 90 whole batches and one of 30, taken after the last kernel call
    dict(batch_size=32, val_fraction=0.1),
    dict(batch_size=33, drop_last=True),  # the 30 rows left out are no rows trained
    dict(batch_size=33, drop_last=True, threads=2, parallel="average", sync_every=8),
])
def test_the_last_advance_of_an_epoch_is_its_record(binary_file, options):
    """It was one iteration short (90 of 91), and with --drop-last counted the rows dropped."""
    heard = Last()
    sgdcli.train(binary_file, TrainOptions(epochs=2, **options), reporter=heard)
    assert len(heard.pairs) == 2
    for last, record in heard.pairs:
        assert last == record
    if options == dict(batch_size=33, drop_last=True):
        assert heard.pairs[0][1] == (0, 90, 2970)


class Rows(Reporter):
    """The rows each advance of an epoch reported, and the rows of each epoch's record."""

    def __init__(self):
        self.advances, self.records = {}, []

    def advance(self, epoch, iteration, rows, loss, lr, detail=""):
        self.advances.setdefault(epoch, []).append(rows)

    def epoch_end(self, record):
        self.records.append(record["rows"])


@pytest.mark.parametrize("slice_rows", [None, 100])  # one kernel call an epoch; a call every 100 rows
@pytest.mark.parametrize("options", [
    dict(batch_size=33, drop_last=True),  # 3000 rows: 90 whole batches trained, the 30 rows left dropped
    dict(batch_size=33, drop_last=True, threads=2, parallel="average", sync_every=8),  # each share drops its own
    dict(batch_size=33),
    dict(batch_size=50, drop_last=True),  # no partial batch
])
def test_the_rows_an_epoch_reports_never_go_down_and_end_at_the_rows_trained(binary_file, monkeypatch, options,
                                                                             slice_rows):
    """With --drop-last, progress counted the rows of the dropped batch, then fell back at the epoch's end
    (3000 rows, then 2970)."""
    from sgdcli.engine import epoch

    if slice_rows is not None:
        monkeypatch.setattr(epoch, "SLICE_ROWS", slice_rows)
    heard = Rows()
    sgdcli.train(binary_file, TrainOptions(epochs=2, **options), reporter=heard)
    assert len(heard.records) == 2
    for k, trained in enumerate(heard.records):
        rows = heard.advances[k]
        assert rows == sorted(rows) and rows[-1] == trained, (k, rows, trained)
    if options == dict(batch_size=33, drop_last=True):
        assert heard.records == [2970, 2970]


def test_bars_asked_for_off_a_terminal_are_plain_lines(tmp_path, binary_file, monkeypatch):
    """--progress bar (a config file's, run from cron) off a terminal drew the bars' last frame, cut the log lines
    at 80 columns and left out their times; it now prints what auto does there.  rich's own override of the
    terminal test (TTY_COMPATIBLE=1) still gives bars."""
    import re

    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    args = ("train", binary_file, "-o", tmp_path / "m.h5", "--epochs", "2")
    code, _, bar = cli(*args, "--progress", "bar")
    assert code == 0, bar
    _, _, plain = cli(*args, "--progress", "plain")
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d ")
    lines = [line for line in bar.splitlines() if not line.startswith("sgdcli: warning")]
    assert lines and all(stamp.match(line) for line in lines), bar

    def untimed(text):  # each line without its time, or an epoch's seconds and speed
        return [re.sub(r", [\d.]+ s, .*", "", stamp.sub("", line)) for line in text.splitlines()
                if not line.startswith("sgdcli: warning")]

    assert untimed(bar) == untimed(plain)
    assert any(len(line) > 120 for line in lines) and "\x1b" not in bar  # (the --lr auto line, whole)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    assert type(sgdcli.make_reporter("bar", stream=io.StringIO())).__name__ == "RichReporter"


def test_a_bar_reporter_given_to_a_second_run_sums_up_that_run_alone(tmp_path, binary_file):
    """Its loss curve went on from the first run's epochs."""
    from sgdcli.reporting.bars import RichReporter
    from sgdcli.reporting.reporter import sparkline

    out = io.StringIO()
    bar = RichReporter(out)
    sgdcli.train(binary_file, TrainOptions(epochs=2), reporter=bar)
    second = sgdcli.train(binary_file, TrainOptions(epochs=3, batch_size=8), reporter=bar)
    losses = [r["train_loss"] for r in second.history]
    assert out.getvalue().strip().splitlines()[-1] == (
        f"loss per epoch: train {sparkline(losses)} {losses[0]:.4g} → {losses[-1]:.4g}")


@pytest.fixture
def text_model(tmp_path):
    """A model trained on a converted CSV file of 3000 rows, and that file."""
    X, y = make_problem("binary", n=9000, d=4, seed=3)
    lines = ["f1,f2,f3,f4,answer"] + [",".join(f"{v:.6g}" for v in row) + f",{label}" for row, label in zip(X, y)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    sgdcli.convert(str(tmp_path / "t.csv"), str(tmp_path / "t.h5"), label_column="answer")
    sgdcli.train(str(tmp_path / "t.h5"), TrainOptions(epochs=1, batch_size=8), output=str(tmp_path / "m.h5"))
    return tmp_path / "m.h5", tmp_path / "t.csv"


def test_passes_over_csv_text_report_their_rows(tmp_path, text_model):
    """progress= was ignored for CSV text.  Its rows are counted as they are read: the total is None until the
    last call, which gives both as the count."""
    model, data = text_model
    memory = 2**20  # the least --memory: blocks of at most 4096 rows of 4 features (textinference.BYTES_PER_FEATURE)
    for call in (lambda report: sgdcli.evaluate(model, data, memory=memory, progress=report),
                 lambda report: sgdcli.predict(model, data, tmp_path / "p.csv", memory=memory, progress=report)):
        heard = []
        call(lambda done, total: heard.append((done, total)))
        done = [d for d, total in heard[:-1]]
        assert heard[0] == (0, None) and heard[-2:] == [(9000, None), (9000, 9000)]
        assert all(total is None for _, total in heard[:-1]) and len(heard) >= 5  # three blocks or more
        assert done == sorted(set(done)) and all(b - a <= 4096 for a, b in zip(done, done[1:]))
    for argv, what in ((["predict", model, data, "-o", "-"], "predicting"), (["evaluate", model, data], "evaluating on")):
        code, out, err = cli(*argv)
        assert code == 0 and err.splitlines()[0].endswith(f"{what} {data}: rows counted as they are read"), err
        # -q: the same results, and nothing on stderr for a cron job to mail every night
        assert cli(*argv, "-q") == (0, out, "")


def test_a_pass_of_unknown_length_says_its_rows_and_rate():
    from sgdcli.reporting.plain import PassProgress

    now, stream = [0.0], io.StringIO()
    progress = PassProgress(stream, "scoring x.csv", interval=5.0, clock=lambda: now[0])
    for done, total, t in ((0, None, 0.0), (100, None, 1.0), (200, None, 6.0), (300, None, 12.0), (300, 300, 13.0)):
        now[0] = t
        progress(done, total)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and lines[0].endswith("scoring x.csv: rows counted as they are read")
    assert lines[1].endswith("scoring x.csv: 200 rows, 33 rows/s") and lines[2].endswith("300 rows, 25 rows/s")


class Resumes(Reporter):
    """What ``resumed`` heard, and each advance."""

    def __init__(self):
        self.heard, self.advances = [], []

    def resumed(self, **at):
        self.heard.append(at)

    def advance(self, epoch, iteration, rows, loss, lr, detail=""):
        self.advances.append((epoch, iteration, rows))


# safe points: in epoch 1, in epoch 2 (six an epoch), after the two passes and the end of the set-up ask
@pytest.mark.parametrize("stop_at", [4, 10])
def test_a_resumed_run_tells_its_reporter_where_in_the_epoch_it_continues(tmp_path, binary_file, monkeypatch, stop_at):
    """Progress timed the rows done before the resume as if done since: rows/s inflated and the time left short."""
    import signal

    from sgdcli import RunControl
    from sgdcli.engine import epoch
    from sgdcli.errors import Interrupted

    monkeypatch.setattr(epoch, "SLICE_ROWS", 500)
    options, checkpoint, calls = TrainOptions(epochs=2, batch_size=20, threads=1), str(tmp_path / "ck.h5"), []
    first = Resumes()
    with pytest.raises(Interrupted):
        sgdcli.train(binary_file, options, reporter=first,
                     control=RunControl(checkpoint=checkpoint,
                                        stop=lambda: (calls.append(1), signal.SIGTERM if len(calls) == stop_at else None)[1]))
    assert first.heard == []
    second = Resumes()
    model = sgdcli.train(binary_file, options, reporter=second, control=RunControl(checkpoint=checkpoint, resume=True))
    epoch_at, iteration, rows = first.advances[-1]  # the stop's safe point follows its last advance
    assert second.heard == [{"epoch": epoch_at, "iteration": iteration, "rows": rows,
                             "records": model.history[:epoch_at]}]
    assert second.advances[0][0] == epoch_at and second.advances[0][1:] > (iteration, rows)


def test_plain_progress_after_a_resume_times_the_rows_done_since():
    from sgdcli.reporting.plain import PlainReporter

    now, out = [100.0], io.StringIO()
    rep = PlainReporter(out, interval=5.0, clock=lambda: now[0])
    rep.begin(epochs=2, iterations=1000, rows=10**6, batch_size=1000, lr=0.1)
    rep.resumed(epoch=1, iteration=500, rows=500_000, records=[{"epoch": 1, "train_loss": 0.5}])
    rep.epoch_start(1)
    now[0] = 110.0
    rep.advance(1, 600, 600_000, 0.4, 0.1)  # 100 iterations of 1000 rows in 10 s: 400 more take 40 s
    rep.epoch_start(1)  # a run that starts this epoch over (not resumed) counts from its start again
    now[0] = 120.0
    rep.advance(1, 100, 100_000, 0.4, 0.1)
    progress = [line.split(" ", 1)[1] for line in out.getvalue().splitlines() if "iteration " in line]
    assert progress == ["epoch 2/2 iteration 600/1000 (60%) loss 0.4 lr 0.1 10.00k rows/s eta 0:00:40",
                        "epoch 2/2 iteration 100/1000 (10%) loss 0.4 lr 0.1 10.00k rows/s eta 0:01:30"]


def test_bars_after_a_resume_start_at_its_epoch_and_draw_the_whole_runs_loss_curve():
    """The epoch bar started at 0 and the curve at the resume's epoch."""
    from sgdcli.reporting.bars import RichReporter
    from sgdcli.reporting.reporter import sparkline

    out = io.StringIO()
    rep = RichReporter(out)
    rep.begin(epochs=4, iterations=100, rows=1000, batch_size=10, lr=0.1)
    before = [{"epoch": 1, "train_loss": 0.9}, {"epoch": 2, "train_loss": 0.5}]
    rep.resumed(epoch=2, iteration=40, rows=400, records=before)
    rep.epoch_start(2)
    epochs, iterations = rep.progress.tasks
    assert (epochs.completed, iterations.completed) == (2, 40)
    rep.advance(2, 100, 1000, 0.3, 0.1)
    rep.epoch_end({"epoch": 3, "iterations": 100, "rows": 1000, "train_loss": 0.3, "lr": 0.1, "seconds": 1.0,
                   "rows_per_s": 1000.0})
    assert epochs.completed == 3
    rep.close()
    assert out.getvalue().strip().splitlines()[-1] == f"loss per epoch: train {sparkline([0.9, 0.5, 0.3])} 0.9 → 0.3"


def test_plain_progress_inside_a_large_batch_says_the_rows_done_and_no_loss_yet():
    """A full batch is the whole epoch: its lines said 0% done, loss 0 and 0:00:00 left until it ended."""
    from sgdcli.reporting.plain import PlainReporter

    now, out = [100.0], io.StringIO()
    rep = PlainReporter(out, interval=5.0, clock=lambda: now[0])
    rep.begin(epochs=2, iterations=1, rows=20_000, batch_size=20_000, lr=0.1)
    rep.epoch_start(0)
    now[0] = 105.0
    rep.advance(0, 0, 5_000, 0.0, 0.1)  # (the loss the engine hears before a step is 0)
    now[0] = 111.0
    rep.advance(0, 1, 20_000, 0.61, 0.1)
    rep.epoch_start(1)
    now[0] = 117.0
    rep.advance(1, 0, 0, 0.0, 0.1)  # nothing trained yet: no time left can be told
    progress = [line.split(" ", 1)[1] for line in out.getvalue().splitlines() if " eta " in line]
    assert progress == ["epoch 1/2 iteration 0/1 (25%) loss - lr 0.1 1.00k rows/s eta 0:00:15",
                        "epoch 1/2 iteration 1/1 (100%) loss 0.61 lr 0.1 1.82k rows/s eta 0:00:00",
                        "epoch 2/2 iteration 0/1 (0%) loss - lr 0.1 0 rows/s eta -"]


def test_a_bar_shows_no_loss_before_the_epochs_first_update():
    from sgdcli.reporting.bars import RichReporter

    rep = RichReporter(io.StringIO())
    rep.begin(epochs=1, iterations=1, rows=1000, batch_size=1000, lr=0.1)
    rep.epoch_start(0)
    rep.advance(0, 0, 500, 0.0, 0.1)
    assert rep.progress.tasks[1].fields["info"].startswith("loss -  lr 0.1  ")
    rep.advance(0, 1, 1000, 0.25, 0.1)
    assert rep.progress.tasks[1].fields["info"].startswith("loss 0.25  lr 0.1  ")
    rep.close()


@pytest.mark.parametrize("options", [
    dict(batch_size=33, drop_last=True),  # 3000 rows: 90 batches, 2970 rows trained
    dict(batch_size=33, drop_last=True, threads=2, parallel="average", sync_every=8),  # shares of 1500: 45 each
    dict(batch_size=33),
])
def test_plain_progress_ends_each_epoch_at_100_percent_of_the_iterations_run(binary_file, options):
    """With --drop-last the last line said 99%: the rows an epoch trains over the training rows, 2970 of 3000."""
    from sgdcli.reporting.plain import PlainReporter

    out = io.StringIO()
    model = sgdcli.train(binary_file, TrainOptions(epochs=2, **options), reporter=PlainReporter(out, interval=0.0))
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines() if " eta " in line]
    for epoch in (1, 2):
        last = [line for line in lines if line.startswith(f"epoch {epoch}/2 ")][-1]
        iterations = model.history[epoch - 1]["iterations"]
        assert last.startswith(f"epoch {epoch}/2 iteration {iterations}/{iterations} (100%) "), last


def test_an_epochs_line_gives_the_penalty_of_its_end_and_its_objective_under_l2_or_l1(tmp_path, binary_file):
    """Under --l1 a run's mean loss can rise while it converges, as the penalty takes back what the loss gains:
    each epoch's line gives the penalty and the objective beside the loss, as its --metrics record does."""
    import json

    for penalties in (("--l1", "0.01"), ()):
        metrics = tmp_path / f"m{len(penalties)}.jsonl"
        code, _, err = cli("train", binary_file, "-o", tmp_path / f"m{len(penalties)}.h5", "--epochs", "2",
                           "--progress", "plain", "--metrics", metrics, *penalties)
        assert code == 0, err
        records = [json.loads(line) for line in metrics.read_text().splitlines()]
        lines = [line for line in err.splitlines() if ", train_loss " in line]
        assert len(lines) == 2
        for line, record in zip(lines, records):
            loss = f", train_loss {record['train_loss']:.6g}"
            given = (f"{loss}, penalty {record['penalty']:.6g}, objective {record['objective']:.6g}, lr "
                     if penalties else f"{loss}, lr ")
            assert given in line and ("penalty" in line) == bool(penalties)


def test_the_end_sparkline_gives_the_objective_after_the_loss():
    """Under --l1 the mean loss can rise while the objective falls: the end's line shows both."""
    from sgdcli.reporting.reporter import loss_curves

    records = [{"train_loss": 0.5, "objective": 0.6, "val_loss": 0.4}, {"train_loss": 0.52, "objective": 0.55,
                                                                      "val_loss": 0.41}]
    assert loss_curves(records) == "loss per epoch: train ▁█ 0.5 → 0.52, objective █▁ 0.6 → 0.55, val ▁█ 0.4 → 0.41"
    assert loss_curves([{"train_loss": 0.5}]) == "loss per epoch: train ▁ 0.5 → 0.5"


def test_trains_summary_gives_the_kept_epochs_objective_under_a_penalty(tmp_path, binary_file):
    """Early stopping without validation rows judges the objective: the summary showed a kept epoch whose
    train_loss was above a later epoch's, and nothing that told why."""
    from sgdcli import load_model

    code, out, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "--epochs", "2", "--l1", "0.01", "-q")
    last = load_model(tmp_path / "m.h5").history[-1]
    assert code == 0 and out.splitlines()[1:3] == [f"train_loss {last['train_loss']:.6g}",
                                                    f"objective {last['objective']:.6g}"], out
    code, out, err = cli("train", binary_file, "-o", tmp_path / "n.h5", "--epochs", "2", "-q")
    assert code == 0 and "objective" not in out
