"""What a run learns of its data before training: labels, row counts, weights and standardization statistics.

A fresh run reads them in one pass over the labels (and the sample weights)
and, when standardizing, one over the features.  A resumed run takes them
from its checkpoint, except what a checkpoint does not keep: the rows of each
class and the sum of the weights, which a run with class or sample weights
reads again (and says so, as of every pass), in one pass that a logistic
run's start (the labels' log-odds, training/start.py) counts on too.  The
all-zero model's loss over the training rows, which a regression's label
pass sums, is kept, and so is poisson's saturated model's.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import math
import warnings

import numpy as np

from sgdcli.data import rowweights, valuerange
from sgdcli.data.table import Table
from sgdcli.engine import passes
from sgdcli.errors import InputError
from sgdcli.model import labels as labels_mod
from sgdcli.model.labels import Labels
from sgdcli.model.standardize import divisors
from sgdcli.model.weights import Weighting
from sgdcli.model.zeroloss import constant
from sgdcli.options import MOMENTUM_OPTIMIZERS, TrainOptions, task_of
from sgdcli.sizes import format_size, memory_limit
from sgdcli.training import runlog, sampling
from sgdcli.training.autooptimizer import densified

# Arrays of the model's size that training holds: the weights, their gradient, the optimizer's three slots,
# the kernels' work arrays and the copies the model file is made from.
MODEL_COPIES = 8
# On sparse rows, momentum's catch-up keeps a number a column, whatever the outputs (kernels/lazymomentum.py).
SPARSE_CLOCKS = 1


@dataclasses.dataclass(frozen=True)
class DataFacts:
    labels: Labels
    n_train: int  # rows trained on in every epoch
    n_bad: int  # rows left out by --bad-rows skip
    mean: np.ndarray | None  # of the features, as standardization uses them (None: not standardized)
    std: np.ndarray | None
    weighting: Weighting
    zero_loss: float  # the all-zero model's mean loss over the training rows, weighted as the objective weighs them
    count: passes.LabelCount | None = None  # the label pass's (None: none was read, a resume without weights)
    # poisson's saturated model's mean loss over the training rows (the label pass's, else the checkpoint's)
    saturated_loss: float = math.nan
    # the moments pass's (n, figures, centred), from which each run's divisors come (divided): None where the
    # standardization was not computed here (none, a checkpoint's, an initial model's)
    spread: tuple[float, np.ndarray, bool] | None = None


# The facts learnt within ``shared_facts``, by what the runs that would learn the same have in common
_SHARED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("shared_facts", default=None)


@contextlib.contextmanager
def shared_facts():
    """Within it, the runs that would learn the same facts (``learn``'s ``alike``) learn them once: a sweep's,
    whose options differ in the batch size and the rate alone.  Each pass reads the whole file, minutes on one
    larger than memory."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def learn(table: Table, val_table: Table | None, opts: TrainOptions, saved, init, data_pass, message,
          check_stop=lambda stage: None, progress=lambda stage: None, alike: str | None = None) -> DataFacts:
    """The facts of ``table`` for a run of ``opts``: from the checkpoint ``saved`` where there is one, else from
    the passes, each run by ``data_pass(fn, stage)``; ``init``, a warm start's initial model (or None), whose
    classes and standardization the run keeps; ``message(text)`` says what is being read; ``check_stop(stage)``,
    between the blocks of the --val file's pass (here, wherever training runs), raises where a signal came, and
    ``progress(stage)``, None or that pass's ``progress(rows read, rows in all)``.  ``alike``: what the runs whose
    passes would find the same have in common (run.py: the fingerprints of the data, and of the options but the
    batch size and rate), by which ``shared_facts`` keeps them (None: not kept)."""
    shared = _SHARED.get() if saved is None and alike is not None else None
    if shared is not None and alike in shared:
        facts = shared[alike]
        check_sizes(table, opts, facts.n_train)
        parts = ["labels"] + (["weights"] if table.W is not None else []) + (
            ["feature moments"] if facts.std is not None and init is None else [])
        message(f"{_listed(parts)} of {table.path}: as an earlier run of the sweep read them (no pass)")
        return facts
    facts = _learnt(table, val_table, opts, saved, init, data_pass, message, check_stop, progress)
    if shared is not None:
        shared[alike] = facts
    return facts


def _listed(parts: list[str]) -> str:
    """``parts`` as a sentence lists them: "a", "a and b", "a, b and c"."""
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def _learnt(table: Table, val_table: Table | None, opts: TrainOptions, saved, init, data_pass, message,
            check_stop, progress) -> DataFacts:
    """``learn``'s facts, read."""
    count, weighting, spread = None, None, None
    if saved is not None:
        labels = Labels(task_of(opts.model), saved.classes)
        n_train, n_bad, mean, std = saved.n_train, saved.n_bad, saved.mean, saved.std
        zero_loss = saved.zero_loss
    else:
        parts = ["labels"] + (["weights"] if table.W is not None else []) + (
            ["features"] if opts.bad_rows == "skip" else [])
        message(f"reading {_listed(parts)} of {table.path} (one pass)")
        count = data_pass(passes.label_pass, "reading the labels")
        known = (init.model.labels, f"--init {init.path}") if init is not None else (None, "")
        labels = passes.labels_of(count, table, opts, *known)
        runlog.warn_empty_name(table, count.labels)
        n_train, n_bad = count.n_train, count.n_bad
        zero_loss = count.zero.mean() if labels.task == "regression" else constant(opts.model, labels.n_outputs)
        check_sizes(table, opts, n_train)
        check_model_size(table, labels.n_outputs)
        if val_table is not None:
            message(f"checking the labels and features of {val_table.path} (--val, one pass)")
            stage = "checking the --val file"
            passes.check_val_labels(val_table, labels, opts, lambda: check_stop(stage), progress(stage))
        # refused before another pass
        weighting, count = _weighting(table, opts, labels, count, n_train, data_pass, message, init)
        mean = std = None
        not_centred = sampling.stays_sparse(table)
        if init is not None and not opts.restandardize:  # its weights mean what they meant
            mean, std = init.model.center, init.model.scale
            if not_centred and mean is not None and mean.any():  # wide sparse rows are scaled, never centered: the
                mean = np.zeros_like(mean)  # center goes into the bias (warmstart.weights), the scale stays
        elif opts.standardize:
            message(_moments_line(table, opts, not_centred))
            moments = functools.partial(passes.moment_pass, scale=weighting.moments_scale(), by_class=None if
                                        weighting.class_weights is None else (weighting, labels.classes))
            # (rows weigh as in the loss)
            stats = data_pass(moments, "standardizing")
            mean, std = (np.zeros_like(stats.mean) if not_centred else stats.mean), stats.std()
            warn_coarse(table, lambda: (mean, std))
            spread = (stats.n, stats.figures, not not_centred)
        elif not_centred:  # what the default did, and why, where it is not a dense file's
            message(f"{table.path}: sparse rows too wide to centre ({table.n_features:,} columns, about "
                    f"{table.X.nonzeros_per_row():,.0f} nonzeros a row): trained as stored, not standardized; "
                    "--standardize scales them (docs/sparse.md)")
    if weighting is None:  # a resume: the pass its weights read, if any, is kept for where the bias starts
        weighting, count = _weighting(table, opts, labels, count, n_train, data_pass, message, init)
    saturated = count.zero.saturated_loss() if count is not None else saved.saturated_loss
    return DataFacts(labels, n_train, n_bad, mean, std, weighting, zero_loss, count, saturated, spread)


def warn_coarse(table: Table, moments) -> None:
    """The warning for features stored wider than float32 whose variation the float32 they are read as keeps
    little of (valuerange.coarse_text); ``moments()``: the features' means and deviations, asked for only where
    they can be so (dense rows stored wider)."""
    if table.x_wide and not table.sparse:
        coarse = valuerange.coarse_text(table.where(table.x_name), table.feature_names, *moments())
        if coarse is not None:
            warnings.warn(coarse, valuerange.CoarseFeatures)


def _weighting(table: Table, opts: TrainOptions, labels, count, n_train: int, data_pass, message, init
               ) -> tuple[Weighting, passes.LabelCount | None]:
    """How the training rows weigh (--sample-weight, --class-weight), from the label pass ``count`` (None: run
    it, as a checkpoint keeps neither the rows of each class nor the sums of weights, and say so with
    ``message``, as every other pass is told of); and that pass, or None where there was none and the rows weigh
    alike.  ``init``: a warm start's initial model, where a logistic bias starts instead of the pass's log-odds."""
    if opts.class_weight is None and table.W is None:
        return Weighting(None, None, float(n_train), n_train), count
    if count is None:
        bias = " and where the bias starts" if opts.model == "logistic" and init is None else ""
        message(f"reading the labels{' and weights' if table.W is not None else ''} of {table.path} (one pass): "
                f"how the rows weigh{bias}")
        count = data_pass(passes.label_pass, "reading the labels")
    where = table.where(table.y_name)
    class_weights = labels_mod.class_weights(opts.class_weight, labels, count.found, count.per_class,
                                             table.class_names, where)
    weighting = Weighting.of(rowweights.name(table), class_weights, labels.classes, count.found, count.per_class,
                             count.labels.weight_sums, count.labels.weight_total, n_train,
                             table.where(table.w_name) if table.W is not None else where, rowweights.option(table))
    if labels.classes is not None and len(labels.classes) >= 2 and init is None:  # a classifier of one class
        # learns nothing: it predicts that class whatever the row, at a loss near 0 (a warm start goes on from
        # its model's classes, present in these rows or not)
        sums = count.labels.weight_sums if table.W is not None else count.per_class
        by_class = np.ones(len(labels.classes)) if class_weights is None else class_weights
        weighed = [c for w, c in zip(by_class, labels.classes) if w * float(sums[count.found == c].sum()) > 0]
        if len(weighed) < 2:
            option, at = ((rowweights.option(table) + (" × --class-weight" if class_weights is not None else ""),
                           table.where(table.w_name)) if table.W is not None else ("--class-weight", where))
            name = (repr(table.class_names[int(weighed[0])]) if table.class_names else labels.written(weighed[0]))
            raise InputError(f"{option}: {at}: only the training rows of class {name} weigh anything; a classifier "
                             "learns from two classes or more")
    return weighting, count


def divided(table: Table, opts: TrainOptions, facts: DataFacts, batch: int, full: bool, message) -> np.ndarray | None:
    """What the features are divided by in a run of ``opts`` at ``batch`` rows (``full``: every training row in
    each step), from the moments pass where ``facts`` have one (model/standardize.py ``divisors``), else the
    standard deviations they hold; ``message(text)`` says which features are divided by more.  The rate of sgd,
    momentum and nesterov is sized by the features' trace, which a heavy feature's rows overshoot; a full
    batch's, 1/L, counts every row's curvature, and the adaptive optimizers step each weight by about the rate
    whatever the gradient's scale: their features are divided by their deviations."""
    if facts.spread is None or full or opts.optimizer not in ("sgd", *MOMENTUM_OPTIMIZERS):
        return facts.std
    n, figures, centred = facts.spread
    std, heaviness = divisors(n, figures, facts.std, centred,
                              batch * (1.0 - opts.momentum) if opts.optimizer in MOMENTUM_OPTIMIZERS else batch)
    line = _heavy_line(table, facts.std, std, heaviness)
    if line:
        message(line)
    return std


def _heavy_line(table: Table, deviation: np.ndarray, divisor: np.ndarray, heaviness: np.ndarray) -> str:
    """What the log says of the features divided by more than their deviation, or ""."""
    times = np.divide(divisor, deviation, out=np.ones_like(divisor), where=deviation > 0)
    heavy = np.flatnonzero(times > 1.0)
    if not len(heavy):
        return ""
    j = int(heavy[np.argmax(times[heavy])])
    names = table.feature_names
    name = repr(names[j]) if names is not None and names[j] != str(j) else str(j)
    return (f"{table.path}: {len(heavy):,} feature{'s' if len(heavy) > 1 else ''} whose spread sits in a few rows "
            f"divided by more than {'their' if len(heavy) > 1 else 'its'} deviation, so that no step overshoots "
            f"those rows: feature {name} by {times[j]:.3g} times its deviation (its heaviness "
            f"{heaviness[j]:.3g}, E[z⁴] / E[z²]; docs/training.md#standardization)")


def _moments_line(table: Table, opts: TrainOptions, not_centred: bool) -> str:
    """What the pass of the features' moments says it computes, and, for sparse rows, how they train."""
    if not_centred:
        return (f"computing feature deviations of {table.path} (one pass; sparse rows this wide are scaled, not "
                "centered, which would make every step's cost their columns')")
    how = ""
    if table.sparse:
        how = "; its sparse rows, dense enough, are centred as dense rows are" + (
            ", and the dense kernels train them, a piece of rows at a time made dense" if densified(table, opts)
            else "")
    return f"computing feature means and deviations of {table.path} (one pass{how})"


def check_model_size(table: Table, outputs: int) -> None:
    """The model fits in memory: refused up front, not killed by the out-of-memory killer (a file hashed into
    2^31 columns)."""
    copies = MODEL_COPIES * outputs + (SPARSE_CLOCKS if table.sparse else 0)
    need, limit = 8 * copies * (table.n_features + 1), memory_limit()
    if limit is not None and need > limit:
        raise InputError(f"{table.where(table.x_name)}: a model of its {table.n_features:,} features "
                         f"({outputs} output{'s' if outputs > 1 else ''}) needs about {format_size(need)} for its "
                         f"weights, their gradient and the optimizer's state, more than the {format_size(limit)} "
                         "this process may use; use fewer features (convert with a smaller --hash-bits)")


def check_sizes(table: Table, opts: TrainOptions, n_train: int) -> None:
    """The batch fits the training rows and --memory."""
    batch = n_train if opts.batch_size is None else opts.batch_size
    if batch > n_train:
        raise InputError(f"--batch-size {batch} is larger than the {n_train} training rows of {table.path}: give "
                         f"one of at most {n_train}, or --batch-size full")
    if opts.batch_size is not None and batch * table.row_bytes() > opts.memory:
        raise InputError(
            f"--batch-size {batch} needs {format_size(batch * table.row_bytes())} per batch "
            f"({table.n_features} features), more than --memory {format_size(opts.memory)}; raise --memory, "
            f"lower --batch-size, or use --batch-size full, which accumulates the gradient block by block"
        )
