"""A group of equal-length 1-D datasets, one per column: xarray's and netCDF's variables of one dimension, many
loggers' files, MATLAB vectors saved one per column (an N × 1 column stored 1 × N, read transposed).

Its members are its columns, in creation order where the file tracks it, else by name, except what is no
feature, left out and listed (``Found.left_out``) so that ``info`` shows it and ``--features`` or
``--label-column`` naming it says why: a dimension scale (the rows' index, a netCDF coordinate variable), a
variable that the others list in their CF ``coordinates`` attribute (xarray's other coordinates: sample ids,
station names), and CF times or xarray durations, whose numbers are counts of a unit and from a date that
xarray picks for each file it writes (cf.py ``time_units``), as pandas' dates are left out of a frame.  A column
of text (xarray's variables of strings) is no feature either: it can be the label (``Found.text``), as a table's
text fields can.
"""

from __future__ import annotations

import h5py
import numpy as np

from sgdcli.data import cf, featurenames, matlab
from sgdcli.data.numeric import NUMERIC_KINDS
from sgdcli.data.sources import Column, Found, Matrix, text_of
from sgdcli.data.textlabels import is_text
from sgdcli.data.where import where_in, where_of
from sgdcli.errors import InputError, first_line

VAEX = ("; this looks like vaex's layout (a group per column, holding its data), which sgdcli does not read: "
        "export the frame as CSV (df.export_csv) and convert that")
NAMED_TYPE = "a named datatype (a type stored in the file by name, as netCDF-4 stores its enum types)"


def column_group(g: h5py.Group) -> Found:
    """The columns of the group ``g`` (see the module docstring); InputError where a member is no 1-D column of
    numbers or the lengths differ."""
    where = where_of(g) if g.name != "/" else where_in(g.file.filename, "/")
    tracked = g.id.get_create_plist().get_link_creation_order() != 0
    names = list(g) if not tracked else _in_creation_order(g)
    if not names:
        raise InputError(f"{where}: is an empty group; --x names a feature matrix, a table or a group of columns")
    sources, n, left_out, text = [], None, {}, {}
    members = {}
    for name in names:
        try:
            members[name] = g.get(name)
        except (KeyError, OSError, RuntimeError, ValueError) as exc:
            raise InputError(f"{where}: member {name!r} cannot be read ({first_line(exc)})") from None
    coordinates = {c for obj in members.values() if isinstance(obj, h5py.Dataset)
                   for c in text_of(obj.attrs.get("coordinates", b"")).split()}
    for name, obj in members.items():
        unread = matlab.problem(obj, where_of(obj)) if obj is not None else None  # (an empty one: its dimensions)
        if unread is not None:
            raise InputError(unread)
        kind = _not_a_feature(obj, name, coordinates)
        if kind is not None:
            left_out[name] = kind
            continue
        # a MATLAB column vector (N × 1) is stored 1 × N, as MATLAB stores by columns
        matlab_column = isinstance(obj, h5py.Dataset) and obj.ndim == 2 and obj.shape[0] == 1 and obj.shape[1] != 1 \
            and matlab.matlab_class(obj) is not None
        if not isinstance(obj, h5py.Dataset) or not (obj.ndim == 1 or (obj.ndim == 2 and obj.shape[1] == 1)
                                                     or matlab_column):
            shape = ("a dangling link" if obj is None else NAMED_TYPE if isinstance(obj, h5py.Datatype) else
                     getattr(obj, "shape", "a group"))
            vaex = isinstance(obj, h5py.Group) and isinstance(obj.get("data"), h5py.Dataset)
            raise InputError(f"{where}: member {name!r} is {shape}, not a 1-D column; a group of columns holds only "
                             "1-D datasets of the same length" + (VAEX if vaex else ""))
        if obj.dtype.kind not in NUMERIC_KINDS and not is_text(obj.dtype):
            raise InputError(f"{where_of(obj)}: dtype {obj.dtype} is not numeric; leave it out with --features")
        rows = int(obj.shape[1] if matlab_column else obj.shape[0])
        if n is not None and rows != n:
            raise InputError(f"{where}: column {name!r} has {rows} rows but {names[0]!r} has {n}")
        n = rows
        if is_text(obj.dtype):  # names (xarray's string variables): the label, else left out, as a table's text
            text[name] = Column(obj, name)
            continue
        sources.append(Matrix(obj, np.array([0]), [name], transposed=True) if matlab_column else Column(obj, name))
    return Found(sources, None, "column group", plain=False, left_out=left_out, text=text)


def _not_a_feature(obj, name: str, coordinates: set[str]) -> str | None:
    """What the member ``obj`` holds where it is no feature (a kind of ``Found.left_out``), else None."""
    if not isinstance(obj, h5py.Dataset):
        return None
    if featurenames.is_scale(obj):  # the rows' index (xarray's coordinate)
        return featurenames.DIMENSION_SCALE
    if name in coordinates:
        return featurenames.COORDINATE
    return featurenames.CF_TIME if cf.time_units(obj) is not None else None


def _in_creation_order(g: h5py.Group) -> list[str]:
    out: list[str] = []
    g.id.links.iterate(lambda name: out.append(name.decode()), idx_type=h5py.h5.INDEX_CRT_ORDER)
    return out
