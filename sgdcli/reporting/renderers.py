"""Choosing how progress is shown, once; the training loop only calls the reporter's methods.

- ``bar``: a rich display on stderr, one bar for epochs and one for the
  iterations of the current epoch, with rows/s, loss, learning rate and ETA;
  at the end, one sparkline line of the loss per epoch (bars.py).
- ``plain``: timestamped lines with no control codes, at most one every
  few seconds, plus one summary line per epoch: cron logs, pipes (plain.py).
- ``none``: silent.

``auto`` picks ``bar`` when stderr is a terminal and ``plain`` otherwise.
Nothing here touches stdout, which carries results only.  This module is
light: the CLI reads ``MODES`` for ``--help``.
"""

from __future__ import annotations

import sys

from sgdcli.fieldtypes import checked
from sgdcli.reporting.reporter import Reporter

MODES = ("auto", "bar", "plain", "none")


def make_reporter(mode: str = "auto", stream=None) -> Reporter:
    """The reporter ``--progress mode`` gives, on ``stream`` (stderr); InputError for a mode not in MODES.  Bars
    are drawn on a terminal only: elsewhere ``bar`` gives plain lines, as ``auto`` does."""
    mode = checked(mode, "str", "mode (--progress)", {"choices": MODES})
    stream = stream if stream is not None else sys.stderr
    if mode == "auto":
        mode = "bar" if _isatty(stream) else "plain"
    if mode == "bar":
        from sgdcli.reporting.bars import RichReporter

        bars = RichReporter(stream)
        # rich's judgement: a terminal (TTY_COMPATIBLE=1 or FORCE_COLOR makes any stream one), or a notebook
        if bars.console.is_terminal or bars.console.is_jupyter:
            return bars
        mode = "plain"  # bars drawn off a terminal were their last frame, log lines cut at 80 columns, no times
    if mode == "plain":
        from sgdcli.reporting.plain import PlainReporter

        return PlainReporter(stream)
    return Reporter()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
