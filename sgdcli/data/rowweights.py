"""A table's row weights: a dataset of their own (--sample-weight) or a column of --x (--weight-column).

Either is read as ``Table.W``, through a reader of float64 values that the label pass and the epochs check
(model/weights.py ``check``: every weight finite and >= 0); the messages name the option that gave them.
"""

from __future__ import annotations

import h5py
import numpy as np

from sgdcli.data import fieldlabels, producers, unwritten as unwritten_mod
from sgdcli.data.columns import ColumnReader
from sgdcli.data.hdf5 import find
from sgdcli.data.sources import ComposedReader, Source
from sgdcli.data.unwritten import unwritten
from sgdcli.errors import InputError

WEIGHT_DTYPE = np.float64  # as the labels are read


def option(table) -> str:
    """The option that gave ``table`` its weights, as messages about them name it."""
    return "--weight-column" if table.weight_column is not None else "--sample-weight"


def name(table) -> str | None:
    """What the model card names the weights by: the dataset given (--sample-weight), or --x's column (its name,
    where --weight-column gave its index); None where the rows weigh alike."""
    if table.W is None:
        return None
    return table.W.names[0] if table.weight_column is not None else table.w_name


def of_dataset(table, name: str):
    """The reader of the per-row weights in the dataset ``name``: a numeric 1-D or (N, 1) dataset (or MATLAB's
    1 × N) of as many rows as X, every row written (a weight read from a fill value would train on data never
    written)."""
    where = table.where(name)
    try:
        source, names = producers.find_labels(table.file, name, what="weights", memory=table.memory)
    except InputError as exc:
        raise InputError(f"--sample-weight: {exc}") from None
    if names is not None:
        raise InputError(f"--sample-weight: {where} holds names, not numbers")
    rows = source.shape[0] if isinstance(source, h5py.Dataset) else source.n_rows
    if rows != table.n_rows:
        raise InputError(f"--sample-weight: {where} has {rows} rows but {table.x_name} has {table.n_rows}")
    for ds, axis in stored(source):  # a nullable column's mask as well as its values
        missing = unwritten(ds, axis)
        if missing is not None:
            at = table.where(ds.name.lstrip("/"))
            raise InputError(f"--sample-weight: {missing.message(at, allowed=False)}")
        unwritten_mod.warn_early([ds], table.allow_unwritten, table.where)
    return (ColumnReader(source, WEIGHT_DTYPE, squeeze=True) if isinstance(source, h5py.Dataset) else
            ComposedReader([source], WEIGHT_DTYPE, name, squeeze=True))


def of_column(source: Source, name: str) -> ComposedReader:
    """The reader of the weights in a column of --x (``source``, which the table's check of what was written
    covers with the features'), named ``name`` (X:COLUMN) in messages."""
    return ComposedReader([source], WEIGHT_DTYPE, name, squeeze=True)


def feature_field(table) -> str | None:
    """The column of --x that --sample-weight names where it is a feature too, or None: a field of --x's own table
    (a compound dataset) named as TABLE/FIELD, or a member of --x's group of columns; --weight-column would leave
    it out."""
    if table.weight_column is not None or table.w_name is None:
        return None
    named = find(table.file, table.w_name)
    if isinstance(named, h5py.Dataset):  # a column of the group --x names, read as a feature too
        read = [s for s in getattr(table.X, "sources", []) if len(s.names) == 1 and s.ds.name == named.name]
        return read[0].names[0] if read else None
    found = fieldlabels.named_field(table.file, table.w_name)  # (without x: read as the weights, not refused)
    if found is None:
        return None
    ds, field = found
    own = find(table.file, table.x_name)
    return field if isinstance(own, h5py.Dataset) and own.name == ds.name and field in table.feature_names else None


def stored(labels: h5py.Dataset | Source | None) -> list[tuple[h5py.Dataset, int]]:
    """The datasets (and row axes) that labels or weights are read from: a nullable column's mask too."""
    if labels is None:
        return []
    return [(labels, 0)] if isinstance(labels, h5py.Dataset) else labels.stored()
