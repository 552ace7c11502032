"""How messages name a dataset of a file: FILE:DATASET, which begins every one-line error about what a
file holds (the file as given, the dataset as named in it, without HDF5's leading slash)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import h5py


def where_in(path: str | os.PathLike, name: str) -> str:
    """``name`` (a dataset or group, as given: --x, --y, --sample-weight) of the file at ``path``."""
    return f"{os.fspath(path)}:{name}"


def where_of(obj: h5py.HLObject) -> str:
    """An open HDF5 dataset or group, by its file's name and its own path in that file."""
    return where_in(obj.file.filename, obj.name.lstrip("/"))
