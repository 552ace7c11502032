"""Which part of the data a dataset's name says it holds: the training rows (``X_train``, ``Xtrain``, ``trainX``)
or rows held out (``X_test``, ``y_val``, ``Xvalidation``), so that what ``info`` suggests trains on the training
part and pairs each matrix with its own labels (``X_train`` with ``y_train``, not ``y_test``).
"""

from __future__ import annotations

import re

TRAINING = frozenset({"train", "training"})
HELD_OUT = frozenset({"test", "testing", "val", "valid", "validation", "holdout", "heldout", "dev", "eval",
                      "evaluation"})
_RANK = {"train": 0, "": 1, "held out": 2}


def words(name: str) -> list[str]:
    """The lowercase words of ``name``: split at what is no letter or digit and where a capital follows a small
    letter, and ``xtest`` as ``x`` and ``test`` (a matrix's or labels' letter before the part's word)."""
    out = []
    for word in re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()):
        if len(word) > 1 and word[0] in "xy" and word[1:] in TRAINING | HELD_OUT:
            out += [word[0], word[1:]]
        elif word:
            out.append(word)
    return out


def part(name: str) -> str:
    """"train", "held out", or "" where ``name`` says neither (or both): a word that starts with "train" or "test",
    or is one of HELD_OUT."""
    found = words(name)
    training = any(w.startswith("train") for w in found)  # (trainset, train2024)
    held = any(w in HELD_OUT or w.startswith("test") for w in found)
    return "train" if training and not held else "held out" if held and not training else ""


def base(name: str) -> str:
    """``name``'s words but the part's, joined by "_": ``y_train`` is ``y``, as are ``ytest`` and ``Y``."""
    return "_".join(w for w in words(name) if w not in TRAINING | HELD_OUT)


def training_first(names: list[str]) -> list[str]:
    """``names`` with the training part's first and the held-out parts' last, each kept in its order."""
    return sorted(names, key=lambda n: _RANK[part(n)])
