"""Signals wait for Numba's compiler: SIGTERM, SIGINT and SIGHUP that come while the main thread compiles a kernel
(or loads one from the compile cache) are handled as soon as that is done.

A handler's exception raised in the middle of a compile leaves Numba's and
LLVM's state half made.  Where it is raised inside a callback that LLVM calls
back into Python, Python drops it: predict stopped by SIGTERM during its first
compile exited 1 with "internal error: RuntimeError: no compiled object yet
for <Library 'scores'>", not 143, and interrupted compiles are known to crash
the process (numba issue 2324).  So while the main thread holds Numba's
compiler lock, or waits for it while another thread compiles, each of these
signals whose handler is Python's (the command line's, training's,
KeyboardInterrupt's) is only recorded; when the lock is let go, the handlers
are put back and each signal recorded is raised again, in order, for its
handler to do what it does (training's second SIGINT still raises
KeyboardInterrupt).  A compile takes seconds at most.

The waits that may last, those for another process's lock on the compile
cache (kernels/jit.py), are not held (``let_through``): a process whose lock
holder hangs can still be stopped.  Nothing of the kernel is made yet there.

Only the main thread's compiles are held: Python runs handlers there alone,
and a compile in a reader thread is not interrupted by them.
"""

from __future__ import annotations

import contextlib
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
        self.pending.append(signum)

    def enter(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if self.depth == 0:
            self._hold()
        self.depth += 1

    def leave(self) -> None:
        if threading.current_thread() is not threading.main_thread() or self.depth == 0:
            return
        self.depth -= 1
        if self.depth == 0:
            self._let_go()

    def _hold(self) -> None:
        """Put the Python-level handlers aside for ``record``; all of them or, where one raised meanwhile (a signal
        that came before its own was put aside), none."""
        aside = {}
        try:
            for signum in SIGNALS:
                handler = signal.getsignal(signum)
                if callable(handler):  # not SIG_DFL, SIG_IGN, or a handler set outside Python (None)
                    aside[signum] = handler
                    signal.signal(signum, self.record)
        except BaseException:
            for signum, handler in aside.items():
                signal.signal(signum, handler)
            raise
        self.handlers = aside

    def _let_go(self) -> None:
        """Put the handlers back and raise each signal that came meanwhile: the handler runs here, in the main
        thread, and what it raises goes up from the call that compiled.  A signal that comes while they are put
        back runs its handler if it is back: what that raises puts the others back on its way out, or their
        signals would be recorded from then on, and never handled."""
        left, self.handlers = list(self.handlers.items()), {}
        try:
            while left:
                signal.signal(*left[0])
                del left[0]
        finally:
            for signum, handler in left:
                signal.signal(signum, handler)
        pending, self.pending = self.pending, []
        for signum in pending:
            signal.raise_signal(signum)


_held = _Held()
_installed: list[bool] = []


@contextlib.contextmanager
def let_through():
    """Within a hold, the signals are handled as they come while the block runs (a wait that may last), and
    those that came before it first; held again after it."""
    if threading.current_thread() is not threading.main_thread() or _held.depth == 0:
        yield
        return
    _held._let_go()
    try:
        yield
    finally:
        _held._hold()


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
