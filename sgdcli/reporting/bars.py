"""Progress as rich bars on a terminal: epochs, the iterations of the current epoch, and a loss sparkline."""

from __future__ import annotations

import sys
import time

from sgdcli.reporting.reporter import (Reporter, done_before, epoch_summary, format_rate, loss_curves, loss_text,
                                       printable, training_line)


class RichReporter(Reporter):
    def __init__(self, stream):
        from rich.console import Console

        self.console = Console(file=stream, stderr=stream is sys.stderr)
        self.progress = None
        self.records: list[dict] = []
        self._resumed = None  # the epoch, iterations and rows of a resume, until the next epoch starts
        self._rows_before = 0  # rows of the epoch done before this process started it (a resume's)
        self._pass = None  # the bars and task of a pass outside the epochs under way

    def _bars(self, transient: bool):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=self.console,
                        transient=transient)
        bars.start()
        return bars

    def begin(self, *, epochs, iterations, rows, batch_size, lr, batch=None):
        self._end_pass()
        self.epochs, self.iterations = epochs, iterations
        self.records = []  # this run's: a reporter given to another train() sums up only that one
        self._resumed = None
        self.progress = self._bars(transient=False)
        self.console.print(training_line(epochs=epochs, iterations=iterations, rows=rows, batch_size=batch_size, lr=lr,
                                         batch=batch))
        self.epoch_task = self.progress.add_task("epoch", total=epochs, info="")
        self.iter_task = self.progress.add_task("iteration", total=iterations, info="")

    def resumed(self, *, epoch, iteration, rows, records):
        self._resumed = (epoch, iteration, rows)
        self.records = list(records)  # the loss curve of the whole run, the epochs before the resume included

    def epoch_start(self, epoch):
        self._t0 = time.monotonic()
        (iteration, self._rows_before), self._resumed = done_before(self._resumed, epoch), None
        self.records = [r for r in self.records if r["epoch"] <= epoch]  # none after a run that starts over
        self.progress.update(self.epoch_task, completed=epoch, description=f"epoch {epoch + 1}/{self.epochs}")
        # from the iterations done before a resume: the time left is estimated from those done since
        self.progress.reset(self.iter_task, total=self.iterations, completed=iteration, info="")

    def advance(self, epoch, iteration, rows, loss, lr, detail=""):
        elapsed = time.monotonic() - self._t0
        rate = (rows - self._rows_before) / elapsed if elapsed > 0 else 0.0
        info = (f"{loss_text(iteration, loss, 5)}  lr {lr:.3g}  {format_rate(rate)} rows/s"
                + (f"  {detail}" if detail else ""))
        self.progress.update(self.iter_task, completed=iteration, info=info)

    def epoch_end(self, record):
        self._end_pass()
        # the bar ends at its end, full, at what the epoch took (which is what begin announced)
        self.progress.update(self.iter_task, completed=record["iterations"], total=record["iterations"])
        self.progress.advance(self.epoch_task)
        self.console.print(epoch_summary(record, self.epochs))
        self.records.append(record)

    def message(self, text):
        self._end_pass()  # a message says what comes next
        self.console.print(printable(text), markup=False, highlight=False)

    def pass_progress(self, stage, done, total):
        if done == 0 or self._pass is None:
            self._end_pass()
            # a bar among the epochs' (validating), else one of its own, gone as the pass ends: rich draws one
            # live display at a time
            bars = self.progress if self.progress is not None else self._bars(transient=True)
            self._pass = (bars, bars.add_task(stage, total=total, info=""))
        bars, task = self._pass
        bars.update(task, completed=done)

    def _end_pass(self):
        if self._pass is not None:
            bars, task = self._pass
            self._pass = None
            bars.remove_task(task)
            if bars is not self.progress:
                bars.stop()

    def close(self):
        self._end_pass()
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
            if self.records:  # the run's loss curve, one line, under the bars
                self.console.print(loss_curves(self.records), markup=False, highlight=False)
