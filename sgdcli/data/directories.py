"""What a directory given where sgdcli reads a file holds, for its refusal: the stores of other tools that hold
what their HDF5 files hold (docs/other-tools.md), told with the line that writes such a file.

Only the directory's names and a Zarr group's attributes are read (no HDF5, no Zarr library): a refusal, not a
reader.
"""

from __future__ import annotations

import json
import os

ZARR_MARKS = (".zgroup", ".zattrs", "zarr.json")  # a Zarr store's root: version 2's files, version 3's
MTX_MARKS = ("matrix.mtx", "matrix.mtx.gz")  # Cell Ranger's Matrix Market directory


def directory_refusal(path: str) -> str | None:
    """What the directory ``path`` is, where it is a store another tool writes in place of a file sgdcli reads (a
    Zarr store, a 10x Genomics Matrix Market directory), and what to do: the end of a refusal ("PATH is ...");
    else None."""
    try:
        names = set(os.listdir(path))
    except OSError:
        return None
    if names.intersection(ZARR_MARKS):
        kind = _zarr_kind(path)
        ways = {"anndata": [f"anndata.read_zarr({path!r}).write_h5ad('cells.h5ad')"],
                "xarray": [f"xarray.open_zarr({path!r}).to_netcdf('data.nc', engine='h5netcdf')"]}
        said = ways.get(kind, ways["anndata"] + ways["xarray"])
        who = {"anndata": "an AnnData", "xarray": "an xarray"}.get(kind, "a")
        return (f"{who} Zarr store (a directory), which sgdcli "
                f"does not read: write it as HDF5, {' or '.join(said)} (docs/other-tools.md)")
    if names.intersection(MTX_MARKS):
        return ("a 10x Genomics Matrix Market directory, which sgdcli does not read: Cell Ranger "
                "writes the same counts as HDF5 beside it (filtered_feature_bc_matrix.h5, read with --x matrix), "
                f"or scanpy.read_10x_mtx({path!r}).write_h5ad('cells.h5ad') (docs/other-tools.md)")
    return None


def _zarr_kind(path: str) -> str | None:
    """Who wrote the Zarr store at ``path``, by its root group's attributes: "anndata" (its encoding-type),
    "xarray" (a variable's _ARRAY_DIMENSIONS, or dimension names), or None."""
    attrs = {}
    for name in (".zattrs", "zarr.json"):
        try:
            with open(os.path.join(path, name), encoding="utf-8") as f:
                found = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(found, dict):
            attrs.update(found.get("attributes", found) if name == "zarr.json" else found)
    if attrs.get("encoding-type") == "anndata":
        return "anndata"
    children = [entry for entry in os.listdir(path) if os.path.isdir(os.path.join(path, entry))]
    for child in children:
        for name in (".zattrs", "zarr.json"):
            try:
                with open(os.path.join(path, child, name), encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                continue
            if "_ARRAY_DIMENSIONS" in text or '"dimension_names"' in text:
                return "xarray"
    return None
