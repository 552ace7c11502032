"""The Numba runtime: how many threads the kernels use, and the threading layer.

Every count of threads is decided here: the cores this process may use,
the Numba threads a run (or a Dask task) gets, restored afterwards.

The CLI owns its process, so it asks Numba for a thread-safe threading layer
(``threadsafe``: TBB or OpenMP) unless NUMBA_THREADING_LAYER says otherwise,
and keeps Numba from importing SciPy at start-up (``configure_runtime``).  The
Python API leaves Numba's global settings alone unless asked to
(``sgdcli.configure_runtime``).

Compiled kernels are cached next to the package, or, where that directory is
read-only and NUMBA_CACHE_DIR is unset, in Numba's per-user cache directory
($XDG_CACHE_HOME/numba, by default ~/.cache/numba); where none of these can
be written, they are compiled in memory on every run (kernels/jit.py).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from typing import Callable


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cores_per_worker(local_workers: int | None, offered: int | None, decoders: int = 0) -> int:
    """Numba threads for each Dask worker: the cores it has, less ``decoders`` left to gzip chunk decoders.

    ``local_workers`` processes of a LocalCluster share this machine's cores;
    otherwise each worker has the ``offered`` threads its scheduler reports.
    """
    cores = max(1, available_cores() // local_workers) if local_workers is not None else max(1, offered or 1)
    cores -= min(cores, decoders)
    return max(1, cores)


class ThreadsCapped(UserWarning):
    """More threads were asked for than Numba allows (NUMBA_NUM_THREADS): the run uses Numba's limit."""


@contextlib.contextmanager
def numba_threads(requested: int | None, report: Callable[[str], None] | None = None, reserve: int = 0):
    """Run with ``requested`` Numba threads; restore the previous count after.

    The default is the cores this process may use, less ``reserve`` (kept for
    other work), and at least one.  More than Numba allows is capped, and
    ``report`` told so (the caller warns: ThreadsCapped).
    """
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    n = requested or max(1, min(available_cores() - reserve, limit))
    if n > limit:
        if report is not None:
            report(f"--threads {n}: Numba allows at most {limit} here (NUMBA_NUM_THREADS); using {limit}")
        n = limit
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(previous)


def configure_runtime() -> None:
    """The command line's Numba: a thread-safe threading layer, and no SciPy import at the first kernel load.

    A layer NUMBA_THREADING_LAYER names is started now, so that one that
    cannot load (tbb or omp not installed) is Numba's ValueError here, before
    any work, rather than at the first parallel kernel."""
    _prefer_threadsafe_layer()
    if os.environ.get("NUMBA_THREADING_LAYER", "").strip():
        start_threads()
    _load_array_math_without_blas_probe()


def start_threads() -> None:
    """Start Numba's threads in the threading layer it is set to; ValueError (Numba's) where that layer cannot
    load (NUMBA_THREADING_LAYER=tbb without TBB)."""
    from numba.np.ufunc.parallel import _launch_threads

    _launch_threads()


def _prefer_threadsafe_layer() -> None:
    """Prefer a thread-safe threading layer, if one is installed and none was chosen."""
    import numba

    if os.environ.get("NUMBA_THREADING_LAYER"):
        return
    if any(importlib.util.find_spec(f"numba.np.ufunc.{pool}") for pool in ("tbbpool", "omppool")):
        numba.config.THREADING_LAYER = "threadsafe"


_BLAS_PROBE = "scipy.linalg.cython_blas"


def _load_array_math_without_blas_probe() -> None:
    """Import Numba's array-math registry with SciPy's BLAS module hidden for that moment.

    The first kernel a process compiles or loads from the cache imports
    ``numba.np.arraymath``, which imports SciPy only to learn whether BLAS
    exists (it then picks BLAS for np.correlate and np.convolve, which sgdcli
    never calls).  Where SciPy is installed that import is a large part of a
    short run's start-up.  The module is hidden only during this one import, so
    anything that needs SciPy's BLAS later (``np.dot`` in a kernel) still
    imports it then.
    """
    if _BLAS_PROBE in sys.modules or "numba.np.arraymath" in sys.modules:
        return
    sys.modules[_BLAS_PROBE] = None  # makes "import scipy.linalg.cython_blas" fail at once
    try:
        importlib.import_module("numba.np.arraymath")
    finally:
        if sys.modules.get(_BLAS_PROBE, False) is None:
            del sys.modules[_BLAS_PROBE]


def describe() -> str:
    """Which threading layer ran the kernels, and where the compile cache lives."""
    import numba

    from sgdcli.kernels.jit import cache_dirs, uncached_reason

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        layer = f"not started (requested: {numba.config.THREADING_LAYER})"
    where = ", ".join(cache_dirs()) or ("none (not cached)" if uncached_reason() else "unknown")
    threads = numba.get_num_threads()
    return (f"numba {numba.__version__}, threading layer {layer}, {threads} thread{'s' * (threads != 1)}, "
            f"kernel cache {where}")


def cache_state() -> str:
    """How the kernels compiled so far are kept: "cached for later runs", or "not cached" (jit.py warned why)."""
    from sgdcli.kernels.jit import uncached_reason

    return "not cached" if uncached_reason() else "cached for later runs"
