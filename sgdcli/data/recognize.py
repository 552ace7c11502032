"""Which known tool wrote a file, and the options that find its table: what ``info`` prints ("looks like a
pandas frame: train with --x df --label-column label") and what an error about a dataset that is not there
suggests (data/producers.py ``lookup``).

The layouts are tried from the most particular: sgdcli's own files, AnnData
(data/anndatafiles.py), MuData (mudatafiles.py), Loom (loomfiles.py), 10x
Genomics (tenxfiles.py), a CSR matrix, pandas' frames (knownfiles.py),
MATLAB v7.3, a compound table, a group of columns, and a matrix among
others.  A value that the user fills in
is a placeholder (``<labels dataset>``, ``obs/<column>``): never quoted, and
never tried as a path.
"""

from __future__ import annotations

import re
import shlex

import h5py
import numpy as np

from sgdcli.data import anndatafiles, knownfiles, loomfiles, mudatafiles, tenxfiles
from sgdcli.data.hdf5 import members as _members
from sgdcli.data.knownfiles import LABEL_NAMES, WEIGHT_NAMES, label_of as _label_of
from sgdcli.data.sources import numeric_fields, text_of
from sgdcli.data.sparse import is_csr
from sgdcli.data.textlabels import is_text
from sgdcli.errors import InputError


def suggestion(f: h5py.File, option: str = "x") -> str | None:
    """What to pass for the files of known producers ("this looks like ...: try ..."), or None; only what the
    file is where ``option`` (the option that named nothing) is --y and the options it needs name no labels
    (a 10x matrix's cells have none: trying its --x again would not find them); for --sample-weight, where a
    column of the table is the labels, that --weight-column reads one as the weights, else None (the caller
    lists the file's datasets)."""
    found = recognize(f)
    if not found:
        return None
    if option == "y" and found[1] and not {"y", "label_column"} & set(found[1]):
        return f"this looks like {found[0]}"
    if option == "sample_weight":  # (the options that train on the file: no weights; the file's datasets may be)
        return (f"this looks like {found[0]}: {flags({'x': found[1]['x']})} --weight-column NAME reads a column of "
                "it as the weights") if "label_column" in found[1] else None
    if not found[1] and found[0] == knownfiles.own_file(f):
        return f"it is {found[0]}, not a data file"
    return f"this looks like {found[0]}: try {flags(found[1])}" if found[1] else f"this looks like {found[0]}"


def flags(options: dict) -> str:
    """{"x": "df", "label_column": "label"} as "--x df --label-column label", each value quoted as a shell
    would need it ("--label-column 'my target'"), but a placeholder ("<labels dataset>", "obs/<column>")."""
    return " ".join(f"--{key.replace('_', '-')} {_shell(str(value))}" for key, value in options.items())


def _shell(value: str) -> str:
    return value if placeholder(value) else shlex.quote(value)


def placeholder(value) -> bool:
    """Whether an option's value is a placeholder for the user to fill in ("<labels dataset>", "obs/<column>"):
    its last part is "<" lowercase words ">", as no producer names a column."""
    return re.fullmatch(r"(.*/)?<[a-z ]+>", str(value)) is not None


def _columns_beside(f: h5py.File, matrix: h5py.Group) -> dict:
    """``--y`` and, where there are row weights, ``--sample-weight`` for a CSR matrix: of the vectors of its
    row count in the file's root, the first named as labels are, else the first not named as weights are;
    the weights, one named as they are (convert writes them to ``w``), never as the labels."""
    rows = matrix["indptr"].shape[0] - 1 if "indptr" in matrix else None
    vectors = [n for n, o in _members(f) if isinstance(o, h5py.Dataset) and o.ndim in (1, 2)
               and (rows is None or rows in o.shape) and o.dtype.fields is None]  # (a table of fields: no --y)
    weights = [n for n in vectors if n.lower() in WEIGHT_NAMES]
    labels = [n for n in vectors if n.lower() in LABEL_NAMES] or [n for n in vectors if n not in weights]
    return {"y": labels[0] if labels else "<labels dataset>", **({"sample_weight": weights[0]} if weights else {})}


def recognize(f: h5py.File) -> tuple[str, dict] | None:
    """(producer, the options that find its table: x, and y or label_column) for a file whose layout a known
    tool writes, else None."""
    try:
        own = knownfiles.own_file(f)
        if own is not None:
            return own, {}
        if anndatafiles.is_anndata(f):
            return anndatafiles.options(f, LABEL_NAMES)
        if mudatafiles.is_mudata(f):
            return mudatafiles.options(f, LABEL_NAMES)
        if loomfiles.is_loom(f):
            return loomfiles.options(f, LABEL_NAMES)
        tenx = tenxfiles.options(f, LABEL_NAMES)
        if tenx is not None:
            return tenx
        for name, obj in _members(f):
            if is_csr(obj):
                stored = text_of(obj.attrs.get("h5sparse_format", "csr"))  # (h5sparse's csc: columns, refused)
                if stored != "csr":
                    return (f"a sparse matrix stored by columns ({stored}), which sgdcli does not read: write it as "
                            "csr (scipy's .tocsr())"), {}
                return "a sparse (CSR) matrix", {"x": name, **_columns_beside(f, obj)}
        frames, series = knownfiles.pandas_keys(f)
        if frames:
            return knownfiles.pandas_options(f, frames, series)
        matlab = knownfiles.matlab_options(f)
        if matlab is not None:
            return matlab
        for name, obj in _members(f):
            if isinstance(obj, h5py.Dataset) and obj.dtype.fields is not None:
                numeric, other = numeric_fields(obj)
                columns = [n for n in obj.dtype.names if (n, 1) in numeric or is_text(other.get(n, np.dtype("f8")))
                           and not other[n].shape]
                label = _label_of(columns or ["<label>"])
                # fields that are no features (text but the label's) are refused unless --features leaves them out
                expanded = [(n if width == 1 else f"{n}[{i}]", n) for n, width in numeric for i in range(width)]
                keep = [(k, n) for k, (n, field) in enumerate(expanded) if field != label]
                # by name, a comma escaped; by position where a name has a space at an end (a list's are trimmed)
                named = all(n == n.strip() for _, n in keep)
                leave = {"features": ",".join(n.replace(",", "\\,") if named else str(k) for k, n in keep)} \
                    if set(other) - {label} else {}
                return "a table (compound dataset)", {"x": name, "label_column": label, **leave}
        for name, obj in [*_members(f), ("/", f)]:  # a group in the root, else the root itself (xarray's columns)
            if isinstance(obj, h5py.Group) and len(obj) > (name == "/") and not knownfiles.one_array(obj) and all(
                    isinstance(m, h5py.Dataset) and (m.ndim == 1 or m.ndim == 2 and m.shape[0] == 1 and "MATLAB_class"
                                                      in m.attrs) for m in (m for _, m in _members(obj))):
                return "a group of columns", knownfiles.columns_options(f, name, obj)
        matrix = knownfiles.matrix_options(f)
        if matrix is not None:
            return matrix
    except (KeyError, OSError, RuntimeError, ValueError, TypeError, AttributeError, InputError):
        return None
    return None
