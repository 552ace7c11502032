"""The passes over the data before training: labels and row counts, feature moments, validation labels.

Each pass runs over a list of blocks and returns something that merges with
the result of another list: a distributed run (parallel/cluster.py) gives
every worker its share of the blocks and merges the parts at the driver, in
shard order.  Each calls ``check_stop()`` before each of its blocks, in
order, and nowhere else: ``watched`` counts those calls to tell how far a
pass has read.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Callable

import numpy as np

from sgdcli.data import rowweights
from sgdcli.data.prefetch import stream_blocks
from sgdcli.data.selection import finite_mask, select_rows
from sgdcli.data.table import Table
from sgdcli.errors import InputError
from sgdcli.kernels.losses import loss_of
from sgdcli.kernels.moments import M2, M3, M4, MEAN
from sgdcli.model import labels as labels_mod
from sgdcli.model import weights as weights_mod
from sgdcli.model.labels import Labels
from sgdcli.model.standardize import Figured, RunningMoments, merge_figures
from sgdcli.model.zeroloss import ZeroLoss
from sgdcli.options import TrainOptions, task_of


@dataclasses.dataclass
class LabelCount:
    """What the label pass found: the labels of the training rows (distinct values, rows and sample weights
    of each; labels.Found), row counts, and a regression's all-zero loss summed over the training rows."""

    labels: labels_mod.Found
    n_train: int
    n_bad: int  # rows skipped by --bad-rows skip
    zero: ZeroLoss = dataclasses.field(default_factory=ZeroLoss)

    @property
    def found(self) -> np.ndarray | None:
        """The distinct label values of the training rows (None for regression)."""
        return self.labels.values

    @property
    def per_class(self) -> np.ndarray | None:
        """Training rows with each value of ``found``."""
        return self.labels.counts

    def merge(self, other: "LabelCount") -> None:
        self.labels.merge(other.labels)
        self.n_train += other.n_train
        self.n_bad += other.n_bad
        self.zero.merge(other.zero)


def watched(spans, check_stop: Callable[[], None], progress: Callable[[int, int], None] | None
            ) -> Callable[[], None]:
    """``check_stop`` for a pass over ``spans`` (which calls it before each of them, in order) that also tells
    ``progress(rows read, rows in all)`` before each: a pass over a file of 10^8 rows takes minutes, silent in a
    cron log without it.  ``progress`` None: ``check_stop`` itself."""
    if progress is None:
        return check_stop
    total = sum(stop - start for start, stop in spans)
    done = itertools.accumulate((stop - start for start, stop in spans), initial=0)

    def before_block():
        check_stop()
        progress(next(done, total), total)

    return before_block


def label_pass(table: Table, spans, block_rows: int, opts: TrainOptions, check_stop=lambda: None) -> LabelCount:
    """Classes, finite labels, training rows and rows skipped, over ``spans``; with sample weights, their
    checks and sums; a regression's all-zero loss over the training rows (model/zeroloss.py).

    It reads y (and the weights) only, unless --bad-rows skip asks for the
    features to be checked too, so that the row count (and iterations per
    epoch) are exact.
    """
    counts = [0, 0]  # training rows, skipped rows
    where_w, option_w = table.where(table.w_name), rowweights.option(table)  # (what a bad weight's error names)
    zero, loss = ZeroLoss(), loss_of(opts.objective) if task_of(opts.model) == "regression" else None

    def add_zero(y, w):  # after collect() has checked the labels it was given: finite, a poisson model's >= 0
        if loss is not None:
            zero.add(loss, y, w)

    def blocks():
        if opts.bad_rows == "skip":
            for block in stream_blocks(table, spans, block_rows):
                check_stop()
                if block.w is not None:
                    weights_mod.check(block.w, where_w, block.start, option_w)
                rows, bad = select_rows(block.start, block.stop - block.start, opts.val_fraction, opts.seed,
                                        finite=finite_mask(block))
                counts[0] += len(rows)
                counts[1] += bad
                y, w = block.y[rows], None if block.w is None else block.w[rows]
                yield block.start, y, None, w
                add_zero(y, w)
            return
        buf, wbuf = np.empty(block_rows), np.empty(block_rows) if table.W is not None else None
        for start, stop in spans:
            check_stop()
            y = table.Y.read(start, stop, buf)
            w = table.W.read(start, stop, wbuf) if table.W is not None else None
            if w is not None:
                weights_mod.check(w, where_w, start, option_w)
            rows, _ = select_rows(start, stop - start, opts.val_fraction, opts.seed)
            counts[0] += len(rows)
            yield start, y, rows, w
            add_zero(y[rows], None if w is None else w[rows])

    found = labels_mod.collect(blocks(), opts.model, table.where(table.y_name), weighted=table.W is not None)
    return LabelCount(found, counts[0], counts[1], zero)


def labels_of(count: LabelCount, table: Table, opts: TrainOptions, known: Labels | None = None,
              known_from: str = "") -> Labels:
    """The label mapping the whole file's pass found, or an InputError if nothing is left to train on.

    ``known``: a classifier's classes given in advance (``known_from``, a model a run starts from): the
    labels found must be among them, and they stay the run's classes, present or not.
    """
    if count.n_train == 0:
        held = table.n_rows - count.n_bad
        raise InputError(f"{table.shown}: no rows left to train on ({held} held out by --val-fraction, "
                         f"{count.n_bad} skipped by --bad-rows skip)")
    if opts.val_fraction > 0 and count.n_train + count.n_bad == table.n_rows:  # its metrics: means over nothing
        raise InputError(f"--val-fraction {opts.val_fraction:g}: holds out none of the {table.n_rows:,} rows of "
                         f"{table.shown}; raise it, or validate on a file of its own with --val")
    where = table.where(table.y_name)
    if table.class_names is not None and task_of(opts.model) == "regression":
        raise InputError(f"{where}: labels are names ({labels_mod.listed_names(table.class_names)}); "
                         f"--model {opts.model} needs numbers")
    if known is None or known.classes is None:
        among = "" if count.n_train == table.n_rows else (
            f" in the {count.n_train:,} row{'s' if count.n_train != 1 else ''} left to train on")
        labels = labels_mod.from_values(count.found, opts.model, where, table.y_dtype, among, table.class_names)
        return labels if opts.positive_class is None else labels.with_positive(opts.positive_class,
                                                                                table.class_names, where)
    if opts.positive_class is not None and not np.array_equal(
            known.with_positive(opts.positive_class, table.class_names, where).classes, known.classes):
        raise InputError(f"--positive-class {opts.positive_class}: {known_from} has the other class as its positive "
                         "one")
    unknown = known.lacks(count.found)
    if unknown:
        raise InputError(f"{where}: label {known.written(unknown[0])} is not one of the classes of {known_from} "
                         f"({known.listed()})")
    return known


def moment_pass(table: Table, spans, block_rows: int, opts: TrainOptions, check_stop=lambda: None, *,
                by_class: tuple[weights_mod.Weighting, np.ndarray] | None = None, scale: float = 1.0
                ) -> RunningMoments:
    """Mean and standard deviation of the training rows' features, over ``spans``, each row weighted as the loss
    weighs it: by its sample weight (where the table has them) times its class's weight (``by_class``: the
    run's weighting and its classes, where it has class weights), so that class weights standardize as the
    same weights given as sample weights, or as the rows repeated, do; each times ``scale`` (model/weights.py
    ``moments_scale``)."""
    if table.sparse:
        return _sparse_moments(table, spans, block_rows, opts, check_stop, by_class, scale)
    stats = RunningMoments(table.n_features)
    skip = opts.bad_rows == "skip"
    for block in stream_blocks(table, spans, block_rows):
        check_stop()
        rows, _ = select_rows(block.start, block.stop - block.start, opts.val_fraction, opts.seed,
                              finite=finite_mask(block) if skip else None)
        bad = stats.update(block.X, rows, _row_weights(block, by_class, scale))
        if bad >= 0:
            raise InputError(table.nonfinite(block.start + int(rows[bad])))
    return stats


class SparseMoments(Figured):
    """Per-feature means and sums of squared deviations from them of sparse rows (their zeros count; each row
    times its weight, where rows have weights, and ``n`` their weight), a block's from its own mean, and blocks
    merged by Chan et al.'s update, as RunningMoments merges them: E[x²] − E[x]², which this took before, left a
    column near a value far from 0 (10⁵ ± 1) a deviation off in its fourth digit, its rounding.  The run decides
    whether the mean centres the rows (training/autooptimizer.py ``dense_enough``).  The sums of the deviations'
    cubes and fourth powers merge too (kernels/moments.py), for the columns whose spread sits in a few rows
    (model/standardize.py ``divisors``)."""

    def __init__(self, d: int):
        self.n = 0.0
        self.figures = np.zeros((4, d))  # the mean, and the sums of the deviations' squares, cubes, fourth powers
        # which columns are constant: the rows counted, and each column's nonzero values counted, least and most
        self.rows, self.present = 0, np.zeros(d, dtype=np.int64)
        self.low, self.high = np.full(d, np.inf), np.full(d, -np.inf)

    def merge(self, other: "SparseMoments") -> None:
        merge_figures(self.n, self.figures, other.n, other.figures)
        self.n += other.n
        self.rows += other.rows
        self.present += other.present
        np.minimum(self.low, other.low, out=self.low)
        np.maximum(self.high, other.high, out=self.high)

    def std(self) -> np.ndarray:
        """0 for a constant column (all zeros, or one value in every row), as RunningMoments.std: one of a large
        value would have a deviation of rounding, and, centred, a gradient of it."""
        sd = np.sqrt(np.maximum(self.m2 / self.n, 0.0)) if self.n > 0 else np.zeros_like(self.mean)
        sd[(self.present == 0) | ((self.present == self.rows) & (self.low == self.high)) | ~(sd > 0)] = 0.0
        return sd


def _row_weights(block, by_class: tuple[weights_mod.Weighting, np.ndarray] | None,
                 scale: float = 1.0) -> np.ndarray | None:
    """The weights of a block's rows in the statistics: sample weight × class weight (None: 1 each), × ``scale``."""
    if by_class is None:
        v = block.w
    else:
        weighting, classes = by_class
        v = weighting.of_classes(block.y, classes)
        v = v if block.w is None else v * block.w
    return v * scale if v is not None and scale != 1.0 else v


def _sparse_moments(table: Table, spans, block_rows: int, opts: TrainOptions, check_stop,
                    by_class: tuple[weights_mod.Weighting, np.ndarray] | None, scale: float) -> SparseMoments:
    stats = SparseMoments(table.n_features)
    for block in stream_blocks(table, spans, block_rows):
        check_stop()
        rows, _ = select_rows(block.start, block.stop - block.start, opts.val_fraction, opts.seed,
                              finite=finite_mask(block) if opts.bad_rows == "skip" else None)
        w = _row_weights(block, by_class, scale)
        X = block.X
        keep = np.zeros(X.n_rows, dtype=bool)
        keep[rows] = True
        entries = np.repeat(keep, np.diff(X.indptr))
        values, columns = X.data[entries].astype(np.float64), X.indices[entries]
        if not np.isfinite(values).all():
            row = int(np.repeat(np.arange(X.n_rows), np.diff(X.indptr))[entries][~np.isfinite(values)][0])
            raise InputError(table.nonfinite(block.start + row))
        d = table.n_features
        part = SparseMoments(d)
        each = None if w is None else np.repeat(w, np.diff(X.indptr))[entries]  # each entry weighs as its row
        part.n = len(rows) if w is None else float(w[rows].sum())
        if part.n > 0:
            mean = part.figures[MEAN]
            np.divide(np.bincount(columns, weights=values if each is None else values * each, minlength=d), part.n,
                      out=mean)
            deviations = values - mean[columns]
            # the block's zeros, at -mean: its weight less its entries' (a column twice in a row counts as two values)
            zeros = part.n - np.bincount(columns, weights=each, minlength=d)
            scratch = np.empty(d)  # in place, one array of the columns at a time: there may be millions
            for k in (M2, M3, M4):  # the deviations' power k + 1
                power = deviations ** (k + 1) if each is None else deviations ** (k + 1) * each
                part.figures[k] = np.bincount(columns, weights=power, minlength=d)
                np.negative(mean, out=scratch)
                np.power(scratch, k + 1, out=scratch)
                scratch *= zeros
                part.figures[k] += scratch
        part.rows = len(rows)
        part.present = np.bincount(columns, minlength=d)
        np.minimum.at(part.low, columns, values)
        np.maximum.at(part.high, columns, values)
        stats.merge(part)
    return stats


@dataclasses.dataclass
class Skipped:
    """Per extent of the page shuffle (data/shuffle.py), the rows not held out that --bad-rows skip leaves out,
    mergeable: what the shares of averaged models are cut by (parallel/averaging.py)."""

    counts: np.ndarray

    def merge(self, other: "Skipped") -> None:
        self.counts += other.counts


def skipped_pass(extent_rows: int, n_extents: int, table: Table, spans, block_rows: int, opts: TrainOptions,
                 check_stop=lambda: None) -> Skipped:
    """The rows of each extent of ``extent_rows`` rows that --bad-rows skip leaves out of training, over
    ``spans``: the label pass's count of them, by extent.

    It reads the features again: the label pass runs before the page
    shuffle's extents are known (they depend on the batch, which may be every
    row), and a mask of the bad rows kept until then could take more memory
    than the run has.  Only a run that averages models needs it, and only
    where the label pass found bad rows.
    """
    counts = np.zeros(n_extents, dtype=np.int64)
    for block in stream_blocks(table, spans, block_rows):
        check_stop()
        rows, _ = select_rows(block.start, block.stop - block.start, opts.val_fraction, opts.seed)
        bad = block.start + rows[~finite_mask(block)[rows]]
        if len(bad):
            extent = bad // extent_rows
            counts[extent[0]: extent[-1] + 1] += np.bincount(extent - extent[0])
    return Skipped(counts)


def check_val_labels(val_table: Table, labels: Labels, opts: TrainOptions, check_stop=lambda: None,
                     progress: Callable[[int, int], None] | None = None) -> None:
    """Every label of the --val file is finite (or skipped by --bad-rows skip) and one of the training classes
    (a poisson model's: >= 0),
    every sample weight finite and >= 0, and (unless skipped) every feature finite: before training, not
    after its first epoch.  ``check_stop()`` and ``progress`` before each block, as in the passes over the
    training file (``watched``)."""
    where = val_table.where(val_table.y_name)
    block_rows = val_table.block_rows(opts.memory)
    spans = val_table.spans(block_rows, opts.memory)
    before_block = watched(spans, check_stop, progress)
    for block in stream_blocks(val_table, spans, block_rows):
        before_block()
        start, y = block.start, block.y
        if block.w is not None:
            weights_mod.check(block.w, val_table.where(val_table.w_name), start, rowweights.option(val_table))
        if opts.bad_rows == "skip":
            rows = np.flatnonzero(np.isfinite(y))
            labels.encode_rows(y, rows, where, start)
            labels_mod.check_targets(opts.model, y[rows], where, start, rows)
        else:
            labels_mod.check_finite_labels(y, where, start)
            labels.encode(y, where, start)
            labels_mod.check_targets(opts.model, y, where, start)
            bad = np.flatnonzero(~finite_mask(block))
            if len(bad):
                raise InputError(val_table.nonfinite(start + int(bad[0])))
