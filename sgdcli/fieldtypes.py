"""The checks an options dataclass gets from its own fields: each value of the type its annotation names, and
one of the field's ``choices`` where it has them; and the same checks for a function's keywords
(``checked_arguments``), so that ``evaluate(memory=...)`` is checked by ``TrainOptions.memory``'s rule.

The Python API is checked as the command line is: click's parameter types
refuse ``--epochs 2.5``, and these refuse ``TrainOptions(epochs=2.5)``, with
a message that names the option.  This module imports nothing heavy:
``sgdcli --help`` reads it.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import numbers
import os

from sgdcli.errors import InputError

# Integers are kept as 64-bit signed ones: in the kernels' configuration, HDF5 attributes and the model card.  A
# larger one passed every other check and stopped in the compiled code ("Int value is too large").
MAX_INT = 2**63 - 1
MIN_SIZE = 2**20  # a byte count (the kind "size": --memory) holds at least a block of rows

_WRONG = object()
_EXPECTED = {"str": "text", "str | None": "text or None", "bool": "True or False", "bool | None": "True, False or None",
             "int": "an integer", "int | None": "an integer or None", "float": "a number",
             "float | None": "a number or None", "float | str": "a number or auto"}
# What a field of a kind takes, where it is not what its annotation says: a path, a column or class given by its
# name or its number, a list of columns
_EXPECTED_OF_KIND = {"batch": "a positive integer or 'full'", "path": "a path or None",
                     "name": "text, an integer or None",
                     "columns": "names or indices: comma-separated text (a comma in a name written \\,), or a list "
                                "of them (none ending in a backslash), or None"}
# What a field of a kind that names something says when it is given empty (read as no name, the dataset "" was
# "no such dataset" in "data.h5:", and no columns left none)
_EMPTY = {"dataset": "the dataset name is empty", "columns": "names no column"}
_SHOWN_CHARS = 80  # of a wrong value's repr that a message quotes


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
        value = checked(getattr(options, field.name), field.type, field_option(field), field.metadata)
        object.__setattr__(options, field.name, value)


def field_option(field: dataclasses.Field) -> str:
    """What messages call a field: its command-line option (``--page-rows``; metadata ``option`` where it is named
    otherwise, ``flag`` where it is the switch that turns it off: ``shuffle (--no-shuffle)``)."""
    if "option" in field.metadata:
        return field.metadata["option"]
    flag = field.metadata.get("flag")
    return f"{field.name} ({flag})" if flag else option_of(field.name, field.type)


def option_of(name: str, annotation: str) -> str:
    """What messages call the keyword ``name``: ``--name`` with ``-`` for ``_``; a function (a reporter's
    callback, ``stop``), which no command-line option gives, by its own name."""
    return name if annotation.startswith("Callable") else f"--{name.replace('_', '-')}"


def checked(value, annotation: str, option: str, meta=None):
    """``value`` as a keyword annotated ``annotation`` (with the field metadata ``meta``: ``kind``, ``choices``)
    takes it: NumPy's numbers and booleans as Python's, ``batch_size`` 'full' as None, a path as text, a class or
    column given by its number as the text the command line would get; InputError naming ``option`` otherwise,
    and for an integer beyond 64 bits."""
    meta = meta or {}
    kind = meta.get("kind")
    typed = _typed(annotation, kind, value)
    if typed is _WRONG:
        raise InputError(f"{option}: expected {_EXPECTED_OF_KIND.get(kind) or _expected(annotation)}, got "
                         f"{_shown(value)}")
    if type(typed) is int and typed > MAX_INT:
        raise InputError(f"{option}: must be at most {MAX_INT} (2**63 - 1), got {typed}")
    if kind == "size" and typed < MIN_SIZE:
        raise InputError(f"{option}: must be at least 1M, got {typed} bytes")
    if kind in _EMPTY and typed is not None and not (typed if kind == "dataset" else typed.strip()):
        # what "$VAR" gives where VAR is unset (a dataset may be named by spaces; a list of columns not)
        raise InputError(f"{option}: {_EMPTY[kind]} (an unset shell variable?)")
    allowed = meta.get("choices")
    if allowed is not None and typed not in allowed:
        raise InputError(f"{option}: {typed!r} is not one of {', '.join(allowed)}")
    return typed


def checked_arguments(options=None):
    """A decorator: the keywords a call gives the function (its parameters with a default: the options, not the
    files) checked (``checked``) and converted, each by the rule of the field of the same name of the options
    dataclass ``options`` (``TrainOptions``: ``memory``, ``x``, ``label_column``...), else by its own annotation;
    a keyword with neither, and a default, as it is."""

    def decorate(function):
        signature = inspect.signature(function)
        fields = {field.name: field for field in dataclasses.fields(options)} if options is not None else {}
        rules = {}
        for name, parameter in signature.parameters.items():
            if parameter.default is inspect.Parameter.empty:
                continue
            if name in fields:
                field = fields[name]
                rules[name] = (field.type, field_option(field), field.metadata)
            elif isinstance(parameter.annotation, str) and parameter.annotation != "":
                _expected(parameter.annotation)  # an annotation it cannot check: at import, not at a call
                rules[name] = (parameter.annotation, option_of(name, parameter.annotation), None)

        @functools.wraps(function)
        def call(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            for name, value in bound.arguments.items():
                if name in rules:
                    bound.arguments[name] = checked(value, *rules[name])
            return function(*bound.args, **bound.kwargs)

        def check(**kwargs) -> None:
            """InputError for a keyword the function would refuse, without calling it (--print-config); keywords
            it has no rule for are left alone."""
            for name, value in kwargs.items():
                if name in rules:
                    checked(value, *rules[name])

        call.check = check
        return call

    return decorate


def check_instance(name: str, value, kind: type, hint: str = "") -> None:
    """InputError unless ``value``, the argument ``name``, is None or a ``sgdcli.<kind>``; ``hint`` says how to
    make one."""
    if value is not None and not isinstance(value, kind):
        raise InputError(f"{name}: expected a sgdcli.{kind.__name__} or None, got {_shown(value)}"
                         + (f"; {hint}" if hint else ""))


def _expected(annotation: str) -> str:
    if annotation.startswith("Callable"):
        return "a function or None" if annotation.endswith("| None") else "a function"
    return _EXPECTED[annotation]


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS]}... ({type(value).__name__})"


def _typed(annotation: str, kind: str | None, value):
    """``value`` of a field as its annotation and kind say (an integer as int, a number as float, batch_size
    'full' as None), or _WRONG."""
    if value is None:
        return None if annotation.endswith("| None") else _WRONG
    if annotation.startswith("Callable"):
        return value if callable(value) else _WRONG
    if kind == "batch" and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
        return None if isinstance(value, str) and value.strip().lower() == "full" else _WRONG
    if kind == "path" and isinstance(value, os.PathLike):
        value = os.fspath(value)  # kept as text, as the command line gives it
    if kind == "name" and _integer(value):
        return str(int(value))  # as the command line gives it: --label-column 0, --positive-class 1
    if kind == "columns" and isinstance(value, (list, tuple)):
        return _columns(value)
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool_", "bool"):
        value = bool(value)
    if isinstance(value, str):
        return value if annotation.startswith("str") or (annotation == "float | str" and value == "auto") else _WRONG
    if annotation.startswith("bool") or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value if annotation.startswith("bool") and isinstance(value, bool) else _WRONG
    if annotation.startswith("int"):
        return int(value) if isinstance(value, numbers.Integral) else _WRONG
    if annotation.startswith("float"):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float: the checks of the value refuse inf
            return math.inf if value > 0 else -math.inf
    return _WRONG


def _integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _columns(items) -> str | object:
    """A list of columns (names, or indices) as the comma-separated text ``--features`` takes, a name's comma
    written ``\\,`` (sgdcli/namelists.py); _WRONG for an item that is neither, or a name ending in a backslash,
    which that text cannot hold before a separator."""
    texts = [str(int(item)) if _integer(item) else item for item in items]
    if not all(isinstance(text, str) and not text.endswith("\\") for text in texts):
        return _WRONG
    return ",".join(text.replace(",", "\\,") for text in texts)
