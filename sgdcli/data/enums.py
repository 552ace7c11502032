"""HDF5 enum labels (h5py's ``enum_dtype``, PyTables' ``EnumAtom``): the type names its values, and those
names are the classes, as a column of text's are (data/textlabels.py reads them as codes).  h5py's bools are
an enum too, of FALSE and TRUE, which NumPy reads as bool: they stay numbers."""

from __future__ import annotations

import h5py
import numpy as np

from sgdcli.data.sources import Source, where_of
from sgdcli.errors import InputError


def enum_names(ds: h5py.Dataset) -> dict[str, int] | None:
    """The names of an enum dataset's values (name -> value), or None where its type is no enum."""
    mapping = h5py.check_enum_dtype(ds.dtype) if ds.dtype.kind in "iu" else None
    return dict(mapping) if mapping else None


class EnumNames(Source):
    """A 1-D (or N × 1) enum dataset read as the names of its values, (rows × 1) of str."""

    def __init__(self, ds: h5py.Dataset, name: str, mapping: dict[str, int]):
        super().__init__(ds, [name], int(ds.shape[0]), int(ds.chunks[0]) if ds.chunks else 1)
        order = sorted(mapping, key=mapping.get)
        self.values = np.array([mapping[k] for k in order], dtype=np.int64)
        self.labels = np.array(order, dtype=str)

    @property
    def dtype(self) -> np.dtype:
        return self.labels.dtype

    def _columns_of(self, stored):
        codes = np.asarray(stored).astype(np.int64).reshape(-1)
        at = np.minimum(np.searchsorted(self.values, codes), len(self.values) - 1)
        unnamed = self.values[at] != codes
        if unnamed.any():
            shown = ", ".join(f"{n} = {v}" for n, v in zip(self.labels[:12], self.values[:12]))
            raise InputError(f"{where_of(self.ds)}: holds {int(codes[np.flatnonzero(unnamed)[0]])}, a value its enum "
                             f"type does not name ({shown})")
        return self.labels[at].reshape(-1, 1)
