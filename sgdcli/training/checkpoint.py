"""Checkpoints: everything needed to continue training bit for bit.

A checkpoint holds the training state arrays (weights, gradient of the batch
in progress, optimizer slots, counters), the position inside the epoch (epoch,
block of the visiting order, row of that block), the history, early-stopping
state, the standardization statistics and classes, and fingerprints of the
options and the data (fingerprints.py, which compares them with a run's). No
random state is needed: the shuffle order is a pure function of (seed, epoch,
block).

Two files are kept: PATH and PATH.prev.  A new checkpoint is written to a
temporary file; then PATH becomes PATH.prev, and the new file, once fsynced,
becomes PATH.  Whenever the process dies, at least one complete checkpoint
exists, and a loader that finds PATH unreadable falls back to PATH.prev (and
a run resumed from it removes PATH: ``to_resume``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os

import h5py
import numpy as np

from sgdcli.data import hdf5, newhdf5
from sgdcli.data.atomic import atomic_output
from sgdcli.engine.epoch import Position
from sgdcli.errors import InputError, RuntimeFailure, first_line
from sgdcli.kernels.state import TrainState
from sgdcli.reporting.warned import warn
from sgdcli.training import fingerprints

FORMAT = "sgdcli-checkpoint"
# The version changes wherever a position, a rate a resume computes again, or a kept attribute would mean
# something else: a run begun under one version would go on as it did not begin (rows skipped or trained twice,
# another rate, unsaid).  Why each version came: docs/model-format.md, "Checkpoint files".  A checkpoint of another
# version is not resumed: the run starts over and says so.
FORMAT_VERSION = 20


class StaleCheckpoint(UserWarning):
    """``--restart-stale`` removed a checkpoint made with other options or for other data, or one that cannot be
    read, or ``--resume`` removed the checkpoint of a run that had finished (its model written): the run starts
    over."""


class OtherVersion(ValueError):
    """A checkpoint written by an sgdcli whose checkpoints this one cannot continue."""


class NotACheckpoint(ValueError):
    """An HDF5 file that is no sgdcli checkpoint (a file given as ``--checkpoint`` by mistake): never removed."""


@dataclasses.dataclass
class Checkpoint:
    state: TrainState
    position: Position
    history: list
    stopper: dict | None  # EarlyStopping.state()
    best_params: np.ndarray | None
    classes: np.ndarray | None
    mean: np.ndarray | None  # standardization statistics
    std: np.ndarray | None
    n_train: int
    n_bad: int  # training rows skipped by --bad-rows skip
    zero_loss: float  # the all-zero model's mean loss over the training rows (model/zeroloss.py)
    options: dict  # fingerprint of everything that shapes the result
    data: dict  # fingerprints of the training (and validation) data
    path: str = ""  # the file it was read from: the checkpoint, or its .prev where that was unreadable
    # the mean loss over the training rows of the model the run started from, where not the all-zero model's (a
    # fresh linear model's, its bias at the labels' mean); NaN where not kept (a checkpoint of an older sgdcli)
    start_loss: float = math.nan
    # poisson's saturated model's mean loss over the training rows, from which a full batch's end measures its
    # deviance (fullbatch.from_fit): a resume without weights reads no labels again; NaN where not kept
    saturated_loss: float = math.nan


def previous_path(path: str) -> str:
    return path + ".prev"


def check_replaceable(path: str) -> None:
    """InputError where a run that starts afresh would write its checkpoints over an HDF5 file at ``path`` (or its
    .prev) that is no sgdcli checkpoint: a model or a data file given as ``--checkpoint`` by mistake, which the
    run's first checkpoint would replace and its end remove, exit 0.  (``--resume`` refuses it as it reads it:
    ``load_latest``.)  Anything else there, an sgdcli checkpoint or a damaged file, is the run's to replace."""
    for candidate in (path, previous_path(path)):
        what = _not_a_checkpoint(candidate)
        if what is not None:
            raise InputError(f"--checkpoint {path}: {candidate} is {what}, not an sgdcli checkpoint; the run's "
                             "checkpoints would replace it and its end remove it: move it away or give "
                             "--checkpoint another path")


def earlier(path: str) -> str | None:
    """What a run that starts afresh replaces at ``path`` (or its .prev): "an earlier run's checkpoint, PATH (3
    epochs done and part of the next)", where one of this sgdcli's checkpoints is there; None otherwise."""
    for candidate in (path, previous_path(path)):
        if os.path.isfile(candidate) and h5py.is_hdf5(candidate):
            try:
                with h5py.File(candidate, "r") as f:
                    if f.attrs.get(hdf5.OWN_FILE) in (FORMAT, FORMAT.encode()):
                        position = json.loads(f.attrs["position"])
                        done, part = int(position["epoch"]), position["block"] or position["row"]
                        return (f"an earlier run's checkpoint, {candidate} ({done} epoch{'s' * (done != 1)} done"
                                + (" and part of the next)" if part else ")"))
            except hdf5.READ_ERRORS:
                continue
    return None


def _not_a_checkpoint(path: str) -> str | None:
    """What the HDF5 file at ``path`` is (an sgdcli model, an HDF5 file) where it is readable and no sgdcli
    checkpoint; None otherwise (no file, a checkpoint, a file HDF5 cannot read)."""
    if not os.path.isfile(path) or not h5py.is_hdf5(path):
        return None
    try:
        with h5py.File(path, "r") as f:
            kind = f.attrs.get(hdf5.OWN_FILE)
    except hdf5.READ_ERRORS:
        return None
    kind = kind.decode("utf-8", "replace") if isinstance(kind, bytes) else kind
    if kind == FORMAT:
        return None
    return f"an sgdcli file of another kind ({kind})" if isinstance(kind, str) else "an HDF5 file"


def save(path: str, ckpt: Checkpoint, previous: bool = True) -> None:
    """``ckpt`` written to ``path``; the checkpoint there before it kept as its .prev (``previous``), or, where it
    is not the run's previous one, replaced, and the .prev there removed."""
    path = os.path.abspath(path)
    with atomic_output(path, "--checkpoint") as tmp:
        with newhdf5.created(tmp, libver=("v110", "latest")) as f:  # (a chunk alone is indexed without a B-tree)
            f.attrs[hdf5.OWN_FILE] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            for name in TrainState._fields:
                _checksummed(f, f"state/{name}", getattr(ckpt.state, name))
            for name in ("best_params", "classes", "mean", "std"):
                value = getattr(ckpt, name)
                if value is not None:
                    _checksummed(f, name, value)
            f.attrs["position"] = json.dumps(dataclasses.asdict(ckpt.position))
            for name in ("history", "stopper", "options", "data"):
                f.attrs[name] = json.dumps(getattr(ckpt, name))
            for name in ("n_train", "n_bad", "zero_loss", "start_loss", "saturated_loss"):
                f.attrs[name] = getattr(ckpt, name)
        if not previous:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(previous_path(path))
        elif os.path.exists(path):  # the current one stays valid as .prev until the new one is in place
            os.replace(path, previous_path(path))


def _checksummed(f: h5py.File, name: str, value: np.ndarray) -> None:
    """``value`` with HDF5's Fletcher-32 checksum (of chunks: none for an empty one): a bit flipped on disk fails
    the read, and the loader falls back to .prev, where a run resumed a weight of -4e306 and diverged."""
    f.create_dataset(name, data=value, fletcher32=np.size(value) > 0)


def _load_one(path: str) -> Checkpoint:
    with h5py.File(path, "r") as f:
        if f.attrs.get(hdf5.OWN_FILE) != FORMAT:
            raise NotACheckpoint("not an sgdcli checkpoint")
        if int(f.attrs["format_version"]) != FORMAT_VERSION:
            raise OtherVersion(f"checkpoint format {f.attrs['format_version']} is not {FORMAT_VERSION} "
                               "(written by another sgdcli version)")
        state = TrainState.of(*(f[f"state/{name}"][()] for name in TrainState._fields))
        opt = {name: (f[name][()] if name in f else None) for name in ("best_params", "classes", "mean", "std")}
        return Checkpoint(
            state=state,
            position=Position(**json.loads(f.attrs["position"])),
            history=json.loads(f.attrs["history"]),
            stopper=json.loads(f.attrs["stopper"]),
            n_train=int(f.attrs["n_train"]),
            n_bad=int(f.attrs["n_bad"]),
            zero_loss=float(f.attrs["zero_loss"]),
            start_loss=float(f.attrs.get("start_loss", math.nan)),
            saturated_loss=float(f.attrs.get("saturated_loss", math.nan)),
            options=json.loads(f.attrs["options"]),
            data=json.loads(f.attrs["data"]),
            **opt,
        )


def load_latest(path: str, report=None, restart_stale: bool = False, check=None) -> Checkpoint | None:
    """The newest readable checkpoint at ``path`` (or its .prev), or None if there is none, or only checkpoints
    of another format version (which a run cannot continue: it starts over, and ``report`` says why).

    ``check(checkpoint)``: what is wrong with a checkpoint HDF5 reads without complaint (resume.py ``damage``:
    arrays of other shapes than the run's, values that are not finite, a position outside the run), or None;
    one it finds wrong counts as unreadable: ``damaged sgdcli checkpoint: ...``.

    Where checkpoint files exist but none can be read: with ``restart_stale``, they are removed and a
    StaleCheckpoint warning names them and why (the run starts over), unless one of them is an HDF5 file that
    is no checkpoint (a path given by mistake, never removed); otherwise RuntimeFailure.  Such a file at
    ``path`` is refused even where its .prev can be read: the run's checkpoints would replace it.
    """
    path = os.path.abspath(path)
    candidates = [p for p in (path, previous_path(path)) if os.path.exists(p)]
    problems, others, foreign = [], [], False
    for candidate in candidates:
        try:
            ckpt = _load_one(candidate)
            problem = check(ckpt) if check is not None else None
        except OtherVersion as exc:
            others.append(f"{candidate}: {exc}")
            continue
        except hdf5.READ_ERRORS as exc:  # the only filter a checkpoint has is its checksum (``_checksummed``)
            why = "damaged sgdcli checkpoint: a checksum fails" if "filter returned failure" in str(exc) else exc
            problems.append(f"{candidate}: {first_line(why)}")
            foreign = foreign or isinstance(exc, NotACheckpoint)
            continue
        if problem is not None:
            problems.append(f"{candidate}: damaged sgdcli checkpoint: {problem}")
            continue
        if foreign:
            raise RuntimeFailure(f"--resume: {problems[0]}; the run's checkpoints would replace it and its end "
                                 "remove it: move it away or give --checkpoint another path")
        if problems and report is not None:
            report(f"checkpoint {problems[0]}; resuming from the previous one, {candidate}")
        return dataclasses.replace(ckpt, path=candidate)
    them = "them" if len(candidates) > 1 else "it"
    if problems and restart_stale and not foreign:
        remove(path)
        _warn(f"--restart-stale: no readable checkpoint ({'; '.join(problems + others)}); removed {them}, so the "
              "run starts over")
        return None
    if problems:
        hint = (f"move {them} away or give --checkpoint another path (--restart-stale removes only sgdcli "
                "checkpoints)" if foreign else f"remove {them}, or add --restart-stale, to start over")
        raise RuntimeFailure(f"--resume: no readable checkpoint ({'; '.join(problems)}); {hint}")
    if others and report is not None:
        report(f"--resume: {others[0]}; this version cannot continue it, so the run starts over")
    return None


def to_resume(path: str, options: dict, data: dict, defaults: dict, restart_stale: bool, report, check=None,
              finished=None) -> Checkpoint | None:
    """``--resume``: the checkpoint at ``path`` (or its .prev) that continues this run, whose fingerprints are
    ``options`` and ``data``; None where the run starts from scratch (``report`` says so where there is no
    checkpoint).  See ``load_latest`` (and its ``check``) and ``resumable`` (and its ``finished``) for the
    checkpoints that are refused or removed.

    Where ``path`` could not be read and its .prev continues the run, ``path`` is removed: the run's first
    checkpoint would otherwise move it onto the .prev it resumed from, leaving no readable checkpoint until
    the next one (none at all, were the run killed while writing it)."""
    if not any(os.path.exists(p) for p in (path, previous_path(path))):
        report(f"--resume: no checkpoint at {path}; starting from scratch")
        return None
    saved = load_latest(path, report, restart_stale, check)
    if saved is None or not resumable(saved, options, data, path, defaults, restart_stale, finished):
        return None
    if saved.path != os.path.abspath(path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return saved


def remove(path: str) -> None:
    for p in (path, previous_path(path)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(p)


def check_compatible(ckpt: Checkpoint, options: dict, data: dict, path: str, defaults: dict | None = None) -> None:
    """Refuse a checkpoint made with other options or data (see fingerprints.py ``mismatch``)."""
    why = fingerprints.mismatch(ckpt, options, data, path, defaults)
    if why is not None:
        raise _refused(why)


def _refused(why: str) -> InputError:
    return InputError(f"--resume: {why}; drop --resume, remove the checkpoint, or add --restart-stale to start over")


def resumable(ckpt: Checkpoint, options: dict, data: dict, path: str, defaults: dict | None = None,
              restart_stale: bool = False, finished=None) -> bool:
    """Whether ``ckpt`` (read from ``path``, or from its .prev where ``path`` was unreadable) can continue this
    run.  One made with other options or for other data is refused (``check_compatible``); with
    ``restart_stale`` it is removed instead, with its .prev, and a StaleCheckpoint warning says why: the run
    starts over (a nightly job whose data was refreshed after a stop).

    ``finished(ckpt)``: where only the ``--init`` model changed since the checkpoint, why that model is the one
    the checkpoint's run wrote (resume.py ``finished``), or None.  Such a run finished (it was killed after
    writing its model, before removing its checkpoint: the nightly ``--init m.h5 -o m.h5``): its checkpoint
    is removed, a StaleCheckpoint warning says so, and this run starts anew from that model."""
    fallback = ckpt.path == previous_path(os.path.abspath(path))  # PATH was unreadable: .prev is the one compared
    shown = previous_path(path) if fallback else path
    why = fingerprints.mismatch(ckpt, options, data, shown, defaults)
    if why is None:
        return True
    if finished is not None and fingerprints.mismatch(ckpt, options, {**data, "init": ckpt.data.get("init")}, shown,
                                         defaults) is None:  # the --init model alone changed
        done = finished(ckpt)
        if done is not None:
            remove(path)
            _warn(f"--resume: the run of checkpoint {shown} finished: {done}; removed the checkpoint, so the run "
                  "starts over from that model")
            return False
    if not restart_stale:
        raise _refused(why)
    remove(path)
    _warn(f"--restart-stale: {why}; removed it{f' and the unreadable {path}' if fallback else ''}, so the run "
          "starts over")
    return False


def _warn(text: str) -> None:
    warn(text, StaleCheckpoint, each_time=True)
