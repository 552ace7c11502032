"""MuData files (``.h5mu``: mudata, muon, R's MuData): an AnnData group per modality in ``mod/<name>`` (RNA,
protein, ATAC ...), each with its own ``X``, ``obs`` and ``var``, and an ``obs`` of the file's own, a row per
cell of any modality.  The root's ``encoding-type`` says MuData (mudata writes ``MuData``, R's writers other
cases).

A modality trains as an AnnData file does (``--x mod/<name>/X``, its columns
named by its own ``var``: data/anndatafiles.py ``var_of``).  Its labels are a
column of its own ``obs``, or of the file's, which fits it only where the
modality measured every cell, in the file's order: ``obsmap/<name>`` (the
modality's row of each of the file's cells, from 1; 0 where it has none) is
then 1, 2, 3, ...  Anywhere else the file's labels would be another cell's,
so they are refused, naming the modality's own.
"""

from __future__ import annotations

import h5py
import numpy as np

from sgdcli.data.anndatafiles import encoding, frame_columns, label_rank
from sgdcli.data.hdf5 import members
from sgdcli.data.sources import text_of
from sgdcli.errors import InputError, listed


def is_mudata(f: h5py.File) -> bool:
    """Whether ``f`` is a MuData file: AnnData groups, a modality each, in ``mod``."""
    return encoding(f).lower() == "mudata" and isinstance(f.get("mod"), h5py.Group)


def options(f: h5py.File, label_names: tuple[str, ...]) -> tuple[str, dict]:
    """A MuData file's options: the first modality's ``X`` (in ``mod-order``), and its labels from a column of
    that modality's ``obs`` named as labels are (or as a cell's type: anndatafiles.label_rank), else of the
    file's own ``obs`` where its rows are the modality's (``aligned``; mudata names the columns it copies there
    ``<modality>:<column>``), else the first of those columns."""
    mods = f["mod"]
    order = [text_of(m) for m in mods.attrs.get("mod-order", [])]
    names = sorted((n for n, o in members(mods) if isinstance(o, h5py.Group)),
                   key=lambda n: order.index(n) if n in order else len(order))
    held = [n for n in names if isinstance(f.get(f"mod/{n}/X"), (h5py.Dataset, h5py.Group))]
    if not held:
        return "a MuData file without a modality's X (no features to train on)", {}
    own = f"mod/{held[0]}/obs"
    columns = [f"{own}/{c}" for c in frame_columns(f.get(own))]
    if aligned(f, held[0]):
        columns += [f"obs/{c}" for c in frame_columns(f.get("obs"))]
    ranked = sorted(columns, key=lambda c: label_rank(c.rpartition("/")[2], label_names))
    y = ranked[0] if ranked else f"{own}/<column>"
    return (f"a MuData file (modalities: {listed(names, what='modalities')}; --x names the one to read)"
            ), {"x": f"mod/{held[0]}/X", "y": y}


def aligned(f: h5py.File, modality: str) -> bool:
    """Whether the file's ``obs`` has the rows of ``modality``'s, in its order: ``obsmap/<modality>`` is 1, 2,
    3, ..., or, where there is no such map, the two indexes are the same."""
    own = _index(f.get(f"mod/{modality}/obs"))
    mapped = f.get(f"obsmap/{modality}")
    if own is None:
        return False
    if isinstance(mapped, h5py.Dataset) and mapped.ndim == 1:
        return mapped.shape[0] == own.shape[0] and np.array_equal(mapped[()], np.arange(1, own.shape[0] + 1))
    every = _index(f.get("obs"))
    return every is not None and every.shape == own.shape and np.array_equal(every[()], own[()])


def modality_of(f: h5py.File, x: str) -> str | None:
    """The modality whose matrix ``x`` is (``mod/<name>/...``) in a MuData file, else None."""
    parts = x.strip("/").split("/")
    if len(parts) > 2 and parts[0] == "mod" and is_mudata(f) and isinstance(f.get(f"mod/{parts[1]}/obs"), h5py.Group):
        return parts[1]
    return None


def other_rows(f: h5py.File, x: str, y: str) -> str:
    """What to add to the row-count error of ``y``'s labels beside ``x``, where ``y`` is a column of the file's
    own ``obs`` and ``x`` a modality's matrix: the modality's own ``obs``; "" for any other."""
    modality = _file_labels(f, x, y)
    return f": {_told(x, modality, '')}" if modality else ""


def check_order(f: h5py.File, x: str, y: str, where: str) -> None:
    """InputError naming ``where`` (``y`` in the file) where ``y``, a column of the file's own ``obs``, has the
    rows of the modality's matrix ``x`` in another order (``aligned``): they would be other cells' labels."""
    modality = _file_labels(f, x, y)
    if modality is not None and not aligned(f, modality):
        raise InputError(f"{where}: {_told(x, modality, ', in another order')}")


def _file_labels(f: h5py.File, x: str, y: str) -> str | None:
    """The modality of ``x`` where ``y`` is a column of the file's own ``obs``, else None."""
    return modality_of(f, x) if y.strip("/").startswith("obs/") else None


def _told(x: str, modality: str, how: str) -> str:
    return (f"the file's obs has a row per cell of any modality, {x} one per cell of its own{how}; take the labels "
            f"from its obs, --y mod/{modality}/obs/<column>")


def _index(frame) -> h5py.Dataset | None:
    """A dataframe group's index."""
    index = frame.get(text_of(frame.attrs.get("_index", "_index"))) if isinstance(frame, h5py.Group) else None
    return index if isinstance(index, h5py.Dataset) and index.ndim == 1 else None
