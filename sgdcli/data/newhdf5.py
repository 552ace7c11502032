"""A new HDF5 file, written so that no write failure passes silently or crashes the process.

A write that fails (disk full, an I/O error) leaves HDF5 objects that
cannot be freed safely: they are quarantined, and the command line ends the
process with ``os._exit`` (errors.require_hard_exit).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
import traceback

import h5py

from sgdcli.errors import first_line, require_hard_exit

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
def created(path: str, libver=None):
    """A new HDF5 file at ``path`` for writing (``libver``: h5py's, the oldest and newest formats it may use).

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
    f = h5py.File(path, "w", libver=libver)
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
