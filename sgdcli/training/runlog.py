"""What a run says on stderr about itself: how it is set up, before the first epoch, and after the last, the rows
--bad-rows skip left out.  Whether the model it keeps may be far from what training could reach is
fitwarnings.py's."""

from __future__ import annotations

import math

import numpy as np

from sgdcli.data import rowweights
from sgdcli.errors import InputError
from sgdcli.kernels import runtime
from sgdcli.reporting.reporter import counted
from sgdcli.reporting.warned import warn
from sgdcli.sizes import size_text, whole_mib
from sgdcli.training import biasrate, fitwarnings, replicas
from sgdcli.training.sampling import Sample, sparse_sample

FitWarning = fitwarnings.FitWarning  # its documented place (docs/python-api.md); the class is fitwarnings.py's

# A window of the page shuffle (data/shuffle.py) that draws on fewer runs of the file than this, in a file of
# several windows, leaves rows stored in an order (sorted by label, or by time) to train worse than shuffled ones:
# a stretch of training sees the class mix of those few runs, and the model follows it (docs/out-of-core.md has
# the measured table).
FEW_PLACES = 8
ANY_MEMORY = 1 << 50  # the most --memory the warning of few places looks for a figure up to
# Sparse columns whose nonzero values differ in scale by more than this many times (value_spread) slow
# unstandardized SGD measurably (docs/sparse.md), and a run says that --standardize scales them.
SPREAD_NOTE = 30.0
# ... and from this many times, runs end far from the optimum (docs/sparse.md: linear and logistic both, where at
# a tenth of it logistic ended near), and the run is warned.
SPREAD_FAR = 1000.0
# Nonzeros of a column in the sample from which its root mean square counts in value_spread: over fewer it is the
# size of a draw or two, not the column's scale (one value of one scale has an RMS anywhere from near 0 up), and
# thousands of columns present a few times each, all of one scale, were told they differ 8,640-fold
SPREAD_ENTRIES = 16


def log_start(run) -> None:
    """The set-up of ``run`` (a training/run.Run), before its first epoch."""
    opts, say = run.opts, run.reporter.message
    seconds = run.executor.warm_up()
    if seconds is not None and seconds > 0.5:
        say(f"compiled kernels in {seconds:.1f} s ({runtime.cache_state()})")
    threads, sharing = run.executor.describe(run.batch, run.local_steps,
                                             replicas.share_rows(run.n_train, run.shards))
    say(f"{run.table.path}: {counted(run.table.n_rows, 'row')} × {counted(run.table.n_features, 'feature')}, read "
        f"{run.table.X.layout.read_mode} in windows of {run.pages.window_rows} rows; {threads}")
    for line in sharing:
        say(line)
    for table in (run.table, run.val_table):
        if table is not None and table.unwritten_rows:
            say(f"--allow-unwritten: {table.unwritten_rows:,} rows of {table.path} are read from fill values")
    if run.control.verbose:
        say(run.pages.describe())
        if run.shards > 1:
            say(replicas.shares_text(run.n_train, run.batch, run.shards, opts.drop_last))
        say(runtime.describe())
    if run.auto is not None:
        halved = run.pos.lr_halvings
        effective = run.batch * run.shards
        why = (replicas.held_text(run.auto_held, run.auto, opts.model, run.batch, run.shards, run.local_steps,
                                  opts.optimizer) if run.auto_held is not None else
               run.auto.why(opts.model, effective, opts.optimizer)
               + (f" (batch {run.batch} × {run.shards} models averaged)" if run.shards > 1 else ""))
        say(f"--lr auto: {run.auto.lr:.4g} = {why}"
            + (f"; halved {counted(halved, 'time')} after blow-ups: {run.rate_opts.lr:.4g}" if halved else "")
            + biasrate.text(run.auto.bias_times))
    scaled = run.rate_opts.scaled_lr(run.batch, run.shards)
    if scaled != run.rate_opts.lr:
        say(f"--lr-scaling {opts.lr_scaling}: {scaling_text(run.rate_opts, run.batch, run.shards)}"
            + (replicas.scaling_held(run.lr, run.rate_opts.lr, run.batch, run.shards, run.local_steps)
               if run.lr < scaled else ""))
    warn_few_places(run)
    if run.table.sparse and not run.cfg.standardized:
        spread = sample_value_spread(run.sample)
        if spread >= SPREAD_FAR:
            cure = ("--standardize" if run.init is None or opts.restandardize else
                    "--standardize with --restandardize (--init keeps the initial model's units, unscaled)")
            text = (f"the columns' nonzero values differ in scale by up to {spread:.3g} times on a sample of rows: "
                    "the rate sized for the largest leaves the smallest crawling, and the model may be far from the "
                    f"optimum; use {cure}, which scales them (docs/sparse.md)")
            run.warnings.append(text)  # kept in the model, as the set-up's and the fit's are
            warn(text, ScaleWarning)
        elif spread > SPREAD_NOTE:
            say(f"note: the columns' nonzero values differ in scale by up to {spread:.3g} times on a sample of "
                "rows, which slows training on unscaled sparse columns: --standardize scales them (docs/sparse.md)")


class ScaleWarning(UserWarning):
    """The nonzero values of a sparse file's columns differ in scale so much that unscaled training may end far
    from the optimum."""


class EmptyName(UserWarning):
    """Training rows labelled with the empty name '' (a writer's missing value, most often): a class of their own."""


def warn_empty_name(table, found) -> None:
    """An EmptyName warning where the label pass (``found``, model/labels.py Found) counted training rows whose
    label is the name '' (``table.class_names``): nothing here can tell a class from a missing value."""
    names = table.class_names
    if not names or "" not in names or found is None or found.values is None:
        return
    rows = int(found.counts[found.values == names.index("")].sum())
    if rows:
        shown = ", ".join(map(repr, names[:6])) + (", ..." if len(names) > 6 else "")
        warn(f"{table.where(table.y_name)}: {counted(rows, 'training row')} labelled with the empty name '', a class "
             f"of its own (classes: {shown}) trained as any other; where '' marks a missing label, leave those rows "
             "out", EmptyName)


class WeightFeature(UserWarning):
    """--sample-weight names a column of --x (its table's field, its group's member), a feature as well as the
    weights."""


def warn_weight_feature(table) -> None:
    """A WeightFeature warning where --sample-weight names a column of --x that is a feature too
    (data/rowweights.py ``feature_field``): read so, it always was; --weight-column leaves it out."""
    field = rowweights.feature_field(table)
    if field is not None:
        warn(f"--sample-weight {table.w_name}: is column {field!r} of --x {table.x_name}, so it is a feature as well "
             f"as the weights; --weight-column {field} reads it as the weights and leaves it out of the features"
             + (" (with --features that does not list it)" if table.features is not None else ""), WeightFeature)


class ShuffleWarning(UserWarning):
    """Each window of the page shuffle draws on few places of the file: rows stored in an order may train worse
    than the same rows shuffled."""


def warn_few_places(run) -> None:
    """A ShuffleWarning where ``run``'s windows each hold fewer than FEW_PLACES runs of a file that they do not hold
    whole (--no-shuffle asks for the file's order: no warning), its text kept in ``run.warnings``; it names the
    least --memory whose windows hold twice as many, or the whole file (``_memory_for_places``)."""
    pages, table = run.pages, run.table
    places = pages.window_extents
    if not pages.shuffle or places >= FEW_PLACES or pages.window_rows >= pages.n_rows:
        return
    name, reader = table.tallest_unit()  # labels in tall chunks beside a CSR X, say
    chunks = reader.layout.chunks
    whole = chunks is not None and pages.extent_rows % chunks[0] == 0
    found = _memory_for_places(run, 2 * FEW_PLACES)
    need, runs = found if found is not None else (None, None)
    text = (f"{table.where(name)}: --memory {size_text(run.opts.memory)} holds {places} run"
            f"{'s' if places > 1 else ''} of {pages.extent_rows:,} rows at a time"
            + (" (whole chunks)" if whole else "") + ", so each stretch of training draws on few places of the "
            "file: rows stored in an order (sorted by label or by time) train worse than shuffled ones; raise "
            "--memory" + ("" if need is None else f" (to {whole_mib(need)} for " + (
                "the whole file in one window" if runs is None else f"{runs} runs") + ")")
            + (" or store smaller chunks" if whole else "") + ", unless the rows are in random order already")
    run.warnings.append(text)  # kept in the model, as the set-up's and the fit's are
    warn(text, ShuffleWarning)


def _memory_for_places(run, target: int) -> tuple[int, int | None] | None:
    """The least --memory in whole MiB (as bytes) above ``run``'s at which its windows (each stream's, where
    threads share --memory) hold ``target`` runs, or the whole file (then None for the runs): the windows are
    cut equal, so a file of few runs holds ``target`` only where one window holds it all.  Found by doubling,
    then halving the interval, each figure checked by the plan a run there would make (``page_shuffle_at``,
    labels in tall chunks held whole where that --memory would hold them); None where no figure up to
    ANY_MEMORY does."""
    pages, share = run.pages, getattr(run.executor, "stream_memory", run.opts.memory)
    streams = max(1, round(run.opts.memory / max(share, 1)))

    def runs_at(mib: int) -> float:
        try:
            plan = run.table.page_shuffle_at((mib << 20) // streams, pages.page_rows, pages.seed)
        except InputError:
            return 0
        return math.inf if plan.window_rows >= plan.n_rows else plan.window_extents

    low = high = max(1, run.opts.memory >> 20)
    while runs_at(high) < target:
        if high >= ANY_MEMORY >> 20:  # (a plan refused at every figure: no figure to name)
            return None
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if runs_at(mid) >= target else (mid, high)
    runs = runs_at(high)
    return high << 20, None if math.isinf(runs) else int(runs)


def validation_rows(run) -> dict:
    """``val_rows``: the rows of ``run``'s validation (the --val file's, or those --val-fraction holds out) that
    its last validation pass scored, and ``val_bad_rows``: those it left out (--bad-rows skip, NaN or inf);
    before any pass (--epochs 0), every validation row, and none left out."""
    total = run.val_table.n_rows if run.val_table is not None else run.table.n_rows - run.n_train - run.n_bad
    scored = total if run.val_scored is None else run.val_scored
    return {"val_rows": scored, "val_bad_rows": total - scored}


def log_left_out(run) -> None:
    """What --bad-rows skip left out of ``run``: training rows, and validation rows."""
    val_bad = validation_rows(run)["val_bad_rows"]
    parts = [f"{counted(run.n_bad, 'training row')} with non-finite values in every epoch"] if run.n_bad else []
    if val_bad:
        where = (f"of {run.val_table.path} (--val)" if run.val_table is not None else
                 f"(held out of {run.table.path} by --val-fraction)")
        parts.append(f"{counted(val_bad, 'validation row')} {where} from every validation pass")
    if parts:
        run.reporter.message("--bad-rows skip: left out " + ", and ".join(parts))


def sample_value_spread(drawn: Sample) -> float:
    """``value_spread`` of the sample's sparse rows as stored (NaN for dense rows)."""
    if not drawn.table.sparse:
        return math.nan
    X, values = sparse_sample(drawn, None)
    return value_spread(values, X.indices)


def value_spread(values: np.ndarray, columns: np.ndarray) -> float:
    """The largest root mean square of a column's nonzero values over the smallest, among the columns that have
    SPREAD_ENTRIES of them at least (NaN where fewer than two have): how far apart the columns' scales are where
    they are present, which a rare column's frequency does not change."""
    present = values != 0
    counts = np.bincount(columns[present])
    squares = np.bincount(columns[present], weights=values[present] ** 2)
    counted = counts >= SPREAD_ENTRIES
    rms = np.sqrt(squares[counted] / counts[counted])
    return float(rms.max() / rms.min()) if len(rms) > 1 else math.nan


def scaling_text(opts, batch: int, replicas: int) -> str:
    """How --lr-scaling turned --lr into the rate used, in words."""
    lr = opts.scaled_lr(batch, replicas)
    if opts.lr_scaling == "replicas":
        return f"lr {opts.lr:g} × {replicas} models averaged → {lr:.4g}"
    effective = f"batch {batch}" + (f" × {replicas} models averaged" if replicas > 1 else "")
    return f"lr {opts.lr:g} at batch {opts.base_batch_size} → {lr:.4g} at {effective}"
