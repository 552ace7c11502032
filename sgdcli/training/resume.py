"""``--resume``: the checkpoint that continues a run, and what is checked of it beyond its options and data.

checkpoint.py reads a checkpoint, and fingerprints.py compares its
fingerprints with the run's.  Two more questions are answered here, from what the run knows:

- ``damage``: do the checkpoint's contents fit the run?  HDF5 reads a file
  whose arrays were cut, rotted or copied from another run without
  complaint, and the kernels trust their arguments: a weight matrix one
  column short was read past its end, a NaN weight looked like a blow-up
  (which ``--lr auto`` answers by starting over at half the rate, exit 0,
  another model), a negative epoch failed deep inside.  A checkpoint with
  arrays of other shapes than the run's, values that are not finite, or a
  position outside the run is treated as unreadable: the run falls back to
  ``PATH.prev``, or stops (exit 1), or with ``--restart-stale`` starts over.
- ``finished``: did the checkpoint's run finish?  A run killed between
  writing its model and removing its checkpoint (a window of one rename)
  leaves both.  Resuming it is harmless, as it writes the same model again,
  unless that model is the run's own ``--init`` (the nightly ``--init m.h5
  -o m.h5``): then the initial model changed since the checkpoint, and the
  run was refused, night after night.  The model records what it was
  trained from (``training.lineage``: the digest of the initial model, the
  data's fingerprint) and with which options; where those are the
  checkpoint's, the model is what the checkpoint's run makes (training is
  deterministic), so that run finished.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from sgdcli.kernels.optimizers import N_SLOTS
from sgdcli.kernels.state import EPOCH, FILL, N_COUNTERS, N_SUMS, T
from sgdcli.options import TrainOptions, task_of
from sgdcli.training import checkpoint as ckpt_mod
from sgdcli.training import fingerprints, replicas
from sgdcli.training.rate import MAX_HALVINGS


@dataclasses.dataclass(frozen=True)
class RunShape:
    """What a run's checkpoint must fit: its data's size, and the options that fix its arrays and positions."""

    n_features: int
    n_rows: int
    task: str  # regression, binary or multiclass
    epochs: int
    batch_size: int | None  # None: the full batch
    drop_last: bool
    shards: int  # models averaged (--parallel average, --dask); 1 otherwise
    early_stopping: bool

    def iterations(self, n_train: int) -> int:
        """Updates in an epoch of ``n_train`` training rows (as Run counts them)."""
        batch = n_train if self.batch_size is None else self.batch_size
        return replicas.epoch_steps(n_train, batch, self.shards, self.drop_last)


def load(run) -> ckpt_mod.Checkpoint | None:
    """The checkpoint that continues ``run`` (a training/run.py ``Run`` being set up), or None where it starts
    from scratch: checkpoint.py ``to_resume``, with ``damage`` and ``finished`` for this run."""
    path = run.control.checkpoint  # (RunControl refuses resume=True without one)
    opts, table = run.opts, run.table
    shape = RunShape(table.n_features, table.n_rows, task_of(opts.model), opts.epochs, opts.batch_size,
                     opts.drop_last, run.shards, opts.early_stopping)
    options, data = run.fingerprints
    defaults = TrainOptions().as_dict()

    def check(ckpt):  # one made for other options or data is refused as such, not as damaged
        return _metadata(ckpt) or (damage(ckpt, shape) if fingerprints.mismatch(ckpt, options, data, path, defaults)
                                   is None else None)

    return ckpt_mod.to_resume(path, options, data, defaults, run.control.restart_stale, run.reporter.message,
                              check, lambda ckpt: finished(ckpt, run.init, opts.as_dict(), defaults))


def finished(ckpt: ckpt_mod.Checkpoint, init, model_options: dict, defaults: dict) -> str | None:
    """Why the ``--init`` model ``init`` (training/warmstart.py ``WarmStart``, or None) is the model that the run
    of ``ckpt`` wrote, or None where it is not: it was trained from the checkpoint's initial model, on the
    checkpoint's data, with this run's options (``model_options``, as its model records them), which the
    checkpoint's are."""
    then = ckpt.data.get("init")
    if init is None or not isinstance(then, dict) or not then.get("weights"):
        return None
    made = init.model.training.get("lineage") or [{}]
    last = made[-1] if isinstance(made[-1], dict) else {}
    started = last.get("started_from") if isinstance(last.get("started_from"), dict) else {}
    if started.get("fingerprint") != then.get("weights") or last.get("data") != ckpt.data.get("train"):
        return None
    recorded = {**{k: v for k, v in defaults.items() if k not in init.model.options}, **init.model.options}
    if fingerprints.differences(*fingerprints.as_run_reads(recorded, model_options, ckpt.n_train, ckpt.classes,
                                                           fingerprints.class_names(ckpt.data))):
        return None
    return (f"the --init model {init.path} is the model it wrote (trained from the model it started from, on the "
            "same data, with the same options)")


def _metadata(ckpt) -> str | None:
    """Attributes of the wrong JSON type, which the comparisons and the run would fail on."""
    for name, kind in (("options", dict), ("data", dict), ("history", list)):
        if not isinstance(getattr(ckpt, name), kind):
            return f"{name} is not a JSON {'object' if kind is dict else 'list'}"
    if ckpt.stopper is not None and not isinstance(ckpt.stopper, dict):
        return "stopper is not a JSON object"
    return None


def damage(ckpt, run: RunShape) -> str | None:
    """What is wrong with the contents of the checkpoint ``ckpt`` for a run of shape ``run``, or None."""
    for check in (_classes, _state, _standardization, _position, _early_stopping):
        problem = check(ckpt, run)
        if problem:
            return problem
    return None


def _outputs(ckpt, run: RunShape) -> int:
    return len(ckpt.classes) if run.task == "multiclass" else 1


def _classes(ckpt, run: RunShape) -> str | None:
    c = ckpt.classes
    if run.task == "regression":
        return "classes in a checkpoint of a regression model" if c is not None else None
    if c is None:
        return f"no classes in a checkpoint of a {run.task} model"
    if c.ndim != 1 or c.dtype.kind not in "biuf":
        return f"classes are not a list of numbers (shape {c.shape}, dtype {c.dtype.str})"
    if not np.isfinite(c.astype(np.float64)).all():
        return "classes have a non-finite value"
    if len(np.unique(c)) != len(c):
        return "classes repeat a value"
    if (run.task == "binary" and len(c) != 2) or len(c) < 2:
        return f"classes has {len(c)} values; a {run.task} model has {'2' if run.task == 'binary' else 'at least 2'}"
    return None


def _weights_shape(name: str, a: np.ndarray, outputs: int, d: int) -> str | None:
    """``name`` (outputs × features + bias) as it must be: float64 of that shape, finite."""
    if a.ndim != 2:
        return f"{name} has {a.ndim} dimensions, not 2 (outputs × features + bias)"
    if a.shape[0] != outputs:
        return f"{name} has {a.shape[0]} rows for {outputs} output{'s' * (outputs != 1)}"
    if a.shape[1] != d + 1:
        return f"{name} has {a.shape[1]} columns for {d} features + bias"
    return _floats(name, a)


def _floats(name: str, a: np.ndarray) -> str | None:
    if a.dtype != np.float64:
        return f"{name} holds {a.dtype} values, not float64"
    bad = np.flatnonzero(~np.isfinite(a))
    if len(bad):
        at = [int(i) for i in np.unravel_index(bad[0], a.shape)]
        return f"{name} has a non-finite value ({a.flat[bad[0]]} at {at})"
    return None


def _state(ckpt, run: RunShape) -> str | None:
    s, k, d = ckpt.state, _outputs(ckpt, run), run.n_features
    problem = _weights_shape("state/W", s.W, k, d) or _weights_shape("state/G", s.G, k, d)
    if problem:
        return problem
    if s.slots.shape != (N_SLOTS, k, d + 1):
        return (f"state/slots has shape {s.slots.shape}; expected {(N_SLOTS, k, d + 1)} (slots × outputs × features "
                "+ bias)")
    if s.counters.shape != (N_COUNTERS,) or s.counters.dtype != np.int64:
        return f"state/counters is {s.counters.dtype} of shape {s.counters.shape}, not int64 of ({N_COUNTERS},)"
    if s.sums.shape != (N_SUMS,):
        return f"state/sums has shape {s.sums.shape}, not ({N_SUMS},)"
    problem = _floats("state/slots", s.slots) or _floats("state/sums", s.sums)
    if problem:
        return problem
    if ckpt.best_params is not None:
        return _weights_shape("best_params", ckpt.best_params, k, d)
    return None


def _standardization(ckpt, run: RunShape) -> str | None:
    if (ckpt.mean is None) != (ckpt.std is None):
        return "mean without std" if ckpt.std is None else "std without mean"
    if ckpt.mean is None:
        return None
    for name in ("mean", "std"):
        a = getattr(ckpt, name)
        if a.shape != (run.n_features,):
            return f"{name} has shape {a.shape} for {run.n_features} features"
        problem = _floats(name, a)
        if problem:
            return problem
    bad = np.flatnonzero(~(ckpt.std >= 0))  # 0: a feature constant in training (model/standardize.py)
    if len(bad):
        return f"std has {ckpt.std[bad[0]]} at feature {bad[0]}; a standard deviation is not negative"
    return None


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _position(ckpt, run: RunShape) -> str | None:
    p, n_rows = ckpt.position, run.n_rows
    for name in ("epoch", "block", "row", "epoch_start_t", "rows_seen", "bad_rows", "lr_halvings"):
        if not _count(getattr(p, name)):
            return f"position {name} is {getattr(p, name)!r}, not a count"
    if not (isinstance(p.seconds, (int, float)) and math.isfinite(p.seconds) and p.seconds >= 0):
        return f"position seconds is {p.seconds!r}"
    if not (1 <= ckpt.n_train <= n_rows and 0 <= ckpt.n_bad <= n_rows - ckpt.n_train):
        return f"{ckpt.n_train} training rows and {ckpt.n_bad} skipped of the data's {n_rows}"
    if p.epoch > run.epochs:
        return f"position epoch {p.epoch} is past the run's {run.epochs} epochs"
    if len(ckpt.history) != p.epoch or not all(isinstance(record, dict) for record in ckpt.history):
        return f"history has {len(ckpt.history)} records for {p.epoch} epochs done"
    if p.lr_halvings > MAX_HALVINGS:
        return f"position lr_halvings {p.lr_halvings} is over {MAX_HALVINGS}"
    for name in ("block", "row", "rows_seen", "bad_rows"):
        if getattr(p, name) > n_rows:
            return f"position {name} {getattr(p, name)} is past the data's {n_rows} rows"
    counters, iterations = ckpt.state.counters, run.iterations(ckpt.n_train)
    t, batch = int(counters[T]), ckpt.n_train if run.batch_size is None else run.batch_size
    if not 0 <= p.epoch_start_t <= t:
        return f"position epoch_start_t {p.epoch_start_t} is past the {t} updates done"
    if not 0 <= counters[FILL] < batch or counters[EPOCH] < 0:
        return f"state/counters {counters.tolist()} do not fit batches of {batch} rows"
    if p.shards is None:
        if t - p.epoch_start_t > iterations:
            return (f"position: iteration {t - p.epoch_start_t} of epoch {p.epoch + 1} is past its {iterations} "
                    "iterations")
        return None
    return _shards(p.shards, run, math.ceil(ckpt.n_train / batch))


def _shards(shards, run: RunShape, most_steps: int) -> str | None:
    """The positions of the shards of a run that averages models: one per shard, [block, row, steps, done]."""
    if not isinstance(shards, list) or len(shards) != run.shards:
        return f"position shards is not a list of the run's {run.shards} shards"
    for w, shard in enumerate(shards):
        if not (isinstance(shard, list) and len(shard) == 4 and all(_count(v) for v in shard[:3])
                and isinstance(shard[3], bool) and shard[0] <= run.n_rows and shard[1] <= run.n_rows
                and shard[2] <= most_steps):
            return f"position of shard {w + 1} is {shard!r}, not [window, row, steps, done] within the epoch"
    return None


def _early_stopping(ckpt, run: RunShape) -> str | None:
    s = ckpt.stopper
    if not run.early_stopping:
        return None
    if s is None:
        return "no early-stopping state in a checkpoint of a run that stops early"
    if not (isinstance(s.get("best_loss"), (int, float)) and _count(s.get("best_epoch")) and _count(s.get("stale"))
            and isinstance(s.get("stopped"), bool) and s["best_epoch"] <= ckpt.position.epoch):
        return f"early-stopping state {s!r} is not that of this run's epochs"
    return None
