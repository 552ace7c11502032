"""A trained model and its HDF5 file format.

Layout of a model file (format version 1)::

    /weights   float64 (outputs, features)   in standardized units
    /bias      float64 (outputs,)
    /classes   (classes,)                    the user's label values; classifiers only
    /center    float64 (features,)           per-feature mean; --standardize only
    /scale     float64 (features,)           per-feature standard deviation
    /optimizer/a, b, average  float64 (outputs, features + 1)   the optimizer's state, where it keeps one
               (kernels/optimizers.py, ``kept_slots``), in the units of the weights, the bias last; and
               /optimizer/iterate, the last iterate, where the weights are --average's running mean;
               attrs optimizer (its name) and updates (the steps it has seen)
    attrs: sgdcli_format="sgdcli-model", format_version, sgdcli_version, model,
           created, and JSON texts options, training, history, fingerprint, versions

Scores are  s = weights · ((x − center) / scale) + bias.
"""

from __future__ import annotations

import dataclasses
import datetime
import json

import numpy as np

from sgdcli import __version__
from sgdcli.data import hdf5
from sgdcli.data.atomic import atomic_output
from sgdcli.errors import InputError
from sgdcli.data.jsontext import dumps
from sgdcli.model.damage import damage
from sgdcli.model.labels import Labels
from sgdcli.options import objective, task_of
from sgdcli.options import TrainOptions as _TrainOptions

TRAIN_DEFAULTS = _TrainOptions()

FORMAT = "sgdcli-model"
FORMAT_VERSION = 1
_JSON_ATTRS = ("options", "training", "history", "fingerprint", "versions")


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

    @property
    def n_features(self) -> int:
        return int(self.weights.shape[1])

    @property
    def labels(self) -> Labels:
        return Labels(task_of(self.model), self.classes)

    @property
    def objective(self) -> tuple[str, float]:
        """The loss and its parameter the model was trained with (``options.objective``; huber's epsilon and
        quantile's q from its options, their defaults for files without them)."""
        return objective(self.model, self.options.get("epsilon", TRAIN_DEFAULTS.epsilon),
                         self.options.get("quantile", TRAIN_DEFAULTS.quantile))

    def raw_weights(self) -> np.ndarray:
        """Weights on raw features, bias as the last column, as the scoring kernel takes them."""
        W = np.ascontiguousarray(np.column_stack([self.weights, self.bias]), dtype=np.float64)
        if self.center is None:
            return W
        from sgdcli.kernels.scoring import fold_weights

        center = np.asarray(self.center, dtype=np.float64)
        return fold_weights(W, center, 1.0 / np.asarray(self.scale, dtype=np.float64), np.empty_like(W))

    def save(self, path) -> None:
        with atomic_output(path) as tmp:
            with hdf5.created(tmp) as f:
                f.attrs["sgdcli_format"] = FORMAT
                f.attrs["format_version"] = FORMAT_VERSION
                f.attrs["sgdcli_version"] = __version__
                f.attrs["model"] = self.model
                f.attrs["created"] = self.created or _now()
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


def load_model(path, optimizer: bool = False) -> Model:
    """Read a model file, or raise InputError saying why it is not one, or why it is a damaged one (damage.py:
    shapes that do not fit, non-finite parameters, metadata of the wrong type); with ``optimizer``, its
    optimizer's state too (``Model.optimizer``; predictions do not need it)."""
    if isinstance(path, Model):
        return path
    f = hdf5.open_file(path)
    with f, hdf5.reading(f"{path}", "damaged sgdcli model"):
        if f.attrs.get("sgdcli_format") != FORMAT:
            raise InputError(f"{path}: not an sgdcli model (no sgdcli_format attribute; written by another tool?)")
        version = int(f.attrs.get("format_version", 0))
        if version > FORMAT_VERSION:
            raise InputError(f"{path}: model format version {version} is newer than this sgdcli reads ({FORMAT_VERSION}); upgrade sgdcli")
        kwargs = {name: json.loads(_text(f.attrs[name])) for name in _JSON_ATTRS}
        training = kwargs.get("training")
        if isinstance(training, dict) and isinstance(training.get("encoding"), str) and not (
                training["encoding"].lstrip().startswith("{")):  # PyTables' text encoding ("UTF-8"), which models
            del training["encoding"]  # trained on pandas frames kept as their CSV columns before data/table.py knew
        m = Model(
            model=_text(f.attrs["model"]),
            weights=np.asarray(f["weights"][()], dtype=np.float64),
            bias=np.asarray(f["bias"][()], dtype=np.float64),
            classes=f["classes"][()] if "classes" in f else None,
            center=np.asarray(f["center"][()], dtype=np.float64) if "center" in f else None,
            scale=np.asarray(f["scale"][()], dtype=np.float64) if "scale" in f else None,
            created=_text(f.attrs.get("created", "")),
            optimizer=_optimizer(f) if optimizer else None,
            **kwargs,
        )
        problem = damage(m)  # inside: a check that trips on what it checks is a damaged model too
    if problem:
        raise InputError(f"{path}: damaged sgdcli model ({problem})")
    return m


def _optimizer(f) -> dict | None:
    g = f.get("optimizer")
    if g is None:
        return None
    return {"optimizer": _text(g.attrs["optimizer"]), "updates": int(g.attrs["updates"]),
            "slots": {name: np.asarray(g[name][()], dtype=np.float64) for name in g}}


def _text(value) -> str:
    """A text attribute; UnicodeError where its bytes are not UTF-8 (h5py hands such bytes on as surrogates)."""
    text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
    text.encode("utf-8")
    return text


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a model file")
