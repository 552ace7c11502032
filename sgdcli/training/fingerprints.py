"""A run's fingerprints, and how a checkpoint's compare with them.

A checkpoint records the options that shape the run's result and fingerprints
of the data it reads (the training and validation files, the ``--init``
model).  A run resumes it only where they are what the run reads now, as the
run reads them: paths made absolute, an option's default taken where the other
side gave it, a class given by name or by number alike, and the records of an
older sgdcli completed with what it did not record.  ``mismatch`` says what
differs, in words.
"""

from __future__ import annotations

import os

import numpy as np

from sgdcli.samefile import same_file
from sgdcli.data.shuffle import pages_for
from sgdcli.model.labels import positive_written


def differences(saved: dict, current: dict, prefix: str = "") -> list[str]:
    """Human-readable list of the keys whose values differ, nested ones as ``train.mtime`` (not the whole
    fingerprint of a file of which only the time changed)."""
    out = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key} (checkpoint: {a!r}, now: {b!r})")
    return out


def fingerprint(table, val_table, init=None) -> dict:
    """What a checkpoint records of the data a run reads: the training and validation files (Table
    ``fingerprint``) and, with ``--init``, the initial model (training/warmstart.py ``stamp``)."""
    data = {"train": _of(table), "val": _of(val_table) if val_table is not None else None}
    if init is not None:
        data["init"] = init.stamp()
    return data


def _of(table) -> dict:
    """A table's fingerprint, with the names of its classes where its labels are names: the order of the
    classes (their codes) that the checkpoint's weights are of."""
    out = table.fingerprint()
    if table.class_names:
        out["class_names"] = list(table.class_names)
    return out


def _older_names(saved: dict, current: dict) -> dict:
    """``saved`` (a checkpoint's data fingerprints), where a checkpoint of an older sgdcli does not record the
    class names: with the current names where they are those it read (sorted as text: what every version read
    before numeric categories sorted as numbers), so that such a checkpoint still continues its run; nor the
    files' content digests: the current ones (its size and time still tell)."""
    out = dict(saved)
    for key in ("train", "val"):
        then, now = saved.get(key), current.get(key)
        if isinstance(then, dict) and isinstance(now, dict) and "content" not in then and "content" in now:
            out[key] = then = {**then, "content": now["content"]}
        if isinstance(then, dict) and isinstance(now, dict) and "class_names" not in then and "class_names" in now:
            if now["class_names"] == sorted(now["class_names"]):
                out[key] = {**then, "class_names": now["class_names"]}
    return out


def mismatch(ckpt, options: dict, data: dict, path: str, defaults: dict | None = None) -> str | None:
    """Why ``ckpt`` (checkpoint.py ``Checkpoint``), read from ``path``, cannot continue this run (made with other
    options, the data or the ``--init`` model changed since), or None where it can.

    ``defaults``: the options' defaults.  An option that the checkpoint does not
    record (one added in a later version of sgdcli) counts as its default, so
    an upgrade between two nights does not throw away a run in progress.
    """
    saved = {**{k: v for k, v in (defaults or {}).items() if k not in ckpt.options}, **ckpt.options}
    then = _same_paths(_older_names(ckpt.data, data), data)
    diff = differences(*as_run_reads(saved, options, getattr(ckpt, "n_train", 0),
                                     getattr(ckpt, "classes", None), class_names(then)))
    if diff:
        return f"checkpoint {path} was made with other options: {'; '.join(diff)}"
    diff = _said(differences({**then, "init": None}, {**data, "init": None}))
    if diff:
        return f"the data changed since checkpoint {path}: {'; '.join(diff)}"
    then, now = then.get("init"), data.get("init")
    if then != now:  # the same --init path (an option), another model there
        diff = differences(then, now) if then is not None else ["the checkpoint, of an older sgdcli, does not "
                                                                "record it"]
        return f"the --init model {now['path']} changed since checkpoint {path}: {'; '.join(diff)}"
    return None


def _same_paths(saved: dict, current: dict) -> dict:
    """``saved`` (a checkpoint's data fingerprints) with the current path of a file that its path names still
    (through a symbolic link, a link's target, a hard link): the same file, whose other fingerprints say whether
    it changed since."""
    out = dict(saved)
    for key in ("train", "val", "init"):
        then, now = saved.get(key), current.get(key)
        if isinstance(then, dict) and isinstance(now, dict) and isinstance(then.get("path"), str) \
                and isinstance(now.get("path"), str) and then["path"] != now["path"] \
                and same_file(then["path"], now["path"]):
            out[key] = {**then, "path": now["path"]}
    return out


def _said(diff: list[str]) -> list[str]:
    """The data's ``differences`` as said: a file's content digest only where nothing else of it differs (another
    file of the same size and modification time), and then in words rather than as two digests."""
    files = [d.split(".", 1)[0] for d in diff]
    return [f"{name}.content (another file of the same size and modification time: its bytes differ)"
            if d.startswith(f"{name}.content (") else d for d, name in zip(diff, files)
            if not (d.startswith(f"{name}.content (") and files.count(name) > 1)]


# Options whose default is derived from others: the value each side took, where the other gave it
_DERIVED = {
    "page_rows": lambda o, n_train: pages_for(n_train if o.get("batch_size") == "full" else o.get("batch_size"), None),
    "val_x": lambda o, n_train: o.get("x"),
    "val_y": lambda o, n_train: o.get("y"),
}
_PATHS = ("init", "val")


def as_run_reads(saved: dict, current: dict, n_train: int, classes=None, names=None) -> tuple[dict, dict]:
    """``saved`` and ``current`` options as the runs read them, for a comparison: the files of ``--init`` and
    ``--val`` as absolute paths (``./v.h5`` and ``v.h5`` are one file, as DATA's path is compared: data/table.py
    ``fingerprint``), an option given on one side at the value its default took on the other (``--page-rows
    2`` at batch 32: data/shuffle.py ``pages_for``; ``--val-y`` at ``--y``) as that value, and
    ``--positive-class`` as the class it is among the checkpoint's ``classes`` (of ``names``), given or not
    (``1``, ``1.0`` and the default of labels 0 and 1 are one).  ``n_train``: the checkpoint's training rows (a
    full batch's size)."""
    saved, current = dict(saved), dict(current)
    for options in (saved, current):
        for key in _PATHS:
            if isinstance(options.get(key), str) and options[key]:
                options[key] = os.path.abspath(options[key])
    for key in _PATHS:  # the same file by another path (a symbolic link): the same option
        if isinstance(saved.get(key), str) and isinstance(current.get(key), str) and saved[key] \
                and current[key] and same_file(saved[key], current[key]):
            saved[key] = current[key]
    for options in (saved, current):
        if isinstance(classes, np.ndarray) and "positive_class" in options:
            options["positive_class"] = (positive_written(classes, options["positive_class"], names)
                                         or options["positive_class"])
    for key, default in _DERIVED.items():
        if (saved.get(key) is None) != (current.get(key) is None):
            for options in (saved, current):
                if options.get(key) is None and (key != "page_rows" or _is_batch(options.get("batch_size"))):
                    options[key] = default(options, n_train)
    return saved, current


def class_names(data) -> list | None:
    """The names of the classes in a checkpoint's data fingerprints, where its labels are names."""
    train = data.get("train") if isinstance(data, dict) else None
    return train.get("class_names") if isinstance(train, dict) else None


def _is_batch(value) -> bool:
    return value == "full" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)
