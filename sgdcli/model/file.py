"""A trained model and its HDF5 file format.

Layout of a model file (format version 1)::

    /weights   float64 (outputs, features)   in standardized units
    /bias      float64 (outputs,)
    /classes   (classes,)                    the user's label values; classifiers only
    /center    float64 (features,)           per-feature mean; --standardize only
    /scale     float64 (features,)           per-feature standard deviation, or more where its spread sits in a
                                             few rows (model/standardize.py divisors); 0: constant, left out
    /optimizer/a, b, average  float64 (outputs, features + 1)   the optimizer's state, where it keeps one
               (kernels/optimizers.py, ``kept_slots``), in the units of the weights, the bias last; and
               /optimizer/iterate, the last iterate, where the weights are --average's running mean;
               attrs optimizer (its name) and updates (the steps it has seen)
    attrs: sgdcli_format="sgdcli-model", format_version, sgdcli_version, model,
           created, and JSON texts options, training, history, fingerprint, versions

Scores are  s = weights · ((x − center) / scale) + bias, a feature of scale 0 (constant in training) adding nothing.
"""

from __future__ import annotations

import dataclasses
import datetime
import os

import numpy as np

from sgdcli import __version__
from sgdcli.data import hdf5, newhdf5, recognize
from sgdcli.data.atomic import atomic_output
from sgdcli.errors import InputError
from sgdcli.data.jsontext import dumps
from sgdcli.model import parts
from sgdcli.model.damage import damage, is_centre
from sgdcli.model.labels import Labels
from sgdcli.options import DEFAULT_X, objective, task_of
from sgdcli.options import TrainOptions as _TrainOptions

TRAIN_DEFAULTS = _TrainOptions()

FORMAT = "sgdcli-model"
FORMAT_VERSION = 1
_JSON_ATTRS = ("options", "training", "history", "fingerprint", "versions")
_ARRAYS = ("weights", "bias", "classes", "center", "scale")


@dataclasses.dataclass
class Model:
    model: str
    weights: np.ndarray
    bias: np.ndarray
    classes: np.ndarray | None = None
    center: np.ndarray | None = None
    scale: np.ndarray | None = None
    options: dict = dataclasses.field(default_factory=dict)
    training: dict = dataclasses.field(default_factory=dict)
    history: list = dataclasses.field(default_factory=list)
    fingerprint: dict = dataclasses.field(default_factory=dict)
    versions: dict = dataclasses.field(default_factory=dict)
    created: str = ""
    # {"optimizer": name, "updates": steps seen, "slots": {name: array}}: what --init-optimizer starts from
    optimizer: dict | None = None
    # the absolute path of the file the model was read from or last saved to ("" for one never saved): predict
    # refuses to write over it, and a prediction file names it (its attribute ``model``)
    path: str = dataclasses.field(default="", compare=False)

    def __eq__(self, other) -> bool:
        """Whether ``other`` holds what this model's file would: arrays of the same type, shape and values, the
        JSON parts as the file writes them (a NaN as null, which it reads back as None), ``created``, and the
        optimizer's state (None where it was not read); not ``path``.  (Compared as a dataclass compares them,
        the arrays raised ValueError.)"""
        if not isinstance(other, Model):
            return NotImplemented
        return self._contents() == other._contents()

    __hash__ = None  # mutable, as the dataclass's own equality made it

    def _contents(self) -> tuple:
        def array(a):
            return None if a is None else (np.asarray(a).dtype.str, np.shape(a), np.asarray(a).tobytes())

        optimizer = self.optimizer and (self.optimizer["optimizer"], self.optimizer["updates"],
                                        sorted((k, array(v)) for k, v in self.optimizer["slots"].items()))
        return (self.model, self.created, optimizer, *(array(getattr(self, name)) for name in _ARRAYS),
                *(dumps(getattr(self, name), sort_keys=True, default=_jsonable) for name in _JSON_ATTRS))

    @property
    def n_features(self) -> int:
        return int(self.weights.shape[1])

    @property
    def labels(self) -> Labels:
        names = self.training.get("class_names")
        return Labels(task_of(self.model), self.classes, tuple(names) if names else None)

    @property
    def objective(self) -> tuple[str, float]:
        """The loss and its parameter the model was trained with (``options.objective``; huber's epsilon and
        quantile's q from its options, their defaults for files without them)."""
        return objective(self.model, self.options.get("epsilon", TRAIN_DEFAULTS.epsilon),
                         self.options.get("quantile", TRAIN_DEFAULTS.quantile))

    def score_centre(self) -> float:
        """The score a binary model's AUC is centred on (model/metrics.py): its mean score over its training
        rows, ``training.score_centre``; for a file without it (written before it was kept), its bias, the
        score at the mean of its features where it centres them."""
        centre = self.training.get("score_centre") if isinstance(self.training, dict) else None
        if is_centre(centre):
            return float(centre)
        return float(np.asarray(self.bias, dtype=np.float64).reshape(-1)[0])

    def raw_weights(self) -> np.ndarray:
        """Weights on raw features, bias as the last column, as the scoring kernel takes them."""
        W = np.ascontiguousarray(np.column_stack([self.weights, self.bias]), dtype=np.float64)
        if self.center is None:
            return W
        from sgdcli.kernels.scoring import fold_weights
        from sgdcli.model.standardize import multipliers

        center = np.asarray(self.center, dtype=np.float64)
        return fold_weights(W, center, multipliers(self.scale), np.empty_like(W))

    def save(self, path) -> None:
        """Write the model file ``path``.  A model not saved before gets its ``created`` time now, which it keeps:
        the object equals the file it was written to, and every file it is saved to has the same time."""
        created = self.created or _now()
        with atomic_output(path) as tmp:
            with newhdf5.created(tmp) as f:
                f.attrs[hdf5.OWN_FILE] = FORMAT
                f.attrs["format_version"] = FORMAT_VERSION
                f.attrs["sgdcli_version"] = __version__
                f.attrs["model"] = self.model
                f.attrs["created"] = created
                for name in _JSON_ATTRS:
                    f.attrs[name] = dumps(getattr(self, name), sort_keys=True, default=_jsonable)
                f.create_dataset("weights", data=self.weights)
                f.create_dataset("bias", data=self.bias)
                for name in ("classes", "center", "scale"):
                    value = getattr(self, name)
                    if value is not None:
                        f.create_dataset(name, data=value)
                if self.optimizer is not None and self.optimizer["slots"]:
                    g = f.create_group("optimizer")
                    g.attrs["optimizer"], g.attrs["updates"] = self.optimizer["optimizer"], self.optimizer["updates"]
                    for name, value in self.optimizer["slots"].items():
                        g.create_dataset(name, data=value)
        self.created, self.path = created, os.path.abspath(os.fspath(path))  # once written; not after a failed save


def load_model(path, optimizer: bool = False) -> Model:
    """Read a model file, or raise InputError saying why it is not one, or why it is a damaged one: a part that
    is not what it must be (parts.py: a group for a dataset, text for numbers, an attribute of the wrong type),
    or parts that do not fit together (damage.py: shapes, non-finite parameters, metadata of the wrong type);
    with ``optimizer``, its optimizer's state too (``Model.optimizer``; predictions do not need it)."""
    if isinstance(path, Model):
        return path
    f = hdf5.open_file(path, model=True)
    with f:
        try:
            if not parts.has_attr(f, hdf5.OWN_FILE):
                raise InputError(_not_a_model(path, f))
            fmt = parts.text_attr(f, hdf5.OWN_FILE)
            if fmt != FORMAT:
                raise InputError(f"{path}: not an sgdcli model (its sgdcli_format is {fmt!r}, not {FORMAT!r})")
            version = parts.int_attr(f, "format_version", 1, default=1)
            if version > FORMAT_VERSION:
                raise InputError(f"{path}: model format version {version} is newer than this sgdcli reads "
                                 f"({FORMAT_VERSION}); upgrade sgdcli")
            m = _read_parts(f, optimizer)
            m.path = os.path.abspath(os.fspath(path))
        except parts.Damaged as exc:
            raise InputError(f"{path}: damaged sgdcli model ({exc})") from None
    with hdf5.reading(f"{path}", "damaged sgdcli model"):  # a check that trips on what it checks: damaged too
        problem = damage(m)
    if problem:
        raise InputError(f"{path}: damaged sgdcli model ({problem})")
    return m


def _not_a_model(path, f) -> str:
    """Why the HDF5 file ``f`` without sgdcli's format attribute is not read as a model: a data file (one in
    the model's place, as given to evaluate DATA MODEL), or another tool's file."""
    found = recognize.recognize(f)
    try:
        data = DEFAULT_X in f
    except hdf5.READ_ERRORS:  # a damaged file's links: another tool's, for all this can tell
        data = False
    held = f"it looks like {found[0]}" if found else f"it holds a dataset {DEFAULT_X}" if data else None
    if held is None:
        return f"{path}: not an sgdcli model (no sgdcli_format attribute; written by another tool?)"
    return f"{path}: not an sgdcli model but a data file ({held}); give the model, the file sgdcli train -o writes"


def _read_parts(f, optimizer: bool) -> Model:
    kwargs = {name: parts.json_attr(f, name) for name in _JSON_ATTRS}
    training = kwargs.get("training")
    if isinstance(training, dict) and isinstance(training.get("encoding"), str) and not (
            training["encoding"].lstrip().startswith("{")):  # PyTables' text encoding ("UTF-8"), which models
        del training["encoding"]  # trained on pandas frames kept as their CSV columns before data/table.py knew
    return Model(
        model=parts.text_attr(f, "model"),
        weights=parts.dataset(f, "weights"),
        bias=parts.dataset(f, "bias"),
        classes=parts.dataset(f, "classes", numbers=False, required=False),  # damage.py: numbers, fit the weights
        center=parts.dataset(f, "center", required=False),
        scale=parts.dataset(f, "scale", required=False),
        created=parts.text_attr(f, "created", default=""),
        optimizer=_optimizer(f) if optimizer else None,
        **kwargs,
    )


def _optimizer(f) -> dict | None:
    g = parts.group(f, "optimizer")
    if g is None:
        return None
    names = parts.read("optimizer", lambda: list(g))
    return {"optimizer": parts.text_attr(g, "optimizer", where="optimizer/"),
            "updates": parts.int_attr(g, "updates", 0, where="optimizer/"),
            "slots": {name: parts.dataset(g, name, where="optimizer/") for name in names}}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a model file")
