"""Label discovery and encoding.

Classifiers learn class indices 0..K-1; the user's own label values are kept
in the model (sorted) and predictions are mapped back to them.  Binary models
accept any two distinct values; the larger one is the positive class (index
1), unless ``--positive-class`` names the other: the model's classes are then
kept in that order, the positive one last.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sgdcli.data.numeric import SQUARES_LIMIT
from sgdcli.errors import InputError, listed, quoted
from sgdcli.kernels.labels import class_indices
from sgdcli.options import MAX_CLASSES, parse_class_weights, task_of



EXACT_LIMIT = 2.0 ** 53  # from here on, float64 no longer holds every integer
# A regression's largest trainable label: beyond it, the squares of labels or residuals, which a linear model's
# loss and every regression's measures sum, may pass float64's largest, and a run would read the inf as
# divergence or warn of the overflow.
LABEL_LIMIT = SQUARES_LIMIT
SEED_ROWS = 1024  # labels of a pass's first block whose distinct values the rest of it is matched against
_EVERY = np.arange(0)


def _every(n: int) -> np.ndarray:
    """0, 1, ..., n-1, without a new array of that size each time (the reader thread encodes every window's
    labels: a fresh one cost it more, in page faults, than filling it)."""
    global _EVERY
    every = _EVERY
    if len(every) < n:
        every = _EVERY = np.arange(n)
    return every[:n]


@dataclasses.dataclass(frozen=True)
class Labels:
    task: str  # regression, binary or multiclass
    classes: np.ndarray | None  # the user's label values, sorted
    # where the labels are names (categories, text): the names the values index, which messages write them by
    names: tuple[str, ...] | None = dataclasses.field(default=None, compare=False)

    @property
    def n_outputs(self) -> int:
        return len(self.classes) if self.task == "multiclass" else 1

    def encode(self, y: np.ndarray, where: str, first_row: int = 0) -> np.ndarray:
        """Map raw labels to what the loss expects (values, or class indices); y[0] is row ``first_row``."""
        return self.encode_rows(y, np.arange(len(y)), where, first_row)

    def encode_rows(self, y: np.ndarray, rows: np.ndarray, where: str, first_row: int = 0) -> np.ndarray:
        """``encode`` for the entries ``rows`` of a block's labels ``y`` only.

        The result is indexed like ``y``; entries outside ``rows`` are undefined.
        One compiled pass with no gathered copies: this runs for every block
        of every epoch.
        """
        if self.task == "regression":
            return y
        out = np.zeros(len(y))
        bad = class_indices(self._comparable(y), rows, self._sorted, out)
        if bad >= 0:
            self._refuse(y[rows[bad]], where, first_row + int(rows[bad]))
        return self._reordered(out)

    def encode_at(self, y: np.ndarray, rows: np.ndarray, where: str, in_place: bool = False) -> np.ndarray:
        """``encode`` for labels ``y`` of the file rows ``rows`` (which an error names); ``in_place``: into ``y``
        itself (float64), which the reader thread does with the labels it gathered for a window."""
        if self.task == "regression":
            return y
        out = y if in_place else np.empty(len(y))
        bad = class_indices(self._comparable(y), _every(len(y)), self._sorted, out)
        if bad >= 0:
            self._refuse(y[bad], where, int(rows[bad]))
        return self._reordered(out)

    def _comparable(self, y: np.ndarray) -> np.ndarray:
        """Labels ``y`` (float64) as they are compared with the classes: at the classes' precision where that
        is less (a model trained on float32 labels), so that the label 0.1 of a CSV file, or of a float64
        dataset, is the class 0.1 the model holds as float32, as ``--positive-class 0.1`` names it."""
        kind = self.classes.dtype
        if kind.kind != "f" or kind.itemsize >= y.dtype.itemsize:
            return y
        with np.errstate(over="ignore"):  # a label beyond float32's range: inf, no class
            return y.astype(kind).astype(y.dtype)

    def class_of(self, y: np.ndarray) -> np.ndarray:
        """The index among the classes (in their order: a binary model's positive class is 1) of each raw label of
        ``y``, compared as ``encode`` does; -1 for a label that is no class."""
        near = self._comparable(np.asarray(y, dtype=np.float64))
        ordered = self._sorted
        at = np.clip(np.searchsorted(ordered, near), 0, len(ordered) - 1)
        order = np.argsort(self.classes.astype(np.float64), kind="stable")
        return np.where(ordered[at] == near, order[at], -1)

    def lacks(self, values: np.ndarray) -> list:
        """The ``values`` (labels found in a file) that are none of the classes, compared as ``encode`` does."""
        near = self._comparable(np.asarray(values, dtype=np.float64))
        return [v for v, c in zip(values, near) if c not in self.classes.astype(np.float64)]

    def written(self, value) -> str:
        """A label ``value`` (float64, as read) as messages write it: by its name where labels are names, at the
        classes' precision where it is a value of their type (the float32 label 0.3 as 0.3), else as it is."""
        if self.names is not None and np.isfinite(value) and value == int(value) and 0 <= value < len(self.names):
            return quoted(self.names[int(value)])
        kind = self.classes.dtype if self.classes is not None else np.dtype(np.float64)
        if kind.kind == "f" and kind.itemsize < 8 and np.isfinite(value) and float(kind.type(value)) == value:
            return shown(kind.type(value))
        return shown(value)

    @property
    def _sorted(self) -> np.ndarray:
        return np.sort(self.classes.astype(np.float64))

    def _reordered(self, indices: np.ndarray) -> np.ndarray:
        """Indices among the sorted classes as indices among the classes in their order (--positive-class)."""
        order = np.argsort(self.classes.astype(np.float64), kind="stable")
        if np.array_equal(order, np.arange(len(order))):
            return indices
        return order[indices.astype(np.int64)].astype(np.float64)

    def with_positive(self, text: str, names: list[str] | None, where: str) -> "Labels":
        """These binary labels with the class written ``text`` (a value, or a name where labels are names) as
        the positive one, index 1; InputError if there is no such class."""
        positive = named_class(self.classes, text, names)
        if positive is None:
            written = [names[int(c)] if names else shown(c) for c in self.classes]
            raise InputError(f"--positive-class: {where} has no class {text!r} (classes: "
                             f"{listed(written, quote=bool(names), what='classes')})")
        return Labels(self.task, self.classes[[1 - positive, positive]], self.names)

    def _refuse(self, value, where: str, row: int):
        raise InputError(f"{where}: {self.refusal(value, f' at row {row}')}")

    def refusal(self, value, at: str = "") -> str:
        """Why the label ``value`` is no class of these, the label's place (`` at row 3``) said after it."""
        if not np.isfinite(value):  # NaN: a missing value (or a categorical's code -1, whose classes may be names)
            return non_finite(value, at)
        return f"label {self.written(value)}{at} is not one of the model's classes ({self.listed()})"

    def listed(self) -> str:
        """The classes as messages list them: by their names where labels are names."""
        return ", ".join(self.written(c) for c in self.classes.astype(np.float64)) if self.names is not None else \
            ", ".join(shown(c) for c in self.classes)

    def decode(self, index: np.ndarray) -> np.ndarray:
        return self.classes[index]


def named_class(classes: np.ndarray, text: str, names: list[str] | None) -> int | None:
    """The index among ``classes`` of the class ``text`` names (``--positive-class``), or None where none is: by
    name where the labels are names (``names``, which the classes are codes of), else by value, so that ``1``,
    ``1.0`` and ``1e0`` are one class, and a bool class ``True`` is also ``true`` and ``1``."""
    written = [names[int(c)] if names else shown(c) for c in classes]
    if text in written:
        return written.index(text)
    if names:
        return None
    if classes.dtype.kind == "b" and text.lower() in ("false", "true"):  # as ``show --json`` writes them
        text = str(int(text.lower() == "true"))
    try:
        value = float(text)
    except ValueError:
        return None
    # (labels stored as float32 are float64 here: 0.2 is 0.20000000298..., the float32 nearest 0.2)
    with np.errstate(over="ignore"):  # a value beyond float32's range: inf, no class
        near = float(np.float32(value))
    same = [i for i, c in enumerate(classes) if float(c) in (value, near)]
    return same[0] if len(same) == 1 else None


def positive_written(classes: np.ndarray, text: str | None, names: list[str] | None) -> str | None:
    """The class a binary model of ``classes`` scores as positive with ``--positive-class text`` (None: its
    default, the larger value, of names the larger code), written as messages write it (a name, or ``1`` for
    1.0); None where that cannot be told: not two classes, or none that ``text`` names."""
    try:
        if classes.ndim != 1 or len(classes) != 2:
            return None
        index = int(np.argmax(classes.astype(np.float64))) if text is None else named_class(classes, text, names)
        return None if index is None else names[int(classes[index])] if names else shown(classes[index])
    except (TypeError, ValueError, IndexError):  # a damaged checkpoint's classes: resume.py ``damage`` says so
        return None


def shown(v) -> str:
    """A label value as messages, ``show`` and predictions write it: 3, not 3.0; a float32 (or float16)
    label as the fewest digits that read back as it, as numpy writes it: 0.1, not 0.10000000149011612 (the
    float64 of the float32 nearest 0.1, which is what ``item`` gives); and a bool (h5py's bools) as False or
    True, as ``show`` lists a model's bool classes, not as the 0 or 1 it compares as."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, np.floating) and v.dtype.itemsize < 8 and not float(v).is_integer():
        return str(v)
    v = v.item() if hasattr(v, "item") else v
    return str(int(v)) if float(v).is_integer() else repr(v)


def check_kind(names: list[str] | None, theirs: list[str] | None, where: str, whose: str) -> None:
    """Labels read as names (``names``, the classes they are read as codes of) or as numbers (None) must be of
    the kind ``whose`` are (``theirs``, likewise): read the other way, 'cat' and 'dog' would be taken for
    whatever numbers stand in their places, and a model scored against them silently."""
    if (names is None) == (theirs is None):
        return
    if names is None:
        raise InputError(f"{where}: labels are numbers, but {whose} are names ({listed_names(theirs)})")
    raise InputError(f"{where}: labels are names ({listed_names(names)}), but {whose} are numbers")


def listed_names(names: list[str]) -> str:
    """Names as messages list them: the first five."""
    return ", ".join(names[:5]) + (", …" if len(names) > 5 else "")


def not_finite(value, where: str, row: int) -> InputError:
    """The error for a label that is not a number: one wording wherever labels are read (train, evaluate,
    validation), NaN said as a missing label."""
    return InputError(f"{where}: {non_finite(value, f' at row {row}')}")


def non_finite(value, at: str = "") -> str:
    return f"label missing (NaN){at}" if np.isnan(value) else f"non-finite label ({value}){at}"


def check_finite_labels(y: np.ndarray, where: str, first_row: int) -> None:
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise not_finite(y[i], where, first_row + i)


def check_targets(model: str, y: np.ndarray, where: str, first_row: int, rows: np.ndarray | None = None) -> None:
    """A regression model's targets ``y`` as ``evaluate`` and validation measure them: finite, as classifiers'
    labels are, and for poisson counts (>= 0), as ``train`` requires; or an InputError naming the first row that
    is not.  ``y[i]`` is the file's row ``first_row + rows[i]`` (``rows`` None: ``first_row + i``)."""
    i = _refused_target(model, y)
    if i is not None:
        row = first_row + (i if rows is None else int(rows[i]))
        raise InputError(f"{where}: {_target_refusal(y[i], f' at row {row}')}")


def first_refused(model: str, labels: Labels, y: np.ndarray) -> tuple[int, str] | None:
    """The index of the first of the labels ``y`` (float64, as read) that a ``model`` of ``labels`` cannot be
    measured against, and why (in the words of ``encode`` and ``check_targets``, without a row); None where it
    can be measured against each."""
    if task_of(model) == "regression":
        i = _refused_target(model, y)
        return None if i is None else (i, _target_refusal(y[i]))
    unknown = np.flatnonzero(labels.class_of(y) < 0)
    return (int(unknown[0]), labels.refusal(y[unknown[0]])) if len(unknown) else None


def _refused_target(model: str, y: np.ndarray) -> int | None:
    """The index of a regression model's first target of ``y`` that is not one (see ``check_targets``)."""
    if task_of(model) != "regression":
        return None
    bad = np.flatnonzero(~np.isfinite(y))
    negative = np.flatnonzero(y < 0) if model == "poisson" and not len(bad) else bad
    return int(negative[0]) if len(negative) else None


def _target_refusal(value, at: str = "") -> str:
    if not np.isfinite(value):
        return non_finite(value, at)
    return f"a poisson model's targets are counts (>= 0); found {shown(value)}{at}"


def _check_squarable(model: str, y: np.ndarray, where: str, first_row: int) -> None:
    """A regression's labels within LABEL_LIMIT, or an InputError naming the first that is not."""
    if task_of(model) != "regression":
        return
    beyond = np.flatnonzero(np.abs(y) > LABEL_LIMIT)
    if len(beyond):
        i = int(beyond[0])
        raise InputError(f"{where}: label {float(y[i])!r} at row {first_row + i} is beyond ±{LABEL_LIMIT:.2g}, where "
                         "the sums of squares that training takes leave float64's range; rescale the labels")


@dataclasses.dataclass
class Found:
    """What a pass over the labels of some rows found: the distinct values of a classifier's trained rows
    (None for regression), the rows with each, and with sample weights the sum of their weights (per value,
    and ``weight_total`` in all)."""

    values: np.ndarray | None
    counts: np.ndarray | None
    weight_sums: np.ndarray | None = None
    weight_total: float = 0.0

    def add(self, values: np.ndarray | None, counts: np.ndarray | None, weight_sums: np.ndarray | None,
            weight_total: float) -> None:
        """Merge the values found in other rows (another block, another worker's share)."""
        self.weight_total += weight_total
        if self.values is None:
            return
        merged, at = np.unique(np.concatenate([self.values, values]), return_inverse=True)

        def summed(a, b):
            return np.bincount(at, weights=np.concatenate([a, b]), minlength=len(merged)).astype(a.dtype)

        self.counts = summed(self.counts, counts)
        if self.weight_sums is not None:
            self.weight_sums = summed(self.weight_sums, weight_sums)
        self.values = merged

    def merge(self, other: "Found") -> None:
        self.add(other.values, other.counts, other.weight_sums, other.weight_total)


def collect(blocks, model: str, where: str, weighted: bool = False) -> Found:
    """One streaming pass over y: check every label is finite, and gather the distinct values of the trained
    rows with how many rows have each, and with ``weighted`` the sums of their sample weights.

    ``blocks`` yields (first_row, raw labels, indices of the rows trained on or None for all, and the rows'
    sample weights or None).
    """
    task = task_of(model)
    found = Found(None, None) if task == "regression" else Found(np.zeros(0), np.zeros(0, dtype=np.int64),
                                                               np.zeros(0) if weighted else None)
    for first_row, y, rows, w in blocks:
        check_finite_labels(y, where, first_row)
        check_targets(model, y, where, first_row)  # a poisson model's counts, in evaluate's words
        _check_squarable(model, y, where, first_row)
        trained_w = None if w is None else (w if rows is None else w[rows])
        with np.errstate(over="ignore"):  # a sum past float64's largest is inf, which Weighting.of refuses
            total = float(trained_w.sum()) if trained_w is not None else 0.0
        if task == "regression":
            found.add(None, None, None, total)
            continue
        values, at, counts = tally(y if rows is None else y[rows], found.values)
        sums = None if trained_w is None else np.bincount(at, weights=trained_w, minlength=len(values))
        found.add(values, counts, sums, total)
        if len(found.values) > MAX_CLASSES:
            raise InputError(f"{where}: more than {MAX_CLASSES} distinct labels; is this a regression target? Use --model linear")
    return found


def tally(labels: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct values of ``labels`` (finite float64, sorted), each label's index among them, and how many
    labels have each: in one compiled pass where every label is one of ``known`` (sorted: the values found in
    the blocks before; none yet, those of the first SEED_ROWS labels), the values then ``known``, some counted 0;
    else by sorting them all, which took many times as long (bench/label_pass.py)."""
    if not len(known):
        known = np.unique(labels[:SEED_ROWS])
    at = np.empty(len(labels))
    if class_indices(labels, _every(len(labels)), known, at) < 0:
        at = at.astype(np.int64)
        return known, at, np.bincount(at, minlength=len(known))
    return np.unique(labels, return_inverse=True, return_counts=True)


def from_values(found: np.ndarray | None, model: str, where: str, y_dtype, among: str = "",
                names: list[str] | None = None) -> Labels:
    """The label mapping for ``model``, or an InputError if the values do not suit it; ``among`` says which
    rows were looked at where not all (" in the 1 row left to train on"); ``names``: the class names the
    values index, where the labels are names."""
    task = task_of(model)
    if task == "regression":
        return Labels("regression", None)
    y_dtype = np.dtype(y_dtype)
    if y_dtype.kind in "iu" and y_dtype.itemsize > 4 and len(found) and np.abs(found).max() >= EXACT_LIMIT:
        # labels are read as float64, which holds every integer only below 2^53: 2^53 and 2^53 + 1 (2^64 - 1
        # and 2^64 - 2) would be one class, and the cast back to y_dtype would overflow
        big = float(found[np.abs(found) >= EXACT_LIMIT][0])
        raise InputError(f"{where}: {y_dtype} labels reach {big:.4g}, 2^53 or more, beyond the integers float64 "
                         "holds exactly, so distinct labels would merge; number the classes from 0, or store them "
                         "as names")
    classes = found.astype(y_dtype) if np.array_equal(found.astype(y_dtype), found) else found
    written = [names[int(c)] for c in classes] if names else [shown(c) for c in classes]
    listed = ", ".join(written[:5]) + (", …" if len(classes) > 5 else "")
    if task == "binary" and len(classes) != 2:
        hint = ("both classes must be present" if len(classes) < 3 else
                "they are not whole numbers, as a regression's targets are: use --model linear (softmax would learn "
                "each distinct value as a class)" if names is None and not np.array_equal(found, np.round(found))
                else "use --model softmax for more than two classes")
        raise InputError(f"{where}: --model {model} needs exactly 2 distinct labels, found {len(classes)}{among} "
                         f"({listed}); {hint}")
    if task == "multiclass" and len(classes) < 2:
        raise InputError(f"{where}: --model softmax needs at least 2 distinct labels, found {len(classes)}{among} "
                         f"({listed})")
    return Labels(task, classes, tuple(names) if names else None)


def class_weights(spec: str | None, labels: Labels, found, per_class, names: list[str] | None, where: str):
    """The weight of each class of ``labels`` (``--class-weight``), or None: balanced is rows / (classes ×
    the class's rows) over the training rows (``found`` values, ``per_class`` rows each; a class absent from
    them weighs 1); an explicit list names classes by value, or by name where the labels are names."""
    if spec is None or labels.classes is None:
        return None
    given = parse_class_weights(spec)
    k = len(labels.classes)
    if given is None:
        rows = np.array([int(per_class[found == c].sum()) for c in labels.classes], dtype=np.float64)
        return np.where(rows > 0, rows.sum() / (k * np.maximum(rows, 1)), 1.0)
    weights, named = np.ones(k), {}
    for name, weight in given.items():  # by value, as --positive-class: 1 and 1.0 are one class
        i = named_class(labels.classes, name, names)
        if i is None:
            written = [names[int(c)] if names else shown(c) for c in labels.classes]
            raise InputError(f"--class-weight: {where} has no class {name!r} (classes: "
                             f"{listed(written, quote=bool(names), what='classes')})")
        if i in named:
            raise InputError(f"--class-weight: {named[i]!r} and {name!r} are one class")
        weights[i], named[i] = weight, name
    if not weights.any():
        raise InputError("--class-weight: every class weighs 0")
    return weights
