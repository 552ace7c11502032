"""Numba's environment variables, checked before Numba reads them.

Numba reads NUMBA_NUM_THREADS when it is imported and NUMBA_THREADING_LAYER
when its threads start; a bad value is a ValueError from inside Numba (an
"internal error" to a user), or, for a count that is not a number, a
warning with a traceback after which Numba runs with every core.  The thread
count is part of what makes a run reproducible, so a value Numba would
ignore is refused too.  This module imports nothing of Numba: ``--help`` and
completion never check it, only a command that runs does.
"""

from __future__ import annotations

import importlib
import os

from sgdcli import errors

# The names Numba's documentation gives NUMBA_THREADING_LAYER (compared in lower case, as Numba does).
THREADING_LAYERS = ("default", "safe", "threadsafe", "forksafe", "tbb", "omp", "workqueue")


def check_threading_layer(environ=os.environ) -> None:
    """A threading layer asked for by name (NUMBA_THREADING_LAYER) is loaded now, so that one that cannot load (tbb
    or omp not installed) is an InputError naming the variable rather than Numba's ValueError at the first
    parallel kernel, an internal error.  Numba is imported only when the variable is set."""
    layer = environ.get("NUMBA_THREADING_LAYER", "").strip()
    if not layer:
        return
    # by name at run time: this module is loaded by --help too, which must not reach Numba (pyproject.toml)
    runtime = importlib.import_module("sgdcli.kernels.runtime")
    try:
        runtime.start_threads()
    except ValueError as exc:
        text = " ".join(str(exc).split())  # Numba's line and its hint of what to install
        raise errors.InputError(f"NUMBA_THREADING_LAYER={layer}: {text}; or unset the variable, and sgdcli uses a "
                                "layer that is installed") from None


def check_numba_environment(environ=os.environ) -> None:
    """InputError naming the variable if NUMBA_NUM_THREADS or NUMBA_THREADING_LAYER holds a value Numba cannot use."""
    threads = environ.get("NUMBA_NUM_THREADS", "").strip()
    if threads:
        try:
            count = int(threads)
        except ValueError:
            count = 0
        if count < 1:
            raise errors.InputError(f"NUMBA_NUM_THREADS={threads}: not a whole number of threads above 0 (it caps "
                                    "--threads; unset it to allow every core)")
    layer = environ.get("NUMBA_THREADING_LAYER", "").strip()
    if layer and layer.lower() not in THREADING_LAYERS:
        raise errors.InputError(f"NUMBA_THREADING_LAYER={layer}: not a threading layer Numba knows (one of "
                                f"{', '.join(THREADING_LAYERS)}; unset, sgdcli asks for a thread-safe one)")
