"""Epoch records as JSON lines, as ``train --metrics`` and ``sweep --metrics-dir`` write them.

JSON has no NaN or infinity: a value that is not finite (a loss that
diverged, an AUC with one class) is written as null, which every strict
parser reads.
"""

from __future__ import annotations

import json
import math


def json_safe(value):
    """``value`` with every non-finite float, at any depth of dicts and lists, replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def json_line(record: dict) -> str:
    """One JSON line (newline included) of an epoch record."""
    return json.dumps(json_safe(record)) + "\n"
