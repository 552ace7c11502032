"""Warnings given as from the caller's line: the first frame outside the sgdcli package.

Python's filters (``warnings.filterwarnings(..., module="mypipeline")``) and
the location a warning is shown with then name the code that called
``sgdcli.train``, not a line inside sgdcli that tells nothing.  The command
line prints each warning as one line without its location (cli/app.py), so
what it shows does not change.
"""

from __future__ import annotations

import os
import sys
import warnings

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def warn(text: str, category: type[Warning], *, each_time: bool = False) -> None:
    """Warn ``text`` as ``category`` from the first frame outside sgdcli; with ``each_time``, under a fresh
    registry, so that a run's warning is shown though an earlier run gave the same text from the same line
    (the filters' "default" action shows a text once per line)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    module_globals = frame.f_globals
    registry = {} if each_time else module_globals.setdefault("__warningregistry__", {})
    # no module_globals, as warnings.warn passes none: with them warn_explicit asks the module's loader for its
    # source, which fails for a `python -c` program (ImportError: '__main__' is not a built-in module)
    warnings.warn_explicit(text, category, frame.f_code.co_filename, frame.f_lineno,
                           module=module_globals.get("__name__", "<string>"), registry=registry)
