"""Which text is a number: one grammar for every reader of text (CSV, LIBSVM, Vowpal Wabbit, the header's
test), the compiled tokenizer's (kernels/decimal.py) and pandas' C parser's.

Python's ``float()`` (and NumPy's conversion of text, which follows it) reads more: ``1_000``, digits of other
scripts (``١٢``, full-width ``１２``), Unicode spaces around the number.  pandas reads those fields as text,
and the tokenizer hands them to Python, so a file read them as numbers or as text depending on which reader
met the row.  Here a number is ASCII: spaces (as pandas skips them), a sign, digits with a decimal point and
an exponent, or inf, infinity or nan in any case; ``float()`` reads it only once it is one.  (--na-values
are read by ``float()``, as pandas reads its na_values: a field matches one as the text it is, or as the number
it is where it is one here.)
"""

from __future__ import annotations

import math
import re

from sgdcli.errors import quoted

SPACES = " \t\n\r\f\v"  # ASCII's, which may surround a number (pandas' C parser skips them)
_NUMBER = r"\s*[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)\s*"
# (ASCII: \s is SPACES, and no other script's letter matches inf or nan in another case)
NUMBER = re.compile(_NUMBER, re.ASCII | re.IGNORECASE)
_NUMBERS = re.compile(f"(?:{_NUMBER}\x00)*{_NUMBER}", re.ASCII | re.IGNORECASE)
INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_INFINITE = re.compile(r"\s*[+-]?inf(?:inity)?\s*", re.ASCII | re.IGNORECASE)  # an infinity as written
FLOAT64_RANGE = "float64's range of ±1.8e308"


def is_number(text: str) -> bool:
    """Whether ``text`` is a number as every reader reads one."""
    return NUMBER.fullmatch(text) is not None


def number(text: str) -> float | None:
    """``text`` as a number; None where it is none, or where it is beyond float64's range (``1e400``: as a number
    it would be infinite, which it does not say; pandas reads it as text)."""
    if not NUMBER.fullmatch(text):
        return None
    value = float(text)
    return None if math.isinf(value) and not _INFINITE.fullmatch(text) else value


def overflows(text: str) -> bool:
    """Whether ``text`` is a number but for being beyond float64's range (``number`` reads it as none)."""
    return NUMBER.fullmatch(text) is not None and math.isinf(float(text)) and not _INFINITE.fullmatch(text)


def unread(text: str) -> str:
    """Why ``text`` (shown as it is) is not read as a number."""
    if overflows(text):
        return f"{quoted(text.strip(SPACES))} is beyond {FLOAT64_RANGE}: it would be held as infinite"
    return f"cannot read {quoted(text.strip(SPACES))} as a number"


def in_marks(text: str, decimal: str = ".", thousands: str | None = None) -> str | None:
    """``text`` as ``number`` reads it in a file's marks (--decimal, --thousands): without the thousands
    separator, the decimal mark made '.'; None where it holds a '.' that is neither mark, which pandas' C parser
    reads as text ('1.5' with decimal=','), so that '1.234' meant as 1234 is not read as 1.234, or a thousands
    separator anywhere but after a digit of the integer part (pandas' and the tokenizer's rule, kernels/
    decimal.py): ',5', '1e,5' and '1.5,' are text, where removing every separator read them as 5, 1e5 and 1.5."""
    if thousands:
        text = text.strip(SPACES)  # (around the number: a space separator there is no separator, as pandas reads it)
        grouped = re.match(rf"[+-]?[0-9][0-9{re.escape(thousands)}]*", text)
        head = grouped.group(0).replace(thousands, "") if grouped else ""
        rest = text[grouped.end():] if grouped else text
        if thousands in rest:
            return None
        text = head + rest
    if decimal == ".":
        return text
    return None if "." in text else text.replace(decimal, ".")


def all_numbers(texts: list[str]) -> bool:
    """Whether every one of ``texts``, each of which ``float()`` reads, is a number: one match over them all
    (no text ``float()`` reads holds a NUL byte, which joins them)."""
    return not texts or _NUMBERS.fullmatch("\x00".join(texts)) is not None
