"""Prediction and evaluation, streamed block by block with bounded memory.

The same scoring stream serves ``predict``, ``evaluate`` and the validation
pass of training, so all three agree row for row.
"""

from __future__ import annotations

import contextlib
import os
from typing import Callable, Iterator

import numpy as np

from sgdcli.data import hashing, hdf5, rowweights
from sgdcli.data.atomic import check_writable
from sgdcli.data.categories import expected
from sgdcli.data.prefetch import Block, stream_blocks
from sgdcli.data.table import Table
from sgdcli.errors import InputError, RuntimeFailure, refuse_pipe
from sgdcli.fieldtypes import checked_arguments
from sgdcli.kernels import losses
from sgdcli.kernels.rows import first_nonfinite_row
from sgdcli.kernels.scoring import csr_scores, scores
from sgdcli.kernels.state import isolated
from sgdcli.data import csvinput
from sgdcli.model import outputs, textinference
from sgdcli.model import weights as weights_mod
from sgdcli.model.featurecolumns import by_name, training_columns
from sgdcli.model.file import Model, load_model
from sgdcli.model.labels import Labels, check_kind, check_targets
from sgdcli.model.measurement import Measurement, row_bytes
from sgdcli.options import (DEFAULT_MEMORY, DEFAULT_X, DEFAULT_Y, TrainOptions, metrics_of, prediction_format,
                            task_of)


Selector = Callable[[Block], "tuple[np.ndarray, int]"]


def score_blocks(
    table: Table, We: np.ndarray, memory: int, select: Selector | None = None, part: tuple[int, int] = (0, 1),
    progress=None, work_per_row: int = 0,
) -> Iterator[tuple[Block, np.ndarray, np.ndarray]]:
    """Yield (block, selected block-local rows, raw scores of those rows) in file order.

    ``We`` are weights on raw features (see ``kernels.scoring.fold_weights``).
    ``select(block)`` returns (rows to use, rows skipped); default: every row.
    ``part`` = (i, n): only blocks i, i+n, i+2n, ... (a distributed run's share).
    ``progress(rows done, rows in all)`` is called as the pass starts and after each block.
    ``work_per_row``: the bytes a row takes where the caller uses its scores, which --memory counts too.
    """
    k_out = We.shape[0]
    extra = 16 * k_out + 8 + work_per_row  # per row: its scores and selection, and the caller's work
    block_rows = table.block_rows(memory, extra_per_row=extra)
    out = isolated((block_rows, k_out))  # written by the kernels: alone in memory (kernels/state.py)
    i, n = part
    done = 0
    if progress is not None:
        progress(0, table.n_rows)
    for block in stream_blocks(table, table.spans(block_rows, memory, extra)[i::n], block_rows):
        n = block.stop - block.start
        rows = np.arange(n, dtype=np.int64) if select is None else select(block)[0]
        if table.sparse:
            S = _sparse_scores(table, block, rows, We)
            yield block, rows, S
            done += block.stop - block.start
            if progress is not None:
                progress(done, table.n_rows)
            continue
        S = scores(block.X, rows, We, out[: len(rows)])
        if not np.isfinite(S).all():
            bad = first_nonfinite_row(np.ascontiguousarray(block.X[rows]))
            if bad >= 0:
                raise InputError(table.nonfinite(block.start + int(rows[bad])))
        yield block, rows, S
        done += block.stop - block.start
        if progress is not None:
            progress(done, table.n_rows)


def _sparse_scores(table: Table, block: Block, rows: np.ndarray, We: np.ndarray) -> np.ndarray:
    """Raw scores of the CSR rows ``rows`` of a block, in O(nonzeros); InputError at a non-finite value (looked
    for only where a score is not finite, as a non-finite value makes its row's: no arrays the size of the
    nonzeros otherwise)."""
    X = block.X
    S = csr_scores(X, We)[rows]
    if np.isfinite(S).all():
        return S
    row_of = np.repeat(np.arange(X.n_rows), np.diff(X.indptr))
    bad = ~np.isfinite(X.data)
    if bad.any() and np.isin(row_of[bad], rows).any():
        first = int(np.min(row_of[bad][np.isin(row_of[bad], rows)]))
        raise InputError(table.nonfinite(block.start + first))
    return S


def measure_part(table: Table, objective: tuple, labels: Labels, We: np.ndarray, memory: int,
                 select: Selector | None = None, part: tuple[int, int] = (0, 1), progress=None,
                 centre: float = 0.0) -> Measurement:
    """The measurement of the selected rows of blocks ``part`` (see ``score_blocks``) for a model of
    ``objective`` (its loss, that loss's parameter and the class weights or None, ``options.objective``),
    each row weighed by the table's sample weights where it has them: the metrics by those, the loss by those
    times the class weights.  ``centre``: the score the AUC is centred on (``metrics.BinaryMetrics``), the
    model's mean score (``Model.score_centre``), which every part merged with this one is given too."""
    out = Measurement(objective, centre)
    code = losses.loss_of(objective)
    where = table.where(table.y_name)
    for block, rows, S in score_blocks(table, We, memory, select, part, progress, row_bytes(We.shape[0])):
        y = labels.encode_rows(block.y, rows, where, block.start)[rows]
        check_targets(objective[0], y, where, block.start, rows)
        sw = None
        if block.w is not None:
            weights_mod.check(block.w, table.where(table.w_name), block.start, rowweights.option(table))
            sw = block.w[rows]
        out.add(S, y, sw, code)
    return out


def measure(table: Table, objective: tuple[str, float], labels: Labels, We: np.ndarray, memory: int,
            select: Selector | None = None, progress=None, centre: float = 0.0) -> dict:
    """Mean training loss (``loss``) and the model's metrics over the selected rows (``centre``: see
    ``measure_part``)."""
    return measure_part(table, objective, labels, We, memory, select, progress=progress, centre=centre).result()


def _open_for(model: Model, data, x: str, y: str | None, columns: dict | None = None, report=None,
              labels: bool = True) -> Table:
    """``data``'s table for ``model``: its columns ``columns`` (Table's keywords); where ``features`` is not
    given and the model knows its features by name, those columns by name, in the model's order, wherever
    they are in ``data`` (``by_name``).  Without ``labels`` (predict), no labels are opened (Table's
    ``labels``): a --label-column only stays out of the features, and nothing of it is read or checked.
    ``report`` hears of rows read from fill values, and of a model of named columns scoring a file without
    names (by position: nothing can check them; a line that starts "warning: ", as sgdcli's warnings do)."""
    names = model.training.get("features")
    columns, _ = by_name(names, data, x, dict(columns or {}))
    table = Table(data, x, y, **columns, classes=model.training.get("class_names"), labels=labels, categories=expected(
        model.training.get("categories"), names, model.n_features))
    if table.Y is not None:
        try:
            check_kind(table.class_names, model.training.get("class_names"), table.where(table.y_name),
                       "the model's")
        except InputError:
            table.close()
            raise
    if table.unwritten_rows and report is not None:
        report(f"--allow-unwritten: {table.unwritten_rows:,} rows of {table.path} are read from fill values")
    trained = model.training.get("hashing")
    if not hashing.same(trained, table.hashing):
        table.close()
        raise InputError(f"{table.where(x)}: {hashing.describe(table.hashing)}, the model's training data "
                         f"{hashing.describe(trained)}; convert the data as the training data was")
    if table.n_features != model.n_features:
        # (a file sgdcli converted from text: not a matrix another writer gave its shape)
        converted = table.sparse and table.n_features < model.n_features and "converted_from" in table.file.attrs
        table.close()
        hint = (f"; a LIBSVM file converted on its own is as wide as its largest index: convert it with --features "
                f"{model.n_features}" if converted else "")
        chosen = model.options.get("features")  # by index (by name, ``by_name`` chose them above)
        # (only where the data is wider: --features chooses some of its columns, never more than it has)
        if not hint and chosen is not None and not (columns or {}).get("features") \
                and table.n_features > model.n_features:
            hint = (f"; it was trained on --features {chosen} of its data's columns, which a sparse matrix without "
                    "column names cannot select: give the model's columns alone, or a file that names them (AnnData's "
                    "var)" if table.sparse and table.feature_names is None else
                    f"; it was trained on --features {chosen} of its data's columns: give the same --features")
        left = [f"--{option.replace('_', '-')} {model.options[option]}" for option in ("label_column", "weight_column")
                if model.options.get(option) is not None and (columns or {}).get(option) is None]
        if not hint and left and table.n_features == model.n_features + len(left):  # (a matrix's, by position)
            which, them = ("that column", "it") if len(left) == 1 else ("those columns", "them")
            hint = (f"; the model was trained with {' and '.join(left)}, which left {which} out of the features: "
                    f"give {them} here too")
        if not hint and not table.sparse and table.n_rows == model.n_features:
            hint = f"; it has {table.n_rows} rows as read: " + (
                "if it is stored rows × features, drop --transpose" if table.transpose else
                "if it is stored features × rows, use --transpose")
        raise InputError(
            f"{table.where(x)}: has {table.n_features} features but the model was trained on {model.n_features}{hint}"
        )
    try:
        training_columns(model, table)
    except InputError:
        table.close()
        raise
    if report is not None and names and table.known_names is None \
            and columns.get("features") is None:
        shown = ", ".join(map(repr, names[:3])) + (", ..." if len(names) > 3 else "")
        report(f"warning: {table.where(x)}: has no column names (none, or 0, 1, 2, ... in order, its positions); its "
               f"{table.n_features} columns are read by position as the model's features ({shown}), in that order")
    return table


def _text_only(delimiter: str | None, data, command: str, model: Model) -> None:
    """``data``, read as HDF5 by ``command``, is not text: --delimiter is refused, and compressed text that its
    name does not call CSV is an error saying what to name it; a pipe (``<(zcat new.csv.gz)``, which has no
    name of CSV) given to a model that reads CSV text is told to come as standard input."""
    if model.training.get("encoding") is not None:
        refuse_pipe(data, data, f"; the model reads CSV text, which a pipe gives as standard input: zcat new.csv.gz "
                                f"| sgdcli {command} MODEL - ...")
    if delimiter is not None:
        raise InputError(f"--delimiter: applies to CSV/TSV text input; {data} is read as HDF5")
    hdf5.check_named(data, command)


def _source(model) -> str:
    """The absolute path of ``model``'s file: the path given, or the one a ``Model`` was read from or saved to ("" for
    one never saved)."""
    if isinstance(model, Model):
        return model.path
    return os.path.abspath(os.fspath(model)) if isinstance(model, (str, os.PathLike)) else ""


@checked_arguments(TrainOptions)  # the keywords that are options of train too by train's rules: --memory's...
def evaluate(model, data, x: str = DEFAULT_X, y: str = DEFAULT_Y, memory: int = DEFAULT_MEMORY,
             label_column: str | None = None, features=None, transpose: bool = False, allow_unwritten: bool = False,
             report: Callable[[str], None] | None = None, progress: Callable[[int, int], None] | None = None,
             sample_weight: str | None = None, delimiter: str | None = None, weight_column: str | None = None) -> dict:
    """Metrics of ``model`` on ``data``: exactly the keys of ``options.metrics_of(model)``.

    ``label_column``, ``features``, ``transpose`` and ``allow_unwritten`` say what the table is, as for training;
    ``sample_weight``, a dataset of per-row weights the metrics are weighted by (``weight_column``, a column of
    ``x`` that holds them, left out of the features); ``delimiter``, the fields' of CSV text, where not the training
    file's (nor found by the columns' names in the header); ``report(text)`` hears of rows read from fill values,
    ``progress(done, total)`` of the rows scored.
    """
    source = _source(model)
    model = load_model(model)
    columns = {"label_column": label_column, "features": features, "transpose": transpose,
               "allow_unwritten": allow_unwritten, "sample_weight": sample_weight, "weight_column": weight_column}
    if csvinput.is_text(data):  # CSV text, or standard input: streamed through the model's columns
        hdf5_only = {"x": x != DEFAULT_X, "y": y != DEFAULT_Y, **columns}
        with textinference.open_rows(model, data, True, source, hdf5_only, delimiter) as rows:
            result = textinference.evaluate_rows(model, rows, memory, progress)
        return {key: result[key] for key in metrics_of(model.model)}
    _text_only(delimiter, data, "evaluate", model)
    with _open_for(model, data, x, y, {**columns, "memory": memory}, report) as table, \
            _read_whole(table, "no metrics were printed"):
        result = measure(table, model.objective, model.labels, model.raw_weights(), memory, progress=progress,
                         centre=model.score_centre())
    return {key: result[key] for key in metrics_of(model.model)}


def check_predict_output(model, data, output, format: str | None = None, probe: bool = False) -> None:  # noqa: A002
    """InputError where ``predict`` could not write ``output`` (standard output aside) or it is an input, the
    model or the data, or where it could not tell the format (``format``, else the extension: prediction_format);
    without ``probe`` (--print-config), without creating a file: the directory's permissions say whether it can
    be written."""
    if output != outputs.STDOUT:
        source = _source(model)
        check_writable(output, inputs=(data, source or None), probe=probe)
    prediction_format(output, format)


@checked_arguments(TrainOptions)
def predict(model, data, output, x: str = DEFAULT_X, proba: bool = False, memory: int = DEFAULT_MEMORY,
            format: str | None = None, label_column: str | None = None, features=None, transpose: bool = False,
            allow_unwritten: bool = False, report: Callable[[str], None] | None = None,
            progress: Callable[[int, int], None] | None = None, delimiter: str | None = None,
            weight_column: str | None = None) -> int:
    """Write the prediction (and, for classifiers with ``proba``, the class probabilities) of every row to
    ``output``: HDF5, CSV or TSV by its extension or ``format``, ``-`` for CSV on stdout; returns the row count.
    ``delimiter``: as for ``evaluate``; ``weight_column``: a column of ``x`` left out of the features (the
    weights the model was trained with), as ``label_column`` is."""
    source = _source(model)
    check_predict_output(model, data, output, format, probe=True)
    fmt = prediction_format(output, format)
    model = load_model(model)
    if proba and task_of(model.model) == "regression":
        raise InputError(f"--proba: a {model.model} (regression) model has no probabilities")
    columns = {"label_column": label_column, "features": features, "transpose": transpose,
               "allow_unwritten": allow_unwritten, "weight_column": weight_column}
    names = model.training.get("class_names")  # labels that were names: predictions are names too
    shown = np.array([names[int(c)] for c in model.classes], dtype=object) if names else model.classes

    def write(writer, start: int, stop: int, S: np.ndarray) -> None:
        if model.classes is None:  # the value: the score, or exp(score) for poisson, inf beyond float64's range
            with np.errstate(over="ignore"):  # (as evaluate's metrics of it are: not NumPy's line on stderr)
                writer.write(start, stop, losses.inverse_link(model.model, S), None)
            return
        # the class evaluate counts as predicted (model/metrics.py), from the scores: the probabilities round
        # scores within about 1e-16 of a tie to one (a score of 1e-17 is positive, its probability 0.5)
        best = (S[:, 0] > 0).astype(np.intp) if S.shape[1] == 1 else S.argmax(axis=1)
        P = losses.inverse_link(model.model, S) if proba else None
        writer.write(start, stop, shown[best] if names else model.labels.decode(best), P)

    if csvinput.is_text(data):  # CSV text, or standard input: streamed through the model's columns
        hdf5_only = {"x": x != DEFAULT_X, **columns}
        with textinference.open_rows(model, data, False, source, hdf5_only, delimiter) as rows:
            attrs = {"model": source, "data": os.path.abspath(data) if data != csvinput.STDIN else data}

            @contextlib.contextmanager
            def opened():
                with outputs.prediction_writer(output, fmt, None, shown, proba, attrs) as writer:
                    yield lambda a, b, S: write(writer, a, b, S)

            return textinference.predict_rows(model, rows, memory, opened, progress)
    _text_only(delimiter, data, "predict", model)
    with _open_for(model, data, x, None, columns, report, labels=False) as table:
        n = table.n_rows
        attrs = {"model": source, "data": os.path.abspath(table.path)}
        with outputs.prediction_writer(output, fmt, n, shown, proba, attrs) as writer, _read_whole(
                table, "the predictions were not written" if output != outputs.STDOUT else
                "the predictions on standard output cannot be trusted"):
            for block, _rows, S in score_blocks(table, model.raw_weights(), memory, progress=progress,
                                                work_per_row=outputs.row_bytes(model.raw_weights().shape[0])):
                write(writer, block.start, block.stop, S)
    return n


@contextlib.contextmanager
def _read_whole(table: Table, consequence: str):
    """RuntimeFailure where ``table``'s file changed while it was read (data/identity.py: a file cut short reads
    as rows of zeros), saying what became of it and ``consequence``: once the pass is done, and where a read failed
    (a compressed chunk cut short fails to decode: exit 2, as bad input, where the file had changed under it)."""
    try:
        yield
    except InputError:
        _unchanged(table, consequence)
        raise
    _unchanged(table, consequence)


def _unchanged(table: Table, consequence: str) -> None:
    what = table.identity.change()
    if what is not None:
        raise RuntimeFailure(f"{table.path}: {what}; {consequence}; run again once its writer has finished")

