"""``sgdcli.describe`` (`sgdcli info`): the listing of a file that data/info.py makes, and how the defaults train
a sparse table it finds (training/autooptimizer.py), which the data layer cannot say."""

from __future__ import annotations

from sgdcli.data import info
from sgdcli.training import autooptimizer


def describe(path) -> dict:
    """Every dataset of ``path`` with its shape, dtype, layout and read mode, and the table train reads
    (data/info.py ``describe``); a sparse table's ``sparse_training`` says whether the defaults centre its rows,
    standardized as dense rows are, and whether the dense kernels train them (``sparse_defaults``)."""
    d = info.describe(path)
    for table in (d.get("table"), d.get("looks_like")):
        if table and "nonzeros" in table and table.get("rows"):
            table["sparse_training"] = autooptimizer.sparse_defaults(table["features"],
                                                                     table["nonzeros"] / table["rows"])
    return d
