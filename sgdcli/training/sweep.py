"""The batch-size sweep: one training run per (batch size, learning rate), side by side.

Every run goes through ``train`` (the same engine, data, seed and threads), so
the rows differ only in the two dials: how many rows an update averages and
how far it steps.  A run that diverges is a row like any other, with what it
did before it blew up.  Per-epoch records are kept in memory as the runs go,
so a diverged run keeps its history too (``--metrics-dir`` writes them all).
"""

from __future__ import annotations

import dataclasses
import os
import re

from sgdcli.data import shuffle
from sgdcli.data.atomic import atomic_output, check_directory, output_directory
from sgdcli.data.table import Table
from sgdcli.errors import DivergedError, InputError
from sgdcli.fieldtypes import check_instance
from sgdcli.options import TrainOptions
from sgdcli.reporting.records import json_line
from sgdcli.reporting.reporter import Reporter
from sgdcli.reporting.reporter import begin_run, counted
from sgdcli.reporting.warned import warn
from sgdcli.training import fitwarnings, setup
from sgdcli.training.train import train


@dataclasses.dataclass
class SweepRun:
    """One row of the sweep."""

    batch_size: int | None  # None: full batch
    lr: float  # the learning rate used, after --lr-scaling
    iterations_per_epoch: int
    iterations: int  # updates done (up to the last safe point before a divergence)
    epochs: int  # epochs completed
    kept_epoch: int | None  # the epoch whose model train keeps (--early-stopping); None for a diverged run
    train_loss: float  # of the kept epoch, as train's result line; of the last completed one if diverged (NaN if none)
    val_loss: float | None
    objective: float | None  # that epoch's training objective under --l2 or --l1 (records' ``objective``), else None
    seconds: float  # training time of the completed epochs
    rows_per_s: float
    diverged: bool
    error: str = ""  # the divergence message
    warnings: list[str] = dataclasses.field(default_factory=list)  # train's warnings about the fit (FitWarning)
    history: list[dict] = dataclasses.field(default_factory=list)

    @property
    def batch_label(self) -> str:
        return "full" if self.batch_size is None else str(self.batch_size)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["batch_size"] = "full" if self.batch_size is None else self.batch_size  # a number, or "full"
        del d["history"]
        return d


class _Recorder(Reporter):
    """Passes everything to the reporter shown, and remembers what a sweep row needs."""

    def __init__(self, inner: Reporter):
        self.inner = inner
        self.iterations_per_epoch = 0
        self.lr = float("nan")
        self.records: list[dict] = []
        self.partial_iterations = 0

    def begin(self, *, epochs, iterations, rows, batch_size, lr, batch=None):
        self.iterations_per_epoch, self.lr = iterations, lr
        begin_run(self.inner, epochs=epochs, iterations=iterations, rows=rows, batch_size=batch_size, lr=lr,
                  batch=batch)

    def resumed(self, *, epoch, iteration, rows, records):
        self.inner.resumed(epoch=epoch, iteration=iteration, rows=rows, records=records)

    def epoch_start(self, epoch):
        if epoch == 0:  # --lr auto starts a run that blew up over at half the rate: its epochs are thrown away
            self.records = []
        self.partial_iterations = 0
        self.inner.epoch_start(epoch)

    def advance(self, epoch, iteration, rows, loss, lr, detail=""):
        self.partial_iterations = iteration
        self.inner.advance(epoch, iteration, rows, loss, lr, detail)

    def epoch_end(self, record):
        self.records.append(record)
        self.partial_iterations = 0
        self.inner.epoch_end(record)

    def message(self, text):
        self.inner.message(text)

    def close(self):
        self.inner.close()


def _rate(lr: float | str) -> str:
    return lr if isinstance(lr, str) else f"{lr:g}"


def sweep(data, base: TrainOptions | None, batch_sizes: list[int | None], lrs: list[float | str], *,
          reporter_for=None, metrics_dir: str | None = None, on_run=None) -> list[SweepRun]:
    """Train every (batch size, lr) in that order on ``data`` with ``base``'s other options (None: the defaults,
    as for ``train``).

    ``reporter_for(i, n, label)`` gives the progress reporter of run i of n; ``on_run(run)`` is told of each run
    as it ends (its metrics file written), so that a caller stopped half way still has the runs that ended.
    """
    check_instance("base", base, TrainOptions, "sgdcli.TrainOptions(**d) makes them of a dict d")
    base = base or TrainOptions()
    # each checked, and taken ('full', NumPy numbers), as TrainOptions takes it: before the first run, not after
    batch_sizes = [dataclasses.replace(base, batch_size=b).batch_size for b in _listed("--batch-sizes", batch_sizes)]
    lrs = [dataclasses.replace(base, lr=lr).lr for lr in _listed("--lrs", lrs)]
    _check_batch_sizes(data, base, batch_sizes)
    if metrics_dir is None:
        return _runs(data, base, batch_sizes, lrs, reporter_for, None, on_run)
    with output_directory(metrics_dir, "--metrics-dir"):  # removed again if no run's file got into it
        _check_metrics_dir(metrics_dir)
        return _runs(data, base, batch_sizes, lrs, reporter_for, metrics_dir, on_run)


def check_sweep_outputs(metrics_dir: str | None) -> None:
    """InputError for what ``sweep`` refuses of ``metrics_dir`` before its first run, without creating it
    (--print-config): the directory it would be created in is judged by its permissions."""
    if metrics_dir is not None:
        check_directory(metrics_dir, "--metrics-dir", probe=False)
        if os.path.isdir(metrics_dir):
            _check_metrics_dir(metrics_dir)


RUN_FILE = re.compile(r"run\d+-batch-.+-lr-.+\.jsonl")  # what _runs names a run's records


def _check_metrics_dir(metrics_dir: str) -> None:
    """Refuse, before the first run, a --metrics-dir that holds run files already (an earlier sweep's, or those of
    this one stopped half way): left there, mixed with this sweep's, ``sgdcli plot DIR/*.jsonl`` drew both."""
    try:
        names = sorted(name for name in os.listdir(metrics_dir) if RUN_FILE.fullmatch(name))
    except OSError as exc:  # a directory it may write but not read
        raise InputError(f"--metrics-dir {metrics_dir}: cannot list it ({exc.strerror})") from None
    if names:
        more = f" and {counted(len(names) - 1, 'more run file')}" if len(names) > 1 else ""
        raise InputError(f"--metrics-dir {metrics_dir}: holds {names[0]}{more} of an earlier sweep, which "
                         f"sgdcli plot {os.path.join(metrics_dir, '*.jsonl')} would draw beside this sweep's runs; "
                         "remove them or give another directory")


def _runs(data, base: TrainOptions, batch_sizes: list[int | None], lrs: list[float | str], reporter_for,
          metrics_dir: str | None, on_run) -> list[SweepRun]:
    combos = [(b, lr) for b in batch_sizes for lr in lrs]
    runs = []
    with setup.shared_facts():  # the runs' labels, weights and moments: the first run's passes serve them all
        for i, (batch, lr) in enumerate(combos, start=1):
            runs.append(_run(data, base, batch, lr, i, len(combos), reporter_for, metrics_dir))
            if on_run is not None:
                on_run(runs[-1])
    return runs


def _run(data, base: TrainOptions, batch: int | None, lr: float | str, i: int, n: int, reporter_for,
         metrics_dir: str | None) -> SweepRun:
    """The row of run ``i`` of ``n``, at ``batch`` and ``lr``, its metrics file written."""
    opts = dataclasses.replace(base, batch_size=batch, lr=lr)
    label = f"batch {'full' if batch is None else batch}, lr {_rate(lr)}"
    recorder = _Recorder(reporter_for(i, n, label) if reporter_for else Reporter())
    with fitwarnings.kept([]) as fits:  # what the run found, whatever the filters, and no other thread's
        try:
            model = train(data, opts, reporter=recorder)
            error = ""
        except DivergedError as exc:
            model, error = None, str(exc)
            if exc.lr is not None:  # the rate it diverged at, halved by --lr auto's restarts
                recorder.lr = exc.lr
    for text in fits:  # each names its run
        warn(f"{label}: {text}", fitwarnings.FitWarning, each_time=True)
    row = _row(batch, recorder, model, error, fits)
    if metrics_dir is not None:
        name = f"run{i:02d}-batch-{'full' if batch is None else batch}-lr-{_rate(lr)}.jsonl"
        with atomic_output(os.path.join(metrics_dir, name), "--metrics-dir") as tmp, \
                open(tmp, "w", encoding="utf-8") as fh:
            fh.writelines(json_line(r) for r in row.history)
    return row


def _listed(option: str, values) -> list:
    """``values``, the batch sizes or the rates, as a list; InputError naming ``option`` for text or a value that
    is no list."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise InputError(f"{option}: expected a list, got {values!r}")
    return list(values)


def _check_batch_sizes(data, base: TrainOptions, batch_sizes: list[int | None]) -> None:
    """Refuse, before the first run, a batch size larger than the file's training rows: found when its run
    began, it threw away the runs before it, and named train's --batch-size.  (Rows that --bad-rows skip
    leaves out are known only to a run's passes, which check the rest.)  The rows are all it needs: no
    labels, whose names (a text label column's) each run finds again, and whose problems its first run
    reports; --val-fraction's are a hash of each row's number."""
    with Table(data, base.x, None, label_column=base.label_column, features=base.features,
               transpose=base.transpose, allow_unwritten=base.allow_unwritten, labels=False,
               memory=base.memory) as table:
        rows = table.n_rows
    trained = shuffle.kept_rows(rows, base.val_fraction, base.seed)
    too_large = [b for b in batch_sizes if b is not None and b > trained]
    if too_large and trained < rows:
        raise InputError(f"--batch-sizes: {too_large[0]} is larger than the {trained:,} training rows of "
                         f"{table.path} (of its {rows:,}, --val-fraction {base.val_fraction:g} holds out the rest)")
    if too_large:
        raise InputError(f"--batch-sizes: {too_large[0]} is larger than the {rows:,} rows of {table.path}")


def _row(batch, recorder: _Recorder, model, error: str, fits: list[str]) -> SweepRun:
    """The row of a run: of the ``model`` train returned (its history, rate and kept epoch: the figures of
    train's result line), or, for a run that diverged, of the epochs the recorder saw."""
    if model is not None:
        records, lr, kept = model.history, model.training["lr"], model.training["best_epoch"]
    else:
        records, lr, kept = recorder.records, recorder.lr, None
    seconds = sum(r["seconds"] for r in records)
    rows = sum(r["rows"] for r in records)
    shown = records[(kept or len(records)) - 1] if records else {}
    return SweepRun(
        batch_size=batch,
        lr=lr,
        iterations_per_epoch=recorder.iterations_per_epoch,
        iterations=sum(r["iterations"] for r in records) + (recorder.partial_iterations if error else 0),
        epochs=len(records),
        kept_epoch=kept,
        train_loss=shown.get("train_loss", float("nan")),
        val_loss=shown.get("val_loss"),
        objective=shown.get("objective"),
        seconds=seconds,
        rows_per_s=rows / seconds if seconds > 0 else float("nan"),
        diverged=bool(error),
        error=error,
        warnings=fits,
        history=list(records),
    )
