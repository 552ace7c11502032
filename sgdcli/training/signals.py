"""SIGTERM, SIGHUP and SIGINT ask training to stop at the next safe point.

The handler only records the signal; the training loop checks ``requested``
between kernel calls, writes a checkpoint and exits 128 + the signal's
number: 143 (SIGTERM), 129 (SIGHUP: the terminal or ssh session of a run
started without nohup went away), 130 (SIGINT).  A second SIGINT raises
KeyboardInterrupt at once (the train command's line then names the checkpoint
an earlier safe point left, cli/train_commands.py).
"""

from __future__ import annotations

import contextlib
import signal
import threading

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
if hasattr(signal, "SIGHUP"):  # not on Windows
    EXIT_CODES[signal.SIGHUP] = 129


class StopRequest:
    def __init__(self):
        self.signum: int | None = None

    def __call__(self) -> int | None:
        return self.signum

    def _handler(self, signum, frame):
        if signum == signal.SIGINT and self.signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals():
    """Install the handlers (main thread only) and yield the StopRequest."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    # a signal the parent ignores stays ignored (nohup's SIGHUP; SIGINT in a script's background job)
    previous = {s: signal.signal(s, request._handler) for s in EXIT_CODES if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def name(signum: int) -> str:
    return signal.Signals(signum).name
