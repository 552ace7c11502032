"""The checks an options dataclass gets from its own fields: each value of the type its annotation names, and
one of the field's ``choices`` where it has them.

The Python API is checked as the command line is: click's parameter types
refuse ``--epochs 2.5``, and these refuse ``TrainOptions(epochs=2.5)``, with
a message that names the option.  This module imports nothing heavy:
``sgdcli --help`` reads it.
"""

from __future__ import annotations

import dataclasses
import numbers

from sgdcli.errors import InputError

_WRONG = object()
_EXPECTED = {"str": "text", "str | None": "text or None", "bool": "True or False", "bool | None": "True, False or None",
             "int": "an integer", "int | None": "an integer or None", "float": "a number", "float | str": "a number or auto"}


def parse_batch_size(text: str | int | None) -> int | None:
    """``full`` (or None) means full-batch gradient descent; otherwise an integer."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "full"):
        return None
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise InputError(f"--batch-size: expected a positive integer or 'full', got {text!r}") from None
    return value


def check_fields(options) -> None:
    """Each field of the frozen dataclass ``options`` set to its value as its annotation says (NumPy's numbers as
    Python's, for the model card), and checked against its ``choices``; InputError naming the option."""
    for field in dataclasses.fields(options):
        given = getattr(options, field.name)
        value = _typed(field, given)
        flag = field.metadata.get("flag")  # a switch named otherwise on the command line: --no-shuffle
        option = f"{field.name} ({flag})" if flag else f"--{field.name.replace('_', '-')}"
        if value is _WRONG:
            raise InputError(f"{option}: expected {_EXPECTED[field.type]}, got {given!r}")
        allowed = field.metadata.get("choices")
        if allowed is not None and value not in allowed:
            raise InputError(f"{option}: {value!r} is not one of {', '.join(allowed)}")
        object.__setattr__(options, field.name, value)


def _typed(field, value):
    """``value`` of a field as its annotation says (an integer as int, a number as float, batch_size 'full' as
    None), or _WRONG."""
    kind = field.type
    if value is None and kind.endswith("| None"):
        return None
    if field.metadata.get("kind") == "batch" and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
        return parse_batch_size(str(value))  # 'full', or the message of a batch size that is not one
    if isinstance(value, str):
        return value if kind.startswith("str") or (kind == "float | str" and value == "auto") else _WRONG
    if kind.startswith("bool") or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value if kind.startswith("bool") and isinstance(value, bool) else _WRONG
    if kind.startswith("int"):
        return int(value) if isinstance(value, numbers.Integral) else _WRONG
    return float(value) if kind.startswith("float") else _WRONG
