"""The delimiter of CSV/TSV text, detected from the file's start or given, and what its first line says when the
lines do not split into columns.

The delimiter is the first of ``DELIMITERS`` (after csv.Sniffer's own guess) that splits every line of the
file's start into one number of fields, more than one.  The decimal mark (``--decimal``) and the thousands
separator (``--thousands``) are taken only where nothing else splits the lines alike (a comma-delimited file
whose numbers are quoted, "1,5" or "1,234", as pandas' ``to_csv(decimal=",")`` writes it): a decimal comma taken
for the delimiter where ';' splits the lines too cut every number in two and read the pieces as other columns
(exit 0).  Given (``--delimiter``), the decimal mark is refused.  A space is no delimiter where the columns are
aligned by runs of spaces (two or more, or spaces before the first field): each space then ends an empty field.
A first line of one field above lines of more (a title, a ``# comment``), Excel's ``sep=;`` line, or a delimiter
given that splits no line, is named as such, not as "no feature columns left".  A first line of numbers that is
pandas' header of numbered columns is a header (``pandas_header``).
"""

from __future__ import annotations

import csv
import re
import warnings

from sgdcli.data.textfiles import open_input
from sgdcli.errors import InputError, quoted

DELIMITERS = ",\t;| "  # those detected, in order of preference
SNIFF_BYTES = 65536  # of the file's start, which the delimiter is detected from
RUNS_OF_SPACES = ("the columns are separated by runs of spaces, which sgdcli does not split on; squeeze each run to "
                  "one space and drop the spaces that start or end lines first (sed -E 's/^ +| +$//g; s/ +/ /g' < in "
                  "> out)")
_EXCEL_SEP = re.compile(r'\s*"?sep=(.)"?\s*', re.IGNORECASE)  # Excel's first line naming the delimiter
_QUOTED = re.compile(r'"[^"]*"')


class NumberedHeader(UserWarning):
    """A first line of the numbers 0, 1, 2, ... alone, pandas' header of a frame's default column names, is read
    as a header: a row of data that happens to be those numbers is said to be one, with how to keep it."""


def pandas_header(path: str, first: list[str]) -> bool:
    """Whether ``first`` is the header pandas' ``to_csv`` writes for a frame of the default column names 0, 1, 2,
    ...: with its index, the index's empty name first (a row of a missing value and those numbers is no data);
    without it (``index=False``), those numbers alone, every column's in order, as ``pd.read_csv`` reads them
    (as data, it was a phantom row, its last number a label: a phantom class).  Those alone may be a row of data
    (``np.savetxt`` of counts): NumberedHeader says how to keep it."""
    fields = [field.strip() for field in first]
    indexed = fields[0] == ""
    # (0,1 alone: a two-column file's first row of a 0 and a 1 is too likely data, as in a binary label's file)
    numbered = fields[indexed:] == [str(i) for i in range(len(fields) - indexed)] and (indexed or len(fields) > 2)
    if numbered and not indexed:
        shown = ",".join(fields) if len(fields) <= 6 else f"{','.join(fields[:3])},...,{fields[-1]}"
        warnings.warn(f"{path}: line 1 ({shown}) is read as a header, pandas' names of numbered columns "
                      "(to_csv(index=False) of a frame without column names); give --no-header if it is a row of "
                      "data, --header to say it is a header", NumberedHeader, stacklevel=3)
    return numbered


def named(delimiter: str) -> str:
    """A delimiter as a message names it."""
    return {"\t": "tab", " ": "space"}.get(delimiter, repr(delimiter))


def option_text(delimiter: str) -> str:
    """A delimiter as ``--delimiter`` is given it in a shell."""
    return "tab" if delimiter == "\t" else repr(delimiter)


def delimiter_option(delimiter: str, decimal: str = ".", model: bool = False) -> str:
    """The character ``--delimiter`` names: one character, or 'tab'; not the decimal mark of the numbers
    (convert's ``--decimal``, or where ``model``, the one the model's training data was converted with), which
    it would split."""
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    if len(delimiter) != 1:
        raise InputError(f"--delimiter: expected one character (or 'tab'), got {delimiter!r}")
    if delimiter == decimal:
        whose = (f"the model's decimal mark (its training data was converted with --decimal {decimal})" if model
                 else f"also the decimal mark (--decimal {decimal})")
        raise InputError(f"--delimiter: {named(delimiter)} is {whose}, so it would split every number written with "
                         "one; name the character that separates the fields"
                         + ("" if model else ", or leave out --delimiter to have it detected"))
    return delimiter


def candidates(decimal: str = ".", thousands: str | None = None) -> str:
    """The delimiters detected in numbers of this format, in order of preference: DELIMITERS, the decimal mark and
    the thousands separator last (``sniff`` takes them only where nothing else splits the lines alike)."""
    return "".join(sorted(DELIMITERS, key=lambda c: c in (decimal, thousands)))


def _sample(path: str) -> tuple[str, list[str]]:
    """The file's start, and its whole lines."""
    with open_input(path, errors="replace") as fh:
        sample = fh.read(SNIFF_BYTES)
    lines = sample.splitlines()
    return sample, lines[:-1] if len(sample) >= SNIFF_BYTES else lines  # the last one cut short


def sniff(path: str, delimiter: str | None, decimal: str = ".", thousands: str | None = None,
          default: str | None = None) -> str:
    """The delimiter: ``delimiter`` as given (``delimiter_option``), ``default`` (a .tsv file's tab), or the
    one detected among ``candidates``.  A first line that is Excel's ``sep=;`` is refused whatever the
    delimiter."""
    sample, lines = _sample(path)
    if lines and len(sample) < SNIFF_BYTES and not any(line.strip() for line in lines):  # the whole file: no text
        raise InputError(f"{path}: no data: every line is blank")
    excel = _EXCEL_SEP.fullmatch(lines[0]) if lines else None
    if excel:
        hint = ("" if excel.group(1) in candidates(decimal) else
                f", and give --delimiter {option_text(excel.group(1))}")
        raise InputError(f"{path}: line 1 is Excel's {quoted(lines[0].strip())} line, which names the delimiter and "
                         f"is neither a header nor data; sgdcli does not read it: remove it first (tail -n +2 in > "
                         f"out){hint}")
    if delimiter is not None:
        return delimiter_option(delimiter, decimal)
    if default is not None:
        return default
    allowed = candidates(decimal, thousands)
    try:
        found = csv.Sniffer().sniff(sample, delimiters=allowed).delimiter
    except csv.Error:
        found = allowed[0]
    consistent = [c for c in allowed if _split_count(lines, c) is not None]
    if not consistent:
        _title_line(path, lines, allowed)
        if _split_count([" ".join(line.split()) for line in lines], " ") is not None:
            raise InputError(f"{path}: {RUNS_OF_SPACES}")
        return found
    # not a space around the empty fields of runs of spaces ('1  2  0' splits alike at each one); the decimal mark
    # and the thousands separator only where nothing else splits the lines ('1,5;2' splits alike at ',' too)
    usable = [c for c in consistent if not (c == " " and _aligned(lines))]
    if found in usable and (found not in (decimal, thousands) or len(usable) == 1):
        return found  # the Sniffer's guess, where it splits the lines alike (from quotes, '"1" ,2' looks split
        # by a space)
    if not usable:
        raise InputError(f"{path}: {RUNS_OF_SPACES}")
    return usable[0]


def _split_count(lines: list[str], delimiter: str) -> int | None:
    """The number of fields, more than one, that every one of ``lines`` (those of the file's start, whole) splits
    into at ``delimiter``; None where there is no such number."""
    counts = {len(fields) for fields in csv.reader(lines, delimiter=delimiter)
              if fields and (len(fields) > 1 or fields[0].strip(" \t"))}  # (a line of spaces is blank)
    return counts.pop() if len(counts) == 1 and min(counts) > 1 else None


def _aligned(lines: list[str]) -> bool:
    """Whether spaces outside quotes come in runs, or before a line's first field."""
    for line in lines:
        bare = _QUOTED.sub("x", line)
        if "  " in bare or bare.startswith(" "):
            return True
    return False


def _fields(line: str, delimiter: str) -> int:
    return len(next(csv.reader([line], delimiter=delimiter), []))


def _title_line(path: str, lines: list[str], allowed: str) -> None:
    """Refuse a first line of one field above lines that all split alike into more (at one of ``allowed``); not
    one that opens a quoted field, which goes on in the next line."""
    if not lines or lines[0].count('"') % 2:
        return
    for c in allowed:
        count = _split_count(lines[1:], c)
        if count is not None and _fields(lines[0], c) == 1:
            raise InputError(_title(path, 1, count, c))


def _title(path: str, first: int, second: int, delimiter: str) -> str:
    split = f"line 2 has {second} (split at {named(delimiter)})"
    if first == 0:
        return f"{path}: line 1 is blank, {split}: remove the blank line first (tail -n +2 in > out)"
    return (f"{path}: line 1 has 1 field, {split}: a title or comment line above the header? remove it first "
            "(tail -n +2 in > out)")


def one_field(path: str, delimiter: str, how: str, decimal: str = ".") -> InputError:
    """The error for a file whose first line is one field, or none, at ``delimiter`` (which no conversion can
    take: it needs a label and a feature): a title line above lines of more fields, a delimiter that splits
    nothing, or lines that no delimiter detected splits.  ``how`` the delimiter came: "given" (--delimiter),
    "tsv" (a .tsv file's tab) or "detected"."""
    _, lines = _sample(path)
    if len(lines) > 1 and _fields(lines[1], delimiter) > 1:
        return InputError(_title(path, _fields(lines[0], delimiter), _fields(lines[1], delimiter), delimiter))
    allowed = [c for c in DELIMITERS if c != decimal]
    listing = ", ".join(named(c) for c in allowed)
    one_column = "; convert needs a label column and a feature column"
    if how != "detected":
        split = [c for c in allowed if c != delimiter and _split_count(lines, c) is not None]
        what = f"--delimiter {named(delimiter)}" if how == "given" else "tab, a .tsv file's delimiter,"
        if not split:
            others = ", ".join(named(c) for c in allowed if c != delimiter)
            return InputError(f"{path}: {what} splits no line of its start into fields, nor does any of {others}"
                              + one_column)
        hint = "leave out --delimiter to have it detected" if how == "given" else \
            f"--delimiter {option_text(split[0])} reads them so"
        return InputError(f"{path}: {what} splits no line of its start into fields; they split at "
                          f"{named(split[0])} ({hint})")
    return InputError(f"{path}: none of {listing} splits line 1 into fields{one_column} (--delimiter names another "
                      "delimiter)")
