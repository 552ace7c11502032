"""A field of a compound dataset (a table) named as labels, ``--y TABLE/FIELD``: the labels are one column of a
table whose other columns are not the features.  anndata before 0.7 wrote ``obs`` so, beside the matrix
``X``; scripts keep a record array of each row's metadata beside theirs.  An HDF5 name holds no ``/``, so
``TABLE/FIELD`` names nothing else in the file.

The field is read as ``--label-column`` reads the same field of a table given as ``--x``: numbers as they
are, text as names, an enum's values as their names, and a categorical's codes through the names of its
categories where anndata wrote them (``uns/<field>_categories``: data/anndatafiles.py).
"""

from __future__ import annotations

import h5py

from sgdcli.data.anndatafiles import field_categories
from sgdcli.data.enums import EnumNames, enum_names
from sgdcli.data.hdf5 import find
from sgdcli.data.numeric import NUMERIC_KINDS
from sgdcli.data.sources import Fields
from sgdcli.data.textlabels import categorical_labels, is_text, text_labels
from sgdcli.data.unwritten import refuse_unwritten
from sgdcli.data.where import where_of
from sgdcli.errors import InputError


def named_field(f: h5py.File, y: str) -> tuple[h5py.Dataset, str] | None:
    """The compound dataset and its field that ``y`` names as ``TABLE/FIELD``, where ``y`` names no object in
    ``f`` and TABLE is a 1-D compound dataset with that field; else None."""
    table, _, field = y.rpartition("/")
    try:
        if not table or find(f, y) is not None:
            return None
        ds = find(f, table)
    except (KeyError, OSError, RuntimeError, ValueError):
        return None
    if isinstance(ds, h5py.Dataset) and ds.dtype.names and field in ds.dtype.names and ds.ndim == 1:
        return ds, field
    return None


def field_labels(ds: h5py.Dataset, field: str, where: str, classes: list[str] | None, what: str, memory: int):
    """Field ``field`` of the table ``ds`` as ``what`` (labels, or weights: numbers only), and the class names
    where the labels are names; ``classes``: a model's, which names are then read as the codes of."""
    kind = ds.dtype.fields[field][0]
    source = Fields(ds, [field], [field])
    if kind.shape:
        raise InputError(f"{where}: holds {'×'.join(map(str, kind.shape))} values a row ({kind}); the {what} are "
                         "one value a row")
    if kind.kind not in NUMERIC_KINDS or kind.fields is not None:
        if what != "labels" or not is_text(kind):
            raise InputError(f"{where}: is {kind}, not numbers{' or text' if what == 'labels' else ''}")
        return text_labels(source, where, classes, memory=memory)
    if what != "labels":
        return source, None
    names = field_categories(ds, field)
    if names is not None:  # anndata before 0.7: the codes of a categorical
        refuse_unwritten(names, where_of(names), "category")
        return categorical_labels(source, names[()], where, classes)
    named = enum_names(ds.dtype.fields[field][0].base)
    if named:
        return text_labels(EnumNames(source, named, where), where, classes, memory=memory)
    return source, None
