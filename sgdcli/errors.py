"""Exceptions that carry a one-line message and the exit code the CLI uses.

The library raises these; the CLI (cli/app.py) prints ``sgdcli: error:
<message>`` and exits with ``exit_code``.  Nothing else in the package
decides exit codes.
"""

import errno
import os
import resource  # now, not when a limit is hit: with no file descriptor left, an import cannot open its file
import signal
import stat


# what an empty path (an input's or an output's) is told: a variable that was never set expands to nothing
EMPTY_PATH = "the path is empty (an unset shell variable?)"

class SgdcliError(Exception):
    """Base class: a failure with a message a person can act on."""

    exit_code = 1


class InputError(SgdcliError):
    """Bad usage or bad input data (exit 2)."""

    exit_code = 2


class RuntimeFailure(SgdcliError):
    """A failure while doing the work: I/O, divergence (exit 1)."""

    exit_code = 1


class DivergedError(RuntimeFailure):
    """Training produced a non-finite loss or weights."""

    lr: float | None = None  # the rate the run last trained at (after --lr auto's halvings), set as it gives up
    advises_lr_auto: bool = False  # its advice ends with trying --lr auto (engine/epoch.py ``diverged``)


class WorkLost(RuntimeFailure):
    """Work between two averagings was lost (a worker or a shard failed); the model is still the last whole round's.

    Training can checkpoint that state and say how to resume (training/run.py).
    """


class GateFailed(SgdcliError):
    """A quality gate (--fail-under, --fail-over) failed; the results were still written (exit 3).

    ``lost``: the failure of standard output (closed, full) that kept the
    results from being printed, where there was one; the command line prints
    its line before the gate's (cli/gates.py says why the gate's exit code wins).
    """

    exit_code = 3

    def __init__(self, message: str, lost: SgdcliError | None = None):
        super().__init__(message)
        self.lost = lost


class LockedError(SgdcliError):
    """The output is locked by another run (exit 75, EX_TEMPFAIL)."""

    exit_code = 75


class Interrupted(SgdcliError):
    """A signal stopped training at a safe point; exit 128 + signal number."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


QUOTED_CHARS = 80  # of a field or name from the input that a message quotes
LISTED = 20  # names of one kind (columns, classes, frame keys) a message or a listing shows before "..."


def quoted(text: str, limit: int = QUOTED_CHARS) -> str:
    """``text`` (a field or a header name from the input) as a message quotes it: its repr, cut to ``limit``
    characters and followed by its length where it is longer (a 5 MB field made a 5 MB error line)."""
    text = str(text)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text):,} characters)"


def cut(name: str) -> str:
    """A name from the input as a message shows it unquoted: cut to QUOTED_CHARS characters, and followed by its
    length where it is longer, as ``quoted`` cuts."""
    return name if len(name) <= QUOTED_CHARS else f"{name[:QUOTED_CHARS]}... ({len(name):,} characters)"


def listed(names, limit: int = LISTED, quote: bool = False, what: str = "columns") -> str:
    """Names from the input (a header's, or class names) as a message lists them: the first ``limit``, each cut
    (``cut``, or ``quoted`` where ``quote``: names that may hold the list's comma)."""
    names = list(names)
    if quote:
        shown = [quoted(name) for name in names[:limit]]
    else:
        shown = [cut(name) for name in map(str, names[:limit])]
    return ", ".join(shown) + (f", ... ({len(names)} {what})" if len(names) > limit else "")


def utf8_text(raw: bytes, where: str, what: str) -> str:
    """``raw`` decoded as UTF-8, or InputError naming ``where`` and the line of the first byte that is not UTF-8,
    "so not ``what``" (a binary file given where a text file goes, text in another encoding)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{where}: line {line}: not UTF-8 text (bytes {raw[exc.start:exc.end]!r}: {exc.reason}), "
                         f"so not {what}") from None


def not_a_file(path, where: str, why: str = "") -> InputError:
    """InputError for a ``path`` that is not a regular file, saying what it is: "no such file" only where there is
    none (a pipe from ``<(...)`` exists, and was once called missing).  ``why``: what needs a regular file."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return InputError(f"{where}: no such file")
    kind = ("a directory" if stat.S_ISDIR(mode) else
            "a pipe (a FIFO, or a process substitution such as <(...))" if stat.S_ISFIFO(mode) else
            "a socket" if stat.S_ISSOCK(mode) else
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
    return InputError(f"{where}: is {kind}, not a regular file{why}")


def refuse_pipe(path, where: str, why: str = "") -> None:
    """InputError (``not_a_file``'s line) where the input ``path`` is a pipe or a socket; called before it is opened.

    Opening a FIFO waits for a writer, forever where none comes; while
    ``train`` trains, its SIGTERM handler only sets a flag, and Python
    retries the interrupted open (PEP 475), so not even SIGTERM ended that
    wait.  A socket cannot be opened at all.  Every path sgdcli opens as an
    input file comes here first (standard input is ``-``, not a path).  A
    device is left to its reader: /dev/zero is "not an HDF5 file", and
    ``--config /dev/null`` an empty file.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:  # missing or unreadable: the reader says which
        return
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        raise not_a_file(path, where, why)


class Terminated(BaseException):
    """SIGTERM or SIGHUP outside training's safe points (cli/app.py raises it from the handler): exit 128 + the
    signal's number (143, 129).

    A BaseException, as KeyboardInterrupt is, so that no ``except Exception``
    stops it and every ``finally`` and context manager on the way out runs:
    temporary output files are removed, and nothing partial is left.
    """

    def __init__(self, signum: int = signal.SIGTERM, left: str = "no partial output file was left"):
        super().__init__(signum)
        self.signum = signum
        self.exit_code = 128 + signum
        self.signal_name = signal.Signals(signum).name
        self.left = left  # what the stop leaves, as the line ending "stopped by ... before finishing; " says


def install_extra(extra: str) -> str:
    """How a message says to install the optional ``extra``, as README's Install section does: from the sgdcli
    checkout, into the .venv its ``make`` targets create (sgdcli is installed from its checkout, not from a
    package index)."""
    return f"run .venv/bin/pip install -e '.[{extra}]' in the sgdcli checkout"


def missing_extra(what: str, package: str, extra: str) -> InputError:
    """The error for ``what`` (an option, or an input, that needs it) when ``package`` of the optional ``extra``
    is not installed: exit 2 in every case, as for any usage that this install cannot serve, with one line
    saying what to install."""
    return InputError(f"{what} needs {package}, which is not installed: {install_extra(extra)}")


def out_of_files(code: int) -> str:
    """What a failure to open a file for want of a file descriptor says of it (``code``: EMFILE, this process's
    limit; ENFILE, the system's), and what to do."""
    whose = (f"this process's open-file limit (ulimit -n) of {resource.getrlimit(resource.RLIMIT_NOFILE)[0]:,}"
             if code == errno.EMFILE else "the system's open-file limit")
    return f"{whose} is reached; raise it, or run fewer jobs at once"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (its type's name if it has none): the part a one-line message quotes."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# Set once a command's results are written (by train as soon as the model is and its checkpoint is removed; by
# the command line for every command as it returns): a SIGTERM or SIGHUP after that can stop nothing, and the
# command line lets the command finish (cli/app.py) rather than exit 143 over a finished run, which a nightly
# script reads as "checkpoint kept".
_written = False


def results_written(written: bool = True) -> None:
    global _written
    _written = written


def are_results_written() -> bool:
    return _written


# Set when an output file's HDF5 objects could not be released after a failed
# write (data/newhdf5.py): the process must then end without the interpreter's
# teardown, which would free them and can crash HDF5.
_hard_exit = False


def require_hard_exit() -> None:
    """Ask the command line to end this process with ``os._exit`` (see data/newhdf5.py's quarantine)."""
    global _hard_exit
    _hard_exit = True


def hard_exit_required() -> bool:
    return _hard_exit
