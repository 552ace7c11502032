"""``predict`` and ``evaluate`` on CSV/TSV text (or standard input) instead of HDF5, through the encoding of
the CSV file the model was trained on (data/csvinput.py), streamed block by block with bounded memory."""

from __future__ import annotations

import itertools

import numpy as np

from sgdcli.data import csvinput, hashing
from sgdcli.data.csvinput import EncodedRows
from sgdcli.data.hashing import Hasher
from sgdcli.data.sparse import CsrRows
from sgdcli.errors import InputError, listed, quoted
from sgdcli.kernels import losses
from sgdcli.kernels.scoring import csr_scores, scores
from sgdcli.kernels.state import isolated
from sgdcli.model import outputs
from sgdcli.model.file import Model
from sgdcli.model.labels import first_refused
from sgdcli.model.measurement import Measurement, row_bytes

# Bytes per feature of a block in flight: the features decoded as float64 and kept as float32, the fields'
# text, and the scores.
BYTES_PER_FEATURE = 64


def open_rows(model: Model, data, with_label: bool, source: str, hdf5_only: dict,
              delimiter: str | None = None) -> EncodedRows:
    """The rows of the text ``data`` as ``model`` reads them (``source``: where the model came from, for
    messages; ``delimiter``: the fields', where not the training file's or found in the header);
    ``hdf5_only``: options given that only HDF5 input takes, refused."""
    given = [f"--{name.replace('_', '-')}" for name, value in hdf5_only.items() if value]
    if given:
        raise InputError(f"{', '.join(given)}: {'applies' if len(given) == 1 else 'apply'} to HDF5 input; {data} "
                         "is read as CSV text through the model's own columns")
    text = model.training.get("encoding")
    trained = model.training.get("hashing")
    if text is None and trained:
        raise InputError(f"{data}: {source or 'the model'} was trained on features hashed from "
                         f"{trained.get('source', 'text')}, not from a converted CSV file; {_give_hdf5(data)}")
    if text is None:
        raise InputError(f"{data}: CSV text is read through the columns of the CSV file a model was trained on, and "
                         f"{source or 'the model'} was not trained on a converted CSV file; {_give_hdf5(data)}")
    rows = EncodedRows(data, text, with_label, delimiter)
    if rows.enc.hash_bits is not None and not hashing.same(trained, Hasher(rows.enc.hash_bits).params("csv")):
        rows.close()
        raise InputError(f"{data}: {source or 'the model'} was trained on features hashed otherwise than sgdcli "
                         "hashes them; convert the rows as its training data was and give the HDF5 file")
    if rows.width != model.n_features:
        rows.select = _chosen(rows, model.training.get("features"))
        if rows.select is None or len(rows.select) != model.n_features:
            rows.close()
            raise InputError(f"{data}: its columns make {rows.width} features but the model has {model.n_features}")
    return rows


def _give_hdf5(data) -> str:
    """What to give in place of text ``data`` that a model of HDF5 columns cannot read: the HDF5 file its
    training data was converted to; from standard input (which convert cannot read), the file's path."""
    if data == csvinput.STDIN:
        return "give the HDF5 file by its path: HDF5 is read in place, not from standard input"
    return f"convert {data} as its training data was and give the HDF5 file"


def _chosen(rows: EncodedRows, names) -> np.ndarray | None:
    """Where a model trained on some of the encoded columns (``train --features``, its ``names`` in its order)
    finds them among the rows' encoded features; None where it cannot (hashed columns, a name not there)."""
    encoded = {name: j for j, name in enumerate(rows.enc.feature_names())} if rows.enc.hash_bits is None else {}
    if not names or any(name not in encoded for name in names):
        return None
    return np.array([encoded[name] for name in names], dtype=np.int64)


def block_rows(width: int, memory: int, work_per_row: int = 0) -> int:
    """The rows of a block of ``width`` features in ``memory``, each taking ``work_per_row`` bytes more where
    its scores are used (``measurement.row_bytes``)."""
    return max(1, memory // (BYTES_PER_FEATURE * max(width, 1) + work_per_row))


def evaluate_rows(model: Model, rows: EncodedRows, memory: int, progress=None) -> dict:
    """The metrics and loss of ``model`` on the rows, as ``measure`` gives them for HDF5; ``progress`` as for
    ``predict_rows``."""
    out = Measurement(model.objective, model.score_centre())
    code = losses.loss_of(model.objective)
    We = model.raw_weights()
    names = model.training.get("class_names")
    index = {name: k for k, name in enumerate(names)} if names is not None else None

    def judged(y):
        """The first label of ``y`` that ``model`` cannot be measured against, and why (named by its line)."""
        if index is None:
            return first_refused(model.model, model.labels, y)
        unknown = [i for i, name in enumerate(y) if name not in index]
        return (unknown[0], f"label {quoted(y[unknown[0]])} is not one of the model's classes "
                            f"({listed(names, quote=True, what='classes')})") if unknown else None

    blocks = rows.blocks(block_rows(rows.row_values, memory, row_bytes(We.shape[0])), judged)
    for X, y in _counted(blocks, progress):
        if index is not None:  # (every name one of the classes: judged)
            y = np.fromiter((index[name] for name in y), dtype=np.float64, count=len(y))
        encoded = model.labels.encode(np.asarray(y, dtype=np.float64), rows.path)
        out.add(_scores(X, We), encoded, None, code)
    return out.result()


def predict_rows(model: Model, rows: EncodedRows, memory: int, opened, progress=None) -> int:
    """Call ``write(start, stop, S)`` with the raw scores of every block, where ``opened()`` is a context
    manager of ``write`` entered once the first block is scored: an input of no rows is refused before any
    output begins (a header of predictions and no rows); returns the row count.  ``progress(done, total)`` is
    called as the pass starts and after each block with ``total`` None (text is not counted before it is read),
    and at the end with both the row count."""
    We = model.raw_weights()
    blocks = _counted(rows.blocks(block_rows(rows.row_values, memory, outputs.row_bytes(We.shape[0]))), progress)
    X, _ = next(blocks)  # (EncodedRows.blocks refuses an input of no rows)
    with opened() as write:
        n = 0
        for X, _ in itertools.chain([(X, None)], blocks):
            S = _scores(X, We)
            write(n, n + len(S), S)
            n += len(S)
    return n


def _counted(blocks, progress):
    """``blocks`` as they are, telling ``progress`` of the rows of those done (see ``predict_rows``): its first
    call once the first block is read, so that an input refused there (empty, a field that is no number) is
    only the error."""
    if progress is None:
        yield from blocks
        return
    done = None
    for block in blocks:
        if done is None:
            progress(0, None)
        yield block
        done = (done or 0) + (block[0].n_rows if isinstance(block[0], CsrRows) else len(block[0]))
        progress(done, None)
    if done is not None:
        progress(done, done)


def _scores(X, We: np.ndarray) -> np.ndarray:
    """Raw scores of float32 rows, or of CSR rows (hashed features)."""
    if isinstance(X, CsrRows):
        return csr_scores(X, We)
    return scores(X, np.arange(len(X), dtype=np.int64), We, isolated((len(X), We.shape[0])))
