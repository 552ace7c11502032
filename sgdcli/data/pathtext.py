"""A file name as text an HDF5 attribute can hold.

HDF5 stores text attributes as UTF-8, and h5py refuses a ``str`` that has no
UTF-8 form.  A file name is bytes: where they are not UTF-8 in the locale's
encoding (a Latin-1 name such as ``donn\\xe9es.csv`` copied from an old share,
or any name outside ASCII under an ASCII locale without Python's UTF-8 mode),
Python holds them as lone surrogates, and writing the name into an output file
(``convert``'s ``converted_from``, the ``data`` and ``model`` of a prediction
file) failed at the end of the command as an internal error.
"""

from __future__ import annotations

import os


def attr_text(path: str | os.PathLike) -> str:
    """``path`` as UTF-8 text: its bytes read as UTF-8 where they are (``lé`` under an ASCII locale is ``lé``),
    and each byte that is not as an escape (``\\xe9``), as ``--print-config`` shows such names."""
    return os.fspath(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
