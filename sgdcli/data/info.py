"""``info``: what an HDF5 file holds and how sgdcli will read each dataset."""

from __future__ import annotations

import os
import warnings

import h5py

from sgdcli.data import hdf5, loomfiles, recognize
from sgdcli.data.cf import packing_of
from sgdcli.data.featurenames import dimension_only
from sgdcli.data.layout import BLOCKS, layout_of, unavailable_filter
from sgdcli.data.unwritten import AllocatedEarly, early, unwritten
from sgdcli.errors import InputError, first_line


def describe(path) -> dict:
    """Every dataset of ``path`` with its shape, dtype, layout and read mode; those reached through soft and
    external links too (``link``: where to), and the links that lead nowhere (``error``)."""
    with hdf5.open_file(path) as f:
        datasets, groups = [], [("", f)]

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                datasets.append(_dataset(name, obj))
            elif isinstance(obj, h5py.Group):
                groups.append((name + "/", obj))

        with hdf5.reading(f"{path}", "cannot list datasets"):
            f.visititems(visit)
            for name, target in _links(groups):
                try:
                    obj = f.get(name)
                except (*hdf5.READ_ERRORS, KeyError) as exc:
                    datasets.append({"path": name, "error": f"a link to {target}: {first_line(exc)}"})
                    continue
                if obj is None:
                    datasets.append({"path": name, "error": f"a link to {target}, which cannot be opened"})
                elif isinstance(obj, h5py.Dataset):
                    datasets.append({**_dataset(name, obj), "link": target})
            found = recognize.recognize(f)
        datasets.sort(key=lambda d: d["path"])
        out = {"file": os.fspath(path), "size": os.path.getsize(path), "datasets": datasets}
        if found is not None:
            out["looks_like"] = {"producer": found[0], "options": recognize.flags(found[1])}
            if found[1]:  # (an AnnData file without features has none)
                out["looks_like"].update(_table(path, found[1]))
        elif isinstance(f.get("X"), (h5py.Dataset, h5py.Group)):  # the datasets train reads unless told
            out["table"] = _table(path, {"x": "X", "y": "y" if "y" in f else None})
        return out


def _dataset(name: str, obj: h5py.Dataset) -> dict:
    """``info``'s entry for one dataset: its layout and read mode, or why it cannot be read."""
    try:
        problem = unavailable_filter(obj)
        if problem is not None:  # unreadable, not a read mode a read would fail in
            return {"path": name, "error": problem}
        layout = {**layout_of(obj).as_dict(), "path": name}  # the name it is reached by: a link's, not its target's
        axis = obj.ndim - 1 if obj.ndim == 2 and ("MATLAB_class" in obj.attrs or loomfiles.by_gene(obj)) else 0
        missing = unwritten(obj, axis)
        layout["unwritten_rows"] = missing.rows if missing is not None else 0
        if dimension_only(obj):  # netCDF's dimension without a variable: no data, by design, not rows unwritten
            layout.update(unwritten_rows=0, dimension_scale="no data")
        if early(obj):  # allocated at creation: allocated is no sign of written (data/unwritten.py)
            layout["allocated_early"] = True
        packing = packing_of(obj)
        if packing is not None:  # read in blocks, each decoded (data/sources.py)
            layout.update(read_mode=BLOCKS, decoded=packing.describe())
    except (*hdf5.READ_ERRORS, InputError) as exc:
        return {"path": name, "error": first_line(exc)}
    layout.pop("offset", None)
    return layout




def _links(groups: list) -> list[tuple[str, str]]:
    """(path, where it leads) of every soft and external link in ``groups`` ((path prefix, group)), which
    h5py's visit does not follow."""
    out = []
    for prefix, group in groups:
        for name in group:
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.SoftLink):
                out.append((prefix + name, link.path))
            elif isinstance(link, h5py.ExternalLink):
                out.append((prefix + name, f"{link.path} in {link.filename}"))
    return out


def _table(path, options: dict) -> dict:
    """How the table those options find will be read: its kind, rows, features and read mode (or why not)."""
    from sgdcli.data.table import Table

    keywords = {k: v for k, v in options.items()
                if k in ("x", "y", "label_column", "features") and not recognize.placeholder(v)}
    keywords.setdefault("y", None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AllocatedEarly)  # each such dataset's line says so
            table = Table(path, **keywords)
        with table:
            out = {"kind": table.x_kind, "rows": table.n_rows, "features": table.n_features,
                   "labels": table.Y is not None,
                   "feature_names": table.feature_names or [],  # all of them: the text lists the first few
                   "read_mode": table.X.layout.read_mode}
            if table.left_out:  # the columns that are no features, by what they hold
                out["left_out"] = table.left_out
            if table.sparse:
                out.update(nonzeros=table.X.reader.nnz, density=table.X.reader.density)
            if table.hashing:
                out["hashing"] = table.hashing
            if table.encoding is not None:
                out["encoding"] = table.encoding
            if table.categories:  # the features that hold codes: {category: code} of each (data/categories.py)
                out["categories"] = table.categories
            return out
    except InputError as exc:
        return {"error": str(exc)}
