"""Exceptions that carry a one-line message and the exit code the CLI uses.

The library raises these; ``cli.py`` prints ``sgdcli: error: <message>`` and
exits with ``exit_code``.  Nothing else in the package decides exit codes.
"""


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


class GateFailed(SgdcliError):
    """A quality gate (--fail-under, --fail-over) failed; the results were still written (exit 3)."""

    exit_code = 3


class LockedError(SgdcliError):
    """The output is locked by another run (exit 75, EX_TEMPFAIL)."""

    exit_code = 75


class Interrupted(SgdcliError):
    """A signal stopped training at a safe point; exit 128 + signal number."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
