"""Features that hold the codes of categories: a pandas Categorical column of a table-format frame (its codes in
the table, its categories in ``meta/``: data/pandasmeta.py) and an enum field of a compound table (h5py's
``enum_dtype``, PyTables' ``EnumCol``: data/enums.py).

Such a feature is read as its codes, and a code names its category in its own file only: pandas numbers the
categories a frame holds, so a later export without one of them, or with them in another order, gives the
same code to another category, and an enum type may number its names otherwise in another file.  Read as
codes alone, a model scored such a file silently wrong.  So a model records the categories of each such
feature (``training.categories``: the feature's name -> {category: the number training read for it}), and the
files it scores, validates on or goes on training from (``--init``) are read through those names, column by
column in the model's order (``expected``): their codes are recoded to the model's numbers where they differ,
and a category the model does not know is read as a missing value, NaN.  A column of plain numbers where
training read codes, or of codes where it read numbers, is refused: the one's numbers are no categories'
codes, the other's codes are no numbers.
"""

from __future__ import annotations

import numpy as np

from sgdcli.data import pandasmeta
from sgdcli.data.enums import enum_names
from sgdcli.data.pandasframes import CodedFields
from sgdcli.data.sources import Fields, Source, text_of
from sgdcli.errors import InputError

Categories = dict[str, dict[str, int]]  # a feature's name -> {category: the number it is read as}


def expected(categories: Categories | None, names: list[str] | None, width: int) -> list | None:
    """What each of ``width`` features read for a model (in its order: ``names``, None for 0, 1, 2, ...) must
    hold, by the ``categories`` it was trained on: {category: number} for codes, None for plain numbers; None
    where that is not known (a model of an older sgdcli, or one of no such features, records none)."""
    if categories is None:
        return None
    return [categories.get(name) for name in (names or [str(j) for j in range(width)])]


def read_as(sources: list[Source], wanted: list | None, where: str) -> Categories:
    """The categories of the features of ``sources`` that hold codes, by name, as they are read: where
    ``wanted`` (``expected``'s, one entry a feature in order) is given, each column of codes recoded to its
    numbers where this file numbers them otherwise; InputError where a column holds plain numbers where
    ``wanted`` has codes, or codes where it has numbers."""
    found, j = {}, 0
    for source in sources:
        for k, name in enumerate(source.names):
            own = _named(source, k, f"{where}: column {name!r}")
            want = wanted[j] if wanted is not None and j < len(wanted) else own
            j += 1
            if own is None and want is not None:
                raise InputError(f"{where}: column {name!r} holds numbers, where training read the codes of "
                                 f"categories ({shown(want)}): write it as categories (a pandas Categorical in the "
                                 "table format, an HDF5 enum) so that it is read through their names")
            if own is not None and want is None:
                raise InputError(f"{where}: column {name!r} holds the codes of categories ({shown(own)}), where "
                                 "training read numbers: write it as numbers")
            if own is None:
                continue
            found[name] = want
            if own != want:
                order = sorted(own.items(), key=lambda item: item[1])  # by this file's codes
                source.recodes[k] = (np.array([code for _, code in order], dtype=np.float64),
                                     np.array([want.get(category, np.nan) for category, _ in order]))
    return found


def _named(source: Source, k: int, where: str) -> dict[str, int] | None:
    """{category: code} of column ``k`` of ``source``, where it holds codes (a Categorical's, an enum field's);
    else None.  A Categorical whose categories pandas wrote no table for (it has none) has none."""
    if not isinstance(source, Fields):
        return None
    field = source.columns[k][0]
    if isinstance(source, CodedFields) and field in source.coded:
        frame = source.ds.parent
        if f"meta/{field}/meta/table" not in frame:
            return {}
        return {_text(value): code for code, value in enumerate(pandasmeta.categories(frame, field, where))}
    return enum_names(source.ds.dtype.fields[field][0].base)


def _text(value) -> str:
    """A category as text: a name, or a number as Python shows it, a whole one without a point (10, not 10.0:
    pandas keeps a frame's numeric categories as int64 or float64 as it finds them)."""
    if isinstance(value, (bytes, str)):
        return text_of(value)
    value = value.item() if hasattr(value, "item") else value
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def shown(named: dict[str, int], most: int = 8) -> str:
    """Categories as a message lists them, in the order of their numbers."""
    order = sorted(named, key=named.get)
    return ", ".join(map(repr, order[:most])) + (f", ... ({len(order)} in all)" if len(order) > most else "")
