"""Opening HDF5 files to read, and reading their groups, with one-line errors for every way it fails: a file
that is missing, compressed, text, locked or damaged.

How a dataset is stored, and so how it is read, is layout.py's business; writing a new file is newhdf5.py's.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import resource

import h5py

from sgdcli.data import directories, textfiles
from sgdcli.errors import InputError, RuntimeFailure, first_line, out_of_files, refuse_pipe


def open_file(path: str | os.PathLike, model: bool = False) -> h5py.File:
    """Open an HDF5 file read-only or raise InputError saying what is wrong; ``model``: it is read as a model,
    so text in its place is not data to convert."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(("-: a model is read from its file, not from standard input: give its path" if model else
                          "-: standard input, which only predict and evaluate read (CSV text), where an HDF5 file is "
                          "read in place: give its path") if path == "-" else f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is {directories.directory_refusal(path) or 'a directory, not an HDF5 file'}")
    refuse_pipe(path, path, "; HDF5 is read in place, not as a stream, so save it to a file first")
    try:
        signature_ok = h5py.is_hdf5(path)
    except OSError as exc:
        raise _limit_failure(path, exc) or InputError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if not signature_ok:
        raise InputError(_compressed(path, model=model) or (
            f"{path}: not an sgdcli model: not an HDF5 file (a model is the file sgdcli train -o writes)" if model
            else f"{path}: not an HDF5 file" + _text_hint(path)))
    try:
        # No chunk cache: every reader reads whole chunks, and HDF5's default (a cache per open dataset)
        # would hold up to that much of every dataset read, a group of hundreds of columns included.
        return h5py.File(path, "r", rdcc_nbytes=0)
    except OSError as exc:
        text = str(exc)
        if "unable to lock file" in text:
            raise RuntimeFailure(_lock_message(path, text)) from None
        if "already open for write" in text:  # the superblock's mark of an open writer: live, or killed
            raise RuntimeFailure(_marked_open(path)) from None
        limited = _limit_failure(path, exc)
        if limited is not None:
            raise limited from None
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
    return (f"; train reads HDF5, where the shuffle can reach any row (predict and evaluate, HDF5 or CSV text): "
            f"convert it first: sgdcli convert {path} -o {stem}.h5{_LABEL_HINTS.get(fmt, '')}")


def _compressed(path: str, scores: str | None = None, model: bool = False) -> str | None:
    """For compressed bytes in a file whose name does not say so: what they hold and what to do, or None; for a
    compressed HDF5 file, whatever its name (``data.csv.gz`` holding convert's output), what to do.
    ``scores``: the command (predict, evaluate) that reads CSV/TSV text so named itself, with a model of CSV
    columns; otherwise, convert does. ``model``: read as a model, which is no text to read: None unless HDF5."""
    named = textfiles.compression_of(path)
    packed = textfiles.compressed_unnamed(path) if named is None else next(
        ((name, suffix, tool) for _, name, suffix, tool in textfiles.MAGIC if suffix == named), None)
    if packed is None:
        return None
    name, suffix, tool = packed
    if textfiles.holds_hdf5(path, suffix):
        return f"{path}: is a {name}-compressed HDF5 file; decompress it first ({tool} {path} > new.h5)"
    if named is not None or model:  # compressed text named so: read as its name says
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


def _marked_open(path: str) -> str:
    """A file in the newer format (h5py's libver="latest", SWMR) carries a mark while a writer has it open,
    cleared when it closes the file; a SWMR writer drops the lock, and a writer killed leaves the mark, so both
    look alike here."""
    return (f"{path}: is marked as open by an HDF5 writer (one writing it now, in SWMR mode, or one killed before "
            f"it closed the file); wait for the writer to finish. If none runs, the file may hold a partial write: "
            f"check it, then clear the mark with h5clear -s {path} (see docs/unattended.md)")


OWN_FILE = "sgdcli_format"  # the attribute that marks sgdcli's own files (models, checkpoints): its kind

# What h5py raises when a file's structure or data cannot be read.
READ_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError)


@contextlib.contextmanager
def reading(label: str, what: str = "damaged or unreadable"):
    """Turn any low-level HDF5 failure inside the block into one InputError line; a limit of the process (memory,
    open files) into a RuntimeFailure that names it: the file is not to blame, and a script that sets bad input
    aside (exit 2) must not set it aside."""
    try:
        yield
    except InputError:
        raise
    except READ_ERRORS as exc:
        limited = _limit_failure(label, exc)
        if limited is not None:
            raise limited from None
        raise InputError(f"{label}: {what} ({first_line(exc)})") from None


def _limit_failure(label: str, exc: BaseException) -> RuntimeFailure | None:
    """What a read that a limit of the process stopped is told: no memory left to map the file in (ENOMEM: under
    ``ulimit -v`` a memory map counts the whole file), or no file descriptor left (EMFILE, ENFILE); HDF5's own
    failures carry the system's errno in their text (``errno = 24``)."""
    code = exc.errno if isinstance(exc, OSError) else None
    if code is None and isinstance(exc, OSError):
        found = re.search(r"errno = (\d+)", str(exc))
        code = int(found.group(1)) if found else None
    if code == errno.ENOMEM:
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        limit = (f"the address-space limit (ulimit -v, RLIMIT_AS) of {soft // 2**20:,} MiB, which counts a memory-"
                 "mapped file whole, is too small for it; raise the limit, or lift it with ulimit -v unlimited"
                 if soft != resource.RLIM_INFINITY else "the machine is out of memory")
        return RuntimeFailure(f"{label}: cannot be read ({os.strerror(code)}): {limit}")
    if code in (errno.EMFILE, errno.ENFILE):
        return RuntimeFailure(f"{label}: cannot be read ({os.strerror(code)}): {out_of_files(code)}")
    return None


def find(f: h5py.File, path: str):
    """The object at ``path`` in ``f``, or None; None too for a name with no UTF-8 form (bytes that are not UTF-8,
    held as surrogates: cli/argtext.py), which h5py refuses to encode: it finds a name by its UTF-8 only."""
    try:
        return f.get(path)
    except UnicodeEncodeError:
        return None


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
