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

from sgdcli.data.where import where_in

MAX_RUNS = 65_536  # a strided mapping with more runs than this is judged as its bounds (bounded work)


@dataclasses.dataclass(frozen=True)
class Gap:
    """Rows [start, stop) of each of ``ranges`` that lack data, and why (``reason`` completes "rows a–b ...")."""

    ranges: np.ndarray  # (k, 2) int64
    reason: str
    fillable: bool = True  # HDF5 reads them as fill values (else a read fails: --allow-unwritten cannot help)
    reads: str = "their fill values"  # what --allow-unwritten reads them as
    source: bool = True  # a source lacks them (else no mapping of a virtual dataset covers them)


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
    cheaply (points, irregular hyperslabs, too many runs).  ``extent``: the axis's length, which a source's
    selection of all of it does not keep (HDF5 reads the source as it is)."""
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
    """The rows of a virtual dataset that lack data: whose source file or dataset is missing, whose source is
    shorter than its mapping, whose source rows were never written (``check(source, axis)``: data/unwritten.py's
    check of a source dataset, an ``Unwritten`` or None), or that no mapping covers at all."""
    n = int(ds.shape[axis])
    gaps: list[Gap] = []
    files: dict[str, tuple[h5py.File | None, bool]] = {}
    try:
        mappings = ds.virtual_sources()
        for vs in mappings:
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
                named = where_in(shown, vs.dset_name.lstrip("/"))
                gaps.append(Gap(bounds, f"come from {named}, which is not in that file"))
                continue
            where = where_in(shown, src.name.lstrip("/"))
            # a source of another rank (a 1-D column of a 2-D dataset, one file per column): its rows are axis 0
            src_axis = axis if src.ndim == ds.ndim else 0
            short = _short(vs, src, ds, axis, src_axis, bounds, where)
            if short is not None:
                gaps.append(short)
                continue
            found = check(src, src_axis)
            if found is None:
                continue
            reason = (f"were never written in their source {where} ({found.detail})" if found.reason is None
                      else f"lack data in their source {where} ({found.detail})")
            gaps.append(Gap(_mapped(vs, src, ds, axis, src_axis, found.ranges, bounds), reason, found.fillable))
        gaps += uncovered(ds, axis, mappings)
    finally:
        for name, (src_file, _) in files.items():
            if src_file is not None and name != ".":  # (closing the file itself would close every object in it)
                src_file.close()
    return gaps


def _short(vs, src: h5py.Dataset, ds: h5py.Dataset, axis: int, src_axis: int, bounds: np.ndarray,
           where: str) -> Gap | None:
    """Where the source is not the size the mapping reads (a source still being appended to): HDF5 then fails
    the read, naming neither the source nor the rows."""
    have = [int(s) for s in src.shape]
    if vs.src_space.get_select_type() == h5py.h5s.SEL_ALL:  # the whole source, whatever its size now
        v = _selected_shape(vs.vspace, ds.shape)
        if v is None:
            return None
        need = list(v) if src.ndim == ds.ndim else [
            int(np.prod(v)) if i == src_axis else 1 for i in range(src.ndim)]
        if have == need:
            return None
        fits = all(have[i] == need[i] for i in range(len(have)) if i != src_axis)
    else:
        try:
            _, hi = vs.src_space.get_select_bounds()
        except (OSError, RuntimeError, ValueError):
            return None
        need = [int(h) + 1 for h in hi]
        if len(need) != len(have) or all(h >= k for h, k in zip(have, need)):
            return None
        fits = all(have[i] >= need[i] for i in range(len(have)) if i != src_axis)
    if fits and have[src_axis] < need[src_axis]:
        rows = _mapped(vs, src, ds, axis, src_axis, np.array([[have[src_axis], need[src_axis]]]), bounds, need)
        what = f"has {have[src_axis]:,} rows where the mapping reads {need[src_axis]:,}"
    else:
        rows, what = bounds, f"has shape {tuple(have)} where the mapping reads {tuple(need)}"
    return Gap(rows, f"come from {where}, which {what} (a source still being written, or cut short)",
               fillable=False)


def _mapped(vs, src: h5py.Dataset, ds: h5py.Dataset, axis: int, src_axis: int, ranges: np.ndarray,
            bounds: np.ndarray, src_shape=None) -> np.ndarray:
    """The rows of the virtual dataset that the source's rows ``ranges`` (along ``src_axis``) are read into; the
    mapping's bounds where its selections do not map row to row.  ``src_shape``: the source's shape as the
    mapping reads it (default: as it is)."""
    src_shape = tuple(src.shape) if src_shape is None else tuple(src_shape)
    selected, v_selected = _selected_shape(vs.src_space, src_shape), _selected_shape(vs.vspace, ds.shape)
    if selected is None or v_selected is None:
        return bounds
    if src.ndim == ds.ndim:
        row_to_row = selected == v_selected
    else:  # one element across in both: the elements of the selections are their rows, in order
        row_to_row = (all(c == 1 for i, c in enumerate(selected) if i != src_axis)
                      and all(c == 1 for i, c in enumerate(v_selected) if i != axis))
    src_runs = _runs(vs.src_space, src_axis, int(src_shape[src_axis]))
    v_runs = _runs(vs.vspace, axis, int(ds.shape[axis]))
    if src_runs is None or v_runs is None or not row_to_row:
        return bounds
    src_at, v_at = _positions_of(src_runs), _positions_of(v_runs)
    if src_at[-1, 1] != v_at[-1, 1]:
        return bounds
    positions = _translate(ranges, src_runs, src_at[:, 0])
    return _translate(positions, v_at, v_runs[:, 0])


def uncovered(ds: h5py.Dataset, axis: int, mappings) -> list[Gap]:
    """The rows of a virtual dataset (along ``axis``) that no mapping covers, or covers in some columns only:
    HDF5 reads its fill value there.  Not judged (none returned) where a mapping's place cannot be told cheaply:
    an unlimited or irregular selection, too many runs, or more than one axis across the rows."""
    n, others = int(ds.shape[axis]), [i for i in range(ds.ndim) if i != axis]
    if len(others) > 1 or n == 0:
        return []
    width = int(ds.shape[others[0]]) if others else 1
    groups: dict[bytes, tuple[np.ndarray, list[np.ndarray]]] = {}  # columns covered -> the rows that cover them
    runs = 0
    for vs in mappings:
        try:
            vs.vspace.get_select_bounds()
        except (OSError, RuntimeError, ValueError):
            return []  # an unlimited (printf-style) mapping
        rows = _runs(vs.vspace, axis, n)
        cols = _runs(vs.vspace, others[0], width) if others else np.array([[0, 1]], dtype=np.int64)
        if rows is None or cols is None:
            return []
        runs += len(rows) + len(cols)
        if runs > MAX_RUNS * 16:
            return []
        cols = merged_ranges(cols[:, 0], np.minimum(cols[:, 1], width))
        groups.setdefault(cols.tobytes(), (cols, []))[1].append(rows)
    kinds = [(cols, merged_ranges(np.concatenate(rows)[:, 0], np.minimum(np.concatenate(rows)[:, 1], n)))
             for cols, rows in groups.values()]
    edges = np.unique(np.concatenate([[0, n]] + [r.ravel() for _, r in kinds]))
    starts = edges[:-1]
    if len(starts) * max(len(kinds), 1) > MAX_RUNS * 16:
        return []
    active = np.zeros((len(starts), len(kinds)), dtype=bool)  # which kinds of mapping cover each piece of rows
    for g, (_, rows) in enumerate(kinds):
        k = np.searchsorted(rows[:, 0], starts, side="right") - 1
        active[:, g] = (k >= 0) & (starts < rows[np.maximum(k, 0), 1])
    patterns, which = np.unique(active, axis=0, return_inverse=True)
    full = np.array([_covers([kinds[g][0] for g in np.flatnonzero(p)], width) for p in patterns], dtype=bool)
    gaps = []
    for none, reason in ((True, "have no source (no mapping of the virtual dataset covers them)"),
                         (False, "have no source in some of their columns (no mapping of the virtual dataset "
                                 "covers those)")):
        hit = np.flatnonzero(~full[which.reshape(-1)] & (~active.any(axis=1) == none))
        if len(hit):
            gaps.append(Gap(merged_ranges(edges[hit], edges[hit + 1]), reason, source=False))
    return gaps


def _covers(cols: list[np.ndarray], width: int) -> bool:
    """Whether the column runs ``cols`` together cover columns [0, width)."""
    if not cols:
        return False
    union = merged_ranges(np.concatenate(cols)[:, 0], np.concatenate(cols)[:, 1])
    return len(union) == 1 and union[0, 0] <= 0 and union[0, 1] >= width


def merged_ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Sorted [start, stop) ranges with touching or overlapping ones joined (empty ones dropped)."""
    starts, stops = np.asarray(starts, dtype=np.int64), np.asarray(stops, dtype=np.int64)
    keep = stops > starts
    starts, stops = starts[keep], stops[keep]
    if len(starts) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    order = np.argsort(starts, kind="stable")
    starts, stops = starts[order], stops[order]
    reach = np.maximum.accumulate(stops)
    first = np.concatenate(([True], starts[1:] > reach[:-1]))
    last = np.concatenate((first[1:], [True]))
    return np.column_stack([starts[first], reach[last]]).astype(np.int64)


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
