"""What ``--optimizer auto`` trains with on the run's data, and what a step on sparse rows costs.

On dense input auto is nesterov.  On sparse (CSR) input plain sgd steps on
the columns of a batch's rows alone, while momentum, nesterov, Adam and the
penalties of the adaptive rules step on every weight (kernels/sparse.py): a
step of O(columns) on top of the batch's O(nonzeros).  Where the columns are
few for a batch's nonzeros, that step costs little, and nesterov crosses the
flat directions of uncentred sparse rows far faster than sgd, so auto is
nesterov there too.  It stays sgd where the columns outnumber a batch's
nonzeros by far (hashed text: a step on every weight would cost many times
the gradient) and under ``--l1``, whose cumulative penalty lands sgd's
weights on exactly zero where the subgradient only hovers around it.
``bench/sparse_optimizer.py`` measures both sides: the gap above the optimum
and an epoch's time.
"""

from __future__ import annotations

from sgdcli.data.table import Table
from sgdcli.options import TrainOptions
from sgdcli.reporting.reporter import Reporter

# Columns per nonzero of a batch up to which a step on every weight of sparse input costs about what the batch's
# own gradient does (an epoch about as long as sgd's): --optimizer auto steps on every weight there.
COLUMNS_PER_NONZERO = 4


def batch_nonzeros(table: Table, opts: TrainOptions) -> float:
    """The nonzeros of one batch of sparse ``table``'s rows, on average (--batch-size full: every row's)."""
    reader = table.X.reader
    rows = table.n_rows if opts.batch_size is None else min(opts.batch_size, table.n_rows)
    return reader.nnz / max(table.n_rows, 1) * rows


def _costly(table: Table, opts: TrainOptions) -> bool:
    """Whether a step on every weight of sparse ``table`` costs far more than a batch's gradient."""
    return table.n_features > COLUMNS_PER_NONZERO * batch_nonzeros(table, opts)


def resolved(table: Table, opts: TrainOptions) -> TrainOptions:
    """``opts`` with --optimizer auto and an unset --standardize resolved for ``table``'s rows: auto is sgd on
    sparse input under --l1 or whose steps on every weight would be costly, else nesterov."""
    lazy = table.sparse and (opts.l1 > 0 or _costly(table, opts))
    return opts.for_input(table.sparse, lazy)


def announce(table: Table, opts: TrainOptions, reporter: Reporter) -> None:
    """On sparse input, what --optimizer auto chose and why, and what a step costs where it is on every weight and
    that is costly (``opts``: as given, unresolved)."""
    if not table.sparse:
        return
    against = f"against about {batch_nonzeros(table, opts):,.0f} nonzeros a batch"
    if opts.optimizer == "auto":
        opts = resolved(table, opts)
        shape = f"sparse input, {table.n_features:,} columns {against}"
        why = ("--l1 on sparse input: its cumulative penalty lands weights on exactly zero" if opts.l1 > 0 else
               f"{shape}: its steps touch only the columns of a batch" if opts.optimizer == "sgd" else
               f"{shape}: a step on every weight costs about what a batch's gradient does")
        reporter.message(f"--optimizer auto: {opts.optimizer} ({why})")
    adaptive = opts.optimizer in ("adagrad", "rmsprop")
    lazy = not opts.average and (opts.optimizer == "sgd" or (adaptive and opts.l1 == 0 and opts.l2 == 0))
    if not lazy and _costly(table, opts):
        why = [f"--optimizer {opts.optimizer}"] if opts.optimizer != "sgd" else []
        why += [name for name, on in (("--l1", opts.l1 > 0 and adaptive), ("--l2", opts.l2 > 0 and adaptive),
                                      ("--average", opts.average)) if on]
        reporter.message(f"{', '.join(why)}: each step updates all {table.n_features:,} weights of the sparse "
                         f"input, {against}; only a batch's columns with --optimizer sgd, or adagrad and rmsprop "
                         "without --l1 and --l2, and no --average (docs/sparse.md)")
