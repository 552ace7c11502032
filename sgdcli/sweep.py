"""The batch-size sweep: one training run per (batch size, learning rate), side by side.

Every run goes through ``train`` (the same engine, data, seed and threads), so
the rows differ only in the two dials: how many rows an update averages and
how far it steps.  A run that diverges is a row like any other, with what it
did before it blew up.  Per-epoch records are kept in memory as the runs go,
so a diverged run keeps its history too (``--metrics-dir`` writes them all).
"""

from __future__ import annotations

import dataclasses
import json
import os

from sgdcli.errors import DivergedError, InputError
from sgdcli.options import TrainOptions
from sgdcli.progress import Reporter, format_rate


@dataclasses.dataclass
class SweepRun:
    """One row of the sweep."""

    batch_size: int | None  # None: full batch
    lr: float  # the learning rate used, after --lr-scaling
    iterations_per_epoch: int
    iterations: int  # updates done (up to the last safe point before a divergence)
    epochs: int  # epochs completed
    train_loss: float  # of the last completed epoch (NaN if none)
    val_loss: float | None
    seconds: float  # training time of the completed epochs
    rows_per_s: float
    diverged: bool
    error: str = ""  # the divergence message
    history: list[dict] = dataclasses.field(default_factory=list)

    @property
    def batch_label(self) -> str:
        return "full" if self.batch_size is None else str(self.batch_size)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["batch_size"] = self.batch_label
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

    def begin(self, *, epochs, iterations, rows, batch_size, lr):
        self.iterations_per_epoch, self.lr = iterations, lr
        self.inner.begin(epochs=epochs, iterations=iterations, rows=rows, batch_size=batch_size, lr=lr)

    def epoch_start(self, epoch):
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


def parse_batch_sizes(text: str) -> list[int | None]:
    """``1,32,256,full`` as [1, 32, 256, None]; InputError naming --batch-sizes otherwise."""
    out: list[int | None] = []
    for item in (t.strip() for t in text.split(",")):
        if item.lower() == "full":
            out.append(None)
            continue
        try:
            value = int(item)
        except ValueError:
            raise InputError(f"--batch-sizes: {item!r} is neither a positive integer nor 'full'") from None
        if value < 1:
            raise InputError(f"--batch-sizes: batch sizes must be >= 1, got {value}")
        out.append(value)
    return out


def parse_lrs(text: str) -> list[float]:
    """``0.01,0.1`` as [0.01, 0.1]; InputError naming --lrs otherwise."""
    out = []
    for item in (t.strip() for t in text.split(",")):
        try:
            value = float(item)
        except ValueError:
            raise InputError(f"--lrs: {item!r} is not a number") from None
        if not (value > 0 and value != float("inf")):
            raise InputError(f"--lrs: learning rates must be finite and > 0, got {item}")
        out.append(value)
    return out


def sweep(data, base: TrainOptions, batch_sizes: list[int | None], lrs: list[float], *,
          reporter_for=None, metrics_dir: str | None = None) -> list[SweepRun]:
    """Train every (batch size, lr) in that order on ``data`` with ``base``'s other options.

    ``reporter_for(i, n, label)`` gives the progress reporter of run i of n.
    """
    from sgdcli.atomic import atomic_output
    from sgdcli.training import train

    combos = [(b, lr) for b in batch_sizes for lr in lrs]
    if metrics_dir is not None:
        os.makedirs(metrics_dir, exist_ok=True)
    runs = []
    for i, (batch, lr) in enumerate(combos, start=1):
        opts = dataclasses.replace(base, batch_size=batch, lr=lr)
        label = f"batch {'full' if batch is None else batch}, lr {lr:g}"
        recorder = _Recorder(reporter_for(i, len(combos), label) if reporter_for else Reporter())
        try:
            train(data, opts, reporter=recorder)
            error = ""
        except DivergedError as exc:
            error = str(exc)
        runs.append(_row(batch, recorder, error))
        if metrics_dir is not None:
            name = f"run{i:02d}-batch-{'full' if batch is None else batch}-lr-{lr:g}.jsonl"
            with atomic_output(os.path.join(metrics_dir, name), "--metrics-dir") as tmp, open(tmp, "w") as fh:
                fh.writelines(json.dumps(r) + "\n" for r in recorder.records)
    return runs


def _row(batch, recorder: _Recorder, error: str) -> SweepRun:
    records = recorder.records
    seconds = sum(r["seconds"] for r in records)
    rows = sum(r["rows"] for r in records)
    last = records[-1] if records else {}
    return SweepRun(
        batch_size=batch,
        lr=recorder.lr,
        iterations_per_epoch=recorder.iterations_per_epoch,
        iterations=sum(r["iterations"] for r in records) + (recorder.partial_iterations if error else 0),
        epochs=len(records),
        train_loss=last.get("train_loss", float("nan")),
        val_loss=last.get("val_loss"),
        seconds=seconds,
        rows_per_s=rows / seconds if seconds > 0 else float("nan"),
        diverged=bool(error),
        error=error,
        history=list(records),
    )


def table(runs: list[SweepRun]) -> str:
    """The sweep as an aligned text table, one row per run."""
    head = ("batch", "lr", "iters/epoch", "iterations", "epochs", "train_loss", "val_loss", "seconds", "rows/s", "diverged")
    body = []
    for r in runs:
        body.append((
            r.batch_label, f"{r.lr:.4g}", str(r.iterations_per_epoch), str(r.iterations), str(r.epochs),
            f"{r.train_loss:.6g}", "-" if r.val_loss is None else f"{r.val_loss:.6g}", f"{r.seconds:.2f}",
            "-" if r.rows_per_s != r.rows_per_s else format_rate(r.rows_per_s), "yes" if r.diverged else "no",
        ))
    widths = [max(len(row[k]) for row in (head, *body)) for k in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in (head, *body))
