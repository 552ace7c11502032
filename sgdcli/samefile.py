"""Whether two paths name one file, which every layer asks: a checkpoint's data given now by another path, an
output that is an input."""

from __future__ import annotations

import os


def same_file(a, b) -> bool:
    """Whether the paths ``a`` and ``b`` name one file: another spelling of its path, a symbolic or hard link
    to it; where one is not there (yet, or any more), whether they are one absolute path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)
