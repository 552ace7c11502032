"""The names other tools give a matrix's columns outside the matrix: AnnData's ``var`` index, a Loom file's
genes, and the coordinate that a netCDF (xarray) or h5py dimension scale attaches to the features' axis.

A model records its features' names (``training.features``) and predict,
evaluate and ``train --init`` then read those columns by name wherever they
are in the file; a matrix known by position only is read in its own order.
So the genes of an ``.h5ad`` file written in another order, or the
coordinate of an xarray variable, must be read as the names they are, or a
model scores the wrong columns without a word.

- AnnData (the on-disk spec, anndata/_io/specs): ``X``, ``layers/<name>``
  and ``raw/X`` have the rows of ``obs`` and the columns of ``var`` (of
  ``raw/var`` for ``raw/X``; anndata before 0.7 named them ``raw.X`` and
  ``raw.var``), in the file's root or in a MuData file's modality
  (``mod/<name>``, an AnnData group): data/anndatafiles.py ``var_of``.
  ``var`` is a dataframe group whose attribute ``_index`` names the member
  holding the index: a string array, a numeric array or a categorical
  (``codes`` and ``categories``); anndata before 0.7 wrote ``var`` as a
  compound dataset whose first field is the index.
- Loom: the matrix, read a row per cell, has a column per gene, named by
  ``row_attrs/Gene`` or ``Accession`` (data/loomfiles.py); by accession, by
  symbol too (``other_names``).
- 10x Genomics: the matrix's features, by id, or by symbol (``other_names``:
  data/tenxfiles.py).
- A dimension scale (``CLASS = DIMENSION_SCALE``, attached through the
  matrix's ``DIMENSION_LIST``): netCDF4 and h5netcdf write a coordinate
  variable as one; the scale netCDF writes for a dimension without a
  coordinate holds no values and names nothing.

Names that are only the positions (0, 1, 2, ...) are no names
(data/columnindex.py ``numbered``).  Anything unreadable here leaves the
columns known by position, as they were before sgdcli read these names:
never an error.
"""

from __future__ import annotations

import h5py
import numpy as np

from sgdcli.data import loomfiles, tenxfiles
from sgdcli.data.anndatafiles import var_of
from sgdcli.data.sources import text_of

NETCDF_DIMENSION = "This is a netCDF dimension but not a netCDF variable."  # its NAME: a scale that holds no data
READ_ERRORS = (KeyError, OSError, RuntimeError, ValueError, TypeError, AttributeError, IndexError)


DIMENSION_SCALE = "dimension scale"  # Found.left_out: a group of columns' row index (data/columngroup.py)
COORDINATE = "coordinate"  # Found.left_out: a variable that others list in their CF ``coordinates`` attribute
CF_TIME = "CF time"  # Found.left_out: times or durations in a unit (and from a date) their writer picked (cf.py)


def is_scale(obj: h5py.Dataset) -> bool:
    """Whether ``obj`` is a dimension scale (``CLASS = DIMENSION_SCALE``): an axis's index, such as a netCDF
    coordinate variable, or the scale netCDF writes for a dimension without one."""
    try:
        return bool(h5py.h5ds.is_scale(obj.id))
    except READ_ERRORS:
        return False


def dimension_only(obj: h5py.Dataset) -> bool:
    """Whether ``obj`` is a dimension scale that netCDF (netCDF4, h5netcdf, so xarray) writes for a dimension
    with no coordinate variable: its shape is the dimension's length, and no value is ever written to it."""
    name = obj.attrs.get("NAME") if is_scale(obj) else None
    return isinstance(name, (bytes, str)) and (name.decode("latin-1") if isinstance(name, bytes) else name
                                               ).startswith(NETCDF_DIMENSION)


def column_names(obj: h5py.Dataset | h5py.Group, width: int, transposed: bool = False) -> list[str] | None:
    """The names of the ``width`` columns of the matrix ``obj`` (a 2-D dataset, or a CSR group) from AnnData's
    ``var``, a Loom file's genes, a 10x matrix's feature ids, or a dimension scale of its features' axis (axis
    0 where ``transposed``), or None where it has none, or none of that many."""
    try:
        if tenxfiles.is_tenx(obj):
            names = tenxfiles.ids(obj, width)
        elif transposed:
            names = loomfiles.gene_names(obj, width) if loomfiles.by_gene(obj) else None
        else:
            names = _anndata(obj)
        if names is None and isinstance(obj, h5py.Dataset) and obj.ndim == 2:
            names = _scale(obj, 0 if transposed else 1, width)
    except READ_ERRORS:
        return None
    if names is None or len(names) != width or names == [str(j) for j in range(width)]:
        return None
    return names


def other_names(obj, width: int) -> list[str] | None:
    """Names a model may know the ``width`` columns of ``obj`` by besides ``column_names``, in the same order:
    a 10x matrix's or a Loom file's gene symbols, where its columns are known by id (tenxfiles.py, loomfiles.py
    ``symbols``), or None."""
    try:
        if tenxfiles.is_tenx(obj):
            return tenxfiles.symbols(obj, width)
        return loomfiles.symbols(obj, width) if loomfiles.by_gene(obj) else None
    except READ_ERRORS:
        return None


def _anndata(obj) -> list[str] | None:
    """The ``var`` index of an AnnData matrix (X, layers/<name>, raw/X), or None."""
    var = var_of(obj)
    if isinstance(var, h5py.Dataset) and var.dtype.names:  # anndata < 0.7: a compound dataset, the index first
        return [text_of(v) for v in var[var.dtype.names[0]]]
    if not isinstance(var, h5py.Group):
        return None
    index = var.get(text_of(var.attrs.get("_index", "_index")))
    return _values(index)


def _values(obj) -> list[str] | None:
    """The values of a 1-D index as text: strings, numbers, or a categorical's (codes and categories)."""
    if isinstance(obj, h5py.Group) and "codes" in obj and "categories" in obj:
        categories = _values(obj["categories"])
        codes = np.asarray(obj["codes"][()])
        if categories is None or codes.ndim != 1 or codes.min(initial=0) < 0 or codes.max(initial=0) >= len(
                categories):
            return None  # a missing (-1) name: the columns are not all named
        return [categories[int(c)] for c in codes]
    if not isinstance(obj, h5py.Dataset) or obj.ndim != 1 or obj.dtype.names:
        return None
    if obj.dtype.kind in "OSU":
        return [text_of(v) for v in obj[()]]
    if obj.dtype.kind in "biuf":
        return [_number(v) for v in obj[()]]
    return None


def _number(value) -> str:
    """A coordinate's number as text: integers without a decimal point (3, not 3.0), others as Python shows
    them."""
    value = value.item()
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _scale(ds: h5py.Dataset, axis: int, width: int) -> list[str] | None:
    """The values of the first dimension scale attached to ``axis`` of ``ds`` that holds ``width`` values
    (a coordinate variable), or None."""
    if "DIMENSION_LIST" not in ds.attrs:
        return None
    for scale in ds.dims[axis].values():
        if scale.shape == (width,) and not dimension_only(scale):
            return _values(scale)
    return None
