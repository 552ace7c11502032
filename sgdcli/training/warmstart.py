"""Warm start (``train --init MODEL``): a new run that starts from an existing model's weights.

The initial model must fit the run: the same model type, the same number of
features (and the same names, where both know them: the model's columns
are then read by name, as predict reads them, ``columns``), and the new data's
labels among its classes (a classifier keeps the initial model's classes,
so a day without one of them still trains: engine/passes.py, ``labels_of``).  Its standardization is kept,
so its weights mean what they meant, unless ``--restandardize``: then the
new data's statistics are computed and the weights are carried over to the
new units (``weights``).  Everything else is a fresh run: the epochs, the
schedule (which restarts), validation and the gates; but ``--lr auto``
scales its rate by the share of new rows among all the model has learned
from (training/rate.py says why; ``rows_seen``).  With ``--init-optimizer``
the optimizer's state carries on too (``optimizer_clock``,
``restore_optimizer``): Adam's bias correction and the running average
count the initial model's updates.  The model file records the chain of
runs (``lineage``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

import numpy as np

from sgdcli.data import hashing
from sgdcli.data.categories import expected
from sgdcli.data.filecolumns import columns_of, other_names_of
from sgdcli.data.table import Table
from sgdcli.data.where import where_in
from sgdcli.errors import InputError, not_a_file
from sgdcli.kernels.optimizers import SLOT_B
from sgdcli.model.featurecolumns import by_name
from sgdcli.model.file import Model, load_model
from sgdcli.model.labels import check_kind
from sgdcli.reporting.reporter import counted


@dataclasses.dataclass
class WarmStart:
    path: str
    model: Model
    size: int = 0  # of the file as read: a checkpoint of the run records them (``stamp``)
    mtime: float = 0.0

    @property
    def fingerprint(self) -> str:
        """A digest of the initial model's parameters: which model a run started from, whatever its path."""
        digest = hashlib.sha256()
        for part in (self.model.weights, self.model.bias, self.model.center, self.model.scale):
            if part is not None:
                digest.update(np.ascontiguousarray(part, dtype=np.float64).tobytes())
        return digest.hexdigest()[:16]

    def stamp(self) -> dict:
        """What a checkpoint records of the initial model, as of a data file (data/table.py ``fingerprint``):
        its path, size and modification time, and the digest of its parameters; a run resumed from another
        model would go on from weights, and at a ``--lr auto`` rate, that its first epochs did not have."""
        return {"path": self.path, "size": self.size, "mtime": self.mtime, "weights": self.fingerprint}

    def lineage(self) -> list[dict]:
        """The runs that made the initial model, oldest first (one entry for a model trained from scratch)."""
        t = self.model.training
        if "lineage" in t:
            return list(t["lineage"])
        return [{"started_from": None, "data": self.model.fingerprint, "rows": t.get("rows"),
                 "epochs": t.get("epochs_run")}]

    def rows_seen(self) -> int:
        """The training rows of every run of the lineage: what the initial model has learned from (a run
        recorded without its training rows counts its file's rows)."""
        return sum(int(run.get("rows") or (run.get("data") or {}).get("shape", [0])[0]) for run in self.lineage())


def columns(path: str, data, x: str, given: dict) -> tuple[dict, list[str] | None, dict | None]:
    """The Table keywords ``given`` for a run that starts from the model at ``path``, the names of its classes
    where its labels were names (they fix the codes the data's names are read as; None where they were numbers,
    or where there is no file there: ``load`` then says so), and what each of its features held (data/categories.py
    ``expected``: the data's codes are read through the names of its categories).  Where the model and
    ``data`` both name their columns, the model's columns by name, in its order, as predict reads them (a
    file whose columns are reordered trains on, and so does ``--features`` listing the model's columns in
    another order; a label given by index is the column Table takes); InputError where ``data`` has feature
    columns the model lacks (a warm start cannot learn them, and would leave them out unsaid)."""
    if not os.path.isfile(path):  # (``load`` says so)
        return given, None, None
    model = load_model(path)
    training = model.training
    selected, others = by_name(training.get("features"), data, x, given, f"--init {path}: ", scored=False)
    if others:
        raise InputError(f"--init {path}: {where_in(data, x)} has {counted(len(others), 'feature column')} the "
                         "model was not trained "
                         f"on ({_listing(others)}), which a warm start cannot learn; leave them out with --features "
                         f"and the model's columns (training.features in sgdcli show {path}), or train a new model "
                         "without --init")
    return selected, training.get("class_names"), expected(training.get("categories"), training.get("features"),
                                                           model.n_features)


def load(path: str, table: Table, model_type: str, optimizer: bool = False) -> WarmStart:
    """The model at ``path`` (with its optimizer's state where ``optimizer``), checked against the run's data
    ``table`` and ``--model``; InputError otherwise."""
    where = f"--init {path}"
    if not os.path.isfile(path):
        raise not_a_file(path, where, "; --init reads a model file")
    st = os.stat(path)  # before it is read: a change while it is shows at the next --resume
    model = load_model(path, optimizer=optimizer)
    data = table.where(table.x_name)
    if model.model != model_type:
        raise InputError(f"{where}: a {model.model} model; this run trains --model {model_type} on {table.path}")
    if not hashing.same(model.training.get("hashing"), table.hashing):
        raise InputError(f"{where}: its training data {hashing.describe(model.training.get('hashing'))}; {data} "
                         f"{hashing.describe(table.hashing)}")
    if model.n_features != table.n_features:
        raise InputError(f"{where}: has {model.n_features} features; {data} has {table.n_features}")
    if table.Y is not None:
        check_kind(table.class_names, model.training.get("class_names"), table.where(table.y_name),
                   f"those of {where}")
    names = model.training.get("features")
    read = table.feature_names
    if names and table.known_names is not None and list(read) != list(names) and not _aliased(table, names):
        other = [name for name in read if name not in names] or read
        raise InputError(f"{where}: --features reads {_listing(other)} of {data}, which the model was not trained "
                         f"on; list the model's columns, in any order (training.features in sgdcli show {path}), "
                         "or train a new model without --init")
    return WarmStart(os.path.abspath(path), model, st.st_size, st.st_mtime)


def _aliased(table: Table, names: list[str]) -> bool:
    """Whether ``table`` read the columns ``names`` by other names of them (a 10x matrix's genes by symbol,
    read as their ids: data/filecolumns.py ``other_names_of``); else --features listed other columns."""
    other = other_names_of(table.path, table.x_name)
    by_id = dict(zip(columns_of(table.path, table.x_name)[0] or [], other or []))
    return other is not None and [by_id.get(name) for name in table.feature_names] == list(names)


def weights(init: WarmStart, mean: np.ndarray | None, std: np.ndarray | None) -> np.ndarray:
    """The initial weights (outputs × features + 1, the bias last) in the units of a run standardized with
    ``mean`` and ``std`` (None: raw features): the initial model's own where they are its statistics."""
    m = init.model
    if _same(m.center, mean) and _same(m.scale, std):
        return np.column_stack([m.weights, m.bias]).astype(np.float64)
    raw = m.raw_weights()  # w·x + b on raw features
    if mean is None:
        return raw
    W = raw.copy()
    W[:, :-1] = raw[:, :-1] * std  # w·x = (w·σ)·z + w·μ, z = (x − μ)/σ
    W[:, -1] = raw[:, -1] + raw[:, :-1] @ mean
    return W


def optimizer_clock(init: WarmStart, optimizer: str, uncentred: bool) -> int:
    """--init-optimizer: the updates the initial model's optimizer state has seen; InputError where it has
    none, or another optimizer's (``optimizer``, this run's, resolved), or where this run's rows are sparse rows
    it does not centre (``uncentred``: training/sampling.py ``stays_sparse``) and the model centered its
    features: the run moves the centering into the bias (``weights``), and the state's last iterate, running
    average and steps belong to the centered units."""
    state = init.model.optimizer
    if state is None:
        raise InputError(f"--init-optimizer: {init.path} keeps no optimizer state (its run used --optimizer sgd "
                         "without --average, its early stopping kept an epoch before the last, or an sgdcli that "
                         "did not keep it)")
    if state["optimizer"] != optimizer:
        raise InputError(f"--init-optimizer: {init.path} was trained with --optimizer {state['optimizer']}; this "
                         f"run uses --optimizer {optimizer}")
    if uncentred and init.model.center is not None and init.model.center.any():
        raise InputError(f"--init-optimizer: {init.path} was trained on centered features (dense rows), and this "
                         "run's sparse rows, this wide, are not centered: its weights carry over with the centering "
                         "moved into the bias, its optimizer's state does not; drop --init-optimizer")
    return state["updates"]


def first_weights(init: WarmStart, mean: np.ndarray | None, std: np.ndarray | None, init_optimizer: bool
                  ) -> np.ndarray:
    """The weights a warm start trains from (``weights``' units): with --init-optimizer (``init_optimizer``),
    the initial model's last iterate where its weights were a running average, else its weights."""
    state = init.model.optimizer
    if init_optimizer and state is not None and "iterate" in state["slots"]:
        return np.asarray(state["slots"]["iterate"], dtype=np.float64)
    return weights(init, mean, std)


def restore_optimizer(init: WarmStart, slots: np.ndarray, kept: dict[str, int], W: np.ndarray,
                      momentum: float, bias_times: float) -> None:
    """Copy the initial model's optimizer state into ``slots`` (``kept``: this run's slots by name), ``W``
    holding the weights it trains from (``first_weights``); a running average it did not keep starts at the
    initial weights, which stand for every update before.

    Momentum's and Nesterov's steps gathered in the velocity (slot B: 1 + μ + … over them, which --l1's
    threshold is of; kernels/optimizers.py ``_shrink``) are not kept in the file: they are taken as all its
    updates, at this run's ``momentum``, which is exact unless a full batch dropped the velocity (relative to
    the sum's limit 1/(1 − μ), off by up to μ to the power of the updates since the last drop).  The velocity's
    bias entry sums the bias's gradients times the bias's rate over the weights' (kernels/optimizers.py
    ``step``; training/biasrate.py), the initial model's run's: it is put in this run's (``bias_times``), as
    the bias's steps from it would otherwise be at that run's ratio to this run's rate."""
    state = init.model.optimizer
    saved = state["slots"]
    for name, index in kept.items():
        if name in saved:
            slots[index] = saved[name]
        elif name == "average":
            slots[index] = W
    if state["optimizer"] in ("momentum", "nesterov"):
        slots[SLOT_B] = (1.0 - momentum ** state["updates"]) / (1.0 - momentum)
        slots[kept["a"]][:, -1] *= bias_times / init.model.training.get("lr_auto", {}).get("bias_times", 1.0)
    if state["optimizer"] == "rmsprop" and "b" in kept:
        # "b": the steps each of RMSprop's averages has seen, which only the sparse kernel counts (and a dense
        # run leaves at 0). A saved average is always up to date: the sparse kernel brings every one to the
        # clock at the end of each call, the dense ones never lag. So it has seen all the model's updates.
        slots[kept["b"]] = state["updates"]


def _listing(names: list[str]) -> str:
    """Up to five column names, quoted."""
    return ", ".join(map(repr, names[:5])) + (", ..." if len(names) > 5 else "")


def _same(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))
