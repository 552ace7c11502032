"""The Numba runtime the command line runs under.

The CLI owns its process, so it asks Numba for a thread-safe threading layer
(``threadsafe``: TBB or OpenMP) unless NUMBA_THREADING_LAYER says otherwise,
and keeps Numba from importing SciPy at start-up.  The Python API leaves
Numba's global settings alone.

Compiled kernels are cached next to the package, or, where that directory is
read-only and NUMBA_CACHE_DIR is unset, in Numba's per-user cache directory
($XDG_CACHE_HOME/numba, by default ~/.cache/numba).
"""

from __future__ import annotations

import importlib.util
import os
import sys


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def configure_numba() -> None:
    """The command line's Numba: a thread-safe threading layer, and no SciPy import at the first kernel load."""
    _prefer_threadsafe_layer()
    _load_array_math_without_blas_probe()


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
    never calls).  Where SciPy is installed that import cost 0.25-0.3 s of a
    1 s run here.  The module is hidden only during this one import, so
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

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        layer = f"not started (requested: {numba.config.THREADING_LAYER})"
    from sgdcli import kernels

    cache = getattr(kernels.train_block_batches, "_cache", None)
    where = getattr(getattr(cache, "_cache_path", None), "__str__", lambda: "unknown")()
    return f"numba {numba.__version__}, threading layer {layer}, {numba.get_num_threads()} threads, kernel cache {where}"
