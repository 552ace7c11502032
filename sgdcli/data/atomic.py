"""Outputs appear whole or not at all.

Each output is written to a temporary file beside its target, fsynced, then
renamed into place; on any failure the temporary file is removed and an
existing file at the target is left untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

from sgdcli.errors import InputError, RuntimeFailure


def check_writable(path: str | os.PathLike, option: str = "-o", inputs=()) -> str:
    """Fail early, before any work, if ``path`` cannot be written or would replace one of ``inputs``."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise InputError(f"{option} {path}: is a directory")
    for source in inputs:
        if source is not None and os.path.exists(path) and os.path.exists(source) and os.path.samefile(path, source):
            raise InputError(f"{option} {path}: is also an input of this command; choose another output path")
    if not os.path.isdir(directory):
        raise InputError(f"{option} {path}: directory {directory} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=".sgdcli-probe-", dir=directory)
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot write to directory {directory} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)
    return path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, option: str = "-o"):
    """Yield a temporary path; on success fsync it and rename it to ``path``."""
    path = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot write to directory {directory} ({exc.strerror})") from None
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(directory)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise RuntimeFailure(f"{option} {path}: write failed: {describe_os_error(exc)}; nothing was written") from None
        raise


def describe_os_error(exc: OSError) -> str:
    """The system's words for an OSError (HDF5 wraps errno in long texts)."""
    if exc.errno:
        return os.strerror(exc.errno)
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _fsync_dir(directory: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
