"""Epoch records as JSON lines, as ``train --metrics`` and ``sweep --metrics-dir`` write them.

A value that is not finite (a loss that diverged, an AUC with one class) is
written as null (sgdcli/data/jsontext.py).
"""

from __future__ import annotations

from sgdcli.data.jsontext import dumps  # noqa: F401 - also what the CLI renders JSON with


def json_line(record: dict) -> str:
    """One JSON line (newline included) of an epoch record."""
    return dumps(record) + "\n"
