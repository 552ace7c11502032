"""Lists of columns as options give them: ``--features``, ``--columns``, ``--ignore``, ``--categorical``.

Names (or indices) are separated by commas; a comma that is part of a name
is written ``\\,`` (``--features 'a\\,b,c'`` is the columns ``a,b`` and
``c``).  A backslash anywhere else is itself, so names such as ``C:\\x``
need no escaping.  A name that ends in a backslash can only be given last,
or by its index.
"""

from __future__ import annotations

import re

_SEPARATOR = re.compile(r"(?<!\\),")


def split_names(text: str) -> list[str]:
    """The names and indices a comma-separated option lists, ``\\,`` read as a comma inside a name; blank
    entries are dropped."""
    items = (item.replace("\\,", ",").strip() for item in _SEPARATOR.split(text))
    return [item for item in items if item]
