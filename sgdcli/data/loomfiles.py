"""Loom files (``.loom``: loompy, velocyto, SCopeLoomR, Seurat's SeuratDisk): a main ``matrix`` of a row per
gene and a column per cell, ``layers/<name>`` of the same shape, and the genes' and cells' attributes in
``row_attrs`` and ``col_attrs``, a dataset each of the genes' or the cells' count of rows (1-D, or 2-D such as
an embedding).  Every writer since loompy 2.0.1 marks the file with its specification's version
(``LOOM_SPEC_VERSION``: a root attribute, or from version 3 the dataset ``attrs/LOOM_SPEC_VERSION``), which
tells a Loom file from a script's own ``matrix`` beside groups of those names; an older file is known by its
``.loom`` name.

A cell is an observation, so the matrix and its layers are read transposed,
as a MATLAB matrix is: a row per cell, a feature per gene, named by the
genes' ``row_attrs/Gene`` (or ``Accession``, where the genes' symbols repeat
and their accessions do not: 10x and velocyto files hold such symbols); the
labels are one of the cells' attributes, ``--y col_attrs/<name>``, never the
genes' (``row_attrs``).  ``--transpose`` would read the genes as the
observations, which is refused, as it is of a MATLAB matrix.
"""

from __future__ import annotations

import h5py

from sgdcli.data.hdf5 import members
from sgdcli.data.sources import text_of
from sgdcli.errors import InputError
from sgdcli.namelists import made_unique

SPEC_VERSION = "LOOM_SPEC_VERSION"
GENE_NAMES = ("Gene", "Accession")  # the row attributes that name the genes, the first whose names are unique
# the cell attributes that hold labels, as loompy, velocyto and SCope name them, the first there is
CELL_LABELS = ("ClusterName", "CellType", "cell_type", "celltype", "Clusters", "ClusterID")
CELL_NAMES = ("CellID",)  # a cell attribute that names the cells: no labels


def is_loom(f: h5py.File) -> bool:
    """Whether ``f`` is a Loom file: a 2-D ``matrix`` beside the groups ``row_attrs`` and ``col_attrs``, and
    the specification's version or a ``.loom`` name."""
    matrix = f.get("matrix")
    if not (isinstance(matrix, h5py.Dataset) and matrix.ndim == 2
            and all(isinstance(f.get(g), h5py.Group) for g in ("row_attrs", "col_attrs"))):
        return False
    return SPEC_VERSION in f.attrs or isinstance(f.get(f"attrs/{SPEC_VERSION}"), h5py.Dataset) \
        or str(f.filename).lower().endswith(".loom")


def by_gene(ds: h5py.Dataset) -> bool:
    """Whether ``ds`` is a Loom file's ``matrix`` or one of its ``layers``: stored a row per gene, read
    transposed."""
    if not isinstance(ds, h5py.Dataset) or ds.name != "/matrix" and ds.parent.name != "/layers":
        return False
    return is_loom(ds.file) and ds.shape == ds.file["matrix"].shape


def gene_names(ds: h5py.Dataset, width: int) -> list[str] | None:
    """The names of the genes, the features of ``ds`` read transposed: the first of ``GENE_NAMES`` whose names
    are unique, else the first there is (which a model cannot read another file's columns by, and says so
    there: data/columnindex.py), or None."""
    attrs = ds.file["row_attrs"]
    found = []
    for name in GENE_NAMES:
        names = attrs.get(name)
        if isinstance(names, h5py.Dataset) and names.shape == (width,) and names.dtype.kind in "OSU":
            found.append([text_of(v) for v in names[()]])
    return next((names for names in found if len(set(names)) == len(names)), found[0] if found else None)


def symbols(ds: h5py.Dataset, width: int) -> list[str] | None:
    """The genes' symbols (``row_attrs/Gene``) made unique as scanpy's users make them (``read_loom``, then
    ``var_names_make_unique``), where they repeat and so do not name the columns (``gene_names``), else None."""
    names = gene_names(ds, width)
    ds = ds.file["row_attrs"].get(GENE_NAMES[0])
    if not isinstance(ds, h5py.Dataset) or ds.shape != (width,) or ds.dtype.kind not in "OSU":
        return None
    genes = [text_of(v) for v in ds[()]]
    return made_unique(genes) if genes != names else None


def refuse_gene_labels(f: h5py.File, x: str, y: str) -> None:
    """InputError where ``y`` names one of the genes' attributes as the labels of the Loom matrix ``x``, whose
    rows are its cells (the row count would not tell where genes and cells are as many)."""
    matrix = f.get(x)
    if isinstance(matrix, h5py.Dataset) and by_gene(matrix) and y.strip("/").startswith("row_attrs/"):
        raise InputError(f"{f.filename}:{y}: is an attribute of the genes, but {x} is read a row per cell: the "
                         "labels are one of the cells' attributes, col_attrs/<name>")


def options(f: h5py.File, label_names: tuple[str, ...]) -> tuple[str, dict]:
    """A Loom file's options: its ``matrix``, and the labels from the cells' first attribute named as labels
    are (``label_names``, then ``CELL_LABELS``), else their first but the cells' names, else a placeholder."""
    cells = f["matrix"].shape[1]
    attrs = [n for n, o in members(f["col_attrs"]) if isinstance(o, h5py.Dataset) and o.shape == (cells,)]
    named = [n for n in attrs if n.lower() in label_names] + [n for k in CELL_LABELS for n in attrs if n == k]
    label = next(iter(named), None) or next((n for n in attrs if n not in CELL_NAMES), "<name>")
    return "a Loom file (a row per gene, read transposed: a row per cell)", {"x": "matrix",
                                                                             "y": f"col_attrs/{label}"}
