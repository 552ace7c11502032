"""Progress as plain, timestamped lines: no control codes, at most one every ``interval`` seconds."""

from __future__ import annotations

import time

from sgdcli.reporting.reporter import Reporter, clock_text, epoch_summary, format_rate


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
            f"loss {loss:.6g} lr {lr:.4g} {format_rate(rate)} rows/s eta {clock_text(eta)}" + (f" {detail}" if detail else "")
        )

    def epoch_end(self, record):
        self._write(epoch_summary(record, self.epochs))

    def message(self, text):
        self._write(text)
