"""Columns by name or index, as ``--features`` and ``--label-column`` give them, among a table's column names.

An item is a column's name, else its index (negative counts from the end).
A name that more than one column has (AnnData allows such genes) is
refused rather than taken for the first of them, and a column that is no
feature (text, or a pandas column left out) is named with the reason.
"""

from __future__ import annotations

from sgdcli.namelists import split_names
from sgdcli.data.pandasframes import why_left_out
from sgdcli.errors import InputError, quoted


def numbered(names: list[str] | None) -> bool:
    """Whether columns are known by their positions only (0, 1, 2, ..., or no names at all)."""
    return names is None or names == [str(j) for j in range(len(names))]


def numbered_as(present: list[str] | None, label: str | None) -> list[str] | None:
    """The names 0, 1, 2, ... of the columns ``present`` (``label`` left out) where they are those numbers in
    another order: a file that numbers its columns so names them by their positions in a file numbered in order
    (a frame of a matrix's columns, reordered), whose model knows them by position; else None."""
    own = [name for name in present or [] if name != label]
    positions = [str(j) for j in range(len(own))]
    return positions if own != positions and sorted(own) == sorted(positions) else None


TWICE = -1  # in ``name_positions``: a name that more than one column has


def name_positions(names: list[str]) -> dict[str, int]:
    """Each name's column, TWICE for a name that more than one column has (AnnData allows such genes)."""
    out: dict[str, int] = {}
    for j, name in enumerate(names):
        out[name] = TWICE if name in out else j
    return out


def column_index(names: list[str], given: str, option: str, where: str, text=(), positions=None,
                 left_out=None) -> int:
    """The column ``given`` names (a name, else an index), ``positions`` being ``name_positions(names)`` where a
    caller looks up many; ``text`` and ``left_out`` (Found's) are columns that are no features."""
    k = (positions if positions is not None else name_positions(names)).get(given)
    if k == TWICE:
        raise InputError(f"{where}: has more than one column named {given!r}, so it cannot be read by name; give "
                         "each column its own name (AnnData: var_names_make_unique())")
    if k is not None:
        return k
    if left_out and given in left_out:
        raise InputError(f"{option} {given}: column {given!r} of {where} "
                         f"{why_left_out(left_out[given], option == '--label-column')}")
    if given in text and option in ("--features", "--weight-column"):
        raise InputError(f"{option} {given}: column {given!r} of {where} holds text, not numbers; "
                         + ("features are numbers (text can be the label, --label-column)" if option == "--features"
                            else "row weights are numbers >= 0"))
    if given in text:
        raise InputError(f"{option} {given}: column {given!r} of {where} holds text, not numbers; sgdcli reads "
                         "numeric features, and names as labels only where they are stored as text (pandas' table "
                         "format; its fixed format pickles text, which sgdcli does not read)")
    try:
        k = int(given)
    except ValueError:
        k = None
    if k is not None and -len(names) <= k < len(names):
        return k % len(names)
    if option == "--label-column":  # a column of names can be the label too
        names = [*names, *(name for name in text if name not in names)]
    quote = any("," in name for name in names)  # a name with the list's comma: each name quoted
    shown = ", ".join(quoted(n) if quote else n for n in names[:12]) + (", ..." if len(names) > 12 else "")
    raise InputError(f"{option} {given}: {where} has no such column (columns: {shown})")


def select(names: list[str], features: str | list, where: str, text=(), left_out=None) -> list[int]:
    """The columns ``features`` lists (comma-separated text or a list; names, else indices) among ``names``,
    in its order; InputError naming one it lacks, or one listed twice."""
    items = features if isinstance(features, list) else split_names(features)
    known = name_positions(names)
    keep = [column_index(names, item, "--features", where, text, known, left_out) for item in items]
    if len(set(keep)) != len(keep):
        raise InputError(f"--features {features}: a column is listed twice")
    return keep
