"""Numba compiler flags, and a compile cache that cannot go stale.

fastmath is enabled without ``nnan``/``ninf`` so that the non-finite checks
that detect divergence and bad rows are never optimised away.  Kernels are
compiled lazily on first call and cached on disk (``cache=True``), which
honours ``NUMBA_CACHE_DIR``.

Numba checks a cached kernel only against the source file that defines it: a
kernel in batches.py that calls the loss in losses.py would be loaded from
the cache after losses.py changed (a ``git pull`` into an editable install),
and silently compute with the old loss.  So each cache directory carries a
digest of every source file of this package (``sgdcli.kernels``, the only
place that compiles: an import-linter contract keeps numba out of the other
layers); when it differs, the directory's compiled kernels are deleted before
any is loaded.

Numba also updates a cache index with an unlocked read-modify-write: two
processes compiling different signatures of one kernel at the same time (two
cron jobs after an upgrade, ``make -j``) can both number their compiled code
``1``, leaving an index entry that points at the other signature's machine
code, which crashes whoever loads it (numba issue 4807, open).  Saves and
loads of each cache directory are therefore serialized with ``flock``.

Where Numba finds no cache directory it can write (a read-only install, and a
HOME that is read-only or missing, as for system users, with NUMBA_CACHE_DIR
unset or read-only too) it refuses ``cache=True`` outright; the kernels are
then compiled in memory with the same flags, so the run computes the same
bits, only starts slower, and an ``UncachedKernels`` warning says once why.
A NUMBA_CACHE_DIR that cannot be written while another directory can is
passed over by Numba without a word; a ``CacheDirSkipped`` warning says once
where the kernels went instead, since that variable was set to be used.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
import warnings

try:
    import fcntl
except ImportError:  # Windows has no flock: caches there go unlocked
    fcntl = None

import numba

from sgdcli.kernels import compiles

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
VECTOR_MATH = FASTMATH - {"reassoc"}  # the order of operations as written: see ``kernel(vector=True)``
STAMP = "sgdcli-sources.sha256"
LOCK = "sgdcli-cache.lock"
_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_checked: set[str] = set()
_uncached: list[str] = []  # why kernels are compiled in memory, once known
_skipped: list[str] = []  # the warning that NUMBA_CACHE_DIR was passed over, once given
compiles.install()  # signals wait for the main thread's compiles


class UncachedKernels(UserWarning):
    """No compile cache can be written: every run compiles the kernels again."""


class CacheDirSkipped(UserWarning):
    """NUMBA_CACHE_DIR cannot be written, so the kernels are cached in another directory."""


def kernel(parallel: bool = False, callee: bool = False, exact: bool = False, vector: bool = False):
    """Compile with the project's flags, cached on disk.

    ``callee=True`` is for kernels that only other kernels call: Numba then
    builds no CPython wrapper (the code that unboxes every argument, every
    field of KernelConfig included) and no C-callable wrapper for them, which
    are optimized and compiled like the kernel itself and were a large part
    of a small callee's compile (`make bench`'s first-run row measures the
    whole).  Such a kernel cannot be called from Python.  ``exact=True``
    compiles without the fast-math flags, for arithmetic that must round as
    IEEE 754 says (reading decimal numbers: 'arcp' would turn a division into
    a multiplication by an inexact reciprocal).

    Every kernel is put whole into each kernel that calls it (LLVM's
    always-inline), for two reasons.  A call that is not inlined goes to a
    symbol that every library linking the callee defines: the callee's own
    library, compiled alone, and each caller's, where Numba links in the
    callee's optimized code and optimizes it again with the caller's.  The
    process that compiles the kernels finds the callee's own library first, a
    later one loading the caller from the cache only the caller's copy, and
    with fast-math's ``contract`` the two copies can fuse a multiply and an
    add differently: the first run after an install or an upgrade gave a model
    that differed from every later run's in its last bits.  Inlined, each
    kernel's code is its own, the same compiled or loaded.  And a small
    helper on a hot path is not left behind a call whose arguments (seven for
    each array) cost more than the work (the CSV tokenizer's number reading).
    Numba's own inlining (``inline="always"``) does the same in its IR, but
    retypes the code at every call site: it made the tokenizer's first
    compile several times as long.  LLVM keeps each instruction's own flags
    when it inlines, so an inlined kernel computes as compiled whatever its
    caller's flags.

    ``vector=True`` is for element-wise arithmetic meant to be vectorized
    (vecmath.py): the fast-math flags without ``reassoc``, which would fold
    away a range reduction's rounding constant (``(x + 1.5·2⁵²) − 1.5·2⁵²``
    becomes ``x``), and float division without Python's zero-divisor check,
    a branch to an exception that keeps LLVM from vectorizing any loop that
    divides.  A zero divisor then gives ±inf or NaN, as IEEE 754 says; the
    callers' checks for non-finite losses see those.
    """
    flags = False if exact else VECTOR_MATH if vector else FASTMATH
    options = dict(nogil=True, fastmath=flags, parallel=parallel, error_model="numpy" if vector else "python",
                   no_cpython_wrapper=callee, no_cfunc_wrapper=callee, forceinline=True)

    def decorate(fn):
        try:
            dispatcher = numba.njit(cache=True, **options)(fn)
        except RuntimeError as exc:  # "cannot cache function ...: no locator available": no writable directory
            if "locator" not in str(exc):
                raise
            _warn_uncached()
            return numba.njit(cache=False, **options)(fn)  # the same flags: the same code, compiled every run
        cache = getattr(dispatcher, "_cache", None)
        path = getattr(cache, "_cache_path", None)
        _warn_skipped(path)
        _drop_stale_cache(path)
        _serialize(getattr(cache, "_cache_file", None), path)
        _tolerate_failed_saves(cache, path)
        return dispatcher

    return decorate


def _tolerate_failed_saves(cache, path: str | None) -> None:
    """A kernel that compiled but cannot be saved (a full disk, a file size limit, a cache directory made
    read-only since) runs from memory: Numba saves after it added the compiled code, so only the save's
    OSError, which would fail the command, is dropped, and after it this process saves no more kernels."""
    if cache is None or not hasattr(cache, "save_overload"):
        return
    save = cache.save_overload

    def save_or_warn(sig, data):
        if _uncached:
            return
        try:
            save(sig, data)
        except OSError as exc:
            _warn_uncached(f"compiled kernels could not be saved to the cache {path} "
                           f"({exc.strerror or exc}), so this run compiles them in memory; later runs "
                           f"compile again until the cache can be written")

    cache.save_overload = save_or_warn


def uncached_reason() -> str | None:
    """Why this process compiles its kernels in memory, or None while every kernel defined so far is cached."""
    return _uncached[0] if _uncached else None


def _warn_uncached(reason: str | None = None) -> None:
    if _uncached:
        return
    if reason is None:
        user = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                            "numba")
        tried = f"NUMBA_CACHE_DIR={os.environ['NUMBA_CACHE_DIR']}, " if os.environ.get("NUMBA_CACHE_DIR") else ""
        reason = (f"compiled kernels are not cached, so every run compiles them again (a slower start): no "
                  f"writable cache directory ({tried}the package's {_PACKAGE}, the user cache {user}); set "
                  f"NUMBA_CACHE_DIR to a writable directory to keep them")
    _uncached.append(reason)
    warnings.warn(_uncached[0], UncachedKernels, stacklevel=3)


def _warn_skipped(path: str | None) -> None:
    """Once per process: a warning where NUMBA_CACHE_DIR is set but the kernel is cached in ``path``, elsewhere."""
    wanted = numba.config.CACHE_DIR
    if _skipped or not wanted or not path:
        return
    wanted = os.path.abspath(wanted)
    if os.path.commonpath([os.path.abspath(path), wanted]) == wanted:
        return
    why = ""
    try:  # Numba's own test of a directory, made again for its reason
        os.makedirs(wanted, exist_ok=True)
        tempfile.TemporaryFile(dir=wanted).close()
    except OSError as exc:
        why = f" ({exc.strerror or exc})"
    _skipped.append(f"NUMBA_CACHE_DIR={wanted} cannot be written{why}, so compiled kernels are cached in {path}")
    warnings.warn(_skipped[0], CacheDirSkipped, stacklevel=3)


def cache_dirs() -> list[str]:
    """The directories the kernels defined so far are cached in."""
    return sorted(_checked)


@functools.cache
def sources_digest() -> str:
    """SHA-256 over the names and contents of the Python files of ``sgdcli.kernels``."""
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
    if _stamped(stamp, digest):
        return
    try:
        os.makedirs(path, exist_ok=True)
        with _locked(os.path.join(path, LOCK), fcntl.LOCK_EX if fcntl else 0):
            if _stamped(stamp, digest):  # another process renewed it while we waited
                return
            for name in os.listdir(path):
                if name.endswith((".nbi", ".nbc")):
                    try:
                        os.unlink(os.path.join(path, name))
                    except FileNotFoundError:
                        pass
            fd, tmp = tempfile.mkstemp(dir=path, prefix=".stamp-")
            with os.fdopen(fd, "w") as fh:
                fh.write(digest + "\n")
            os.replace(tmp, stamp)
    except OSError:  # a cache we cannot write: Numba then compiles in memory (or uses another locator)
        pass


def _stamped(stamp: str, digest: str) -> bool:
    try:
        with open(stamp) as fh:
            return fh.read().strip() == digest
    except OSError:
        return False


def _serialize(cache_file, path: str | None) -> None:
    """Make ``cache_file``'s save (index and data) and load atomic across processes."""
    if cache_file is None or not path or fcntl is None or not hasattr(cache_file, "save"):
        return
    lock = os.path.join(path, LOCK)
    save, load = cache_file.save, cache_file.load

    def locked_save(key, data):
        with _locked(lock, fcntl.LOCK_EX):
            return save(key, data)

    def locked_load(key):
        with _locked(lock, fcntl.LOCK_SH):
            return load(key)

    cache_file.save, cache_file.load = locked_save, locked_load


@contextlib.contextmanager
def _locked(path: str, mode: int):
    """Hold ``flock(mode)`` on the file ``path``; no lock where locks are unavailable."""
    try:
        if fcntl is None:
            raise OSError("no flock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:  # a cache directory we cannot write: Numba will not save there either
        yield
        return
    try:
        with compiles.let_through():  # another process may hold it for long (Ctrl-Z, a hung file system)
            fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # releases the lock
