"""Why the labels' row count is not the features': where the file tells which axis of X holds the rows.

A matrix stored features × rows reads as as many rows as it has features, so
its labels do not fit it.  The file often says so: a MATLAB dataset
(``MATLAB_class``) is read transposed, as MATLAB stores it, so observations
kept as MATLAB's columns (d × N, the Neural Network Toolbox's convention) come
out as d rows; a Loom matrix is read transposed too, a row per cell, whose
labels are the cells' attributes; a netCDF variable names its dimensions
(``DIMENSION_LIST``), and X's second dimension being y's says that X's rows
run along it.  Beside a MuData modality, the file's own obs has a row per
cell of any modality: the modality's own obs is the one that fits.
"""

from __future__ import annotations

import h5py

from sgdcli.data import mudatafiles
from sgdcli.data.featurenames import READ_ERRORS
from sgdcli.data.loomfiles import by_gene
from sgdcli.data.sources import Found, Matrix
from sgdcli.data.where import where_in


def mismatch(path: str, x: str, y: str, rows: int, found: Found, labels) -> str:
    """The error for labels of ``rows`` rows beside ``found``'s features, with what to do where the file says."""
    n = found.features[0].n_rows
    base = f"{where_in(path, y)}: has {rows} rows but {x} has {n}"
    source = found.features[0]
    modality = mudatafiles.other_rows(source.ds.file, x, y)
    if modality:
        return base + modality
    if not isinstance(source, Matrix) or source.ds.ndim != 2:
        return base
    stored = tuple(int(s) for s in source.ds.shape)
    if "MATLAB_class" in source.ds.attrs and source.transposed and stored[0] == rows:
        return (f"{base}: {x} is a MATLAB matrix (MATLAB_class), read transposed as MATLAB holds it, "
                f"{stored[1]} × {stored[0]} with one observation per row, and it is its {stored[0]} columns that fit "
                f"{y} (observations as columns, d × N; --transpose does not undo the automatic one): save it with one "
                f"observation per row ({x} = {x}.' in MATLAB before save -v7.3)")
    if source.transposed and by_gene(source.ds):
        return (f"{base}: {x} is a Loom matrix, read transposed, a row for each of its {stored[1]} cells (its "
                "columns): the labels are one of the cells' attributes, col_attrs/<name>")
    if source.transposed and "MATLAB_class" not in source.ds.attrs and stored[0] == rows:
        return (f"{base}; {x} is stored {stored[0]} × {stored[1]}, its rows first: drop --transpose (which "
                "applies to every file the command reads, --val's too)")
    if source.transposed or stored[1] != rows:
        return base
    dim = _shared_dimension(source.ds, labels)
    if dim is not None:
        return f"{base}: {x}'s rows are its 2nd dimension ({dim}, as {y}'s): use --transpose"
    return f"{base}; {x} has {rows} columns: if it is stored features × rows, use --transpose"


def _shared_dimension(ds: h5py.Dataset, labels) -> str | None:
    """The name of the dimension scale attached to ``ds``'s axis 1 and to the labels' axis 0 (netCDF's shared
    dimension), or None."""
    other = labels if isinstance(labels, h5py.Dataset) else getattr(labels, "ds", None)
    if not isinstance(other, h5py.Dataset) or other.ndim < 1:
        return None
    try:
        mine, theirs = ds.dims[1], other.dims[0]
        if len(mine) == 0 or len(theirs) == 0 or mine[0] != theirs[0]:
            return None
        return mine[0].name.rsplit("/", 1)[-1]
    except READ_ERRORS:
        return None
