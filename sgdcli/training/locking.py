"""Exclusive locks on output paths, so overlapping runs never interleave.

The lock is ``flock`` on ``PATH.lock``, which the kernel releases when its
holder dies (even by SIGKILL), so a lock never outlives a killed run.  The
holder writes its PID into the file for the message the next run prints.
The lock file is removed on release; a run that locked a file just removed by
another checks the inode and tries again.  A lock file that cannot be made or
written (a full disk) stops the run with one line naming it and the output it
guards, and one made but not written is removed again: nothing was written.
A directory at the lock file's path is an unusable output path (exit 2).
A run that waits for a lock (``--wait-lock``) says so once, and stops on
SIGTERM, SIGHUP or SIGINT while it waits, as the passes before training do:
it has written nothing, so there is nothing to resume.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import math
import os
import time

from sgdcli.data.atomic import LOCK_SUFFIX, describe_os_error, in_use, written_path
from sgdcli.errors import InputError, Interrupted, LockedError, RuntimeFailure
from sgdcli.training.signals import EXIT_CODES, name

POLL_SECONDS = 0.1


def lock_path(path: str) -> str:
    """``PATH.lock`` beside the file an output at ``path`` replaces (where ``path`` is a symbolic link, beside the
    file it leads to: data/atomic.py ``written_path``), so one lock guards that file whichever path names it."""
    return locked_path(path) + LOCK_SUFFIX


def locked_path(path: str) -> str:
    """The file whose lock guards the output ``path``: the one it replaces, as an absolute path."""
    return os.path.abspath(written_path(path))


def _holder(path: str) -> str:
    try:
        with open(path) as fh:
            pid = fh.read().strip()
        return f"PID {pid}" if pid else "another process"
    except OSError:
        return "another process"


def _try_lock(path: str, guarded: str) -> int | None:
    """The descriptor of the lock file ``path``, locked and holding this process's PID; None where another
    process holds it.  RuntimeFailure naming ``guarded`` (the option and the output it locks) where the file
    cannot be made, locked or written."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if os.path.isdir(path):  # an unusable output path, as the output itself being a directory is
            raise InputError(f"{guarded}: its lock file {path} is a directory; remove it or choose another output "
                             "path") from None
        raise RuntimeFailure(f"{guarded}: cannot make its lock file {path}: {describe_os_error(exc)}; nothing was "
                             "written") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError as exc:  # a file system without flock (ENOLCK): not ours to remove, another may hold it
        os.close(fd)
        raise RuntimeFailure(f"{guarded}: cannot lock its lock file {path}: {describe_os_error(exc)}; nothing was "
                             "written") from None
    try:
        same = os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        same = False
    if not same:  # the previous holder removed the file between our open and flock
        os.close(fd)
        return _try_lock(path, guarded)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError as exc:  # a full disk: the file we hold, empty or half written, goes again
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)
        raise RuntimeFailure(f"{guarded}: write failed: {describe_os_error(exc)} (its lock file {path}); nothing "
                             "was written") from None
    return fd


@contextlib.contextmanager
def exclusive(paths, wait: float | None = None, option: str = "-o", stop=None, report=None):
    """Hold locks on every path in ``paths`` (each a path, or a (path, the option that named it) pair, which an
    error names; ``option`` otherwise); raise LockedError if one is held.

    ``wait`` None fails at once; a number waits that many seconds; inf waits forever.  While it waits,
    ``report(text)`` is told so once, and ``stop()`` (RunControl.stop: a pending signal's number, or None) is
    asked between tries: a signal ends the wait with Interrupted.
    """
    held: list[tuple[int, str]] = []
    named: dict[str, str] = {}
    for item in paths:
        path, given = (item, option) if isinstance(item, (str, os.PathLike)) else item
        named.setdefault(locked_path(path), given)
    try:
        for path, flag in sorted(named.items()):  # in one order, so two runs naming two paths cannot deadlock
            lp = lock_path(path)
            deadline = None if wait is None else time.monotonic() + wait
            told = False
            while (fd := _try_lock(lp, f"{flag} {path}")) is None:
                if deadline is None or time.monotonic() >= deadline:
                    waited = "" if wait is None else f" after waiting {wait:g} s"
                    hint = "; use --wait-lock [SECONDS] to wait for it" if wait is None else ""
                    raise LockedError(f"{flag} {path}: locked by another sgdcli run ({_holder(lp)}){waited}{hint}")
                if not told and report is not None:
                    span = ", until it is released" if math.isinf(wait) else f", for up to {wait:g} s"
                    report(f"waiting for the lock on {flag} {path}, held by {_holder(lp)}{span} (--wait-lock)")
                    told = True
                time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
                signum = stop() if stop is not None else None
                if signum is not None:
                    raise Interrupted(f"stopped by {name(signum)} while waiting for the lock on {flag} {path}, "
                                      "before training began; nothing was written, nothing to resume",
                                      EXIT_CODES[signum])
            held.append((fd, lp))
            remove_stale_temporaries(path)
        yield
    finally:
        for fd, lp in reversed(held):
            with contextlib.suppress(OSError):
                os.unlink(lp)
            os.close(fd)


def remove_stale_temporaries(path: str) -> list[str]:
    """Delete temporary files a killed run left beside ``path`` (we hold its lock), but not those of a live
    process of this host (the pattern also matches another output's, ``a.h5``'s for ``a``)."""
    directory, name = os.path.split(os.path.abspath(path))
    removed = []
    for tmp in glob.glob(os.path.join(glob.escape(directory), f".{name}.*.tmp")):  # atomic_output's names
        if in_use(os.path.basename(tmp)):
            continue
        with contextlib.suppress(OSError):
            os.unlink(tmp)
            removed.append(tmp)
    return removed
