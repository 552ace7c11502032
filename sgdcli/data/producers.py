"""Where the features and the labels are in the files that pandas, PyTables, AnnData, MATLAB and scripts write.

``--x`` names what holds the features:

- a 2-D dataset, rows × features (h5py, xarray, AnnData's dense ``X``); a
  dataset with a ``MATLAB_class`` attribute (MATLAB v7.3) is stored
  column-major and read as the transposed matrix it is, as is any other with
  ``--transpose``;
- a compound dataset (PyTables, NumPy record arrays): its fields in order, a
  vector field giving one column per element;
- a pandas frame group (``df.to_hdf``): fixed format, its blocks joined in the
  frame's column order; table format, its compound table, value columns in
  the frame's order (the index is left out);
- any other group of equal-length 1-D datasets, one per column (xarray and
  netCDF variables of one dimension, many loggers), in creation order where
  the file tracks it, else by name; a dimension scale among them (a netCDF
  coordinate, or the scale netCDF writes for a dimension without one) is the
  rows' index, not a feature, and is left out, as pandas' index is, and so
  are xarray's other coordinates and CF times (data/columngroup.py).

``--label-column`` takes the label from one of those columns (by name, or by
index when no column has that name; a pandas Categorical, which the table
format stores as its codes, is read as names through its categories) and
leaves it out of the features;
``--features`` keeps only the columns it lists.  ``--y`` names a labels
dataset: 1-D, (N, 1), a MATLAB (1, N) vector, AnnData's categorical ``obs``
column (a group of ``codes`` and ``categories``, or in anndata 0.7 the codes
whose attribute refers to the categories; a code of -1, a missing value,
counts as a bad label), or a field of a compound dataset as ``TABLE/FIELD``
(data/fieldlabels.py).
"""

from __future__ import annotations

import h5py
import numpy as np

from sgdcli.data import anndatafiles, featurenames, fieldlabels, knownfiles, loomfiles, matlab, tenxfiles
from sgdcli.data.recognize import suggestion
from sgdcli.data.columngroup import NAMED_TYPE, column_group
from sgdcli.data.cf import packing_of
from sgdcli.data.enums import EnumNames, enum_label, enum_names
from sgdcli.data.hdf5 import find, list_datasets
from sgdcli.data.numeric import NUMERIC_KINDS
from sgdcli.data.pandasframes import SERIES_TYPES, CodedFields, fixed_frame, table_frame
from sgdcli.data.pandasmeta import categories
from sgdcli.data.columnindex import column_index, numbered, select
from sgdcli.data.sources import Column, Fields, Found, Matrix, Source, built, not_a_feature, numeric_fields, text_of
from sgdcli.data.textlabels import categorical_labels, is_text, text_labels
from sgdcli.data.where import where_in, where_of
from sgdcli.namelists import split_names
from sgdcli.errors import InputError, first_line
from sgdcli.options import DEFAULT_MEMORY
from sgdcli.sizes import MemoryShort


def _names_attr(ds: h5py.Dataset, width: int, transposed: bool) -> list[str]:
    """Column names from a ``columns`` attribute (a list of strings, one per column) or ``feature_names`` (what
    convert writes), else from AnnData's ``var`` or a dimension scale (xarray's coordinate; data/featurenames.py),
    else their indices."""
    for attr in ("columns", "feature_names"):
        names = ds.attrs.get(attr)
        if names is not None and np.ndim(names) == 1 and len(names) == width:
            return [text_of(v) for v in names]
    return featurenames.column_names(ds, width, transposed) or [str(j) for j in range(width)]


def _matrix(ds: h5py.Dataset, transpose: bool) -> Found:
    if 0 in ds.shape:
        raise InputError(f"{where_of(ds)}: dataset is empty (shape {ds.shape})")
    matlab, loom = "MATLAB_class" in ds.attrs, loomfiles.by_gene(ds)
    transposed = transpose or matlab or loom
    width = int(ds.shape[0] if transposed else ds.shape[1])
    names = _names_attr(ds, width, transposed)
    kind = "MATLAB matrix (column-major, read transposed)" if matlab else "Loom matrix (a row per gene, read " \
        "transposed)" if loom else "matrix stored transposed (--transpose)" if transposed else "matrix"
    source = Matrix(ds, np.arange(width), names, transposed)  # CF-packed (data/cf.py): decoded as read, not mapped
    return Found([source], None, kind, plain=not transposed and source.packing is None)


def _compound(ds: h5py.Dataset, text_ok) -> Found:
    """The numeric fields as features; a text field is an error unless ``text_ok(name)`` (it is the label, or
    --features leaves it out)."""
    fields, text = numeric_fields(ds)
    for name, kind in text.items():
        if not text_ok(name):
            raise InputError(f"{where_of(ds)}: field {name!r} is {kind}, {not_a_feature(kind)}; leave it out with "
                             "--features")
    names = [name if width == 1 else f"{name}[{i}]" for name, width in fields for i in range(width)]
    readers = {name: Fields(ds, [name], [name]) if is_text(kind) and not kind.shape else None
               for name, kind in text.items()}
    return Found([Fields(ds, [name for name, _ in fields], names)], None, "compound table", plain=False,
                 text=readers)


def _subset(source: Source, local: list[int]) -> Source:
    """The columns ``local`` (positions in ``source``) of ``source``, in that order."""
    names = [source.names[j] for j in local]
    if isinstance(source, CodedFields):
        return CodedFields(source.ds, source.fields, names, source.cols[local], source.coded)
    if isinstance(source, Matrix):
        return Matrix(source.ds, source.cols[local], names, source.transposed)
    if isinstance(source, Fields):
        return Fields(source.ds, source.fields, names, source.cols[local])
    return source  # one column


def _select(found: Found, keep: list[int]) -> list[Source]:
    """The table's columns ``keep`` (indices over all its columns), as sources, neighbours of one source joined."""
    owner = [(s, j) for s in found.features for j in range(s.width)]
    out: list[Source] = []
    run: list[int] = []
    current = None
    for k in keep:
        s, j = owner[k]
        if s is not current and run:
            out.append(_subset(current, run))
            run = []
        current = s
        run.append(j)
    if run:
        out.append(_subset(current, run))
    return out


def lookup(f: h5py.File, path: str, what: str, option: str = "x"):
    """The object at ``path``, or InputError: "no such <what>", with the options a recognized producer needs
    or the file's datasets (``option``: the option that named ``path``, which the options suggested hold)."""
    where = where_in(f.filename, path)
    try:
        obj = find(f, path)
    except (KeyError, OSError, RuntimeError, ValueError) as exc:
        raise InputError(f"{where}: cannot read ({first_line(exc)})") from None
    if obj is None:
        try:
            link = f.get(path, getlink=True)
        except (KeyError, OSError, RuntimeError, ValueError):
            link = None
        if isinstance(link, h5py.ExternalLink):
            raise InputError(f"{where}: is a link to {link.path} in {link.filename}, which cannot be opened")
        if isinstance(link, h5py.SoftLink):
            raise InputError(f"{where}: is a link to {link.path}, which is not in the file")
        hint = suggestion(f, option)
        raise InputError(f"{where}: no such {what}" + (f"; {hint}" if hint else
                         f" (datasets in file: {', '.join(list_datasets(f)[:12]) or 'none'})"))
    if isinstance(obj, h5py.Datatype):  # netCDF-4 keeps its enum and compound types so, beside the variables
        raise InputError(f"{where}: is {NAMED_TYPE}, not a {what}; name the dataset that has this type")
    return obj


def _layout(f: h5py.File, x: str, transpose: bool, text_ok) -> tuple[h5py.Group | h5py.Dataset, Found]:
    """What ``--x`` names and the columns its layout holds, all of them; a compound table's text field is an
    error unless ``text_ok(name)``."""
    where = where_in(f.filename, x)
    obj = lookup(f, x, "dataset or group")
    matrix = tenxfiles.holding(f, x)
    if matrix is not None:  # (its datasets, and its features' group, are no table: the matrix is their group)
        raise InputError(f"{where}: is a part of a 10x Genomics matrix, not a matrix: its matrix is --x {matrix}")
    unread = matlab.problem(obj, where)
    if unread is not None:
        raise InputError(unread)
    if matlab.matlab_class(obj) == "char":
        raise InputError(f"{where}: is a MATLAB char array, text (its numbers are character codes), not features; "
                         "names read as labels go in --y")
    if transpose and (isinstance(obj, h5py.Group) or obj.dtype.fields is not None or "MATLAB_class" in obj.attrs
                      or loomfiles.by_gene(obj)):
        what = ("a MATLAB matrix, read transposed already (MATLAB stores by columns)" if "MATLAB_class" in obj.attrs
                else "a Loom matrix, read transposed already (Loom stores a row per gene)" if loomfiles.by_gene(obj)
                else "a pandas frame" if "pandas_type" in obj.attrs else "a group of columns"
                if isinstance(obj, h5py.Group) else "a table, one row per element")
        raise InputError(f"--transpose: {where} is {what}; it applies to a 2-D matrix stored features × rows")
    if isinstance(obj, h5py.Group):
        pandas = text_of(obj.attrs.get("pandas_type", b""))
        encoding = text_of(obj.attrs.get("encoding-type", b""))
        if encoding == "csc_matrix":  # (CSR, by rows, is read by data/sparse.py before this)
            shape = tuple(obj.attrs.get("shape", ()))
            others = anndatafiles.by_rows(obj.file, shape[0]) if len(shape) == 2 else []
            raise InputError(f"{where}: is a sparse matrix stored by columns (csc_matrix); sgdcli reads sparse "
                             "matrices stored by rows: write it as a csr_matrix (scipy's .tocsr())" + (
                                 f", or train on {' or '.join('--x ' + n for n in others[:2])}, the same rows "
                                 "stored so" if others else ""))
        if pandas in SERIES_TYPES:
            raise InputError(f"{where}: is a pandas Series, one column, which sgdcli reads as labels (--y {x}), "
                             "not as features: --x names a frame, a matrix or a table (series.to_frame() makes a "
                             "frame of one feature)")
        if encoding in anndatafiles.NULLABLE or encoding == "categorical":
            raise InputError(f"{where}: is an AnnData {encoding} column, which sgdcli reads as labels (--y {x}), "
                             "not as features")
        if encoding.lower() in ("anndata", "raw"):  # a MuData modality, AnnData's raw: the matrix is X
            raise InputError(f"{where}: is {'a MuData modality' if encoding.lower() == 'anndata' else 'AnnData raw'}"
                             f", not a matrix: its matrix is --x {x.strip('/')}/X")
        if pandas == "frame":
            found = built(fixed_frame, obj)
        elif pandas == "frame_table" and "table" in obj:
            found = built(table_frame, obj)
        else:
            found = column_group(obj)
    elif obj.dtype.fields is not None:
        if obj.ndim != 1:
            raise InputError(f"{where}: a compound dataset is read as a table, one row per element, so it must be "
                             f"1-D; got shape {obj.shape}")
        found = _compound(obj, text_ok)
    elif obj.ndim == 2:
        if obj.dtype.kind not in NUMERIC_KINDS:
            raise InputError(f"{where}: dtype {obj.dtype} is not numeric")
        found = _matrix(obj, transpose)
    else:
        raise InputError(f"{where}: expected a 2-D feature matrix (rows × features), a table or a group of columns, "
                         f"got shape {obj.shape}")
    return obj, found


def find_features(f: h5py.File, x: str, label_column: str | None = None, features: str | list | None = None,
                  transpose: bool = False, classes: list[str] | None = None, labels: bool = True,
                  memory: int = DEFAULT_MEMORY, weight_column: str | None = None) -> Found:
    """The feature columns that ``--x`` names (and ``--label-column``'s label, ``--weight-column``'s weights), or
    InputError with a hint.

    ``features``: the columns to keep, comma-separated text or a list of names; ``classes``: a model's class
    names, which a label column of names is read as the codes of (else its names are found within ``memory``,
    --memory).  Without ``labels`` (predict), the label column is only left out of the features: no label is
    built, so none of its values, its categories or its storage is read or checked (a column of text or of
    datetimes, no feature, is left out as it is), and the weight column likewise.
    """
    where = where_in(f.filename, x)
    obj, found = _layout(f, x, transpose, lambda name: features is not None or name == label_column)
    names = [name for s in found.features for name in s.names]
    if not names or found.features[0].n_rows == 0:
        raise InputError(f"{where}: has no rows or no numeric columns" + _left_out_said(found))
    listed = [] if features is None else features if isinstance(features, list) else split_names(features)
    if label_column in found.text and label_column in listed:  # (a numeric one: below, once it is found)
        raise InputError(f"--label-column {label_column}: is also listed in --features")
    keep = (list(range(len(names))) if features is None else
            select(names, features, where, found.text, found.left_out))
    label, class_names, label_at = None, None, None
    no_feature = label_column in found.text or label_column in found.left_out  # without labels: left as it is
    if label_column is not None and labels and found.text.get(label_column) is not None:  # names as labels
        try:
            label, class_names = text_labels(found.text[label_column], f"{where}:{label_column}", classes,
                                             found.missing_text, memory=memory)
        except MemoryShort as short:  # (what the epochs' blocks of those rows take too: data/table.py)
            raise short.beside(len(keep)) from None
    elif label_column is not None and (labels or not no_feature):
        try:
            k = column_index(names, label_column, "--label-column", where, found.text, left_out=found.left_out)
        except InputError as exc:  # an AnnData file's labels are a column of obs, not of X
            hint = anndatafiles.obs_column(f, label_column, "--y")
            raise InputError(f"{exc}; {hint}" if hint else str(exc)) from None
        if features is not None and k in keep:
            raise InputError(f"--label-column {label_column}: is also listed in --features")
        keep, label_at = [j for j in keep if j != k], k
        if labels:
            label, class_names = _column_label(found, obj, k, f"{where}:{names[k]}", classes, memory)
    weight = None
    if weight_column is not None and weight_column == label_column:
        raise InputError(f"--weight-column {weight_column}: is the label column (--label-column)")
    # (predict reads nothing of it: a column that is no feature, text say, is left as it is)
    if weight_column is not None and (labels or not (weight_column in found.text or weight_column in found.left_out)):
        try:
            k = column_index(names, weight_column, "--weight-column", where, found.text, left_out=found.left_out)
        except InputError as exc:  # an AnnData file's weights are a column of obs, not of X
            hint = anndatafiles.obs_column(f, weight_column, "--sample-weight")
            raise InputError(f"{exc}; {hint}" if hint else str(exc)) from None
        if k == label_at:
            raise InputError(f"--weight-column {weight_column}: is the label column (--label-column)")
        if features is not None and k in keep:
            raise InputError(f"--weight-column {weight_column}: is also listed in --features")
        keep = [j for j in keep if j != k]
        weight = _column_weight(found, obj, k, f"{where}:{names[k]}") if labels else None
    if not keep:
        raise InputError(f"{where}: no feature columns are left" + _left_out_said(found))
    plain = found.plain and keep == list(range(len(names)))
    # (0, 1, 2 beside the label and the weights: numbered)
    named = not numbered([name for name in names if name not in (label_column, weight_column)])
    return Found(_select(found, keep), label, found.kind, plain, found.text, class_names,
                 left_out=found.left_out, missing_text=found.missing_text, named=named, weight=weight)


def _column_weight(found: Found, obj, k: int, column: str) -> Source:
    """The row weights that column ``k`` of the table holds: numbers, not codes of names."""
    weight = _select(found, [k])[0]
    name = weight.names[0]
    if name in found.categorical or enum_label(weight) is not None or \
            (isinstance(obj, h5py.Dataset) and anndatafiles.field_categories(obj, name) is not None):
        raise InputError(f"--weight-column: {column} holds categories (names), not numbers; row weights are "
                         "numbers >= 0")
    return weight


def _column_label(found: Found, obj, k: int, column: str, classes: list[str] | None, memory: int
                  ) -> tuple[Source, list[str] | None]:
    """The label that column ``k`` of the table holds, and its class names where its values are names."""
    label = _select(found, [k])[0]
    name = label.names[0]
    coded = anndatafiles.field_categories(obj, name) if isinstance(obj, h5py.Dataset) else None
    if coded is not None:  # anndata before 0.7: obs's codes, and uns/<field>_categories
        return categorical_labels(label, coded[()], column, classes)
    if name in found.categorical:  # a pandas Categorical: its codes read as names through its categories
        return categorical_labels(
            Fields(label.ds, label.fields, label.names, label.cols),  # the codes as stored: -1 is missing
            categories(obj, found.categorical[name], column), column, classes)
    if (named := enum_label(label)) is not None:  # an enum column (a compound table's field): its names
        return text_labels(EnumNames(label, named, column), column, classes, memory=memory)  # as an enum --y's
    return label, None


def _left_out_said(found: Found) -> str:
    """The columns a message about no features should name as left out (datetime ones, index levels)."""
    if not found.left_out:
        return ""
    shown = ", ".join(f"{name} ({kind})" for name, kind in list(found.left_out.items())[:6])
    return f" (left out, as no numeric features: {shown}{', ...' if len(found.left_out) > 6 else ''})"


def column_names(f: h5py.File, x: str, transpose: bool = False) -> tuple[list[str], dict[str, str]]:
    """The names of the numeric columns that ``--x`` holds, in order, and of its other columns, without reading
    them, each with what it holds ("text", or Found.left_out's kind): what a model's features are looked up
    among (text fields are no error here)."""
    _, found = _layout(f, x, transpose, lambda name: True)
    return ([name for s in found.features for name in s.names],
            {**{name: "text" for name in found.text}, **found.left_out})


def find_labels(f: h5py.File, y: str, classes: list[str] | None = None, what: str = "labels",
                rows: int | None = None, memory: int = DEFAULT_MEMORY, x: str | None = None
                ) -> tuple[h5py.Dataset | Source, list[str] | None]:
    """What ``--y`` names: a 1-D or (N, 1) dataset (read directly), or a source (MATLAB (1, N), AnnData
    categorical codes, names in a text column, a compound dataset's field); and the class names where labels
    are names.

    ``classes``: the names of a model's classes, which codes then follow (data/textlabels.py); ``what``: what
    the messages call the column (--sample-weight reads "weights" here too); ``rows``: the table's rows, which
    tell which way a MATLAB char matrix of names runs; ``memory``: --memory, which the pass that finds the names
    of labels that are names keeps to; ``x``: --x, whose own table's fields are taken by --label-column.
    """
    if x is not None:
        loomfiles.refuse_gene_labels(f, x, y)
    field = fieldlabels.named_field(f, y, x)  # TABLE/FIELD: a field of a compound dataset
    if field is not None:
        return fieldlabels.field_labels(*field, where_in(f.filename, y), classes, what, memory)
    obj, y = knownfiles.whole(lookup(f, y, "dataset", "y" if what == "labels" else "sample_weight"), y)
    where = where_in(f.filename, y)
    unread = matlab.problem(obj, where)
    if unread is not None:
        raise InputError(unread)
    if isinstance(obj, h5py.Dataset) and matlab.matlab_class(obj) == "char" and what == "labels":
        return text_labels(matlab.char_labels(obj, y, rows), where, classes, memory=memory)
    if isinstance(obj, h5py.Group):
        return knownfiles.group_labels(obj, y, where, classes, what, memory)
    if isinstance(obj, h5py.Dataset) and what == "labels":
        anndatafiles.warn_codes(obj, y, where)
    coded = anndatafiles.referenced_categories(obj, y, where, classes)  # anndata 0.7's categorical
    if coded is not None:
        return coded
    if obj.ndim == 0:
        raise InputError(f"{where}: is a single value, not a column of {what}")
    if obj.dtype.fields is None and is_text(obj.dtype) and (obj.ndim == 1 or obj.ndim == 2 and obj.shape[1] == 1):
        return text_labels(Column(obj, y), where, classes, memory=memory)
    named = enum_names(obj.dtype) if what == "labels" and (obj.ndim == 1 or obj.ndim == 2 and obj.shape[1] == 1) \
        else None
    if named:  # an HDF5 enum: its names are the classes
        return text_labels(EnumNames(Column(obj, y), named, where_of(obj)), where, classes, memory=memory)
    knownfiles.part_of_pandas(obj, y, where, what)
    if obj.ndim == 2 and obj.dtype == np.dtype("S1") and "_Encoding" in obj.attrs:
        raise InputError(f"{where}: is a netCDF character array (a character per element, {obj.shape[1]} a row), "
                         f"which sgdcli does not read as {what}; write them as strings (xarray's default for text)")
    if obj.dtype.fields is not None:  # (anndata before 0.7 wrote obs so)
        raise fieldlabels.whole_table(obj, y, where, what, x)
    if obj.dtype.kind not in NUMERIC_KINDS:
        raise InputError(f"{where}: dtype {obj.dtype} is not numeric")
    if obj.ndim == 2 and "MATLAB_class" in obj.attrs and obj.shape[0] == 1:
        return Matrix(obj, np.array([0]), [y], transposed=True), None
    if obj.ndim == 1 or (obj.ndim == 2 and obj.shape[1] == 1):
        return (obj if packing_of(obj) is None else Column(obj, y)), None  # CF-packed: decoded as read
    raise InputError(f"{where}: expected 1-D {what} (or N × 1), got shape {obj.shape}")


def refuse_feature_labels(found: Found, labels, x: str, where: str) -> None:
    """InputError where the labels (``labels``, --y's dataset or source, at ``where``) are read from a dataset that
    is a feature of ``found`` too: a column of --x's group named as --y (its rows were the labels and a feature,
    and the model learnt them from themselves); --label-column takes it and leaves it out of the features."""
    read = {ds.name for ds, _ in ([(labels, 0)] if isinstance(labels, h5py.Dataset) else labels.stored())}
    shared = next((s for s in found.features if any(ds.name in read for ds, _ in s.stored())), None)
    if shared is not None:
        name = shared.names[0] if len(shared.names) == 1 else None
        raise InputError(f"{where}: is " + (f"column {name!r} of --x {x}, a feature too: take the labels from it with "
                                            f"--label-column {name}, which leaves it out of the features"
                                            if name is not None else
                                            f"read as features of --x {x} too: leave it out with --features"))

