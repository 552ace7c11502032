"""Versions of sgdcli and of what it runs on, read without importing Numba.

``sgdcli --version`` prints them and every model file stores them.  Numba's
and NumPy's versions come from their installed distributions' metadata, so
``--version`` stays as fast as ``--help`` apart from loading h5py, which is
the only way to ask the HDF5 library it was built with.
"""

from __future__ import annotations

import importlib.metadata
import platform

from sgdcli import __version__


def _installed(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """sgdcli, Python, NumPy, Numba, h5py and the HDF5 library, in that order."""
    import h5py

    return {
        "sgdcli": __version__,
        "python": platform.python_version(),
        "numpy": _installed("numpy"),
        "numba": _installed("numba"),
        "h5py": h5py.__version__,
        "hdf5": h5py.version.hdf5_version,
    }
