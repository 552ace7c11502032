"""The command line: parses, calls the public Python API (``import sgdcli``), reports.

It reaches the training, model and data layers only through that API (an
import-linter contract), so what the CLI can do, a Python caller can too.

``main`` (the ``sgdcli`` script's entry point, and ``python -m sgdcli``'s) is
startup.py's: importing this package imports nothing else, so that it handles
signals before the command line (app.py, click and the commands) is imported.
``main_group`` is imported when asked for.
"""

from sgdcli.cli.startup import main

__all__ = ["main", "main_group"]


def __getattr__(name):
    if name == "main_group":
        from sgdcli.cli.app import main_group

        return main_group
    raise AttributeError(f"module 'sgdcli.cli' has no attribute {name!r}")
