"""Features that hold the codes of categories: a pandas Categorical column of a table-format frame (its codes in
the table, its categories in ``meta/``: data/pandasmeta.py) and an enum field of a compound table (h5py's
``enum_dtype``, PyTables' ``EnumCol``: data/enums.py).

Such a feature is read as its codes, and a code names its category in its own file only: pandas numbers the
categories a frame holds, so a later export without one of them, or with them in another order, gives the
same code to another category, and an enum type may number its names otherwise in another file.  Read as
codes alone, a model scored such a file silently wrong.  So a model records the categories of each such
feature (``training.categories``: the feature's name -> {category: the number training read for it}), and the
files it scores, validates on or goes on training from (``--init``) are read through those names: their codes
are recoded to the model's numbers where they differ, and a category the model does not know is read as a
missing value, NaN (an error naming the row and column, or a row that ``--bad-rows skip`` leaves out).  A
column of plain numbers where the model's held codes is refused: its numbers are no categories' codes.
"""

from __future__ import annotations

import numpy as np

from sgdcli.data import pandasmeta
from sgdcli.data.enums import enum_names
from sgdcli.data.pandasframes import CodedFields
from sgdcli.data.sources import Fields, Source, text_of
from sgdcli.errors import InputError

Categories = dict[str, dict[str, int]]  # a feature's name -> {category: the number it is read as}


def of_features(sources: list[Source], where: str) -> Categories:
    """The categories of each feature of ``sources`` that holds codes (by the feature's name), as this file
    numbers them; ``where`` names the features in messages."""
    found = {}
    for source in sources:
        if not isinstance(source, Fields):
            continue
        for name, (field, _) in zip(source.names, source.columns):
            named = _named(source, field, f"{where}: column {name!r}")
            if named is not None:
                found[name] = named
    return found


def _named(source: Fields, field: str, where: str) -> dict[str, int] | None:
    """{category: code} of ``field`` of ``source``, where it holds codes; else None."""
    if isinstance(source, CodedFields) and field in source.coded:
        listed = pandasmeta.categories(source.ds.parent, field, where)
        return {_text(value): code for code, value in enumerate(listed)}
    return enum_names(source.ds.dtype.fields[field][0].base)


def _text(value) -> str:
    """A category as text: a name, or a number as Python shows it (10, 2.5)."""
    return text_of(value) if isinstance(value, (bytes, str)) else str(value.item() if hasattr(value, "item") else value)


def read_as(sources: list[Source], own: Categories, wanted: Categories, where: str) -> Categories:
    """Read the features of ``sources`` that ``wanted`` (a model's categories) names through the names of their
    categories, where this file (whose own are ``own``) numbers them otherwise; the categories as read.
    InputError where such a feature holds plain numbers."""
    for source in sources:
        if not isinstance(source, Fields):
            continue
        for k, name in enumerate(source.names):
            if name not in wanted:
                continue
            if name not in own:
                raise InputError(f"{where}: column {name!r} holds numbers, where the model's feature {name!r} held "
                                 f"the codes of categories ({shown(wanted[name])}): write it as categories (a "
                                 "pandas Categorical, an HDF5 enum) so that it is read through their names")
            if own[name] != wanted[name]:
                order = sorted(own[name].items(), key=lambda item: item[1])  # by this file's codes
                source.recodes[k] = (np.array([code for _, code in order], dtype=np.float64),
                                     np.array([wanted[name].get(category, np.nan) for category, _ in order]))
    return {**own, **{name: wanted[name] for name in own if name in wanted}}


def shown(named: dict[str, int], most: int = 8) -> str:
    """Categories as a message lists them, in the order of their numbers."""
    order = sorted(named, key=named.get)
    return ", ".join(map(repr, order[:most])) + (f", ... ({len(order)} in all)" if len(order) > most else "")
