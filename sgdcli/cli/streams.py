"""The standard streams while a command runs: stderr as cli/stderr.py keeps it, and what goes wrong on stdout as
one line.

A stderr that is closed or cannot be written loses the progress and logs,
and the command still does its work (cli/stderr.py).  Standard output
carries the results, so a failure to write there ends the command with a
line naming it: stdout closed (``>&-``),
a full disk (``> /dev/full``), an encoding that cannot hold a class name.
Every writer (click.echo, the prediction writer, np.savetxt) reaches stdout
as ``sys.stdout``, so the one wrapper, ``Results``, covers them all.

Where the locale says ASCII (``LC_ALL=C`` without Python's UTF-8 mode)
stdout is written as UTF-8: click.echo already wrote UTF-8 there, and the
predictions of ``predict -o -`` then have the bytes a .csv file gets,
instead of failing on the first class name outside ASCII.  A reader that
went away (EPIPE) is left to cli/app.py, which stays quiet about it.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import sys

from sgdcli import errors
from sgdcli.cli.stderr import diagnostics, to_devnull

CLOSED = "standard output is closed (>&-), so the results cannot be written; redirect it to a file or /dev/null"


class Results(io.TextIOBase):
    """``stream`` (None: closed) as stdout, its write failures raised as SgdcliError."""

    def __init__(self, stream):
        super().__init__()
        self._stream = stream
        self.failed = False
        self.written = False  # whether any text went out: a stop's line says whether the reader has some

    @property
    def encoding(self):
        return getattr(self._stream, "encoding", "utf-8")

    @property
    def errors(self):
        return getattr(self._stream, "errors", "strict")

    @property
    def buffer(self):
        """The binary stream beneath, for what writes bytes (click's shell completion)."""
        if self._stream is None or not hasattr(self._stream, "buffer"):
            raise AttributeError("buffer")
        return self._stream.buffer

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def fileno(self) -> int:
        if self._stream is None:
            raise io.UnsupportedOperation("standard output is closed")
        return self._stream.fileno()

    def write(self, text: str) -> int:
        # a try with no context manager: predict -o - writes a line a call, and an exception costs nothing here
        # until one is raised
        if self._stream is None:
            raise errors.RuntimeFailure(CLOSED)
        try:
            written = self._stream.write(text)
        except BrokenPipeError:
            raise
        except (OSError, UnicodeEncodeError) as exc:
            raise self._failure(exc) from None
        self.written = self.written or bool(text)
        return written

    def flush(self) -> None:
        if self._stream is not None:
            try:
                self._stream.flush()
            except BrokenPipeError:
                raise
            except (OSError, UnicodeEncodeError) as exc:
                raise self._failure(exc) from None

    def _failure(self, exc: OSError | UnicodeEncodeError) -> errors.SgdcliError:
        """The error to raise for a write to stdout that failed with ``exc``."""
        if isinstance(exc, UnicodeEncodeError):
            return errors.InputError(
                f"standard output: its encoding, {exc.encoding} (from the locale), cannot write "
                f"{exc.object[exc.start:exc.end]!r}; set a UTF-8 locale (LC_ALL=C.UTF-8) or PYTHONIOENCODING=utf-8, "
                "or write to a file")
        self.failed = True
        return errors.RuntimeFailure(f"standard output: write failed: {exc.strerror or exc}; the results written "
                                     "there are incomplete")

    def discard(self) -> None:
        """Point stdout's descriptor at os.devnull, so that the flush at exit cannot fail a second time.

        Not at the failure itself: click probes a stream with ``write("")``,
        swallows what that raises, and must see the next write fail too.
        """
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):  # (no descriptor: nothing to flush)
            to_devnull(self._stream.fileno())


@contextlib.contextmanager
def standard_streams():
    """While a command runs: stderr that drops what it cannot write (cli/stderr.py), stdout through ``Results``."""
    with diagnostics(), _results():
        yield


@contextlib.contextmanager
def _results():
    """stdout through ``Results`` (UTF-8 if ASCII) while a command runs."""
    saved = sys.stdout
    utf8 = None
    if sys.stdout is not None and _is_ascii(sys.stdout) and hasattr(sys.stdout, "buffer"):
        sys.stdout.flush()
        utf8 = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", errors=sys.stdout.errors,
                                line_buffering=sys.stdout.line_buffering, write_through=True)
    sys.stdout = results = Results(utf8 or sys.stdout)
    try:
        yield
    finally:
        sys.stdout = saved
        if results.failed:
            results.discard()  # before the UTF-8 wrapper lets go of the descriptor's buffer
        if utf8 is not None:
            with contextlib.suppress(OSError, ValueError):
                utf8.flush()
            utf8.detach()  # the buffer is the original stream's: not closed with this wrapper


def _is_ascii(stream) -> bool:
    try:
        return codecs.lookup(getattr(stream, "encoding", None) or "utf-8").name == "ascii"
    except LookupError:
        return False
