"""Numba's and HDF5's environment variables, checked before those libraries read them.

Numba reads NUMBA_NUM_THREADS when it is imported and NUMBA_THREADING_LAYER
when its threads start; a bad value is a ValueError from inside Numba (an
"internal error" to a user), or, for a count that is not a number, a
warning with a traceback after which Numba runs with every core.  The thread
count is part of what makes a run reproducible, so a value Numba would
ignore is refused too.

HDF5 reads HDF5_DRIVER when the library starts, at the first file opened,
and opens every file with that driver unless the program names one.  An
unknown name makes the start fail, after which the process crashes
(SIGSEGV, exit 139) whatever driver the file is opened with, so naming sec2
at each open cannot make the variable harmless.  The drivers it can name
change how sgdcli reads (``core`` loads the whole file into memory; with it
or ``stdio`` the memory-mapped reads become reads of chunk-aligned blocks,
which train another model), or what a path means (``family``, ``split``
and ``multi`` read several files for one name).  So any value but sec2,
HDF5's default, is refused, naming the variable, rather than honoured or
silently overridden.

This module imports nothing of Numba or h5py: ``--help`` and completion
never check it, only a command that runs does.
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


def check_hdf5_driver(environ=os.environ) -> None:
    """InputError naming HDF5_DRIVER where it names a driver other than sec2, HDF5's default (see above)."""
    driver = environ.get("HDF5_DRIVER", "")
    if driver in ("", "sec2"):
        return
    shown = driver if driver == driver.strip() else repr(driver)
    raise errors.InputError(f"HDF5_DRIVER={shown}: sgdcli reads HDF5 files in place with HDF5's default driver, "
                            "sec2 (memory-mapped or chunk by chunk, never whole into memory); another would change "
                            "what is read, and so the model; unset the variable")
