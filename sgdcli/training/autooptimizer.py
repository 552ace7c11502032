"""What ``--optimizer auto`` trains with on the run's data, and what a step on sparse rows costs.

On dense input auto is nesterov. On sparse (CSR) input plain sgd steps on
the columns of a batch's rows alone, and so do AdaGrad and RMSprop without
penalties; Adam, the penalties of the adaptive rules, ``--l1`` under
momentum and ``--average`` step on every weight (kernels/sparse.py): a step
of O(columns) on top of the batch's O(nonzeros). Where the columns are few
for a batch's nonzeros, that step costs little; where they are many,
momentum and nesterov without ``--l1`` step on a batch's columns too and
catch the others up when a row touches them (kernels/lazymomentum.py), at
two to three times sgd's cost (not a full batch, which steps on every
weight once an epoch, and whose velocity restarts: kernels/optimizers.py).
Nesterov crosses the flat directions of uncentred sparse rows far faster
than sgd, so auto is nesterov on sparse input too, except under ``--l1``,
whose cumulative penalty lands sgd's weights on exactly zero in O(nonzeros)
a step, where the other rules' L1 step is on every weight (and at
``--momentum 0`` on many columns, where nesterov is sgd stepping on every
weight). ``--average`` steps on every weight whatever the rule, so with it
auto is nesterov. ``bench/sparse_optimizer.py`` measures both sides: the
gap above the optimum and an epoch's time.

With ``--init-optimizer``, which carries the initial model's optimizer state
on and so needs its optimizer, auto is that optimizer: a nightly warm start
keeps its rule whatever the day's file holds.
"""

from __future__ import annotations

import dataclasses

from sgdcli.data.table import Table
from sgdcli.model.file import load_model
from sgdcli.options import TrainOptions
from sgdcli.reporting.reporter import Reporter

# Columns per nonzero of a batch up to which a step on every weight of sparse input costs about what the batch's
# own gradient does (an epoch about as long as sgd's): momentum and Nesterov step on every weight there, and
# above it on a batch's columns alone, catching the others up when a row touches them (kernels/lazymomentum.py).
COLUMNS_PER_NONZERO = 4
# The batch of sparse rows by whose nonzeros ``dense_enough`` measures a step on every weight: --batch-size's
# default, so that whether a file's rows are centred does not change with the batch (a sweep's runs share one
# standardization).
DENSE_ENOUGH_BATCH = TrainOptions.__dataclass_fields__["batch_size"].default
# ... and the most columns they may have: a sample made dense holds 13 bytes a value (training/sampling.py), so at
# this width the default --memory still holds several hundred of its rows, as for a dense file of a whole
# transcriptome's genes; wider, the rates and fits would rest on a few dozen rows.
DENSE_ENOUGH_WIDEST = 2**15
# Centred sparse rows with at least this share of their columns nonzero train through the dense kernels, a piece
# of rows at a time made dense (kernels/densified.py): from there those were about as fast as the O(nonzeros)
# kernel or faster at the widths, output counts and batch sizes bench/densified.py tries, and below it slower at
# some.  Which kernels train a run decides what a checkpoint's gradient of the batch in progress holds (raw
# columns' sums, or scaled ones): changing this share, or which rows are centred, needs a new checkpoint format.
DENSIFIED_SHARE = 0.1


def batch_nonzeros(table: Table, opts: TrainOptions) -> float:
    """The nonzeros of one batch of sparse ``table``'s rows in the columns read, on average (--batch-size full:
    every training row's, about, what --val-fraction does not hold out)."""
    trained = table.n_rows * (1.0 - opts.val_fraction)
    rows = trained if _full(table, opts) else opts.batch_size
    return table.X.nonzeros_per_row() * rows


def _full(table: Table, opts: TrainOptions) -> bool:
    """Whether a batch is every training row, about (what --val-fraction does not hold out): a full batch."""
    return opts.batch_size is None or opts.batch_size >= table.n_rows * (1.0 - opts.val_fraction)


def lazy_momentum(table: Table, opts: TrainOptions) -> bool:
    """Whether momentum and Nesterov, without --l1 or --average, step on the columns of a batch of sparse
    ``table``'s rows alone (the kernels check the rest): not a full batch, which steps once an epoch, and whose
    velocity is dropped where it points uphill (kernels/optimizers.py ``_uphill``), on every weight; nor rows the
    run centres, whose every step is on every weight (kernels/centring.py)."""
    return table.sparse and _costly(table, opts) and not _full(table, opts) and not _centred(table, opts)


def _centred(table: Table, opts: TrainOptions) -> bool:
    """Whether the run centres sparse ``table``'s rows: dense enough, and standardized (unset: by default)."""
    return opts.standardize is not False and dense_enough(table)


def dense_enough(table: Table) -> bool:
    """Whether sparse ``table``'s rows are dense enough to train as dense rows do: standardized by default,
    centred (kernels/sparse.py ``shift``), and measured on a sample made dense (training/sampling.py
    ``stays_sparse``): where a step on every weight (what centring costs) costs about what the gradient of a batch
    of DENSE_ENOUGH_BATCH rows does.  Their columns' means, uncentred, add up to one direction of large curvature
    that slows every other (docs/sparse.md); where the columns are many more (text, hashed ids), rare columns
    dominate instead, and centring would make every step O(columns).  At most DENSE_ENOUGH_WIDEST columns."""
    return table.sparse and _dense_enough_at(table.n_features, table.X.nonzeros_per_row())


def _dense_enough_at(features: int, per_row: float) -> bool:
    """``dense_enough`` for sparse rows of ``features`` columns holding ``per_row`` nonzeros a row on average."""
    return features <= min(DENSE_ENOUGH_WIDEST, COLUMNS_PER_NONZERO * DENSE_ENOUGH_BATCH * per_row)


def sparse_defaults(features: int, per_row: float) -> dict:
    """How the defaults train sparse rows of ``features`` columns holding ``per_row`` nonzeros a row on average
    (`sgdcli info`): ``centred``, standardized as dense rows are (``dense_enough``), and ``dense_kernels``, trained
    by the dense kernels a piece at a time made dense (``densified``)."""
    centred = _dense_enough_at(features, per_row)
    return {"centred": centred, "dense_kernels": centred and _dense_share(features, per_row)}


def densified(table: Table, opts: TrainOptions) -> bool:
    """Whether the kernels train sparse ``table``'s rows as dense ones, a piece at a time made dense (engine/csr.py):
    rows the run centres, with DENSIFIED_SHARE or more of their columns nonzero.  The same updates either way,
    to rounding."""
    return _centred(table, opts) and _dense_share(table.n_features, table.X.nonzeros_per_row())


def _dense_share(features: int, per_row: float) -> bool:
    """Whether DENSIFIED_SHARE or more of sparse rows' ``features`` columns are nonzero (``per_row`` a row)."""
    return per_row >= DENSIFIED_SHARE * features


def _lazy(table: Table, opts: TrainOptions) -> bool:
    """Whether the steps of resolved ``opts`` on sparse ``table`` touch only the columns of a batch's rows."""
    if opts.average or _centred(table, opts):
        return False
    if opts.optimizer in ("momentum", "nesterov"):  # (and lr·l2 at most a half, which the kernels check)
        return opts.momentum > 0 and opts.l1 == 0 and lazy_momentum(table, opts)
    return opts.optimizer == "sgd" or (opts.optimizer in ("adagrad", "rmsprop") and opts.l1 == 0 and opts.l2 == 0)


def _costly(table: Table, opts: TrainOptions) -> bool:
    """Whether a step on every weight of sparse ``table`` costs far more than a batch's gradient."""
    return table.n_features > COLUMNS_PER_NONZERO * batch_nonzeros(table, opts)


def _resolve(table: Table, opts: TrainOptions) -> tuple[TrainOptions, str | None]:
    """``opts`` resolved for ``table``'s rows, and why auto chose what it did where that is worth saying (None
    where auto was not given, or is the documented nesterov of dense input)."""
    why = None
    if opts.optimizer == "auto" and opts.init_optimizer and opts.init is not None:
        state = load_model(opts.init, optimizer=True).optimizer
        if state is not None:  # (none: warmstart.optimizer_clock refuses the run, saying why)
            opts = dataclasses.replace(opts, optimizer=state["optimizer"])
            why = "the --init model's, whose state --init-optimizer carries on"
    costly, centred = table.sparse and _costly(table, opts), _centred(table, opts)
    # at --momentum 0 nesterov is sgd stepping on every weight; centred rows step on every weight whatever the rule
    plain = table.sparse and not centred and not opts.average and (opts.l1 > 0 or (costly and opts.momentum == 0))
    if opts.optimizer == "auto" and table.sparse:
        shape = f"sparse input, {table.n_features:,} columns against about {batch_nonzeros(table, opts):,.0f} " \
                "nonzeros a batch"
        why = ("--average on sparse input: every step updates every weight whatever the rule" if opts.average else
               f"{shape}, centred (--standardize): every step is on every weight, as on dense rows" if centred
               and (costly or opts.l1 > 0) else
               "--l1 on sparse input: its cumulative penalty lands weights on exactly zero" if opts.l1 > 0 else
               f"{shape}, and --momentum 0: sgd's steps touch only the columns of a batch, nesterov's every weight"
               if plain else
               f"{shape}: its steps touch only the columns of a batch, and catch the others up when a row touches "
               "them" if costly and not _full(table, opts) else
               f"{shape}: a full batch, whose one step an epoch is on every weight" if costly else
               f"{shape}: a step on every weight costs about what a batch's gradient does")
    return opts.for_input(table.sparse, plain, dense_enough(table)), why


def resolved(table: Table, opts: TrainOptions) -> TrainOptions:
    """``opts`` with --optimizer auto and an unset --standardize resolved for ``table``'s rows: the --init
    model's optimizer under --init-optimizer; else sgd on sparse input not centred, without --average, under
    --l1, or at --momentum 0 where nesterov's steps on every weight would be costly; else nesterov."""
    return _resolve(table, opts)[0]


def chosen(table: Table, opts: TrainOptions, reporter: Reporter) -> TrainOptions:
    """``resolved``, saying what --optimizer auto chose and why, and what a step costs where it is on every
    weight of sparse input and that is costly."""
    given = opts.optimizer
    opts, why = _resolve(table, opts)
    if why is not None:
        reporter.message(f"--optimizer auto: {opts.optimizer} ({why})")
    l1_steps = opts.optimizer not in ("sgd", "adam")  # rules whose penalty steps on every weight (adam: always)
    l2_steps = opts.optimizer in ("adagrad", "rmsprop")
    if table.sparse and not _lazy(table, opts) and _costly(table, opts) and not _full(table, opts):
        causes = [name for name, on in (("--l1", opts.l1 > 0 and l1_steps), ("--l2", opts.l2 > 0 and l2_steps),
                                        ("--average", opts.average),
                                        ("--standardize (centring the rows)", _centred(table, opts))) if on]
        if opts.optimizer != "sgd" and (given != "auto" or not causes):  # (auto's nesterov: for --average alone)
            causes.insert(0, f"--optimizer {opts.optimizer}")
        reporter.message(f"{', '.join(causes)}: each step updates all {table.n_features:,} weights of the sparse "
                         f"input, against about {batch_nonzeros(table, opts):,.0f} nonzeros a batch; only a "
                         "batch's columns with --optimizer sgd, adagrad and rmsprop without --l1 and --l2, momentum "
                         "and nesterov without --l1, and no --average or centring (docs/sparse.md)")
    return opts
