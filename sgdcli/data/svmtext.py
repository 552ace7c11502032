"""LIBSVM/svmlight and Vowpal Wabbit text rows, for convert: each line a label and its nonzero features.

LIBSVM: ``label index:value index:value … # comment``, indices from 1, or
from 0 (``zero_based``: scikit-learn's ``dump_svmlight_file`` writes them so
by default) (``qid:`` pairs are skipped).  Vowpal Wabbit: ``label [importance] ['tag]|ns
feature[:value] … |other …``, whose string features are always hashed
(data/hashing.py; not VW's own hash, so the columns are sgdcli's).  The
parsers fill dense rows (``dense_parser``) or append entries for CSR blocks
(``sparse_parser``, ``vw_parser``); see data/rowblocks.py.
"""

from __future__ import annotations

import math
import re
from typing import Callable

from sgdcli.data.hashing import Hasher
from sgdcli.data.numbertext import INTEGER
from sgdcli.data.rowblocks import BadRow, is_number, number
from sgdcli.data.textfiles import not_utf8, open_input
from sgdcli.data.valuerange import FLOAT32_RANGE
from sgdcli.data.writers import MAX_INDEX
from sgdcli.errors import InputError, quoted

TOLD_LINES = 1 << 16  # lines of the first pass between two calls of its progress: a block's worth


def tokens(line: str) -> list[str]:
    return line.split("#", 1)[0].split()


def libsvm_width(path: str, first: int = 1, progress: Callable[[int], None] | None = None) -> int:
    """The columns the file's largest feature index makes, indices counted from ``first`` (a first pass, for dense
    output); ``progress(lines read)`` as it starts and every TOLD_LINES lines."""
    largest = -1
    with open_input(path) as fh:
        try:
            if progress is not None:
                progress(0)
            for number_, line in enumerate(fh, start=1):
                if progress is not None and number_ % TOLD_LINES == 0:
                    progress(number_)
                for token in tokens(line)[1:]:
                    key, _, _ = token.partition(":")
                    if key == "qid":
                        continue
                    if not INTEGER.fullmatch(key):  # (ASCII, as the rows' pass reads it; int() reads '１２', '1_0')
                        raise InputError(f"{path}: line {number_}: cannot read feature index {quoted(key)}")
                    largest = max(largest, int(key))
        except UnicodeDecodeError as exc:
            raise not_utf8(path, exc) from None
    if largest < first:  # none, or only index 0 of a file counted from 1, which the rows' pass names
        if largest < 0:
            raise InputError(f"{path}: no features found; is this LIBSVM text?")
        return 1
    return largest + 1 - first


def _entries(line: int, text: str, kept=None):
    """(where, key, value) of a LIBSVM line after its label; None for a blank line.  A value that ``kept`` (a
    data/valuerange.ValueRange) refuses is a bad row naming its line and token."""
    found = tokens(text)
    if not found:
        return None, None
    target = number(found[0], f"line {line}, token 1")
    entries = []
    for position, token in enumerate(found[1:], start=2):
        where = f"line {line}, token {position}"
        key, sep, value = token.partition(":")
        if key == "qid":
            continue
        if not sep or not key:
            raise BadRow(where, f"cannot read {quoted(token)} as index:value")
        entries.append((where, key, _kept(number(value, where), value, where, kept)))
    return target, entries


def _kept(value: float, text: str, where: str, kept) -> float:
    if kept is not None and kept.refuses(value):
        raise kept.error("", where, text.strip(), value)  # convert's ranges refuse with a BadRow, which has no path
    return value


def _sums_kept(line: int, columns: list[int], values: list[float], start: int, kept) -> None:
    """A bad row where the entries of one line (from ``start``) that land in one column, summed as the output
    sums them (a repeated index or feature, hashed features that collide), are beyond what ``kept`` keeps."""
    if kept is None or len(columns) - start < 2 or sum(map(abs, values[start:])) <= kept.limit:
        return  # (no sum can pass the limit: the common case, checked in C)
    sums: dict[int, float] = {}
    for column, value in zip(columns[start:], values[start:]):
        sums[column] = sums.get(column, 0.0) + value
    for column, total in sums.items():
        if kept.refuses(total):
            raise BadRow(f"line {line}", f"its values for column {column} of X (from 0) sum to {total:g}, beyond "
                         f"{FLOAT32_RANGE}: X would hold it as infinite",
                         "convert with --dtype float64 to keep it; --bad-rows skip leaves such rows out")


def _index(where: str, key: str, width: int | None, first: int) -> int:
    """A LIBSVM index counted from ``first`` (1, or 0 with --zero-based) as a 0-based column; BadRow outside the
    ``width`` columns."""
    if not key.isascii() or not key.isdigit():  # ('１２' and '²' are digits too)
        raise BadRow(where, f"cannot read feature index {quoted(key)}")
    column = int(key) - first
    if column < 0:
        raise BadRow(where, "feature index 0: LIBSVM indices start at 1, unless the file counts them from 0",
                     "--zero-based reads such a file, as scikit-learn's dump_svmlight_file writes it by default; "
                     "--bad-rows skip does not skip this row, which would read the others' columns shifted",
                     skippable=False)
    if width is not None and column >= width:
        raise BadRow(where, f"feature index {key} is outside {first}..{width - 1 + first} (--features {width})")
    return column


def dense_parser(width: int, first: int = 1, kept=None):
    def parse(line, text, x):
        target, entries = _entries(line, text, kept)
        columns, values = [], []
        for where, key, value in entries or ():
            columns.append(_index(where, key, width, first))
            values.append(value)
            x[columns[-1]] += value  # a repeated index is summed, as in the CSR output
        _sums_kept(line, columns, values, 0, kept)
        return target

    return parse


def sparse_parser(width: int | None, hasher: Hasher | None, first: int = 1, kept=None):
    """Entries of LIBSVM lines: the columns of their indices (counted from ``first``), or of their hashed index
    text."""

    def parse(line, text, columns, values):
        target, entries = _entries(line, text, kept)
        start = len(columns)
        for where, key, value in entries or ():
            if hasher is not None:
                hasher.add(key, value, columns, values)
            else:
                columns.append(_index(where, key, width, first))
                values.append(value)
                if columns[-1] > MAX_INDEX:  # named here, with its line, as the file counts it (--zero-based)
                    raise BadRow(where, f"feature index {key} does not fit the 32-bit indices of a CSR file",
                                 "hash the features into fewer columns with --hash-bits", skippable=False)
        _sums_kept(line, columns, values, start, kept)
        return target

    return parse


def vw_parser(path: str, hasher: Hasher, importance: list[float], kept=None):
    """Entries of Vowpal Wabbit text lines: ``ns^feature`` (or ``feature`` in the default namespace) hashed,
    with its value times the namespace's weight; each row's importance weight (1 where not given) is appended
    to ``importance``."""

    def parse(line, text, columns, values):
        head, bar, rest = text.rstrip("\r\n").partition("|")
        if not head.strip() and not rest.strip():
            return None
        if not bar:
            raise BadRow(f"line {line}", "no '|' before the features: not Vowpal Wabbit text")
        target, weight_of_row = _vw_label(path, line, head)
        start = len(columns)
        for segment in rest.split("|"):
            namespace, weight = "", 1.0
            found = _vw_words(segment)
            if found and segment[:1] not in _VW_SPACES:
                name, sep, scale = found.pop(0).partition(":")
                namespace, weight = name, number(scale, f"line {line}, namespace {name}") if sep else 1.0
            for token in found:
                name, sep, value = token.rpartition(":") if ":" in token else (token, "", "")
                where = f"line {line}, feature {token}"
                text = value if sep else "1"
                value = number(value, where) if sep else 1.0
                text = text if weight == 1.0 else f"{weight:g} × {text.strip()}"  # the namespace's weight times it
                if math.isinf(weight * value) and math.isfinite(weight) and math.isfinite(value):
                    raise BadRow(where, f"{text} overflows to infinity")
                hasher.add(f"{namespace}^{name}" if namespace else name, _kept(weight * value, text, where, kept),
                           columns, values)
        _sums_kept(line, columns, values, start, kept)
        importance.append(weight_of_row)
        return target

    return parse


_VW_SPACES = " \t"  # what separates Vowpal Wabbit's words: not every space str.split() knows (a no-break space)


def _vw_words(text: str) -> list[str]:
    """The words of ``text`` as Vowpal Wabbit splits them: at runs of spaces and tabs."""
    return [word for word in re.split(r"[ \t]+", text) if word]


def _vw_label(path, line: int, head: str) -> tuple[float, float]:
    """The label and the importance weight (1 where not given) of a line's text before its first '|'.  As
    Vowpal Wabbit reads it, its last word is the tag where it touches the '|' or begins with an apostrophe: a
    row id written against the bar (``1 12345|f a``) is no weight."""
    words = _vw_words(head)
    tag = words.pop() if words and (head[-1] not in _VW_SPACES or words[-1].startswith("'")) else None
    if not words:
        raise BadRow(f"line {line}", "no label before the '|'" + (
            f" ({tag} touches the '|', so it is the tag, as Vowpal Wabbit reads it; a space before the '|' makes it "
            "the label)" if tag is not None and not tag.startswith("'") else ""))
    target = number(words[0], f"line {line}, label")
    numbers = [t for t in words[1:] if not t.startswith("'")]
    odd = next((t for t in numbers if not is_number(t)), None)
    if odd is not None:  # (it was passed over, the row weighing 1; Vowpal Wabbit reads it as a weight of 0)
        raise BadRow(f"line {line}", f"{quoted(odd)} before the '|' is neither a number (the importance weight) "
                                     "nor a tag (which begins with an apostrophe, or touches the '|')")
    if len(numbers) > 1:
        raise InputError(f"{path}: line {line}: a base prediction ({numbers[1]}) is not supported")
    weight = float(numbers[0]) if numbers else 1.0
    if not (weight >= 0 and weight < float("inf")):
        raise BadRow(f"line {line}", f"importance weight {numbers[0]} is not a finite number >= 0")
    return target, weight
