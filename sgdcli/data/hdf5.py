"""Opening HDF5 files and datasets, and creating them, with one-line errors for every way it fails.

How a dataset is stored, and so how it is read, is layout.py's business.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
import traceback

import h5py
import numpy as np

from sgdcli.data import textfiles
from sgdcli.errors import InputError, RuntimeFailure, first_line, refuse_pipe, require_hard_exit

NUMERIC_KINDS = "biuf"


def cast_into(dest: np.ndarray, values: np.ndarray, rows: slice | np.ndarray | None = None) -> None:
    """``values`` converted into ``dest``'s type (into ``dest[rows]``, where given) as NumPy converts them: a
    float64 beyond float32's range becomes infinite, which the checks for non-finite values then name with its
    row, and NumPy's overflow warning (a line without file, dataset or row on stderr) is not printed.  Every
    read that narrows what a file stores goes through here."""
    with np.errstate(over="ignore", invalid="ignore"):
        if rows is None:
            np.copyto(dest, values, casting="unsafe")
        else:
            dest[rows] = values


def open_file(path: str | os.PathLike) -> h5py.File:
    """Open an HDF5 file read-only or raise InputError saying what is wrong."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, not an HDF5 file")
    refuse_pipe(path, path, "; HDF5 is read in place, not as a stream, so save it to a file first")
    try:
        signature_ok = h5py.is_hdf5(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if not signature_ok:
        raise InputError(_compressed(path) or f"{path}: not an HDF5 file" + _text_hint(path))
    try:
        # No chunk cache: every reader reads whole chunks, and HDF5's default (a cache per open dataset)
        # would hold up to that much of every dataset read, a group of hundreds of columns included.
        return h5py.File(path, "r", rdcc_nbytes=0)
    except OSError as exc:
        text = str(exc)
        if "unable to lock file" in text:
            raise RuntimeFailure(_lock_message(path, text)) from None
        raise InputError(f"{path}: cannot open as HDF5, the file may be truncated or corrupt ({first_line(exc)})") from None


_LABEL_HINTS = {"csv": " (with --label-column NAME where the label is not the last column)",
                "tsv": " (with --label-column NAME where the label is not the last column)",
                "npy": " (with --y LABELS.npy, or --label-column INDEX where the labels are a column)"}


def _text_hint(path: str) -> str:
    """For a file whose name says it is one that convert reads: what to run."""
    fmt = textfiles.format_of(path)
    if fmt is None:
        return ""
    stem = os.path.splitext(textfiles.base_name(path))[0]
    return (f"; sgdcli trains on HDF5, where the shuffle can reach any row: convert it first: "
            f"sgdcli convert {path} -o {stem}.h5{_LABEL_HINTS.get(fmt, '')}")


def _compressed(path: str, scores: str | None = None) -> str | None:
    """For compressed bytes in a file whose name does not say so: what they hold and what to do, or None; for a
    compressed HDF5 file, whatever its name (``data.csv.gz`` holding convert's output), what to do.
    ``scores``: the command (predict, evaluate) that reads CSV/TSV text so named itself, with a model of CSV
    columns; otherwise, convert does."""
    named = textfiles.compression_of(path)
    packed = textfiles.compressed_unnamed(path) if named is None else next(
        ((name, suffix, tool) for _, name, suffix, tool in textfiles.MAGIC if suffix == named), None)
    if packed is None:
        return None
    name, suffix, tool = packed
    if textfiles.holds_hdf5(path, suffix):
        return f"{path}: is a {name}-compressed HDF5 file; decompress it first ({tool} {path} > new.h5)"
    if named is not None:  # compressed text named so: read as its name says
        return None
    if scores is not None:
        return (f"{path}: not an HDF5 file but {name}-compressed data; if it is CSV or TSV text, give it a name "
                f"ending in .csv{suffix} or .tsv{suffix} (such as data.csv{suffix}): {scores} reads it as it is, "
                "with a model trained on a converted CSV file")
    return (f"{path}: not an HDF5 file but {name}-compressed data; if it is text that convert reads, give it a name "
            f"ending in its format's suffix and {suffix} (such as data.csv{suffix}): convert reads it "
            "as it is")


def check_named(path, command: str) -> None:
    """InputError where ``path`` is compressed but not named so, saying what ``command`` (predict, evaluate),
    which reads CSV/TSV text by its name, needs."""
    message = _compressed(os.fspath(path), command) if os.path.isfile(path) else None
    if message is not None:
        raise InputError(message)


def _lock_message(path: str, text: str) -> str:
    """HDF5 locks files it opens; say which of its two lock failures this is."""
    if "errno = 11" in text:  # EAGAIN: a writer holds the lock
        return (f"{path}: is open for writing by another process (HDF5 file lock); wait for the writer to finish. "
                f"If nothing writes it, set HDF5_USE_FILE_LOCKING=FALSE (see docs/unattended.md)")
    return (f"{path}: this filesystem does not support the file locks HDF5 uses ({first_line(Exception(text))}); "
            f"set HDF5_USE_FILE_LOCKING=FALSE to read it without locking (see docs/unattended.md)")


# HDF5 objects of output files whose writes failed (disk full, I/O error).
# Closing or freeing them can crash HDF5 (h5py issues 914 and 2160), so they
# are kept here, never freed, and the CLI ends such a run with os._exit.
_QUARANTINE: list = []


def _quarantine(f, why) -> None:
    """Keep ``f`` and every HDF5 object still open in it from ever being closed.

    Not only the file: a dataset that the failed code still refers to (a
    local of a frame in the traceback, a writer's attribute) is freed when
    the traceback is, which closes it in HDF5 and crashes (SIGSEGV, SIGBUS)
    after the error was printed.  ``get_obj_ids`` takes an HDF5 reference to
    each open object, so freeing those Python objects only drops theirs.
    """
    pinned = []
    with contextlib.suppress(Exception):  # a file HDF5 already closed has no objects left to pin
        pinned = h5py.h5f.get_obj_ids(f.id, h5py.h5f.OBJ_ALL | h5py.h5f.OBJ_LOCAL)
    _QUARANTINE.append((f, pinned, why))
    require_hard_exit()


def keep(*objects) -> None:
    """Keep ``objects`` (datasets of a file that failed) alive with the quarantined file."""
    _QUARANTINE.append((objects, None))


def quarantined() -> bool:
    return bool(_QUARANTINE)


@contextlib.contextmanager
def created(path: str):
    """A new HDF5 file at ``path`` for writing.

    A failed write can surface three ways: as an exception inside the block, as
    an error when closing, or inside h5py's ``__dealloc__`` of an object freed
    mid-write, which Cython reports through ``sys.excepthook`` and
    ``sys.unraisablehook`` and otherwise ignores.  The last kind is caught by
    both hooks while the file is open and turned into an OSError too, so no
    write failure passes silently or prints a traceback.  Either way the file's
    objects are quarantined.
    """
    failures: list[BaseException] = []
    previous_unraisable, previous_except = sys.unraisablehook, sys.excepthook

    def unraisable_hook(unraisable):
        if not isinstance(unraisable.exc_value, Exception):  # a signal's (cli/app.py re-raises it): no write failed
            previous_unraisable(unraisable)
        elif "h5py" in str(unraisable.object) or "h5py" in str(getattr(unraisable, "err_msg", "")):
            failures.append(unraisable.exc_value)
        else:
            previous_unraisable(unraisable)

    def except_hook(kind, value, tb):
        frames = traceback.extract_tb(tb)
        if frames and all("h5py" in frame.filename for frame in frames):
            failures.append(value)
        else:
            previous_except(kind, value, tb)

    sys.unraisablehook, sys.excepthook = unraisable_hook, except_hook
    f = h5py.File(path, "w")
    try:
        try:
            yield f
        except (OSError, RuntimeError) as exc:  # HDF5 failed writing this file
            _quarantine(f, exc)  # the traceback keeps the frames' datasets alive too
            raise
        except BaseException:  # e.g. bad input read meanwhile: the file is healthy unless its flush fails
            with contextlib.suppress(OSError):
                _flush_and_close(f)
            raise
        if failures:
            _quarantine(f, failures)
            raise _as_os_error(failures[0])
        _flush_and_close(f)
        if failures:
            _quarantine(f, failures)
            raise _as_os_error(failures[0])
    finally:
        sys.unraisablehook, sys.excepthook = previous_unraisable, previous_except


def _flush_and_close(f) -> None:
    """Write everything ``f`` holds (chunk caches, metadata, the file's allocated size), then close it.

    A write that fails must fail in the flush, where HDF5 leaves every object
    open and whole: ``close`` would first close each open dataset, and a
    dataset whose chunks cannot be written is left half freed while its
    Python object still names it; freeing that object later (when the
    traceback that holds it goes) crashes the process.
    """
    for step in (f.flush, f.close):
        try:
            step()
        except BaseException as exc:  # a signal mid-write too leaves the file unsafe to free
            _quarantine(f, exc)
            if not isinstance(exc, Exception):
                raise
            raise _as_os_error(exc) from None


def _as_os_error(exc: BaseException) -> OSError:
    """HDF5 reports write failures as RuntimeError or OSError with 'errno = N' in the text."""
    if isinstance(exc, OSError) and exc.errno:
        return exc
    m = re.search(r"errno = (\d+)", str(exc))
    if m:
        code = int(m.group(1))
        return OSError(code, os.strerror(code))
    return OSError(errno.EIO, f"{os.strerror(errno.EIO)} ({first_line(exc)})")


# What h5py raises when a file's structure or data cannot be read.
READ_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError)


@contextlib.contextmanager
def reading(label: str, what: str = "damaged or unreadable"):
    """Turn any low-level HDF5 failure inside the block into one InputError line."""
    try:
        yield
    except InputError:
        raise
    except READ_ERRORS as exc:
        raise InputError(f"{label}: {what} ({first_line(exc)})") from None


def list_datasets(f: h5py.File) -> list[str]:
    names: list[str] = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            names.append(name)

    try:
        f.visititems(visit)
    except (KeyError, OSError, RuntimeError):
        pass
    return names


def chunk_rows_for(width: int, itemsize: int) -> int:
    """Rows per chunk of a new ``width``-column dataset: about 1 MiB, a power of two in rows.

    Big enough that a chunk's index entry and read call are small against its
    data, small enough that a block of several chunks fits any sensible --memory.
    """
    target = max(1, (1 << 20) // (itemsize * width))
    return 1 << (target.bit_length() - 1)


def compression_filters(compression: str) -> dict:
    """h5py's ``create_dataset`` keywords for --compression none, gzip (level 1: decoding speed over size) or lzf."""
    if compression == "none":
        return {}
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": 1}
    return {"compression": compression}


def members(group: h5py.Group) -> list[tuple[str, object]]:
    """(name, object) of a group's members that can be opened (dangling and unreadable links left out)."""
    out = []
    for name in group:
        try:
            obj = group.get(name)
        except (KeyError, OSError, RuntimeError, ValueError):
            continue
        if obj is not None:
            out.append((name, obj))
    return out
