"""``train()``: options in, a Model out; the recipe, in the order the work is done.

Check the options and the outputs, lock the outputs (and the checkpoint's
``PATH.prev``, which the run writes and removes too), open the data, choose
where the work runs (parallel/executor.py), then let a ``Run`` do the passes
and the epochs (run.py), and write the model.  The model, the metrics file and
the removal of the checkpoint happen under the locks, so no other run ever
sees half of them.  No model is written of input files that changed while
they were read (inputs.py): the run checks them as it goes, and here before
the model is written and when the run fails (data cut short can fail it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re

from sgdcli.data import rowweights
from sgdcli.data.atomic import atomic_output, check_writable, written_path
from sgdcli.data.categories import expected
from sgdcli.data.identity import FileIdentity
from sgdcli.data.columnindex import numbered
from sgdcli.data.filecolumns import columns_of
from sgdcli.data.table import Table
from sgdcli.errors import DivergedError, InputError, Interrupted
from sgdcli.fieldtypes import check_instance
from sgdcli.model.featurecolumns import by_name
from sgdcli.model.file import Model
from sgdcli.model.labels import check_kind
from sgdcli.daskoptions import DaskOptions, check_executor
from sgdcli.options import TrainOptions
from sgdcli.parallel.executor import open_executor
from sgdcli.reporting.reporter import Reporter
from sgdcli.sizes import MemoryShort
from sgdcli.training import checkpoint as ckpt_mod
from sgdcli.training.control import RunControl
from sgdcli.training.inputs import Inputs
from sgdcli.training.locking import exclusive, lock_path, locked_path
from sgdcli.training.run import Run
from sgdcli.training import autooptimizer, runlog, warmstart


def train(data, options: TrainOptions | None = None, *, output=None, metrics=None, reporter: Reporter | None = None,
          control: RunControl | None = None, dask: DaskOptions | None = None) -> Model:
    """Train a linear model on ``data`` (an HDF5 path); save it to ``output`` if given.

    With ``options.parallel == "average"``, the epochs run as rounds of local
    SGD with model averaging, one shard per thread.  With ``dask``, they run as
    such rounds on a Dask cluster, one shard per worker, and so do the label,
    standardization and validation passes; checkpoints, early stopping and the
    model stay here.
    """
    check_arguments(options, reporter, control, dask)
    opts = options or TrainOptions()
    check_executor(opts, dask)
    reporter = reporter or Reporter()
    control = (control or RunControl()).for_run()
    _check_distinct(_outputs(output, metrics, control.checkpoint), (data, opts.val), opts.init)
    if control.checkpoint is not None and not control.resume:  # (--resume reads it, and refuses it there)
        ckpt_mod.check_replaceable(control.checkpoint)
    # an output that is a symbolic link is written where it leads, resolved once, here: the lock guards the file
    # written, even if the link is pointed elsewhere while the run trains
    output, metrics = (None if p is None else written_path(p) for p in (output, metrics))
    if control.checkpoint is not None and written_path(control.checkpoint) != control.checkpoint:
        control = dataclasses.replace(control, checkpoint=written_path(control.checkpoint))
    outputs = _outputs(output, metrics, control.checkpoint)
    if control.checkpoint is not None:  # written (rotated onto) and removed by the run: no other run's output
        outputs.append((ckpt_mod.previous_path(control.checkpoint), "--checkpoint's previous checkpoint"))
    with contextlib.ExitStack() as stack:
        stack.enter_context(exclusive(outputs, control.wait_lock, stop=control.stop, report=reporter.message))
        columns = {"label_column": opts.label_column, "features": opts.features, "transpose": opts.transpose,
                   "allow_unwritten": opts.allow_unwritten, "sample_weight": opts.sample_weight,
                   "weight_column": opts.weight_column}
        # a warm start's classes that are names fix the codes this file's names are read as, and its categories
        # the codes of the features that hold them
        init_names = init_categories = None
        init_seen = FileIdentity.of(opts.init) if opts.init is not None and os.path.isfile(opts.init) else None
        if opts.init is not None:  # the initial model's columns by name, wherever they are in the data
            columns, init_names, init_categories = warmstart.columns(opts.init, data, opts.x, columns)
        table = stack.enter_context(Table(data, opts.x, opts.y, **columns, classes=init_names, memory=opts.memory,
                                          categories=init_categories))  # (warmstart.columns: in the model's order)
        runlog.warn_weight_feature(table)
        opts = autooptimizer.chosen(table, opts, reporter)
        val_table = None
        if opts.val is not None:
            val_x = opts.val_x or opts.x
            with _val_options():
                val_table = stack.enter_context(Table(opts.val, val_x, opts.val_y or opts.y,
                                                      **_val_columns(table, opts.val, val_x, columns),
                                                      classes=table.class_names, memory=opts.memory,
                                                      beside=table,  # (whose labels held stay meanwhile)
                                                      categories=expected(table.categories, table.feature_names,
                                                                          table.n_features)))
            check_kind(val_table.class_names, table.class_names, val_table.where(val_table.y_name),
                       f"those of the training data ({table.where(table.y_name)})")
            if val_table.n_features != table.n_features:
                raise InputError(f"{val_table.where(val_table.x_name)}: has {val_table.n_features} features, training data has {table.n_features}")
        inputs = Inputs(table, val_table)
        inputs.watch(f"--init {opts.init}", init_seen)  # as before its first read (warmstart.columns)
        if val_table is not None and dask is not None:  # refused before a cluster is started or joined
            _check_val(val_table, table, opts.memory)
        try:
            executor = open_executor(stack, table, opts, dask, reporter.message, control.stop)
        except MemoryShort as short:  # one refusal, at a figure at which both tables fit, not two in turn
            raise _larger(short, val_table, opts.memory) from None
        if val_table is not None:  # what --memory cannot hold of it: refused now, not after an epoch
            val_table.block_rows(opts.memory)  # (beside what the training table holds as the executor left it)
        metrics_tmp = stack.enter_context(atomic_output(metrics, "--metrics")) if metrics is not None else None
        try:
            run = Run(table, val_table, opts, executor, reporter, control, inputs)
            model = run.train(metrics_tmp)
        except Exception as exc:
            if not isinstance(exc, Interrupted):  # a stop asked for is what it is
                inputs.check()  # zeros read past a cut can blow up, or fail a check: the change is the cause
            if isinstance(exc, DivergedError) and control.checkpoint is not None and not control.keep_checkpoint:
                ckpt_mod.remove(control.checkpoint)  # it would diverge again when resumed: with other options
            raise
        inputs.check()  # the model is of the files as they were opened
        if output is not None:  # inside the stack: if this fails, no metrics file appears either
            model.save(output)
        if control.checkpoint is not None and not (control.keep_checkpoint and run.points.own):
            ckpt_mod.remove(control.checkpoint)  # under the lock: no other run sees a finished run's checkpoint
    return model


def _larger(short: MemoryShort, val_table: Table | None, memory: int) -> MemoryShort:
    """``short`` (the training table's refusal of ``memory``), naming the least --memory from its figure on at
    which the --val file's blocks fit too, beside what the training table holds there (more labels held whole,
    perhaps, than at ``memory``): the --val file's refusal where that figure is larger."""
    if val_table is None:
        return short
    need = val_table.least_memory(memory, floor=short.need)
    if need >> 20 <= -(-short.need >> 20):  # (in whole MiB, as the refusal names it)
        return short
    try:
        val_table.block_rows(memory)
    except MemoryShort as val_short:
        return val_short.at_least(need)
    return short.at_least(need)


def _check_val(val_table: Table, table: Table, memory: int) -> None:
    """The --val file's refusal of ``memory`` (beside the training table's held labels), naming a figure at which
    the training table's blocks and windows fit too (as a Dask run checks them, before it connects)."""
    try:
        val_table.block_rows(memory)
    except MemoryShort:
        try:
            table.block_rows(memory)
            table.block_rows(memory, windows=True)
        except MemoryShort as short:
            raise _larger(short, val_table, memory) from None
        raise


def _val_columns(table: Table, val, x: str, columns: dict) -> dict:
    """Table's keywords ``columns`` (the training data's) for the --val file ``val``: where both name their
    columns, the training table's features by name, wherever they are in ``val``, as evaluate reads a model's
    (``by_name``: InputError naming a column that ``val`` lacks); ``columns`` as they are where
    either knows its columns by position only (a matrix, whose columns evaluate too reads by position).
    ``--features`` is what the training table read: its names, not its indices, which may be other columns
    of ``val``."""
    if table.weight_column is not None and table.known_names is not None:  # the training file's column, by name:
        columns = {**columns, "weight_column": rowweights.name(table)}  # (an index may be another column there)
    if table.known_names is None:  # by position, unless --val numbers its columns in another order (by_name)
        return by_name(None, val, x, columns, "--val ")[0]
    if numbered(columns_of(val, x, columns.get("transpose", False))[0]):
        return columns
    return by_name(table.feature_names, val, x, {**columns, "features": None}, "--val ")[0]


@contextlib.contextmanager
def _val_options():
    """InputError of the --val file's table said with the options that name its datasets, --val-x and --val-y,
    where the table's messages (and the layouts they suggest: "try --x X --y y") say --x and --y; a refusal of
    --memory (MemoryShort) is left as it is."""
    try:
        yield
    except InputError as exc:
        if type(exc) is not InputError:
            raise
        raise InputError(_TABLE_OPTIONS.sub(r"--val-\1", str(exc))) from None


_TABLE_OPTIONS = re.compile(r"(?<![\w-])--([xy])(?![\w-])")


def _same(path: str, source) -> bool:
    """Whether the file ``path`` (a lock file, a previous checkpoint) is the input ``source``: the same file, or,
    where either is not there yet, the same path, links followed (the run would make it, then read it as the
    input)."""
    if os.path.exists(source) and os.path.exists(path):
        return os.path.samefile(path, source)
    return os.path.realpath(path) == os.path.realpath(source)


def check_arguments(options, reporter, control, dask) -> None:
    """InputError for an argument of ``train`` that is not what it takes (a dict of options, ``reporter="bar"``),
    before anything is opened."""
    check_instance("options", options, TrainOptions, "sgdcli.TrainOptions(**d) makes them of a dict d")
    check_instance("reporter", reporter, Reporter, "sgdcli.make_reporter('bar') gives the command line's")
    check_instance("control", control, RunControl)
    check_instance("dask", dask, DaskOptions, "sgdcli.DaskOptions(address) is --dask ADDRESS")


def _outputs(output, metrics, checkpoint) -> list[tuple[str, str]]:
    """The outputs given, each with the option that names it."""
    return [(p, flag) for p, flag in ((output, "-o"), (metrics, "--metrics"), (checkpoint, "--checkpoint"))
            if p is not None]


def check_train_outputs(data, options: TrainOptions | None = None, *, output=None, metrics=None,
                        checkpoint=None) -> None:
    """InputError for an output that ``train`` would refuse before it opens any file (as ``_check_distinct``),
    without creating one: the directory's permissions say whether it can be written (--print-config)."""
    opts = options or TrainOptions()
    _check_distinct(_outputs(output, metrics, checkpoint), (data, opts.val), opts.init, probe=False)


def _check_distinct(outputs: list[tuple[str, str]], inputs, init=None, probe: bool = True) -> None:
    """InputError unless every output is writable and none is another's path, an input's, or a file kept beside
    another: its lock (``PATH.lock``, whose ``flock`` a checkpoint renamed onto it would no longer guard) or, for
    the checkpoint, its previous one (``PATH.prev``) and that one's lock.  ``init``, the model the run starts
    from, is an input of every output but -o, which may replace it (the nightly ``--init m.h5 -o m.h5``)."""
    everything = (*inputs, init)
    seen: dict[str, tuple[str, str]] = {}
    for path, flag in outputs:
        check_writable(path, flag, inputs=inputs if flag == "-o" else everything, probe=probe)
        key = locked_path(path)  # a symbolic link and the file it leads to are one output
        if key in seen:
            raise InputError(f"{flag} {path}: is also given as {seen[key][0]}; each output needs its own path")
        seen[key] = (flag, path)
    for path, flag in outputs:
        beside = {lock_path(path): "the lock file"}
        if flag == "--checkpoint":
            previous = locked_path(path) + ".prev"
            beside[previous] = "the previous checkpoint"
            beside[previous + ".lock"] = "the lock file of the previous checkpoint"
        for key, what in beside.items():
            if key in seen:
                other, given = seen[key]
                raise InputError(f"{other} {given}: is {what} of {flag} {path}; each output needs its own path")
            if any(source is not None and _same(key, source) for source in everything):  # a lock is emptied, a .prev
                # replaced; one not there yet would be made by the run, and read as the input
                raise InputError(f"{flag} {path}: {what} beside it, {key}, is also an input of this command; choose "
                                 "another output path")
