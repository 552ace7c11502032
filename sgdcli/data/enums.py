"""HDF5 enum labels (h5py's ``enum_dtype``, PyTables' ``EnumAtom``): the type names its values, and those
names are the classes, as a column of text's are (data/textlabels.py reads them as codes).  A label dataset
of an enum type and an enum field of a compound table (PyTables' ``EnumCol``, a NumPy structured array
written with h5py) alike.  h5py's bools are an enum too, of FALSE and TRUE, which NumPy reads as bool: they
are not read as names but as bool classes, compared as 0 and 1 and written False and True (model/labels.py)."""

from __future__ import annotations

import h5py
import numpy as np

from sgdcli.data.sources import Fields, Source
from sgdcli.errors import InputError


def enum_names(dtype: np.dtype) -> dict[str, int] | None:
    """The names of the values of an enum type, a dataset's or a compound field's (name -> value), or None
    where ``dtype`` is no enum."""
    mapping = h5py.check_enum_dtype(dtype) if dtype.kind in "iu" else None
    return dict(mapping) if mapping else None


def enum_label(source: Source) -> dict[str, int] | None:
    """The names of the values of a one-column ``source`` of an enum type (a dataset, or a field of a
    compound table), or None."""
    if isinstance(source, Fields):
        return enum_names(source.ds.dtype.fields[source.columns[0][0]][0].base)
    return enum_names(source.ds.dtype)


class EnumNames(Source):
    """A one-column source of an enum type (``inner``: a 1-D or N × 1 dataset, or a compound table's field)
    read as the names of its values, (rows × 1) of str; ``where`` names it in messages."""

    def __init__(self, inner: Source, mapping: dict[str, int], where: str):
        super().__init__(inner.ds, inner.names, inner.n_rows, inner.unit_rows)
        self.inner, self.where = inner, where
        order = sorted(mapping, key=mapping.get)
        self.values = np.array([mapping[k] for k in order], dtype=np.int64)
        self.labels = np.array(order, dtype=str)

    @property
    def dtype(self) -> np.dtype:
        return self.labels.dtype

    @property
    def row_axis(self) -> int:
        return self.inner.row_axis

    def stored(self):
        return self.inner.stored()

    def read_spans(self, spans):
        codes = np.asarray(self.inner.read_spans(spans)).astype(np.int64).reshape(-1)
        at = np.minimum(np.searchsorted(self.values, codes), len(self.values) - 1)
        unnamed = self.values[at] != codes
        if unnamed.any():
            shown = ", ".join(f"{n} = {v}" for n, v in zip(self.labels[:12], self.values[:12]))
            raise InputError(f"{self.where}: holds {int(codes[np.flatnonzero(unnamed)[0]])}, a value its enum type "
                             f"does not name ({shown})")
        return self.labels[at].reshape(-1, 1)
