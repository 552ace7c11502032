"""Standard error while a command runs: closed, or one that cannot be written, it only loses what it would show.

Stderr carries the progress, the logs, the warnings and the error line, never
the results, so losing it must not cost the run (docs/exit-codes.md).  A
process started with stderr closed (``2>&-``, a daemonizing wrapper) has
``sys.stderr`` None: it becomes os.devnull.  One whose stderr cannot be
written finds out at its first write: a full log disk (``2>>/var/log/x.err``,
``2>/dev/full``), a log reader that went away (``2> >(logger)`` with the
logger dead: EPIPE, as Python ignores SIGPIPE).  That write raised wherever
it was made, a progress line or a warning, and the command ended with exit 1
and nothing done.  So the command writes to a stream over the same
descriptor (``sys.stderr`` for it, as click.echo, rich and the reporters
write there) whose first failure points the descriptor at os.devnull and
drops that write and every later one: as if stderr had been closed.  The
descriptor itself is repointed so that what writes to it without Python (HDF5's
error stack, Numba's threads) and the interpreter's flush of ``sys.stderr`` at
exit cannot fail on it either.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys


class _Dropping(io.RawIOBase):
    """The descriptor ``fd`` for writing, until a write to it fails: then os.devnull, and the write counted done."""

    def __init__(self, fd: int):
        super().__init__()
        self._fd = fd
        self.failed = False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data) -> int:
        if not self.failed:
            try:
                return os.write(self._fd, data)
            except OSError:  # ENOSPC, EPIPE, EIO, EAGAIN (a non-blocking pipe left full): nothing more goes there
                self.failed = True
                to_devnull(self._fd)
        return len(data)


def to_devnull(fd: int) -> None:
    """Point the descriptor ``fd`` at os.devnull."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)


def _descriptor(stream) -> int | None:
    """The descriptor beneath ``stream``, or None where it has none (a test's in-memory stream, which cannot fail)."""
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both an OSError and a ValueError
        return None


@contextlib.contextmanager
def diagnostics():
    """While a command runs: ``sys.stderr`` is os.devnull where it is closed, and a stream that drops what it
    cannot write where it has a descriptor; the stream it was, afterwards."""
    saved = sys.stderr
    fd = _descriptor(saved) if saved is not None else None
    if saved is not None and fd is None:
        yield
        return
    if saved is None:
        stream = open(os.devnull, "w")
    else:
        try:
            saved.flush()  # what it holds goes before what the command writes
        except (OSError, ValueError):
            to_devnull(fd)
            with contextlib.suppress(OSError, ValueError):
                saved.flush()
        stream = io.TextIOWrapper(io.BufferedWriter(_Dropping(fd)), encoding=getattr(saved, "encoding", None) or "utf-8",
                                  errors=getattr(saved, "errors", None) or "backslashreplace",
                                  line_buffering=getattr(saved, "line_buffering", True))
    sys.stderr = stream
    try:
        yield
    finally:
        sys.stderr = saved
        with contextlib.suppress(OSError, ValueError):
            stream.close()  # its own: the descriptor stays open
