"""The Numba runtime the command line runs under.

The CLI owns its process, so it asks Numba for a thread-safe threading layer
(``threadsafe``: TBB or OpenMP) unless NUMBA_THREADING_LAYER says otherwise.
The Python API leaves Numba's global settings alone.

Compiled kernels are cached next to the package, or, where that directory is
read-only and NUMBA_CACHE_DIR is unset, in Numba's per-user cache directory
($XDG_CACHE_HOME/numba, by default ~/.cache/numba).
"""

from __future__ import annotations

import importlib.util
import os


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def configure_threading() -> None:
    """Prefer a thread-safe threading layer, if one is installed and none was chosen."""
    import numba

    if os.environ.get("NUMBA_THREADING_LAYER"):
        return
    if any(importlib.util.find_spec(f"numba.np.ufunc.{pool}") for pool in ("tbbpool", "omppool")):
        numba.config.THREADING_LAYER = "threadsafe"


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
