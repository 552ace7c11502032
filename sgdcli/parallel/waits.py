"""Waiting on Dask with a bound: a call the main thread gives up on after a deadline, or once a signal came.

A call of Dask's synchronous API waits in the main thread for its event
loop's thread, and some of those waits have no bound: distributed's
``connect`` reads the scheduler's handshake without a timeout, so a port that
accepts the connection and never answers in Dask's protocol (an HTTP
server, such as the dashboard's port, 8787, for the scheduler's 8786) held
``Client(address, timeout=...)`` for ever; a scheduler that stops answering
does the same to any later call.  Nor does a signal end such a wait: the
handlers only record it (training/signals.py), and the main thread goes
back to waiting.

``bounded`` runs the call in a daemon thread and waits for it in short
steps: past the deadline it raises ``Late``, and once ``stop`` reports a
signal it raises ``Stopped``.  The call it gives up on runs on unobserved,
and ends with the process.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, TypeVar

T = TypeVar("T")
POLL = 0.1  # seconds between looks at the deadline and for a signal


class Late(Exception):
    """The call had not returned after ``seconds``."""

    def __init__(self, seconds: float):
        super().__init__(f"no answer within {seconds:g} s")
        self.seconds = seconds


class Stopped(Exception):
    """A signal (its number: ``signum``) came while the call ran."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def bounded(call: Callable[[], T], seconds: float, stop: Callable[[], int | None] | None = None) -> T:
    """``call()``'s result, or its exception; ``Late`` if it has not returned within ``seconds``, ``Stopped`` if
    ``stop()`` reports a signal first."""
    outcome: dict = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as exc:  # handed to the waiting thread, which raises it
            outcome["error"] = exc
        finally:
            done.set()

    deadline = time.monotonic() + seconds
    threading.Thread(target=run, name="sgdcli-dask-call", daemon=True).start()
    while not done.wait(max(0.0, min(POLL, deadline - time.monotonic()))):
        signum = stop() if stop is not None else None
        if signum is not None:
            raise Stopped(signum)
        if time.monotonic() >= deadline:
            raise Late(seconds)
    if "error" in outcome:
        # popped: the error's traceback holds the call's frames, and through them this dict
        raise outcome.pop("error")
    return outcome.pop("result")
