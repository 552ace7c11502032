"""Lists of columns as options give them: ``--features``, ``--columns``, ``--ignore``, ``--categorical``; and
names made unique as scanpy's users make their genes' (``made_unique``).

Names (or indices) are separated by commas; a comma that is part of a name
is written ``\\,`` (``--features 'a\\,b,c'`` is the columns ``a,b`` and
``c``).  A backslash anywhere else is itself, so names such as ``C:\\x``
need no escaping.  A name that ends in a backslash can only be given last,
or by its index.
"""

from __future__ import annotations

import collections
import re

_SEPARATOR = re.compile(r"(?<!\\),")


def split_names(text: str) -> list[str]:
    """The names and indices a comma-separated option lists, ``\\,`` read as a comma inside a name; blank
    entries are dropped."""
    items = (item.replace("\\,", ",").strip() for item in _SEPARATOR.split(text))
    return [item for item in items if item]


def made_unique(names: list[str]) -> list[str]:
    """``names``, a repeated one made unique as anndata's ``var_names_make_unique`` makes it (scanpy's users'
    genes): the second "TBCE" is "TBCE-1", unless that name is taken: then "TBCE-2", ..."""
    if len(set(names)) == len(names):
        return names
    taken, count, seen, unique = set(names), collections.Counter(), set(), []
    for name in names:
        if name in seen:
            while True:
                count[name] += 1
                tried = f"{name}-{count[name]}"
                if tried not in taken:
                    taken.add(tried)
                    name = tried
                    break
        else:
            seen.add(name)
        unique.append(name)
    return unique
