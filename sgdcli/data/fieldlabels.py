"""A field of a compound dataset (a table) named as labels, ``--y TABLE/FIELD``: the labels are one column of a
table whose other columns are not the features.  anndata before 0.7 wrote ``obs`` so, beside the matrix
``X``; scripts keep a record array of each row's metadata beside theirs.  An HDF5 object's name holds no
``/``, so ``TABLE/FIELD`` names nothing else in the file; a field's may (``TABLE/a/b``: the field ``a/b``).

The field is read as ``--label-column`` reads the same field of a table given as ``--x``: numbers as they
are, text as names, an enum's values as their names, and a categorical's codes through the names of its
categories where anndata wrote them (``uns/<field>_categories``: data/anndatafiles.py).  A field of the
features' own table is refused: ``--label-column`` takes it, and leaves it out of the features; so is the
table of a pandas frame (``df/table``), whose key ``--x`` names, as it was (data/producers.py suggests
``--x df --label-column``).
"""

from __future__ import annotations

import h5py

from sgdcli.data.anndatafiles import field_categories
from sgdcli.data.enums import EnumNames, enum_names
from sgdcli.data.hdf5 import find
from sgdcli.data.knownfiles import label_of, named_as
from sgdcli.data.numeric import NUMERIC_KINDS
from sgdcli.data.pandasframes import FRAME_TYPES, SERIES_TYPES, pandas_type
from sgdcli.data.sources import Fields
from sgdcli.data.textlabels import categorical_labels, is_text, text_labels
from sgdcli.data.where import where_in
from sgdcli.errors import InputError, listed

FIELDS = 8  # the fields a message about a table lists, the first of them


def named_field(f: h5py.File, y: str, x: str | None = None) -> tuple[h5py.Dataset, str] | None:
    """The compound dataset and its field that ``y`` names as ``TABLE/FIELD`` (the field's name may hold a
    ``/``), where ``y`` names no object in ``f``; None where no TABLE in ``y`` is a compound dataset.  InputError
    where TABLE has no such field, is not 1-D, or is ``x``, the features' own table (whose field as labels would
    be a feature too)."""
    try:
        if find(f, y) is not None:
            return None
        splits = [(y[:k], y[k + 1:]) for k in range(len(y)) if y[k] == "/" and y[:k].strip("/")]
        found = [(find(f, table), table, field) for table, field in splits]
    except (KeyError, OSError, RuntimeError, ValueError):
        return None
    ds, table, field = next(((d, t, n) for d, t, n in found if isinstance(d, h5py.Dataset) and d.dtype.names),
                            (None, "", ""))
    if ds is None or pandas_type(ds.parent) in FRAME_TYPES + SERIES_TYPES:  # (pandas' table: --label-column)
        return None
    where = where_in(f.filename, table.strip("/"))
    if field not in ds.dtype.names:
        raise InputError(f"{where}: a table of fields ({listed(ds.dtype.names, FIELDS, what='fields')}) has no "
                         f"field {field!r}")
    if ds.ndim != 1:
        raise InputError(f"{where}: a table of fields of shape {ds.shape} is read one row per element, so it must "
                         "be 1-D")
    if x is not None and isinstance(own := find(f, x), h5py.Dataset) and own.name == ds.name:
        raise InputError(f"{where_in(f.filename, y)}: is a field of --x {x}, whose other columns are the features: "
                         f"take the labels from it with --label-column {field}")
    return ds, field


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
    names = field_categories(ds, field)
    if names is not None:  # anndata before 0.7: the codes of a categorical (names, which weights are not)
        return categorical_labels(source, names[()], where, classes)
    if what != "labels":
        return source, None
    named = enum_names(kind)
    if named:
        return text_labels(EnumNames(source, named, where), where, classes, memory=memory)
    return source, None


def whole_table(ds: h5py.Dataset, y: str, where: str, what: str, x: str | None) -> InputError:
    """The refusal of a compound dataset named whole as the ``what`` (labels or weights): the field to name
    instead (one named as they are, else a number's; not a first field ``index``, pandas' and anndata's), or
    ``--label-column`` where it is ``x``, the features' own table."""
    names = list(ds.dtype.names)
    fields = names[1:] if names[0] == "index" else names
    table = f"a table of fields ({listed(names, FIELDS, what='fields')})"
    if x is not None and isinstance(own := find(ds.file, x), h5py.Dataset) and own.name == ds.name:
        return InputError(f"{where}: is {table}, --x {x} itself, not a column of {what}"
                          + (f"; take the labels from one of its fields with --label-column {label_of(fields or names)}"
                             if what == "labels" else ""))
    numeric = [n for n in fields if ds.dtype[n].kind in NUMERIC_KINDS and not ds.dtype[n].shape]
    ordered = numeric + [n for n in fields if n not in numeric]
    return InputError(f"{where}: is {table}, not a column of {what}" + (
        f"; name the field that holds them: {named_as(what, y.rstrip('/'), ordered)}" if ordered else ""))
