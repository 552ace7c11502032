"""Progress as plain, timestamped lines: no control codes, at most one every ``interval`` seconds."""

from __future__ import annotations

import time

from sgdcli.reporting.reporter import (Reporter, clock_text, done_before, epoch_summary, format_rate, loss_text,
                                       printable, training_line)

INTERVAL = 5.0  # seconds between progress lines: a log a person can read, a cron mail that stays short


def _stamped(stream, text: str) -> None:
    """One timestamped line: a name in ``text`` that holds a newline or an escape does not split or colour it."""
    stream.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {printable(text)}\n")
    stream.flush()


class PassProgress:
    """A pass over a file (predict, evaluate) as plain lines: one as it starts (unless ``announce`` is False:
    a line before said what the pass reads), then at most one every ``interval`` seconds, with the rows done,
    the rate and the time left.  A ``total`` of None is a count not known yet (text, read as it comes): the
    lines then say the rows done and the rate."""

    def __init__(self, stream, what: str, interval: float = INTERVAL, clock=time.monotonic, announce: bool = True):
        self.stream, self.what, self.interval, self.clock, self.announce = stream, what, interval, clock, announce
        self._t0 = self._last = None

    def __call__(self, done: int, total: int | None) -> None:
        now = self.clock()
        if self._t0 is None:
            self._t0 = self._last = now
            rows = f"{total:,} rows" if total is not None else "rows counted as they are read"
            if self.announce:
                _stamped(self.stream, f"{self.what}: {rows}")
            return
        if now - self._last < self.interval or (total is not None and done >= total):
            return
        self._last = now
        elapsed = now - self._t0
        rate = done / elapsed if elapsed > 0 else 0.0
        if total is None:
            _stamped(self.stream, f"{self.what}: {done:,} rows, {format_rate(rate)} rows/s")
            return
        left = (total - done) / rate if rate > 0 else 0.0
        _stamped(self.stream, f"{self.what}: {done:,} of {total:,} rows ({100.0 * done / max(total, 1):.0f}%), "
                              f"{format_rate(rate)} rows/s, {clock_text(left)} left")


class StageLines:
    """``progress(stage, done, total)`` of passes one after another (convert's, or those outside the epochs),
    each pass as PassProgress's lines: a stage other than the last one's, or rows done back at 0, begins a
    pass, timed from there."""

    def __init__(self, stream, interval: float = INTERVAL, clock=time.monotonic, announce: bool = True):
        self.stream, self.interval, self.clock, self.announce = stream, interval, clock, announce
        self._lines: PassProgress | None = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if done == 0 or self._lines is None or self._lines.what != stage:
            self._lines = PassProgress(self.stream, stage, self.interval, self.clock, self.announce)
        self._lines(done, total)


class PlainReporter(Reporter):
    def __init__(self, stream, interval: float = INTERVAL, clock=time.monotonic):
        self.stream = stream
        self.interval = interval
        self.clock = clock
        self._last = None
        self.epochs = self.iterations = self.rows = 0
        self._resumed = None  # the epoch, iterations and rows of a resume, until the next epoch starts
        self._before = (0, 0)  # the iterations and rows of the epoch done before this process started it
        self._passes = StageLines(stream, interval, clock, announce=False)  # (a message announced each pass)

    def _write(self, text: str) -> None:
        _stamped(self.stream, text)

    def begin(self, *, epochs, iterations, rows, batch_size, lr, batch=None):
        # the rows an epoch trains: with --drop-last, its iterations' whole batches (each share's, summed), fewer
        # than the training rows, which the epoch's last line counted as 99% done
        self.epochs, self.iterations, self.rows = epochs, iterations, min(rows, iterations * batch_size)
        self._resumed = None
        self._write(training_line(epochs=epochs, iterations=iterations, rows=rows, batch_size=batch_size, lr=lr,
                                  batch=batch))

    def resumed(self, *, epoch, iteration, rows, records):
        self._resumed = (epoch, iteration, rows)

    def epoch_start(self, epoch):
        self._t0 = self.clock()
        self._last = self._t0
        self._before, self._resumed = done_before(self._resumed, epoch), None

    def advance(self, epoch, iteration, rows, loss, lr, detail=""):
        now = self.clock()
        if now - self._last < self.interval:
            return
        self._last = now
        elapsed = now - self._t0  # since this process started the epoch: so are the rows timed
        trained = rows - self._before[1]
        rate = trained / elapsed if elapsed > 0 else 0.0
        # the share done and the time left by rows, which move within an iteration: counted in iterations, the
        # first of a large batch (a full one is the whole epoch) was 0% done and 0:00:00 left until it ended
        eta = clock_text(elapsed * (self.rows - rows) / trained) if trained > 0 else "-"
        pct = 100.0 * min(rows, self.rows) / max(self.rows, 1)
        self._write(
            f"epoch {epoch + 1}/{self.epochs} iteration {iteration}/{self.iterations} ({pct:.0f}%) "
            f"{loss_text(iteration, loss, 6)} lr {lr:.4g} {format_rate(rate)} rows/s eta {eta}"
            + (f" {detail}" if detail else "")
        )

    def epoch_end(self, record):
        self._write(epoch_summary(record, self.epochs))

    def message(self, text):
        self._write(text)

    def pass_progress(self, stage, done, total):
        self._passes(stage, done, total)
