"""Where pandas, MATLAB and scripts keep a table's parts beyond one frame: the keys of the frames and Series of
a file (``to_hdf`` to several keys, nested ones too), a Series or a categorical group as labels; and what
``info`` and the errors suggest for them (AnnData's own layouts: data/anndatafiles.py).

A Series is a group of ``index`` and ``values`` (fixed format) or a table of ``index`` and one field (table
format).
"""

from __future__ import annotations

import h5py

from sgdcli.data import splitnames
from sgdcli.data.anndatafiles import NULLABLE, encoding, frame_columns, nullable_labels
from sgdcli.data.cf import packing_of
from sgdcli.data.featurenames import dimension_only
from sgdcli.data.hdf5 import OWN_FILE, members
from sgdcli.data.matlab import matlab_class, problem
from sgdcli.data.numeric import NUMERIC_KINDS
from sgdcli.data.pandasframes import (FRAME_TYPES, SERIES_TYPES, fixed_frame, pandas_type, series_rows,
                                      series_values, table_frame)
from sgdcli.data.pandasmeta import categories
from sgdcli.data.sources import Column, Fields, built, text_of
from sgdcli.data.where import where_of
from sgdcli.data.textlabels import categorical_labels, is_text, text_labels
from sgdcli.data.unwritten import refuse_unwritten
from sgdcli.errors import LISTED, InputError  # LISTED: frame keys (or layers) a suggestion names

LABEL_NAMES = ("label", "labels", "target", "y", "class", "outcome")  # what a label column is called
WEIGHT_NAMES = ("w", "weight", "weights", "sample_weight", "sample_weights")  # and a column of row weights


def named_as(what: str, table: str, names: list[str]) -> str:
    """The option that reads ``what`` (labels or weights) from one of the columns ``names`` of ``table``: the
    first named as they are (LABEL_NAMES, WEIGHT_NAMES), else the first (the labels) or a placeholder."""
    named = LABEL_NAMES if what == "labels" else WEIGHT_NAMES
    name = next((n for n in names if n.lower() in named), names[0] if what == "labels" else "<column>")
    return f"--{'y' if what == 'labels' else 'sample-weight'} {table}/{name}"


def label_of(columns: list[str]) -> str:
    """The column that is most likely a table's label: the first named as labels are, else the last."""
    return next((c for c in columns if c.lower() in LABEL_NAMES), columns[-1])


def own_file(f: h5py.File) -> str | None:
    """What sgdcli file ``f`` is ("an sgdcli model", its format's last word), or None for another's."""
    kind = text_of(f.attrs.get(OWN_FILE, b""))
    return f"an sgdcli {kind.rpartition('-')[2]}" if kind.startswith("sgdcli-") else None


def one_array(group: h5py.Group) -> bool:
    """Whether ``group``'s 1-D datasets are the parts of one array (a CSC matrix's data, indices and indptr,
    MATLAB's sparse matrix), not columns."""
    return bool(encoding(group)) or "MATLAB_sparse" in group.attrs or "indptr" in group


def columns_options(f: h5py.File, name: str, group: h5py.Group) -> dict:
    """A group of columns' options (``name``: "/" for the file's root): its column named as labels are, as
    --label-column, else a vector beside it in the root (``labels_beside``) as --y, else a placeholder."""
    inside = [(n, o) for n, o in members(group) if not dimension_only(o)]
    label = next((n for n, _ in inside if n.lower() in LABEL_NAMES), None)
    if label is not None:
        return {"x": name, "label_column": label}
    return {"x": name, "y": labels_beside(f, inside[0][1].shape[0] if inside else -1) or "<labels dataset>"}


def matrix_options(f: h5py.File) -> tuple[str, dict] | None:
    """What a file of feature matrices is (said as recognize says it), and the options that train on one, where
    those train takes unless told (``X`` and ``y``) do not find it: ``X``, else the root's first 2-D numeric
    dataset of the training part (data/splitnames.py: X_train, not X_test), else its first (of several, said so:
    --x names the one to read), and its labels beside it (``labels_beside``, else a placeholder); where the root
    has none, those of the first group in it that has one (``data/matrix`` and ``data/target``); None where
    ``X`` and ``y`` are there, or where nothing tells a matrix's labels."""
    group, matrices = f, _matrices(f)
    if not matrices:  # (a group of columns, or a table, recognize found before)
        group, matrices = next(((g, found) for _, g in members(f) if isinstance(g, h5py.Group)
                                and (found := _matrices(g))), (f, []))
    x = "X" if "X" in matrices else (splitnames.training_first(matrices) or [None])[0]
    if x is None or (x == "X" and "y" in f and group is f):  # (train's defaults find them)
        return None
    y = labels_beside(group, group[x].shape[0], x)
    if x == "X" and y is None and group is f:
        return None
    inside = "" if group is f else f"{group.name.strip('/')}/"
    producer = "a feature matrix"
    if len(matrices) > 1 and x != "X":
        producer += (f" (one of {len(matrices)} in the file: {', '.join(inside + n for n in matrices[:LISTED])}"
                     f"{', ...' if len(matrices) > LISTED else ''}; --x names the one to read)")
    return producer, {"x": inside + x, "y": inside + y if y else "<labels dataset>"}


def _matrices(group: h5py.Group) -> list[str]:
    """The 2-D numeric datasets of ``group`` that may be a feature matrix: not a column, nor named as labels."""
    return [n for n, o in members(group) if isinstance(o, h5py.Dataset) and o.ndim == 2
            and o.dtype.kind in NUMERIC_KINDS and (o.shape[1] > 1 or n == "X") and n.lower() not in LABEL_NAMES]


def matlab_options(f: h5py.File) -> tuple[str, dict] | None:
    """What a MATLAB v7.3 file is (of several matrices, said so) and --x and --y for it: ``X`` and ``y`` where it
    has arrays so named (an unreadable one too, whose reason ``info`` then gives); else its first 2-D array of
    numbers (no char matrix of names, cell array, logical or empty array) of the training part (X_train, not
    X_test: data/splitnames.py), and of the other arrays of its rows, the first named as labels are (y_train
    for X_train), else the first vector; None where it has no such matrix.  (By name alone, a char matrix of
    sample names or a vector of row ids came before X and y.)"""
    arrays = [(n, o) for n, o in members(f) if matlab_class(o) is not None]
    arrays += [(f"{n}/{m}", a) for n, o in arrays if matlab_class(o) == "struct" and isinstance(o, h5py.Group)
               for m, a in members(o) if matlab_class(a) is not None]  # (a struct's fields: s.features, s.target)
    names = [n for n, _ in arrays]

    def numbers(o) -> bool:
        return (isinstance(o, h5py.Dataset) and o.ndim == 2 and min(o.shape) > 1 and problem(o, "") is None
                and matlab_class(o) not in ("char", "logical"))

    matrices = [n for n, o in arrays if numbers(o)]
    x = "X" if "X" in names else (splitnames.training_first(matrices) or [None])[0]
    if x is None:
        return None
    vectors = [n for n, o in arrays if n != x and isinstance(o, h5py.Dataset) and o.ndim <= 2 and (
        o.ndim < 2 or min(o.shape) == 1 or matlab_class(o) == "char")]
    rows = f[x].shape[-1] if isinstance(f[x], h5py.Dataset) else None  # (MATLAB's rows are HDF5's last axis)
    vectors = [n for n in vectors if f[n].shape[-1:] == (rows,)] or vectors  # (another length: no labels)
    y = _labels_of(x, [n for n in vectors if splitnames.base(n.rsplit("/", 1)[-1]) in LABEL_NAMES]
                   or [n for n in names if n != x and n.lower() in LABEL_NAMES] or vectors)
    producer = "a MATLAB v7.3 file"
    if len(matrices) > 1 and x != "X":
        producer += (f" (one of {len(matrices)} matrices in the file: {', '.join(matrices[:LISTED])}"
                     f"{', ...' if len(matrices) > LISTED else ''}; --x names the one to read)")
    return producer, {"x": x, **({"y": y} if y is not None else {})}


def _labels_of(x: str, names: list[str]) -> str | None:
    """Of ``names`` (labels, in order of preference), the first of ``x``'s part of the data (y_train for X_train),
    else the first of none (neither train nor test), else the training part's (y_train beside a plain X)."""
    same = [n for n in names if splitnames.part(n) == splitnames.part(x)]
    return (same or [n for n in names if not splitnames.part(n)] or splitnames.training_first(names) or [None])[0]


def labels_beside(f: h5py.Group, rows: int, x: str = "") -> str | None:
    """The dataset in the group ``f`` (the root) but ``x`` of ``rows`` rows, a vector or a column, named as labels
    are (LABEL_NAMES, the first of them that there is; y_train for an X_train, data/splitnames.py), or None."""
    named = [n for n, o in members(f) if n != x and splitnames.base(n) in LABEL_NAMES and isinstance(o, h5py.Dataset)
             and o.ndim in (1, 2) and o.shape[0] == rows and (o.ndim == 1 or o.shape[1] == 1)]
    return _labels_of(x, sorted(named, key=lambda n: LABEL_NAMES.index(splitnames.base(n))))


def whole(obj, y: str) -> tuple[object, str]:
    """What ``--y`` reads for ``obj`` at ``y``: the ``values`` of a nullable column or of a Series stand for the
    column (read through its mask; as a Series is, so a datetime Series or an empty one's placeholder is no
    labels)."""
    if isinstance(obj, h5py.Dataset) and obj.name.endswith("/values") and (
            encoding(obj.parent) in NULLABLE or pandas_type(obj.parent) == "series"):
        return obj.parent, y.rsplit("/", 1)[0]
    return obj, y


def group_labels(g: h5py.Group, y: str, where: str, classes: list[str] | None, what: str, memory: int):
    """A group named as ``--y``: a categorical (codes and categories), an AnnData nullable column, a pandas
    Series; InputError for any other.  ``memory``: what the pass that finds the names of text labels keeps to."""
    if "codes" in g and "categories" in g:  # AnnData (and pandas-in-HDF5 writers) categorical
        if isinstance(g["categories"], h5py.Dataset):
            refuse_unwritten(g["categories"], where_of(g["categories"]), "category")
        return categorical_labels(Column(g["codes"], y), g["categories"][()], where_of(g["codes"]), classes)
    if encoding(g) in NULLABLE:
        return nullable_labels(g, y, where, classes, memory)
    if pandas_type(g) in SERIES_TYPES:
        return _series(g, where, classes, memory)
    if pandas_type(g) in FRAME_TYPES:
        raise InputError(f"{where}: is a pandas frame, not a column of {what}: " + (
            f"take the labels from one of its columns with --x {y} --label-column NAME, or write them as a Series"
            if what == "labels" else f"take the weights from one of its columns with --x {y} --weight-column NAME"))
    if encoding(g) == "dataframe":  # AnnData's obs or var
        columns = frame_columns(g)
        listed = ", ".join(columns[:8]) + (", ..." if len(columns) > 8 else "")
        raise InputError(f"{where}: is AnnData's frame of {len(columns)} column{'s' * (len(columns) != 1)}" + (
            f" ({listed}), not a column of {what}; name the column that holds them: {named_as(what, y, columns)}"
            if columns else f", not a column of {what}"))
    raise InputError(f"{where}: is a group, not a {what} dataset")




def part_of_pandas(ds: h5py.Dataset, y: str, where: str, what: str = "labels") -> None:
    """InputError where ``--y`` (or --sample-weight: ``what`` is weights) names the table of a pandas Series or
    frame: the key is what is read."""
    kind = pandas_type(ds.parent)
    if ds.dtype.fields is not None and kind in SERIES_TYPES + FRAME_TYPES:
        key = y.rsplit("/", 1)[0]
        series = kind in SERIES_TYPES
        read = (f"--{'y' if what == 'labels' else 'sample-weight'} {key}" if series else
                f"--x {key} --{'label' if what == 'labels' else 'weight'}-column NAME")
        raise InputError(f"{where}: is the table of the pandas {'Series' if series else 'frame'} {key}, which is "
                         f"read whole: {read}")


def _series(g: h5py.Group, where: str, classes: list[str] | None, memory: int):
    """A pandas Series as labels: its values (fixed format), or its one column (table format: numbers, text with
    the table's ``nan_rep`` a missing label, or a Categorical's codes read through its categories)."""
    if pandas_type(g) == "series":
        values = series_values(g, where)
        if is_text(values.dtype):
            return text_labels(values, where, classes, memory=memory)
        return (values.ds if packing_of(values.ds) is None else values), None
    found = built(table_frame, g)
    names = [name for s in found.features for name in s.names]
    readable = [source for source in found.text.values() if source is not None]
    if len(names) + len(found.text) + len(found.left_out) != 1:
        raise InputError(f"{where}: a pandas Series (table format) of {len(names) + len(found.text)} columns")
    if readable:
        return text_labels(readable[0], where, classes, found.missing_text, memory=memory)
    if found.left_out:
        raise InputError(f"{where}: a pandas Series of {next(iter(found.left_out.values()))} values, which sgdcli "
                         "reads neither as labels nor as features")
    if not names:
        raise InputError(f"{where}: a pandas Series whose values are neither numbers nor text")
    source = found.features[0]
    codes = Fields(source.ds, source.fields, source.names, source.cols)  # a Categorical's codes as stored
    if names[0] in found.categorical:
        return categorical_labels(codes, categories(g, found.categorical[names[0]], where), where, classes)
    return codes, None


def pandas_keys(f: h5py.File, depth: int = 8) -> tuple[list[str], list[str]]:
    """The keys of the pandas frames and Series in ``f`` (``to_hdf``'s keys: groups anywhere in the file),
    without looking inside them."""
    frames, series = [], []

    def walk(group, prefix, level):
        for name, obj in members(group):
            if not isinstance(obj, h5py.Group):
                continue
            kind = pandas_type(obj)
            if kind in FRAME_TYPES:
                frames.append(prefix + name)
            elif kind in SERIES_TYPES:
                series.append(prefix + name)
            elif level < depth:
                walk(obj, f"{prefix}{name}/", level + 1)

    walk(f, "", 0)
    return frames, series


def pandas_options(f: h5py.File, frames: list[str], series: list[str]) -> tuple[str, dict]:
    """The options of a file of pandas frames: the frame to train on (one named for training where there are
    several, else the first that can be read), and its labels: a column named as labels are, else a Series of
    its rows (``y.to_hdf``), else its last column. Every frame that can be read is named where there are
    several."""
    readable = {}
    for key in frames:
        try:
            found = (fixed_frame if pandas_type(f[key]) == "frame" else table_frame)(f[key])
        except (InputError, KeyError, OSError, RuntimeError, ValueError, TypeError):
            continue
        if found.features and found.features[0].n_rows:
            readable[key] = found
    if not readable:  # none can be read: the first, whose error info shows
        return "a pandas frame", {"x": frames[0], "label_column": "<label>"}
    key = splitnames.training_first(list(readable))[0]  # (train, df_train, trainset: not test, df_val)
    found = readable[key]
    columns = [n for s in found.features for n in s.names] + [n for n, r in found.text.items() if r]
    beside = [k for k in series if series_rows(f[k]) == found.features[0].n_rows]
    beside = [k for k in beside if k.rsplit("/", 1)[-1].lower() in LABEL_NAMES] or beside
    producer = "a pandas frame"
    if len(readable) > 1:
        keys = list(readable)
        producer += (f" (one of {len(keys)} in the file: {', '.join(keys[:LISTED])}"
                     f"{', ...' if len(keys) > LISTED else ''}; --x names the one to read)")
    if beside and not any(c.lower() in LABEL_NAMES for c in columns):
        return producer, {"x": key, "y": beside[0]}
    pickled = [n for n, r in found.text.items() if r is None and n.lower() in LABEL_NAMES]
    if pickled and not any(c.lower() in LABEL_NAMES for c in columns):  # not the last feature in its place
        return (f"{producer} of key {key!r}, whose label column {pickled[0]!r} is text that pandas' fixed format "
                "pickles, which sgdcli does not read; write the frame with format='table'"), {}
    return producer, {"x": key, "label_column": label_of(columns)}
