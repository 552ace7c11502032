"""10x Genomics feature-barcode matrices (Cell Ranger's and Space Ranger's ``filtered_feature_bc_matrix.h5``).

The file holds one group, ``matrix`` (Cell Ranger 2: one group per genome,
named after it), of a sparse matrix of a row per feature and a column per
cell stored by columns (CSC: ``data``, ``indices``, ``indptr``, and the
dataset ``shape``, (features, cells)), which is the same bytes as the
matrix of a row per cell stored by rows: it is read as a CSR matrix of
cells × features, as scanpy's ``read_10x_h5`` reads it.  ``barcodes`` names
the cells; the features are ``features/id`` (Ensembl ids, unique) and
``features/name`` (gene symbols, some of which repeat), Cell Ranger 2's
``genes`` and ``gene_names``.  The columns are known by their ids, and a
model that knows them by symbol (scanpy's files: the symbols made unique
as ``var_names_make_unique`` makes them, "-1", "-2" after a repeated one)
reads them by that (``symbols``).  The file holds no labels.
"""

from __future__ import annotations

import collections

import h5py
import numpy as np

from sgdcli.data.sources import text_of
from sgdcli.errors import InputError

IDS, SYMBOLS = ("features/id", "genes"), ("features/name", "gene_names")  # Cell Ranger 3 and later's; 2's


def is_tenx(obj) -> bool:
    """Whether ``obj`` is a group of a 10x matrix: ``data``, ``indices``, ``indptr``, the dataset ``shape``, the
    cells' ``barcodes``, and the features (a group ``features``, or Cell Ranger 2's ``genes``)."""
    if not isinstance(obj, h5py.Group):
        return False
    shape = obj.get("shape")
    return (isinstance(shape, h5py.Dataset) and shape.shape == (2,)
            and all(isinstance(obj.get(name), h5py.Dataset) for name in ("data", "indices", "indptr", "barcodes"))
            and (isinstance(obj.get("features"), h5py.Group) or isinstance(obj.get("genes"), h5py.Dataset)))


def shape(group: h5py.Group, where: str) -> tuple[int, int]:
    """(cells, features): the dataset ``shape``, (features, cells), read the other way round; InputError where
    it holds no two counts."""
    try:
        value = np.asarray(group["shape"][()])
    except (OSError, RuntimeError, ValueError, TypeError) as exc:
        raise InputError(f"{where}/shape: cannot be read ({exc})") from None
    if value.dtype.kind not in "iu" or np.any(value < 0):
        raise InputError(f"{where}/shape: {value.tolist()} is not the shape of a 10x matrix: (features, cells), "
                         "two counts")
    return int(value[1]), int(value[0])


def ids(group: h5py.Group, width: int) -> list[str] | None:
    """The ``width`` features' ids, or None where the file has none of that many."""
    return _names(group, IDS, width)


def symbols(group: h5py.Group, width: int) -> list[str] | None:
    """The ``width`` features' symbols, a repeated one made unique as anndata's ``var_names_make_unique``
    makes it (the second "TBCE" is "TBCE-1", unless that name is taken: then "TBCE-2", ...), or None."""
    names = _names(group, SYMBOLS, width)
    if names is None or len(set(names)) == len(names):
        return names
    taken, count, seen, unique = set(names), collections.Counter(), set(), []
    for name in names:
        if name in seen:
            while True:
                count[name] += 1
                tried = f"{name}-{count[name]}"
                if tried not in taken:
                    taken.add(tried)
                    name = tried
                    break
        else:
            seen.add(name)
        unique.append(name)
    return unique


def _names(group: h5py.Group, paths: tuple[str, ...], width: int) -> list[str] | None:
    for path in paths:
        ds = group.get(path)
        if isinstance(ds, h5py.Dataset) and ds.shape == (width,) and ds.dtype.kind in "OSU":
            return [text_of(v) for v in ds[()]]
    return None


def options(f: h5py.File) -> tuple[str, dict] | None:
    """``info``'s producer and options for a 10x file: its matrix (the first genome's, of Cell Ranger 2), or
    None where ``f`` holds none."""
    for name, obj in f.items():
        if is_tenx(obj):
            return f"a 10x Genomics feature-barcode matrix ({obj['barcodes'].shape[0]:,} cells, no labels)", {"x": name}
    return None
