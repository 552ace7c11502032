"""What pandas and PyTables keep beside a table-format frame: column names pickled into attributes, read
without running code.

PyTables stores a frame's column lists as Python pickles (protocol 0). A pickle
can run code, so they are read with an unpickler that builds lists, tuples,
dicts and strings only and refuses anything that names a class.
"""

from __future__ import annotations

import io
import pickle


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _NoClasses(pickle.Unpickler):
    """Reads the lists and strings PyTables pickles into attributes, and nothing that names a class."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing {module}.{name}")


def unpickled(value):
    """What a pickled attribute holds, where it is made of lists, tuples, dicts and strings only; else None."""
    try:
        return _NoClasses(io.BytesIO(bytes(value))).load()
    except Exception:  # noqa: BLE001 - anything unreadable, or naming a class, is "no names"
        return None


def pickled_names(value) -> list[str] | None:
    """A pickled list of names (a field's ``<field>_kind``: the frame columns it holds), else None."""
    out = unpickled(value)
    return [_text(v) for v in out] if isinstance(out, list) else None


def frame_columns(value) -> list[str] | None:
    """pandas' ``non_index_axes``: [(axis, [column names])], as the column names; else None."""
    out = unpickled(value) if value is not None else None
    try:
        return [_text(v) for v in out[0][1]]
    except (TypeError, IndexError, KeyError):
        return None
