"""How a dataset is stored, and so how sgdcli reads it.

Memory-mapped when it is contiguous, allocated and unfiltered; chunks mapped
in place when they are unfiltered; gzip chunks decoded in parallel; otherwise
chunk-aligned row blocks read through HDF5.
"""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np

from sgdcli.data.chunks import mappable_chunks, parallel_decodable
from sgdcli.data.hdf5 import members
from sgdcli.data.numeric import NUMERIC_KINDS


@dataclasses.dataclass(frozen=True)
class Layout:
    """How a dataset is stored and how sgdcli will read it."""

    path: str
    shape: tuple[int, ...]
    dtype: str
    layout: str  # contiguous, chunked, compact, virtual or external
    chunks: tuple[int, ...] | None
    compression: str | None
    logical_bytes: int
    stored_bytes: int
    offset: int | None  # file offset of contiguous, allocated data
    read_mode: str  # memory-mapped, memory-mapped chunks, chunk-aligned blocks (decoded in parallel)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["shape"] = list(self.shape)
        d["chunks"] = list(self.chunks) if self.chunks else None
        return d


PARALLEL_DECODE = "chunk-aligned blocks decoded in parallel"
BLOCKS = "chunk-aligned blocks"
MAPPED_CHUNKS = "memory-mapped chunks"


def _read_mode(ds, layout: str, mappable: bool) -> str:
    if mappable:
        return "memory-mapped"
    if layout == "chunked" and mappable_chunks(ds):
        return MAPPED_CHUNKS
    if layout == "chunked" and parallel_decodable(ds):
        return PARALLEL_DECODE
    return BLOCKS


def layout_of(ds: h5py.Dataset) -> Layout:
    plist = ds.id.get_create_plist()
    kind = plist.get_layout()
    names = {
        h5py.h5d.CONTIGUOUS: "contiguous",
        h5py.h5d.CHUNKED: "chunked",
        h5py.h5d.COMPACT: "compact",
        getattr(h5py.h5d, "VIRTUAL", -1): "virtual",
    }
    layout = names.get(kind, "other")
    if layout == "contiguous" and plist.get_external_count() > 0:
        layout = "external"
    filters = [_filter_name(plist.get_filter(i)) for i in range(plist.get_nfilters())]
    offset = ds.id.get_offset() if layout == "contiguous" else None
    # any byte order, and h5py's bools (an enum of one byte, 0 or 1): what the compiled readers do not read
    # (columns.py), NumPy converts from the map
    mappable = offset is not None and not filters and ds.dtype.kind in NUMERIC_KINDS
    try:
        stored = int(ds.id.get_storage_size())
    except (OSError, RuntimeError):
        stored = 0
    return Layout(
        path=ds.name.lstrip("/"),
        shape=tuple(int(s) for s in ds.shape) if ds.shape is not None else (),
        dtype=str(ds.dtype),
        layout=layout,
        chunks=tuple(ds.chunks) if ds.chunks else None,
        compression=",".join(filters) if filters else None,
        logical_bytes=int(np.prod(ds.shape, dtype=np.int64)) * ds.dtype.itemsize if ds.shape is not None else 0,
        stored_bytes=stored,
        offset=offset,
        read_mode=_read_mode(ds, layout, mappable),
    )


def _filter_name(info) -> str:
    code, _flags, _values, name = info
    known = {1: "gzip", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit", 6: "scaleoffset", 32000: "lzf"}
    if code in known:
        return known[code]
    return name.decode(errors="replace") if isinstance(name, bytes) else str(name)


def unavailable_in(group: h5py.Group) -> tuple[h5py.Dataset, str] | None:
    """The first dataset of ``group`` (its own members) whose filter is not available, and what is wrong."""
    for _, obj in members(group):
        try:
            problem = unavailable_filter(obj) if isinstance(obj, h5py.Dataset) else None
        except (KeyError, OSError, RuntimeError, ValueError):
            continue
        if problem is not None:
            return obj, problem
    return None


def unavailable_filter(ds: h5py.Dataset) -> str | None:
    """What is wrong where a filter of ``ds``'s pipeline is not available to this HDF5 (a compressor whose
    plugin is not installed), or None.  HDF5 itself only says, at the first read, that it found no plugin
    directory, which names neither the filter nor the dataset."""
    plist = ds.id.get_create_plist()
    for i in range(plist.get_nfilters()):
        info = plist.get_filter(i)
        if not h5py.h5z.filter_avail(info[0]):
            name = _filter_name(info)
            named = f" ({name})" if name and name != str(info[0]) else ""
            return (f"HDF5 filter {info[0]}{named} is not available here, so the data cannot be decompressed; "
                    "install its plugin (hdf5plugin ships the common ones) and set HDF5_PLUGIN_PATH to its directory")
    return None
