"""The process's entry point (the ``sgdcli`` script, ``python -m sgdcli``): SIGTERM, SIGHUP and SIGINT handled
before the command line is imported.

Importing the command line (click and sgdcli's commands, cli/app.py) takes
about a tenth of a second, before the command's own handlers (app.py) are
installed.  A signal in that time got Python's defaults: SIGINT a
KeyboardInterrupt traceback and exit 1 (or death by SIGINT), SIGTERM and
SIGHUP death by the signal.  Nothing has been done yet then, so the handler
here ends the process at once with the line and the exit code (128 + the
signal) of a command stopped by that signal; the command line replaces it as
soon as it runs.  A signal the parent ignores stays ignored (nohup's SIGHUP).

What is left is the interpreter's own start, before any sgdcli code runs
(about 20 ms on the development machine): SIGTERM and SIGHUP kill the
process there (a shell sees 143 and 129 as for a handled stop), and SIGINT
is Python's KeyboardInterrupt (docs/unattended.md).

This module, and the package's ``__init__``, import only the standard
library's ``os`` and ``signal``: they must be quick to reach.
"""

import os
import signal

SIGNALS = (signal.SIGTERM, signal.SIGINT) + ((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ())


def _stop(signum, frame):
    """Before the command line runs: the line a stopped command prints, and exit 128 + the signal."""
    try:
        os.write(2, f"sgdcli: stopped by {signal.Signals(signum).name} before finishing; no partial output file "
                    "was left\n".encode())
    except OSError:  # stderr closed
        pass
    os._exit(128 + signum)


def main(argv=None) -> None:
    """Install ``_stop`` for SIGTERM, SIGINT and SIGHUP (unless ignored), then run the command line."""
    for signum in SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _stop)
    from sgdcli.cli.app import main as command_line

    command_line(argv)
