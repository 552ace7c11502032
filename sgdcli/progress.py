"""Progress reporting, chosen once; the training loop only calls its methods.

- ``bar``: a rich display on stderr, one bar for epochs and one for the
  iterations of the current epoch, with rows/s, loss, learning rate and ETA;
  at the end, one sparkline line of the loss per epoch.
- ``plain``: timestamped lines with no control codes, at most one every
  ``interval`` seconds, plus one summary line per epoch (cron logs, pipes).
- ``none``: silent.

``auto`` picks ``bar`` when stderr is a terminal and ``plain`` otherwise.
Nothing here touches stdout, which carries results only.
"""

from __future__ import annotations

import sys
import time

MODES = ("auto", "bar", "plain", "none")


class Reporter:
    """Does nothing; the base of every reporter."""

    def begin(self, *, epochs: int, iterations: int, rows: int, batch_size: int, lr: float) -> None: ...

    def epoch_start(self, epoch: int) -> None: ...

    def advance(self, epoch: int, iteration: int, rows: int, loss: float, lr: float, detail: str = "") -> None:
        """``detail``: extra state to show, such as each worker's place in a distributed run."""

    def epoch_end(self, record: dict) -> None: ...

    def message(self, text: str) -> None: ...

    def close(self) -> None: ...


def make_reporter(mode: str = "auto", stream=None) -> Reporter:
    stream = stream if stream is not None else sys.stderr
    if mode == "auto":
        mode = "bar" if _isatty(stream) else "plain"
    if mode == "bar":
        return RichReporter(stream)
    if mode == "plain":
        return PlainReporter(stream)
    return Reporter()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def epoch_summary(record: dict, epochs: int) -> str:
    parts = [f"epoch {record['epoch']}/{epochs}", f"{record['iterations']} iterations", f"train_loss {record['train_loss']:.6g}"]
    for key in ("val_loss", "val_accuracy", "val_rmse"):
        if key in record:
            parts.append(f"{key} {record[key]:.6g}")
    parts.append(f"lr {record['lr']:.4g}")
    parts.append(f"{record['seconds']:.2f} s")
    parts.append(f"{format_rate(record['rows_per_s'])} rows/s")
    return ", ".join(parts)


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values) -> str:
    """One character per value, ▁ for the smallest and █ for the largest; a space for NaN or inf."""
    finite = [v for v in values if v == v and abs(v) != float("inf")]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 0.0)
    out = []
    for v in values:
        if not (v == v and abs(v) != float("inf")):
            out.append(" ")
        elif hi == lo:
            out.append(SPARKS[0])
        else:
            out.append(SPARKS[min(int((v - lo) / (hi - lo) * len(SPARKS)), len(SPARKS) - 1)])
    return "".join(out)


def loss_curves(records: list[dict]) -> str:
    """'loss per epoch: train ▇▄▂▁ 0.51 → 0.40, val ▆▃▂▁ 0.43 → 0.37' for a run's epoch records."""
    parts = []
    for name, key in (("train", "train_loss"), ("val", "val_loss")):
        values = [r[key] for r in records if key in r]
        if values:
            parts.append(f"{name} {sparkline(values)} {values[0]:.4g} → {values[-1]:.4g}")
    return "loss per epoch: " + ", ".join(parts)


def format_rate(rate: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if rate >= scale:
            return f"{rate / scale:.2f}{unit}"
    return f"{rate:.0f}"


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class PlainReporter(Reporter):
    def __init__(self, stream, interval: float = 5.0, clock=time.monotonic):
        self.stream = stream
        self.interval = interval
        self.clock = clock
        self._last = None
        self.epochs = self.iterations = 0

    def _write(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        self.stream.write(f"{stamp} {text}\n")
        self.stream.flush()

    def begin(self, *, epochs, iterations, rows, batch_size, lr):
        self.epochs, self.iterations = epochs, iterations
        self._write(f"training on {rows} rows: {epochs} epochs × {iterations} iterations of batch {batch_size}, lr {lr:.4g}")

    def epoch_start(self, epoch):
        self._t0 = self.clock()
        self._last = self._t0

    def advance(self, epoch, iteration, rows, loss, lr, detail=""):
        now = self.clock()
        if now - self._last < self.interval:
            return
        self._last = now
        elapsed = now - self._t0
        rate = rows / elapsed if elapsed > 0 else 0.0
        eta = elapsed * (self.iterations - iteration) / iteration if iteration else 0.0
        pct = 100.0 * iteration / max(self.iterations, 1)
        self._write(
            f"epoch {epoch + 1}/{self.epochs} iteration {iteration}/{self.iterations} ({pct:.0f}%) "
            f"loss {loss:.6g} lr {lr:.4g} {format_rate(rate)} rows/s eta {_clock(eta)}" + (f" {detail}" if detail else "")
        )

    def epoch_end(self, record):
        self._write(epoch_summary(record, self.epochs))

    def message(self, text):
        self._write(text)


class RichReporter(Reporter):
    def __init__(self, stream):
        from rich.console import Console

        self.console = Console(file=stream, stderr=stream is sys.stderr)
        self.progress = None
        self.records: list[dict] = []

    def begin(self, *, epochs, iterations, rows, batch_size, lr):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.epochs, self.iterations = epochs, iterations
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.progress.start()
        self.console.print(f"training on {rows} rows: {epochs} epochs × {iterations} iterations of batch {batch_size}, lr {lr:.4g}")
        self.epoch_task = self.progress.add_task("epoch", total=epochs, info="")
        self.iter_task = self.progress.add_task("iteration", total=iterations, info="")

    def epoch_start(self, epoch):
        self._t0 = time.monotonic()
        self.progress.update(self.epoch_task, description=f"epoch {epoch + 1}/{self.epochs}")
        self.progress.reset(self.iter_task, total=self.iterations, info="")

    def advance(self, epoch, iteration, rows, loss, lr, detail=""):
        elapsed = time.monotonic() - self._t0
        rate = rows / elapsed if elapsed > 0 else 0.0
        info = f"loss {loss:.5g}  lr {lr:.3g}  {format_rate(rate)} rows/s" + (f"  {detail}" if detail else "")
        self.progress.update(self.iter_task, completed=iteration, info=info)

    def epoch_end(self, record):
        # a distributed epoch's iterations are known exactly only at its end
        self.progress.update(self.iter_task, completed=record["iterations"], total=max(record["iterations"], self.iterations))
        self.progress.advance(self.epoch_task)
        self.console.print(epoch_summary(record, self.epochs))
        self.records.append(record)

    def message(self, text):
        self.console.print(text, markup=False, highlight=False)

    def close(self):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
            if self.records:  # the run's loss curve, one line, under the bars
                self.console.print(loss_curves(self.records), markup=False, highlight=False)
