"""AnnData files (``.h5ad``) as each version of anndata lays them out: how to know one, what ``info``
suggests for it, and its ``obs`` columns as labels.

- anndata 0.8 on: the root's ``encoding-type`` is ``anndata``; ``obs`` is a
  dataframe group (``_index`` names its index, ``column-order`` its columns);
  a categorical column is a group of ``codes`` and ``categories``; a nullable
  integer, boolean or string column is a group of ``values`` and ``mask``
  (set where the value is missing, read as a categorical's code -1 is: a
  missing label).
- anndata 0.7: the root has no ``encoding-type``, ``obs`` is a dataframe group
  as above, and a categorical column is a dataset of its codes whose attribute
  ``categories`` refers (an HDF5 object reference) to the names, in
  ``obs/__categories``.
- anndata before 0.7: ``obs`` and ``var`` are compound datasets, the index
  their first field and a column each other field (``--y obs/<field>`` reads
  one: data/fieldlabels.py); a categorical is the field of its codes, and its
  names are ``uns/<field>_categories``.  A sparse ``X`` is a group whose
  ``h5sparse_format`` attribute says csr or csc.

The matrices (``X``, ``layers/<name>``, ``raw/X``) are read as any 2-D dataset
or CSR group is, and their columns' names from ``var`` (data/featurenames.py).
A MuData file (``.h5mu``) holds an AnnData group per modality in
``mod/<name>`` (data/mudatafiles.py).
"""

from __future__ import annotations

import shlex
import warnings

import h5py

from sgdcli.data.hdf5 import members
from sgdcli.data.sources import Column, text_of
from sgdcli.data.sparse import is_csr
from sgdcli.data.textlabels import Masked, categorical_labels, is_text, text_labels
from sgdcli.data.numeric import NUMERIC_KINDS
from sgdcli.data.unwritten import refuse_unwritten
from sgdcli.data.where import where_of
from sgdcli.errors import LISTED, InputError  # LISTED: the layers a suggestion names

NULLABLE = ("nullable-integer", "nullable-boolean", "nullable-string-array")  # values and mask
CATEGORIES = "__categories"  # anndata 0.7: the group of a dataframe's categories, beside its columns
# the obs columns that name each cell's type, as scanpy's tutorials and CELLxGENE's schema call them: the labels a
# classifier of cells learns, where no column is named as labels are (an obs's first column is often a count)
CELL_TYPES = ("cell_type", "celltype", "cell_types", "cell_ontology_class", "cell_label", "annotation")


def label_rank(column: str, label_names: tuple[str, ...]) -> int:
    """How likely ``column`` (a frame's, or mudata's ``<modality>:<column>``) holds the labels: 0 named as labels
    are, 1 as a cell's type, 2 otherwise (a sort key: the likeliest first)."""
    name = column.rpartition(":")[2].lower()
    return 0 if name in label_names else 1 if name in CELL_TYPES else 2


def encoding(obj) -> str:
    """AnnData's ``encoding-type`` of ``obj``, "" where it has none."""
    return text_of(obj.attrs.get("encoding-type", b"")) if isinstance(obj, (h5py.Group, h5py.Dataset)) else ""


def is_anndata(f: h5py.File) -> bool:
    """Whether ``f`` is an AnnData file of any version (``X`` or not): the root's ``encoding-type`` (0.8 on),
    else ``obs`` and ``var`` each a group whose ``encoding-type`` is dataframe (0.7), or each a compound dataset
    whose first field is ``index`` (before 0.7); not the frames pandas writes, nor other groups of those names,
    nor a file whose root says it is something else (MuData's ``encoding-type``, beside its own obs and var)."""
    frames = (f.get("obs"), f.get("var"))
    if encoding(f):  # (R's MuData and MuDataSeurat write "AnnData")
        return encoding(f).lower() == "anndata"
    return all(isinstance(d, h5py.Group) and encoding(d) == "dataframe" for d in frames) \
        or all(isinstance(d, h5py.Dataset) and (d.dtype.names or ("",))[0] == "index" for d in frames)


def frame_columns(frame) -> list[str]:
    """The columns of a frame (``obs``, ``var``) in its own order (``column-order``; a group lists them by
    name): the members but the index and 0.7's categories, or the fields of a compound dataset but the first,
    its index."""
    if isinstance(frame, h5py.Dataset):
        return list(frame.dtype.names[1:]) if frame.dtype.names else []
    if not isinstance(frame, h5py.Group):
        return []
    index = text_of(frame.attrs.get("_index", "_index"))
    columns = [n for n, _ in members(frame) if n not in (index, CATEGORIES)]
    order = [text_of(c) for c in frame.attrs.get("column-order", [])]
    return sorted(columns, key=lambda n: order.index(n) if n in order else len(order))


def options(f: h5py.File, label_names: tuple[str, ...]) -> tuple[str, dict]:
    """An AnnData file's options: ``X``, or where it has none (``AnnData(X=None)``) a matrix of ``layers`` (or
    of ``obsm``); the labels from its first ``obs`` column named as labels are (``label_names``, then
    ``CELL_TYPES``), else its first categorical one (names of classes, not counts), else its first; and
    ``--model softmax`` where that column's categories are more than two (logistic refuses them)."""
    obs = f.get("obs")
    categories = {n: len(obs[n]["categories"]) for n in frame_columns(obs) if isinstance(obs, h5py.Group)
                  and isinstance(obs.get(n), h5py.Group) and isinstance(obs[n].get("categories"), h5py.Dataset)}
    columns = sorted(frame_columns(obs), key=lambda n: (label_rank(n, label_names), n not in categories))
    y = {"y": "obs/" + (columns[0] if columns else "<column>"),
         **({"model": "softmax"} if columns and categories.get(columns[0], 0) > 2 else {})}
    X = f.get("X")
    if isinstance(X, (h5py.Dataset, h5py.Group)):
        shape = tuple(X.attrs.get("shape", ()))
        others = by_rows(f, shape[0]) if encoding(X) == "csc_matrix" and len(shape) == 2 else []
        if others:  # X stored by columns, which sgdcli does not read (data/producers.py)
            return f"an AnnData file whose X is stored by columns ({others[0]} holds its rows)", {"x": others[0], **y}
        return "an AnnData file", {"x": "X", **y}
    for where in ("layers", "obsm"):
        group = f.get(where)
        held = [n for n, o in members(group) if isinstance(o, h5py.Dataset) and o.ndim == 2 or is_csr(o)] \
            if isinstance(group, h5py.Group) else []
        if held:
            return (f"an AnnData file without X ({where}: {', '.join(held[:LISTED])}"
                    f"{', ...' if len(held) > LISTED else ''})", {"x": f"{where}/{held[0]}", **y})
    return "an AnnData file without X, layers or obsm matrices (no features to train on)", {}


def by_rows(f: h5py.File, rows: int) -> list[str]:
    """The matrices of an AnnData file's ``layers`` and ``raw/X`` of ``rows`` rows that sgdcli reads (dense, or
    sparse stored by rows): where its ``X`` is stored by columns, the same cells it can train on."""
    found = []
    for where, group in (("layers", f.get("layers")), ("raw", f.get("raw"))):
        for name, obj in members(group) if isinstance(group, h5py.Group) else []:
            if where == "raw" and name != "X":
                continue
            shape = tuple(obj.attrs.get("shape", ())) if isinstance(obj, h5py.Group) else obj.shape
            if (is_csr(obj) or isinstance(obj, h5py.Dataset) and obj.ndim == 2) and len(shape) == 2 \
                    and shape[0] == rows:
                found.append(f"{where}/{name}")
    return found


def obs_column(f: h5py.File, name: str, option: str) -> str | None:
    """Where an AnnData file keeps ``name``, a column that --label-column (or --weight-column) looked for in vain
    among X's: "it is a column of obs: --y obs/NAME" (``option``: --y, or --sample-weight); None where ``f`` is
    no AnnData file or its obs has no such column."""
    obs = f.get("obs")
    if is_anndata(f) and obs is not None and name in frame_columns(obs):
        return (f"it is a column of obs, AnnData's frame of what is known of each row: {option} "
                f"{shlex.quote('obs/' + name)}")
    return None


def var_of(obj) -> h5py.Group | h5py.Dataset | None:
    """The ``var`` whose index names the columns of the AnnData matrix ``obj``: ``X`` and ``layers/<name>`` by
    ``var``, ``raw/X`` by ``raw/var`` (before 0.7, ``raw.X`` by ``raw.var``), of an AnnData file or of one of a
    MuData file's modalities (``mod/<name>``, an AnnData group of its own); None for any other object."""
    f = obj.file
    parent, _, leaf = obj.name.rpartition("/")
    above = parent.rpartition("/")[0]
    if parent.endswith("/layers") and _anndata_group(f, above):  # (a layer named X too)
        return f.get(f"{above}/var")
    if leaf == "X" and _anndata_group(f, parent):
        return f.get(f"{parent}/var")
    if leaf == "X" and parent.endswith("/raw") and _anndata_group(f, above):
        return f.get(f"{parent}/var")
    if leaf == "raw.X" and _anndata_group(f, parent):
        return f.get(f"{parent}/raw.var")
    return None


def _anndata_group(f: h5py.File, path: str) -> bool:
    """Whether the group at ``path`` ("" for the root) holds an AnnData: the file (or, to name its columns, any
    file of ``X`` beside ``obs`` and ``var``, as scripts that write AnnData's layout by hand make), or a MuData
    modality."""
    if path == "":
        return is_anndata(f) or all(name in f for name in ("X", "obs", "var"))
    return encoding(f.get(path)).lower() == "anndata"


def nullable_labels(g: h5py.Group, y: str, where: str, classes: list[str] | None, memory: int):
    """A nullable column (``values``, and ``mask`` set where a value is missing) as labels: a masked entry is a
    missing label (NaN: a bad row), as a categorical's code -1 is."""
    values, mask = g.get("values"), g.get("mask")
    if not all(isinstance(d, h5py.Dataset) and d.ndim == 1 for d in (values, mask)):
        raise InputError(f"{where}: is AnnData's {encoding(g)} column without 1-D values and mask")
    if mask.shape != values.shape:
        raise InputError(f"{where}: its mask has {mask.shape[0]} rows but its values {values.shape[0]}")
    inner, flags = Column(values, y), Column(mask, f"{y}/mask")
    if is_text(values.dtype):
        return text_labels(inner, where, classes, mask=flags, memory=memory)
    if values.dtype.kind not in NUMERIC_KINDS:
        raise InputError(f"{where}/values: dtype {values.dtype} is not numeric")
    return Masked(inner, flags), None


def referenced_categories(ds: h5py.Dataset, y: str, where: str, classes: list[str] | None):
    """anndata 0.7's categorical column (the codes, whose attribute ``categories`` refers to the names) as
    labels, read through its names; None for a dataset without such a reference."""
    ref = ds.attrs.get("categories")
    if not isinstance(ref, h5py.Reference):
        return None
    said = f"{where}: its attribute categories (the names of its codes) refers to"
    try:
        names = ds.file[ref]  # (a null reference, or one to a deleted object: ValueError, KeyError)
    except (KeyError, OSError, RuntimeError, ValueError):
        raise InputError(f"{said} nothing in the file") from None
    if not isinstance(names, h5py.Dataset) or names.ndim != 1:
        raise InputError(f"{said} {names.name or 'an object no longer linked'}, not a 1-D dataset")
    refuse_unwritten(names, where_of(names) if names.name else f"{where}'s categories", "category")
    return categorical_labels(Column(ds, y), names[()], where_of(ds), classes)


def field_categories(ds: h5py.Dataset, field: str) -> h5py.Dataset | None:
    """The names of the categories whose codes ``field`` of ``ds`` holds, where ``ds`` is the compound ``obs``
    or ``var`` of an AnnData file written before 0.7 (``uns/<field>_categories``, every name written), else
    None (anndata's own reader, too, reads the codes as they are where there is no such array)."""
    f = ds.file
    names = f.get(f"uns/{field}_categories") if ds.name in ("/obs", "/var") and is_anndata(f) else None
    if not isinstance(names, h5py.Dataset) or names.ndim != 1:
        return None
    refuse_unwritten(names, where_of(names), "category")
    return names


class CategoryCodes(UserWarning):
    """--y names the codes of a categorical column: numbers that stand for its categories in one file's order."""


def warn_codes(ds: h5py.Dataset, y: str, where: str) -> None:
    """A CategoryCodes warning where the labels ``ds`` (--y ``y``) are the codes of a categorical column (AnnData's
    ``codes`` beside its ``categories``): they number the categories as this file sorts them, and a file with
    another set of them (a category more: every later code moves) numbers them otherwise, which nothing can see;
    the column itself is read as its categories' names."""
    parent = ds.parent
    if ds.name.rsplit("/", 1)[-1] == "codes" and "categories" in parent and parent.name != "/":
        column = y.rstrip("/").rsplit("/", 1)[0]
        warnings.warn(f"{where}: are the codes of the categorical {column}, numbers that stand for its categories "
                      "in this file's order, which another file's may not share (a category more moves every later "
                      f"code); --y {column} reads the categories' names", CategoryCodes)

