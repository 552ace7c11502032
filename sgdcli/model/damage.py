"""What can be wrong in a model file that HDF5 reads without complaint: arrays whose shapes do not fit
together, parameters that are not finite, classes that do not fit the weights, metadata of the wrong type.

``load_model`` (file.py) asks once, as it reads a file, so no command goes on with such a model: the scoring
kernel trusts its arguments and read past the end of a short ``center``, a NaN weight made NaN predictions
with exit 0, and metadata of the wrong type failed deep inside a command.  Each check returns what is wrong,
in a few words for the message, or None.
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.data.csvcolumns import Encoding
from sgdcli.options import MODELS, task_of

_JSON = {"options": dict, "training": dict, "history": list, "fingerprint": dict, "versions": dict}


def damage(m) -> str | None:
    """What is wrong with the ``Model`` ``m`` as read from its file, or None."""
    for check in (_metadata, _parameters, _standardization, _raw_scale, _classes, _training, _optimizer):
        problem = check(m)
        if problem:
            return problem
    return None


def _metadata(m) -> str | None:
    for name, kind in _JSON.items():
        value = getattr(m, name)
        if not isinstance(value, kind):
            return f"{name} is {_json_kind(value)}, not {_json_kind(kind())}"
    if not all(isinstance(record, dict) for record in m.history):
        return "history has an entry that is not a JSON object"
    if m.model not in MODELS:
        return f"unknown model type {m.model!r}"
    return None


def _json_kind(value) -> str:
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON list"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, bool):
        return "a JSON boolean"
    return "JSON null" if value is None else "a JSON number"


def _parameters(m) -> str | None:
    W, b = m.weights, m.bias
    if W.ndim != 2:
        return f"weights have {W.ndim} dimensions, not 2 (outputs × features)"
    outputs = W.shape[0]
    if task_of(m.model) != "multiclass" and outputs != 1:
        return f"weights have {outputs} outputs; a {m.model} model has 1"
    if b.shape != (outputs,):
        return f"bias has {b.size} entries for {outputs} output{'s' * (outputs != 1)}"
    return _nonfinite("weights", W) or _nonfinite("bias", b, "output")


def _nonfinite(name: str, a: np.ndarray, axis: str = "feature") -> str | None:
    """Where ``a`` (1-D: entries are ``axis``es; 2-D: outputs × features) holds a value that is not finite."""
    bad = np.flatnonzero(~np.isfinite(a))
    if not len(bad):
        return None
    at = np.unravel_index(bad[0], a.shape)
    where = f"output {at[0]}, feature {at[1]}" if a.ndim == 2 else f"{axis} {at[0]}"
    verb = "have" if name == "weights" else "has"
    return f"{name} {verb} a non-finite value ({a.flat[bad[0]]} at {where})"


def _standardization(m) -> str | None:
    if (m.center is None) != (m.scale is None):
        return "center without scale" if m.scale is None else "scale without center"
    if m.center is None:
        return None
    d = m.n_features
    for name in ("center", "scale"):
        a = getattr(m, name)
        if a.ndim != 1:
            return f"{name} has {a.ndim} dimensions, not 1"
        if len(a) != d:
            return f"{name} has {len(a)} entries for {d} features"
        problem = _nonfinite(name, a)
        if problem:
            return problem
    bad = np.flatnonzero(~(m.scale >= 0))  # 0: a feature constant in training, left out
    if len(bad):
        return f"scale has {m.scale[bad[0]]} at feature {bad[0]}; a standard deviation is not negative"
    return None


def _raw_scale(m) -> str | None:
    """Weights so large on raw features (``Model.raw_weights``, the bias's column last) that a score of finite
    features, float32 as they are read, could overflow float64: no run writes them (finite in the file, weights
    near 1e300 made a score inf − inf, a NaN probability written as a certainty, exit 0)."""
    W = np.column_stack([m.weights, m.bias]).astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        if m.center is not None:  # w / scale on each feature, b − Σ w / scale · center on the bias, in any order
            raw = W[:, :-1] * np.divide(1.0, m.scale, out=np.zeros(len(m.scale)), where=m.scale > 0)
            W = np.column_stack([raw, W[:, -1] - np.abs(raw) @ np.abs(m.center)])
        largest = float(np.max(np.abs(W), initial=0.0))
    if largest <= np.finfo(np.float64).max / (float(np.finfo(np.float32).max) * W.shape[1]):
        return None
    if not math.isfinite(largest):
        return f"weights of up to {np.max(np.abs(m.weights)):.3g}, which on raw features overflow float64"
    return f"weights of up to {largest:.3g} on raw features, where a score of finite features would overflow float64"


def _classes(m) -> str | None:
    task, c = task_of(m.model), m.classes
    if task == "regression":
        return f"classes in a {m.model} (regression) model" if c is not None else None
    if c is None:
        return f"no classes in a {m.model} ({task}) model"
    if c.ndim != 1:
        return f"classes have {c.ndim} dimensions, not 1"
    if c.dtype.kind not in "biuf":
        return f"classes are not numbers (dtype {c.dtype.str})"
    if not np.isfinite(c.astype(np.float64)).all():
        return "classes have a non-finite value"
    values, counts = np.unique(c, return_counts=True)
    if (counts > 1).any():
        return f"classes repeat the value {values[counts > 1][0]}"
    if task == "binary" and len(c) != 2:
        return f"classes has {len(c)} values; a {m.model} (binary) model has 2"
    if task == "multiclass" and (len(c) != m.weights.shape[0] or len(c) < 2):
        return f"classes has {len(c)} values for the weights' {m.weights.shape[0]} outputs"
    names = m.training.get("class_names")
    if names is None:
        return None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        return "training.class_names is not a list of texts"
    if not all(float(v).is_integer() and 0 <= v < len(names) for v in c):
        return f"classes are not indices into training.class_names ({len(names)} names)"
    return None


def _training(m) -> str | None:
    t = m.training
    names = t.get("features")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            return "training.features is not a list of texts"
        if len(names) != m.n_features:
            return f"training.features has {len(names)} names for {m.n_features} features"
    if t.get("hashing") is not None and not isinstance(t["hashing"], dict):
        return "training.hashing is not a JSON object"
    if t.get("encoding") is not None:  # the columns of the CSV file trained on, as JSON text
        try:
            Encoding.loads(t["encoding"])
        except (TypeError, ValueError, KeyError, AttributeError):
            return "training.encoding is not the columns of a CSV file"
    if t.get("score_centre") is not None and not is_centre(t["score_centre"]):
        return "training.score_centre is not a finite number"
    lineage = t.get("lineage", [])
    if not isinstance(lineage, list) or not all(isinstance(run, dict) for run in lineage):
        return "training.lineage is not a list of JSON objects"
    return None


def is_centre(value) -> bool:
    """Whether ``value`` (read from JSON) is a finite number, as ``training.score_centre`` must be (JSON's
    integers have no bound: one beyond a float's range is none)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _optimizer(m) -> str | None:
    """The optimizer's state, where it was read: each slot outputs × (features + 1), finite."""
    if m.optimizer is None:
        return None
    if m.optimizer["updates"] < 0:
        return f"optimizer updates is {m.optimizer['updates']}"
    shape = (m.weights.shape[0], m.n_features + 1)
    for name, slot in m.optimizer["slots"].items():
        if slot.shape != shape:
            return f"optimizer/{name} has shape {slot.shape}; expected {shape}"
        problem = _nonfinite(f"optimizer/{name}", slot)
        if problem:
            return problem
    return None
