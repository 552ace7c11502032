"""Where predictions go: an HDF5 file, a CSV or TSV file, or CSV on standard output.

Each writer takes the predictions block by block in row order, so memory
stays bounded by one block whatever the row count (``row_bytes``: what a
row of the block takes as it is written).  Text is formatted TEXT_ROWS rows
at a time: a row's text, as Python objects, takes several times its values'
bytes.  Files are written through ``atomic_output``: a failed or interrupted
run leaves no partial file.  Text has a header row (``prediction``, then ``proba_<class>`` per
class with ``--proba``), and numbers are written with 17 significant digits,
which read back as the same float64 values as the HDF5 output's.
"""

from __future__ import annotations

import contextlib
import csv
import io
import sys

import h5py
import numpy as np

from sgdcli.data import newhdf5, storage
from sgdcli.data.atomic import atomic_output
from sgdcli.data.pathtext import attr_text
from sgdcli.model.labels import shown  # a class as text: 3 for 3.0, 0.1 for the float32 0.1
from sgdcli.options import STDOUT, gzipped

SEPARATORS = {"csv": ",", "tsv": "\t"}
TEXT_ROWS = 1024  # rows formatted as text at once: their objects small beside --memory, their calls few
# 8-byte values a row that predict's writing holds at once beside its scores, and a value an output: the
# predicted class (its index, and as the class or name written) and the probabilities
ROW_VALUES = 4


def row_bytes(outputs: int) -> int:
    """The most bytes a row of ``outputs`` scores takes while its prediction is made and written: what the
    budget of a block being predicted counts for it."""
    return 8 * (ROW_VALUES + outputs)


def _column_format(dtype: np.dtype) -> str:
    return "%d" if np.dtype(dtype).kind in "iu" else "%.17g"  # (bool classes: written False/True, _Text)


def _named(classes: np.ndarray | None) -> bool:
    """Whether the classes are names (text) rather than numbers."""
    return classes is not None and classes.dtype.kind in "OUS"


class _Hdf5:
    def __init__(self, f, n: int | None, classes: np.ndarray | None, proba: bool, attrs: dict):
        """``n`` rows, or None where the count is not known before the end (text input): resizable."""
        kind = np.float64 if classes is None else h5py.string_dtype() if _named(classes) else classes.dtype
        self.pred = f.create_dataset("prediction", shape=(n or 0,), maxshape=(n,), dtype=kind, chunks=True)
        self.f, self.n, self.classes, self.prob = f, n, classes if proba else None, None
        # for text, whose count is not known: the probabilities of the rows before a chunk's worth has come
        self.chunk_rows = storage.chunk_rows_for(len(classes), np.dtype(np.float64).itemsize) if proba else 0
        self.early: list[np.ndarray] = []
        if proba and n is not None:
            self._create_proba(n)
        f.attrs.update({key: attr_text(value) if isinstance(value, str) else value  # file names
                        for key, value in attrs.items()})

    def _create_proba(self, rows: int) -> None:
        """The probabilities, in chunks of whole rows as convert writes X (h5py's guess cut them into columns, and
        for rows of text into 8 KiB), of about a MiB, or of the ``rows`` there are where fewer: a chunk is
        allocated whole (a MiB for the probabilities of three rows)."""
        k = len(self.classes)
        self.prob = self.f.create_dataset("proba", shape=(self.n or 0, k), maxshape=(self.n, k), dtype=np.float64,
                                          chunks=(max(1, min(self.chunk_rows, rows)), k))
        self.prob.attrs["classes"] = [str(c) for c in self.classes] if _named(self.classes) else self.classes

    def write(self, start: int, stop: int, pred: np.ndarray, prob: np.ndarray | None) -> None:
        if self.pred.shape[0] < stop:
            self.pred.resize(stop, axis=0)
        self.pred[start:stop] = pred
        if self.classes is None:
            return
        if self.prob is None:  # text: held until a chunk's worth of rows, or the end, says the chunk's rows
            if stop < self.chunk_rows:
                self.early.append(np.array(prob, dtype=np.float64))
                return
            self._create_proba(stop)
            self.finish()
        if self.prob.shape[0] < stop:
            self.prob.resize(stop, axis=0)
        self.prob[start:stop] = prob

    def finish(self) -> None:
        """Write the probabilities held (rows of text before a chunk's worth had come, fewer than a MiB's)."""
        if self.early:
            prob = np.concatenate(self.early)
            self.early = []
            if self.prob is None:
                self._create_proba(len(prob))
            self.prob.resize(max(self.prob.shape[0], len(prob)), axis=0)
            self.prob[:len(prob)] = prob


class _Text:
    def __init__(self, fh, sep: str, classes: np.ndarray | None, proba: bool):
        self.fh, self.sep = fh, sep
        self.names = ["prediction"] + ([f"proba_{c if _named(classes) else shown(c)}" for c in classes]
                                       if proba else [])
        self.csv = csv.writer(fh, delimiter=sep, lineterminator="\n") if _named(classes) else None
        self.pred_format = _column_format(classes.dtype) if classes is not None and not _named(classes) else "%.17g"
        # a class of real numbers as the header writes it (0.3, not 0.29999999999999999), a bool as True
        self.class_text = None
        if classes is not None and not _named(classes) and np.dtype(classes.dtype).kind in "fb":
            self.sorted = np.sort(classes)
            self.class_text = np.array([shown(c) for c in self.sorted], dtype=object)
            self.pred_format = "%s"

    def header(self) -> None:
        """The header row, once: with the first rows, or at the end where there are none, so that a run that
        fails before its first block has printed nothing on standard output, not a header of no rows."""
        if self.names is None:
            return
        if self.csv is not None:  # names may hold the separator or quotes: quoted as CSV readers expect
            self.csv.writerow(self.names)
        else:
            self.fh.write(self.sep.join(self.names) + "\n")
        self.names = None

    def write(self, start: int, stop: int, pred: np.ndarray, prob: np.ndarray | None) -> None:
        self.header()
        for a in range(0, len(pred), TEXT_ROWS):
            self._write(pred[a:a + TEXT_ROWS], None if prob is None else prob[a:a + TEXT_ROWS])

    def _write(self, pred: np.ndarray, prob: np.ndarray | None) -> None:
        if self.class_text is not None:  # every prediction is one of the classes
            pred = self.class_text[np.searchsorted(self.sorted, pred)]
        if self.csv is not None:
            columns = [pred.tolist()] + ([] if prob is None else [[f"{v:.17g}" for v in col] for col in prob.T])
            self.csv.writerows(zip(*columns))
            return
        if prob is None:
            np.savetxt(self.fh, pred, fmt=self.pred_format)
            return
        table = np.empty((len(pred), 1 + prob.shape[1]), dtype=object)
        table[:, 0] = pred
        table[:, 1:] = prob
        fmt = [self.pred_format] + ["%.17g"] * prob.shape[1]
        np.savetxt(self.fh, table, fmt=fmt, delimiter=self.sep)


@contextlib.contextmanager
def prediction_writer(output: str, fmt: str, n: int | None, classes: np.ndarray | None, proba: bool, attrs: dict):
    """A writer of ``n`` predictions (and probabilities; None: as many as come) to ``output`` in ``fmt``;
    ``write(start, stop, pred, prob)`` per block in row order."""
    if fmt == "hdf5":
        with atomic_output(output) as tmp:
            writer = None
            try:
                with newhdf5.created(tmp) as f:
                    writer = _Hdf5(f, n, classes, proba, attrs)
                    yield writer
                    writer.finish()
            except BaseException:
                if newhdf5.quarantined():  # HDF5 failed writing: its datasets must never be freed either
                    newhdf5.keep(writer)
                raise
        return
    sep = SEPARATORS[fmt]
    if output == STDOUT:
        text = _Text(sys.stdout, sep, classes, proba)
        yield text
        text.header()
        sys.stdout.flush()
        return
    with atomic_output(output) as tmp, _text_file(tmp, gzipped(output)) as fh:
        text = _Text(fh, sep, classes, proba)
        yield text
        text.header()


@contextlib.contextmanager
def _text_file(path: str, compressed: bool):
    """``path`` opened for text, gzip-compressed where ``compressed`` (ISA-L's, as input is read: no time or
    name in its header, so the same predictions give the same bytes)."""
    if not compressed:
        with open(path, "w", newline="\n", encoding="utf-8") as fh:
            yield fh
        return
    from isal.igzip import IGzipFile  # (as data/textfiles.py reads .gz input)

    with open(path, "wb") as raw, IGzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed, \
            io.TextIOWrapper(packed, encoding="utf-8", newline="\n") as fh:
        yield fh
