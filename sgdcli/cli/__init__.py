"""The command line: parses, calls the public Python API (``import sgdcli``), reports.

It reaches the training, model and data layers only through that API (an
import-linter contract), so what the CLI can do, a Python caller can too.
"""

from sgdcli.cli.app import main, main_group

__all__ = ["main", "main_group"]
