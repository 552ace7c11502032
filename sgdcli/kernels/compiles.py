"""Signals wait for Numba's compiler: SIGTERM, SIGINT and SIGHUP that come while the main thread compiles a kernel
(or loads one from the compile cache) are handled as soon as that is done.

A handler's exception raised in the middle of a compile leaves Numba's and
LLVM's state half made.  Where it is raised inside a callback that LLVM calls
back into Python, Python drops it: predict stopped by SIGTERM during its first
compile exited 1 with "internal error: RuntimeError: no compiled object yet
for <Library 'scores'>", not 143, and interrupted compiles are known to crash
the process (numba issue 2324).  So while the main thread holds Numba's
compiler lock, each of these signals whose handler is Python's (the command
line's, training's, KeyboardInterrupt's) is only recorded; when the lock is
let go, the handlers are put back and each signal recorded is raised again,
once, for its handler to do what it does.  A compile takes seconds at most,
and only the first run after an install or an upgrade compiles.

Only the main thread's compiles are held: Python runs handlers there alone,
and a compile in a reader thread is not interrupted by them.
"""

from __future__ import annotations

import signal
import threading

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name))


class _Held:
    """The handlers put aside while the main thread compiles, and the signals that came meanwhile."""

    def __init__(self):
        self.depth = 0  # the compiler lock's acquisitions by the main thread, nested
        self.handlers: dict[int, object] = {}
        self.pending: list[int] = []

    def record(self, signum, frame) -> None:
        if signum not in self.pending:
            self.pending.append(signum)

    def enter(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if self.depth == 0:
            for signum in SIGNALS:
                handler = signal.getsignal(signum)
                if callable(handler):  # not SIG_DFL, SIG_IGN, or a handler set outside Python (None)
                    self.handlers[signum] = handler
                    signal.signal(signum, self.record)
        self.depth += 1

    def leave(self) -> None:
        if threading.current_thread() is not threading.main_thread() or self.depth == 0:
            return
        self.depth -= 1
        if self.depth:
            return
        handlers, self.handlers = self.handlers, {}
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        pending, self.pending = self.pending, []
        for signum in pending:  # the handler runs here, in the main thread; what it raises goes up from the call
            signal.raise_signal(signum)


_held = _Held()
_installed: list[bool] = []


def install() -> None:
    """Hold the signals around the main thread's compiles from now on (once a process)."""
    if _installed:
        return
    from numba.core import event

    class _Listener(event.Listener):
        def on_start(self, _event):
            _held.enter()

        def on_end(self, _event):
            _held.leave()

    event.register("numba:compiler_lock", _Listener())
    _installed.append(True)
