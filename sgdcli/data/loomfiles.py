"""Loom files (``.loom``: loompy, velocyto, SCopeLoomR, Seurat's SeuratDisk): a main ``matrix`` of a row per
gene and a column per cell, ``layers/<name>`` of the same shape, and the genes' and cells' attributes as 1-D
datasets in ``row_attrs`` and ``col_attrs`` (the Loom specification, every version).

A cell is an observation, so the matrix and its layers are read transposed,
as a MATLAB matrix is: a row per cell, a feature per gene, named by the
genes' ``row_attrs/Gene`` (or ``Accession``); the labels are one of the cells'
attributes, ``--y col_attrs/<name>``.  ``--transpose`` would read the genes
as the observations, which is refused, as it is of a MATLAB matrix.
"""

from __future__ import annotations

import h5py

from sgdcli.data.hdf5 import members
from sgdcli.data.sources import text_of

GENE_NAMES = ("Gene", "Accession")  # the row attributes that name the genes, the first there is
LABEL_HINTS = ("cluster", "type")  # in the name of a cell attribute that likely holds labels (ClusterName, CellType)


def is_loom(f: h5py.File) -> bool:
    """Whether ``f`` is laid out as a Loom file: a 2-D ``matrix`` beside the groups ``row_attrs`` and
    ``col_attrs``."""
    matrix = f.get("matrix")
    return (isinstance(matrix, h5py.Dataset) and matrix.ndim == 2
            and all(isinstance(f.get(g), h5py.Group) for g in ("row_attrs", "col_attrs")))


def by_gene(ds: h5py.Dataset) -> bool:
    """Whether ``ds`` is a Loom file's ``matrix`` or one of its ``layers``: stored a row per gene, read
    transposed."""
    if not isinstance(ds, h5py.Dataset) or ds.name != "/matrix" and ds.parent.name != "/layers":
        return False
    return is_loom(ds.file) and ds.shape == ds.file["matrix"].shape


def gene_names(ds: h5py.Dataset, width: int) -> list[str] | None:
    """The names of the genes, the features of ``ds`` read transposed (``GENE_NAMES``), or None."""
    attrs = ds.file["row_attrs"]
    for name in GENE_NAMES:
        names = attrs.get(name)
        if isinstance(names, h5py.Dataset) and names.shape == (width,) and names.dtype.kind in "OSU":
            return [text_of(v) for v in names[()]]
    return None


def options(f: h5py.File, label_names: tuple[str, ...]) -> tuple[str, dict]:
    """A Loom file's options: its ``matrix``, and the labels from the cells' first attribute named as labels
    are (``label_names``), else the first whose name says cluster or type, else a placeholder."""
    cells = f["matrix"].shape[1]
    attrs = [n for n, o in members(f["col_attrs"]) if isinstance(o, h5py.Dataset) and o.shape == (cells,)]
    label = next((n for n in attrs if n.lower() in label_names), None) or next(
        (n for n in attrs if any(hint in n.lower() for hint in LABEL_HINTS)), "<name>")
    return "a Loom file (a row per gene, read transposed: a row per cell)", {"x": "matrix",
                                                                             "y": f"col_attrs/{label}"}
