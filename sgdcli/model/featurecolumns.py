"""Which columns of a data file are a model's features: found by name where both the model and the file know
their columns by name, whatever their order in the file (``by_name``), and checked where ``--features`` would
read other columns than the model's as its own (``_listed``, ``training_columns``).
"""

from __future__ import annotations

import os

from sgdcli.data.columnindex import numbered, numbered_as
from sgdcli.data.filecolumns import columns_of, other_names_of, raw_holding
from sgdcli.samefile import same_file
from sgdcli.data.pandasframes import why_left_out
from sgdcli.data.table import Table
from sgdcli.data.where import where_in
from sgdcli.errors import InputError
from sgdcli.model.file import Model
from sgdcli.namelists import split_names


def by_name(names: list[str] | None, data, x: str, columns: dict, model: str = "", scored: bool = True
            ) -> tuple[dict, list[str]]:
    """``columns`` (Table's keywords) to read a model's features ``names`` from ``data``, where both know their
    columns by name: where ``features`` is not given and ``data``'s (the label left out) are not those in that
    order, ``features`` set to ``names``, which Table then finds by name wherever they are; where ``features``
    lists the model's columns in another order, the model's order (``_listed``).  Also ``data``'s feature
    columns besides the model's, which that leaves out.  A label given by its index is the column Table takes
    (``_named``).  InputError naming a column of the model's that ``data`` lacks (after ``model``, what names
    the model, where given); ``scored`` (predict, evaluate), naming a ``features`` that would score other
    columns than the model's by position (``_listed``: a warm start refuses any its model lacks itself)."""
    columns = dict(columns)
    if not names and columns.get("features") is not None:  # (a model lists its features where its file named them:
        return columns, []  # "0" and "1" too, named so)
    present, text = columns_of(data, x, columns.get("transpose", False))
    label = _named(columns.get("label_column"), present or [], text)  # (None: a CSR matrix without names)
    weight = _named(columns.get("weight_column"), present or [], text)
    if not names:  # a model of columns known by position, its file's 0, 1, 2, ...: this file's, where it names
        names = numbered_as(present, label)  # its columns so, in another order, by name
    if not names or numbered(present):
        return columns, []
    for option, name in (("label", label), ("weight", weight)):  # an index, which this file's order makes a feature
        if name in names and name != columns.get(f"{option}_column"):
            raise InputError(f"--{option}-column {columns[f'{option}_column']}: is column {name!r} of "
                             f"{model}{where_in(data, x)}, one of the model's features (its columns are in another "
                             f"order than the training file's); give the {option} column by its name")
    if columns.get("features") is not None:
        return _listed(names, present, columns, f"{model}{where_in(data, x)}" if scored else None), []
    own = [name for name in present if name not in (label, weight)]
    # a text column besides the label (a compound table's text field, which training left out with
    # --label-column or --features) is left out by selecting the model's columns too
    if own == names and all(name == label for name in text):
        return columns, []
    known = set(present)
    missing = [name for name in names if name not in known]
    other = other_names_of(data, x) if missing else None
    if other is not None:  # the model may know them by the other names (a 10x matrix's genes by symbol)
        aliases = set(other)
        unknown = [name for name in names if name not in aliases]
        if not unknown:
            by_other = dict(zip(other, present))
            names, missing = [by_other[name] for name in names], []  # read as the ids they name
        elif len(unknown) < len(missing):
            missing = unknown  # (the error names what the model knows them by)
    if missing:
        kind = text.get(missing[0])
        if kind not in (None, "text"):  # a column that an older sgdcli read as numbers (a datetime, an index level)
            raise InputError(f"{model}{where_in(data, x)}: column {missing[0]!r}, which the model was trained on, "
                             f"{why_left_out(kind)}; the model, of an older sgdcli, read it as numbers: retrain it")
        raw = raw_holding(data, x, names)
        raise InputError(f"{model}{where_in(data, x)}: has no column {missing[0]!r}, which the model was trained "
                         f"on ({len(missing)} of its {len(names)} features missing)"
                         + (f"; {raw} holds them all: --x {raw}" if raw else ""))
    columns["features"] = names
    wanted = set(names)
    return columns, [name for name in own if name not in wanted]


def _named(given: str | None, present: list[str], text) -> str | None:
    """The name of the column ``--label-column given`` (or ``--weight-column``) takes, as Table resolves it
    (data/producers.py): a column's name, else an index among the numeric columns (``-1``: the last); ``given``
    where it is neither (Table then says so)."""
    if given is None or given in present or given in text:
        return given
    try:
        k = int(given)
    except ValueError:
        return given
    return present[k] if -len(present) <= k < len(present) else given


def _listed(names: list[str], present: list[str], columns: dict, where: str) -> dict:
    """``columns`` whose ``--features`` (names or indices) are the model's columns in another order: those in
    the model's order, as they are read without ``--features``; ``columns`` as they are otherwise (another
    set of columns, the model's renamed, is read as listed: Table, or the model's checks, say what is wrong
    with it).  InputError where they read a column of the model's name as another of its features, or read
    others where ``where`` (the data; None: not checked) holds every one of the model's: scored by position,
    silently wrong."""
    given = columns["features"]
    items = given if isinstance(given, list) else split_names(given)
    listed = [_named(item, present, []) for item in items]
    if len(listed) == len(names) and listed != names and set(listed) == set(names):
        columns["features"] = list(names)
        return columns
    clash = next(((j, name) for j, name in enumerate(listed) if name in names and j < len(names)
                  and names[j] != name), None)
    if where is not None and (clash is not None or (listed != names and set(names) <= set(present))):
        said = (f"reads column {clash[1]!r} as the model's feature {names[clash[0]]!r}" if clash is not None else
                f"reads columns {', '.join(map(repr, listed))}, where it holds the model's own")
        give = ("which it finds by name: give no --features" if set(names) <= set(present) else
                "which --features lists in that order, under this file's names for them")
        raise InputError(f"--features {_listing(given)}: {where} {said}; the model was trained on columns "
                         f"{', '.join(map(repr, names))}, {give}")
    return columns


def training_columns(model: Model, table: Table) -> None:
    """InputError where ``table`` is the very file ``model`` was trained on (its path, size, modification time
    and content digest, its dataset, label column and transposition: the model's fingerprint), read as other
    columns than the model's features: columns known by position are whatever --features says they are in
    another file, but in this one they are known, and a --features in another order scored the wrong
    columns."""
    trained, given = model.fingerprint, table.feature_names
    if given is None or not trained.get("path"):
        return
    try:
        st = os.stat(table.path)
    except OSError:
        return
    same = (same_file(trained["path"], table.path) and trained.get("size") == st.st_size
            and trained.get("mtime") == st.st_mtime and trained.get("x") == table.x_name
            and trained.get("label_column") == table.label_column and bool(trained.get("transpose")) == table.transpose
            and trained.get("content") in (None, table.content))  # (a model of an older sgdcli has none)
    expected = model.training.get("features") or [str(j) for j in range(model.n_features)]
    if same and list(given) != list(expected):
        chosen = trained.get("features")
        trained_on, give = ((f"with --features {_listing(chosen)}", f"--features {_listing(chosen)}")
                            if chosen is not None else ("with every column as a feature", "no --features"))
        reads = "--features reads" if table.features is not None else "without --features, it reads"
        raise InputError(f"{table.where(table.x_name)}: is the file the model was trained on, {trained_on}, and "
                         f"{reads} columns {','.join(given)} of it as those: give {give}")


def _listing(features) -> str:
    """--features as a model's fingerprint records it (the option's text, or a list), as the option is given."""
    return features if isinstance(features, str) else ",".join(features)
