"""Numba compiler flags, and a compile cache that cannot go stale.

fastmath is enabled without ``nnan``/``ninf`` so that the non-finite checks
that detect divergence and bad rows are never optimised away.  Kernels are
compiled lazily on first call and cached on disk (``cache=True``), which
honours ``NUMBA_CACHE_DIR``.

Numba checks a cached kernel only against the source file that defines it: a
kernel in kernels.py that calls the loss in losses.py would be loaded from
the cache after losses.py changed (a ``git pull`` into an editable install),
and silently compute with the old loss.  So each cache directory carries a
digest of every source file of the package; when it differs, the directory's
compiled kernels are deleted before any is loaded.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile

import numba

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
STAMP = "sgdcli-sources.sha256"
_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_checked: set[str] = set()


def kernel(parallel: bool = False):
    jit = numba.njit(cache=True, nogil=True, fastmath=FASTMATH, parallel=parallel)

    def decorate(fn):
        dispatcher = jit(fn)
        _drop_stale_cache(getattr(getattr(dispatcher, "_cache", None), "_cache_path", None))
        return dispatcher

    return decorate


@functools.cache
def sources_digest() -> str:
    """SHA-256 over the names and contents of the package's Python files."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(_PACKAGE)):
        if name.endswith(".py"):
            h.update(name.encode())
            with open(os.path.join(_PACKAGE, name), "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def _drop_stale_cache(path: str | None) -> None:
    """Once per process and cache directory: delete compiled kernels built from other sources."""
    if not path or path in _checked:
        return
    _checked.add(path)
    digest = sources_digest()
    stamp = os.path.join(path, STAMP)
    try:
        with open(stamp) as fh:
            if fh.read().strip() == digest:
                return
    except OSError:
        pass
    try:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):
            if name.endswith((".nbi", ".nbc")):
                try:
                    os.unlink(os.path.join(path, name))
                except FileNotFoundError:  # another process got there first
                    pass
        fd, tmp = tempfile.mkstemp(dir=path, prefix=".stamp-")
        with os.fdopen(fd, "w") as fh:
            fh.write(digest + "\n")
        os.replace(tmp, stamp)
    except OSError:  # a cache we cannot write: Numba then compiles in memory (or uses another locator)
        pass
