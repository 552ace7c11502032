"""Storage kept in other files: a virtual dataset's sources and external raw files.

HDF5 reads what such a dataset lacks without an error: a virtual dataset's
rows whose source file or source dataset is missing read as its fill value,
and so do the rows of a source that was itself never written; an external
raw file shorter than declared reads as zeros past its end.  These checks
find the other files as HDF5 does and say which rows they lack, from the
files' names, sizes and chunk indexes only (data/unwritten.py asks this
module for virtual and external datasets).

Each check returns a list of ``Gap``: rows of the dataset (along its row
axis) and why they lack data.
"""

from __future__ import annotations

import dataclasses
import os

import h5py
import numpy as np

MAX_RUNS = 65_536  # a strided mapping with more runs than this is judged as its bounds (bounded work)


@dataclasses.dataclass(frozen=True)
class Gap:
    """Rows [start, stop) of each of ``ranges`` that lack data, and why (``reason`` completes "rows a–b ...")."""

    ranges: np.ndarray  # (k, 2) int64
    reason: str
    fillable: bool = True  # HDF5 reads them as fill values (else a read fails: --allow-unwritten cannot help)
    reads: str = "their fill values"  # what --allow-unwritten reads them as


def _build(prefix: str, name: str) -> str:
    """HDF5's H5F__build_name: the prefix, a separator unless it ends with one, the name."""
    return prefix + name if prefix.endswith(os.sep) else prefix + os.sep + name


def _prefix(value: bytes | str | None, origin: str) -> str | None:
    """A dataset access prefix as HDF5 uses it: HDF5 fills it from HDF5_VDS_PREFIX or HDF5_EXTFILE_PREFIX as
    the library starts (a change to the environment later is not seen), with a leading ${ORIGIN} standing for
    the directory of the file that names the other; none if empty or "."."""
    value = value.decode() if isinstance(value, bytes) else value
    if not value or value == ".":
        return None
    return origin + value[len("${ORIGIN}"):] if value.startswith("${ORIGIN}") else value


def source_candidates(ds: h5py.Dataset, name: str) -> list[str]:
    """Where HDF5 looks for a virtual dataset's source file ``name``, in its order (H5F_prefix_open_file):
    an absolute name as given, then its last part under each of HDF5_VDS_PREFIX's prefixes (read as the file
    is opened), under the dataset access prefix, beside the file, in the current directory, and beside the
    file with links resolved."""
    here = os.path.abspath(ds.file.filename)
    origin = os.path.dirname(here)
    out, base = [], name
    if os.path.isabs(name):
        out.append(name)
        base = os.path.basename(name)
    out += [_build(p, base) for p in os.environ.get("HDF5_VDS_PREFIX", "").split(":") if p]
    try:
        given = ds.id.get_access_plist().get_virtual_prefix()
    except (AttributeError, OSError, RuntimeError, ValueError):
        given = None
    prefix = _prefix(given, origin)
    if prefix is not None:
        out.append(_build(prefix, base))
    out += [_build(origin, base), base, _build(os.path.dirname(os.path.realpath(here)), base)]
    return out


def _open_source(ds: h5py.Dataset, name: str) -> tuple[h5py.File | None, bool]:
    """(the source file opened, or None; whether it is missing: no candidate exists at all)."""
    if name == ".":
        return ds.file, False
    existing = [p for p in source_candidates(ds, name) if os.path.isfile(p)]
    for path in existing:
        try:
            return h5py.File(path, "r"), False
        except OSError:
            continue
    return None, not existing  # one exists but does not open: HDF5's own read fails, loudly


def _runs(space, axis: int, extent: int) -> np.ndarray | None:
    """The [start, stop) runs of a selection along ``axis``, in selection order; None where it cannot be told
    cheaply (points, irregular hyperslabs, too many runs)."""
    kind = space.get_select_type()
    if kind == h5py.h5s.SEL_ALL:
        return np.array([[0, extent]], dtype=np.int64)
    if kind != h5py.h5s.SEL_HYPERSLABS or not space.is_regular_hyperslab():
        return None
    start, stride, count, block = (int(v[axis]) for v in space.get_regular_hyperslab())
    if count == 1 or stride == block:
        return np.array([[start, start + count * block]], dtype=np.int64)
    if count > MAX_RUNS:
        return None
    starts = start + stride * np.arange(count, dtype=np.int64)
    return np.column_stack([starts, starts + block])


def _selected_shape(space, shape) -> tuple[int, ...] | None:
    kind = space.get_select_type()
    if kind == h5py.h5s.SEL_ALL:
        return tuple(int(s) for s in shape)
    if kind == h5py.h5s.SEL_HYPERSLABS and space.is_regular_hyperslab():
        _, _, count, block = space.get_regular_hyperslab()
        return tuple(int(c) * int(b) for c, b in zip(count, block))
    return None


def _translate(ranges: np.ndarray, runs: np.ndarray, to: np.ndarray) -> np.ndarray:
    """``ranges`` cut by the [start, stop) ``runs`` of one numbering, each piece moved to where its run starts
    in the other (``to``): a selection's rows to their positions in it, and back."""
    out = [np.zeros((0, 2), dtype=np.int64)]
    for a, b in ranges.tolist():
        lo, hi = np.maximum(runs[:, 0], a), np.minimum(runs[:, 1], b)
        hit = lo < hi
        out.append(np.column_stack([to[hit] + lo[hit] - runs[hit, 0], to[hit] + hi[hit] - runs[hit, 0]]))
    return np.concatenate(out).astype(np.int64)


def _positions_of(runs: np.ndarray) -> np.ndarray:
    """Where each run of a selection starts and stops among its selected rows."""
    ends = np.cumsum(runs[:, 1] - runs[:, 0])
    return np.column_stack([ends - (runs[:, 1] - runs[:, 0]), ends])


def virtual_gaps(ds: h5py.Dataset, axis: int, check) -> list[Gap]:
    """The rows of a virtual dataset whose source file or dataset is missing, or whose source rows were never
    written (``check(source, axis)``: data/unwritten.py's check of a source dataset, an ``Unwritten`` or None)."""
    n = int(ds.shape[axis])
    gaps: list[Gap] = []
    files: dict[str, tuple[h5py.File | None, bool]] = {}
    try:
        for vs in ds.virtual_sources():
            try:
                lo, hi = vs.vspace.get_select_bounds()
            except (OSError, RuntimeError, ValueError):
                continue  # an unlimited (printf-style) mapping: its extent is the sources'
            bounds = np.array([[int(lo[axis]), min(int(hi[axis]) + 1, n)]], dtype=np.int64)
            if vs.file_name not in files:
                files[vs.file_name] = _open_source(ds, vs.file_name)
            src_file, missing = files[vs.file_name]
            shown = vs.file_name if vs.file_name != "." else os.path.basename(ds.file.filename)
            if src_file is None:
                if missing:
                    gaps.append(Gap(bounds, f"come from {shown}, which is missing"))
                continue
            src = src_file.get(vs.dset_name)
            if not isinstance(src, h5py.Dataset):
                gaps.append(Gap(bounds, f"come from {shown}:{vs.dset_name.lstrip('/')}, which is not in that file"))
                continue
            if src.ndim != ds.ndim:
                continue  # mapped element by element across shapes: rows cannot be told apart
            found = check(src, axis)
            if found is None:
                continue
            where = f"{shown}:{src.name.lstrip('/')}"
            reason = (f"were never written in their source {where} ({found.detail})" if found.reason is None
                      else f"lack data in their source {where} ({found.detail})")
            gaps.append(Gap(_mapped(vs, src, ds, axis, found.ranges, bounds), reason, found.fillable))
    finally:
        for name, (src_file, _) in files.items():
            if src_file is not None and name != ".":  # (closing the file itself would close every object in it)
                src_file.close()
    return gaps


def _mapped(vs, src: h5py.Dataset, ds: h5py.Dataset, axis: int, ranges: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """The rows of the virtual dataset that the source's rows ``ranges`` are read into; the mapping's bounds
    where its selections do not map row to row."""
    src_runs = _runs(vs.src_space, axis, int(src.shape[axis]))
    v_runs = _runs(vs.vspace, axis, int(ds.shape[axis]))
    same = _selected_shape(vs.src_space, src.shape) == _selected_shape(vs.vspace, ds.shape)
    if src_runs is None or v_runs is None or not same:
        return bounds
    src_at, v_at = _positions_of(src_runs), _positions_of(v_runs)
    if src_at[-1, 1] != v_at[-1, 1]:
        return bounds
    positions = _translate(ranges, src_runs, src_at[:, 0])
    return _translate(positions, v_at, v_runs[:, 0])


def external_path(ds: h5py.Dataset, name: str) -> str:
    """Where HDF5 opens an external raw file (H5D__efl_read): an absolute name as given, else under the
    dataset access prefix (HDF5_EXTFILE_PREFIX; ${ORIGIN}: the file's directory), else relative to the
    current directory."""
    if os.path.isabs(name):
        return name
    try:
        given = ds.id.get_access_plist().get_efile_prefix()
    except (AttributeError, OSError, RuntimeError, ValueError):
        given = None
    prefix = _prefix(given, os.path.dirname(os.path.abspath(ds.file.filename)))
    return name if prefix is None else _build(prefix, name)


def _looked_for(ds: h5py.Dataset, name: str, path: str) -> str:
    """Where a missing external raw file was looked for, and how to look beside the HDF5 file instead where
    HDF5 looked in the current directory."""
    where = f"looked for as {os.path.abspath(path)}"
    if os.path.isabs(name) or path != name:
        return where
    return where + ("; HDF5 looks in the current directory unless HDF5_EXTFILE_PREFIX names another, "
                    "${ORIGIN} the file's")


def external_gaps(ds: h5py.Dataset, axis: int) -> list[Gap]:
    """The rows of a dataset in external raw files whose bytes are not there: a file missing (HDF5's read then
    fails) or shorter than its slot (HDF5 reads zeros past its end)."""
    plist = ds.id.get_create_plist()
    total = int(np.prod(ds.shape, dtype=np.int64)) * ds.dtype.itemsize
    gaps, at = [], 0
    for i in range(plist.get_external_count()):
        if at >= total:
            break
        raw, offset, size = plist.get_external(i)
        name = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        size = min(int(size), total - at)  # H5F_UNLIMITED: to the end of the data
        path = external_path(ds, name)
        try:
            have = max(0, min(size, os.stat(path).st_size - int(offset)))
        except FileNotFoundError:
            gaps.append(Gap(_rows_of_bytes(ds, axis, at, at + size),
                            f"are in external raw file {name}, which is missing ({_looked_for(ds, name, path)})",
                            False))
        except OSError:
            pass  # unreadable: HDF5's read fails and says so
        else:
            if have < size:
                gaps.append(Gap(_rows_of_bytes(ds, axis, at + have, at + size),
                                f"were never written: external raw file {name} lacks {size - have:,} of the "
                                f"{size:,} bytes declared", reads="zeros"))  # HDF5 reads past a file's end so
        at += size
    return gaps


def _rows_of_bytes(ds: h5py.Dataset, axis: int, lo: int, hi: int) -> np.ndarray:
    """The rows along ``axis`` that the bytes [lo, hi) of the dataset (in C order) touch."""
    item = ds.dtype.itemsize
    e0, e1 = lo // item, -(-hi // item)
    shape = [int(s) for s in ds.shape]
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    n = shape[axis]
    if e1 - e0 >= inner * n:
        return np.array([[0, n]], dtype=np.int64)
    i0, i1 = (e0 // inner) % n, ((e1 - 1) // inner) % n
    if i0 <= i1:
        return np.array([[i0, i1 + 1]], dtype=np.int64)
    return np.array([[0, i1 + 1], [i0, n]], dtype=np.int64)  # wraps past the end of the axis
