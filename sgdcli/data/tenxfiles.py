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
model that knows them by symbol (scanpy's files: the genes alone, their
symbols made unique as ``var_names_make_unique`` makes them, "-1", "-2"
after a repeated one) reads them by that (``symbols``).  The file holds no
labels; labels of its cells written beside its matrix are suggested.
"""

from __future__ import annotations

import h5py
import numpy as np

from sgdcli.data.sources import text_of
from sgdcli.errors import InputError
from sgdcli.namelists import made_unique

IDS, SYMBOLS = ("features/id", "genes"), ("features/name", "gene_names")  # Cell Ranger 3 and later's; 2's
TYPES, GENE_EXPRESSION = "features/feature_type", "Gene Expression"  # the genes among other features


def is_tenx(obj) -> bool:
    """Whether ``obj`` is a group of a 10x matrix: ``data``, ``indices``, ``indptr``, the dataset ``shape``, the
    cells' ``barcodes``, and the features' ids and symbols (``features/id`` and ``features/name``, or Cell
    Ranger 2's ``genes`` and ``gene_names``)."""
    if not isinstance(obj, h5py.Group):
        return False
    shape = obj.get("shape")
    return (isinstance(shape, h5py.Dataset) and shape.shape == (2,)
            and all(isinstance(obj.get(name), h5py.Dataset) for name in ("data", "indices", "indptr", "barcodes"))
            and any(all(isinstance(obj.get(path), h5py.Dataset) for path in pair) for pair in zip(IDS, SYMBOLS)))


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
    """The ``width`` features' symbols as scanpy reads them by default (``read_10x_h5``, ``gex_only``): the
    genes' (Gene Expression features'), a repeated one made unique among them as anndata's
    ``var_names_make_unique`` makes it (the second "TBCE" is "TBCE-1", unless that name is taken: then
    "TBCE-2", ...); other features (antibodies, guides) by their ids; None where the file has no symbols, or
    where an id is also a gene's symbol."""
    names, kinds = _names(group, SYMBOLS, width), _names(group, (TYPES,), width)
    if names is None:
        return None
    genes = [k for k in range(width) if kinds is None or kinds[k] == GENE_EXPRESSION]
    named = ids(group, width) if len(genes) < width else names
    if named is None:
        return None
    named = list(named)
    for k, name in zip(genes, made_unique([names[k] for k in genes])):
        named[k] = name
    return named if len(set(named)) == width else None


def _names(group: h5py.Group, paths: tuple[str, ...], width: int) -> list[str] | None:
    for path in paths:
        ds = group.get(path)
        if isinstance(ds, h5py.Dataset) and ds.shape == (width,) and ds.dtype.kind in "OSU":
            return [text_of(v) for v in ds[()]]
    return None


def holding(f: h5py.File, path: str) -> str | None:
    """The 10x matrix (its group's name) that ``path`` of ``f`` is a part of, or None."""
    parts = path.strip("/").split("/")
    for k in range(len(parts) - 1, 0, -1):
        name = "/".join(parts[:k])
        if is_tenx(f.get(name)):
            return name
    return None


def options(f: h5py.File, label_names) -> tuple[str, dict] | None:
    """``info``'s producer and options for a 10x file: its matrix (the first genome's, of Cell Ranger 2, the
    others named), and the labels of its cells written beside it (a vector of the file's root of a row per
    cell, the first named as labels are (``label_names``), else the first), or None where ``f`` holds none."""
    found = [(name, obj) for name, obj in f.items() if is_tenx(obj)]
    if not found:
        return None
    name, matrix = found[0]
    cells = matrix["barcodes"].shape[0]
    vectors = [n for n, o in f.items() if isinstance(o, h5py.Dataset) and o.shape == (cells,) and not o.dtype.fields]
    labels = [n for n in vectors if n.lower() in label_names] or vectors
    others = (f"; genomes {', '.join(n for n, _ in found)}: --x names the one to read" if len(found) > 1 else "")
    return (f"a 10x Genomics feature-barcode matrix ({cells:,} cells{'' if labels else ', no labels'}{others})",
            {"x": name, **({"y": labels[0]} if labels else {})})
