"""JSON that strict parsers read: every output of sgdcli that is JSON goes through ``dumps``.

JSON has no NaN or infinity, though Python's ``json`` writes them: a value
that is not finite (a loss that diverged, an AUC with one class, an
eigenvalue a rule did not need) is written as null, which jq, JavaScript and
every strict parser read.
"""

from __future__ import annotations

import json
import math


def json_safe(value):
    """``value`` with every non-finite float, at any depth of dicts, lists and tuples, replaced by None, and
    NumPy scalars and arrays as Python numbers and lists."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()  # a NumPy scalar or array
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def dumps(value, **kw) -> str:
    """``json.dumps`` of ``json_safe(value)``; a NaN or infinity left anywhere is an error, not invalid JSON."""
    return json.dumps(json_safe(value), allow_nan=False, **kw)
