"""The model card that ``sgdcli show`` prints: everything a model file says about the model."""

from __future__ import annotations

import numpy as np

from sgdcli.model.file import load_model
from sgdcli.model.labels import shown


def _norm(w: np.ndarray) -> float:
    """The Euclidean norm of ``w``, as its largest magnitude times that of ``w`` over it: no square overflows
    (weights of 1e200 are finite)."""
    top = float(np.max(np.abs(w))) if w.size else 0.0
    return top * float(np.sqrt(np.sum(np.square(w / top)))) if top > 0 else 0.0


def model_card(path) -> dict:
    m = load_model(path)
    names = m.training.get("class_names")  # labels that were names: the classes as predict writes them
    classes = m.classes.tolist() if m.classes is not None else None
    if m.classes is not None and m.classes.dtype.kind == "f":  # a float32 class as written: 0.1, not 0.1000000015
        classes = [float(shown(c)) for c in m.classes]
    return {
        "model": m.model,
        "features": m.n_features,
        "outputs": int(m.weights.shape[0]),
        "classes": [names[int(c)] for c in classes] if names and classes is not None else classes,
        "standardized": m.center is not None,
        "bias": m.bias.tolist(),
        "weight_norm": _norm(m.weights),
        # a weight is zero where L1 cut it, or where no training row had the feature
        "nonzero_weights": int((m.weights != 0).any(axis=0).sum()),
        "hashing": m.training.get("hashing"),
        "hyperparameters": m.options,
        "training": m.training,
        "history": m.history,
        "data": m.fingerprint,
        "versions": m.versions,
        "created": m.created,
    }
