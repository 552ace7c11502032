"""``info``: what an HDF5 file holds and how sgdcli will read each dataset."""

from __future__ import annotations

import os

import h5py

from sgdcli.data import hdf5
from sgdcli.data.layout import layout_of
from sgdcli.errors import first_line


def describe(path) -> dict:
    """Every dataset of ``path`` with its shape, dtype, layout and read mode."""
    with hdf5.open_file(path) as f:
        datasets = []

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                try:
                    layout = layout_of(obj).as_dict()
                except hdf5.READ_ERRORS as exc:
                    layout = {"path": name, "error": first_line(exc)}
                layout.pop("offset", None)
                datasets.append(layout)

        with hdf5.reading(f"{path}", "cannot list datasets"):
            f.visititems(visit)
        return {"file": os.fspath(path), "size": os.path.getsize(path), "datasets": datasets}
