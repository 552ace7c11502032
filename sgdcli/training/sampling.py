"""The sample of rows a run is measured on before it trains: ``--lr auto``'s curvature and label scale
(training/rate.py), where a bias starts, the all-zero model's loss, the scale of sparse columns, and the mean row
whose score a binary model's AUC is centred on where the run knows no exact mean of its features (``mean_row``):
read once a run (``Sample``), whatever measures it.

Runs of rows spread evenly over the file, the same places for every layout,
so that the same rows stored any way give the same measures, on every run
and every resume; up to SAMPLE_ROWS of them, fewer where ``--memory`` cannot
hold them at the sample's bytes per value.  A full batch that starts at a fit
of its sample (training/start.py) asks for more, as many as ``--memory``
holds beside that fit's own arrays: its few steps keep where the fit starts
it, and a fit of more rows starts it nearer the optimum.

Of those rows, a run's sample keeps the ones it trains on: the rows that
``--val-fraction`` holds out (data/selection.py) are read with the rest and
left out, so that what the validation metrics measure is rows the run never
saw, its set-up included, and the end's fit of the sample (fullbatch.py)
fits rows among those trained.  With ``--val-fraction f`` the sample holds
about 1 − f of its rows: the runs read and the memory they take are the
same, whatever the fraction.  Under ``--bad-rows skip`` it leaves out the
rows that training skips too (a non-finite feature or label), which it
finds in the labels and rows it reads: zeroed, as a measure of them had
them, they were rows no epoch trains on, and where many rows lack a value
they pulled what is measured (the rate, the fit of the sample) towards
rows that do not exist.
"""

from __future__ import annotations

import numpy as np

from sgdcli.data import csrblocks
from sgdcli.data.selection import select_rows
from sgdcli.data.sparse import CsrRows
from sgdcli.data.table import Table
from sgdcli.model.standardize import RunningMoments
from sgdcli.options import DEFAULT_MEMORY
from sgdcli.training.autooptimizer import dense_enough

SAMPLE_ROWS = 4096  # fewer where --memory cannot hold them (sample_size)
# Bytes the sample takes per value it holds, which --memory bounds: dense, the float32 rows read, their
# standardized float64 copy and a mask of its finite values; sparse, per nonzero, its value and index as read, its
# row and scaled value, and the power iteration's temporaries.
DENSE_SAMPLE_BYTES = 4 + 8 + 1
SPARSE_SAMPLE_BYTES = 8 + 16 + 24
DENSE_HELD_BYTES = 4 + 8  # of DENSE_SAMPLE_BYTES, what a measure holds: the rows read and standardized, not the mask
CSR_HELD_BYTES = 4 + 8  # of SPARSE_SAMPLE_BYTES, what the sample keeps of a nonzero: its value and index as read
# Places of the file the sample is read from: few enough that where each read decodes a chunk (gzip) the sample
# costs a few percent of an epoch (`bench/defaults.py` notes), and the same for every layout, so that the same
# rows stored any way get the same rate.
SAMPLE_RUNS = 16


def sample_size(table: Table, memory: int, rows: int = SAMPLE_ROWS) -> int:
    """Rows in the sample: SAMPLE_ROWS, or as many as ``memory`` holds at the sample's bytes per value (rows of
    many features: an AnnData matrix of 20,000 genes fits about 1,000 rows in the default --memory); asked for
    other ``rows``, as many of them as ``memory`` holds beside the labels and weights the table holds whole."""
    per_row = DENSE_SAMPLE_BYTES * (table.n_features + 1)  # (of a CSR matrix too, where its rows are made dense)
    if table.sparse:
        kept = SPARSE_SAMPLE_BYTES * (table.X.reader.nnz / max(table.n_rows, 1) + 1)
        per_row = kept if stays_sparse(table) else kept + per_row  # the rows read, and made dense
    return max(1, min(rows, int((memory - table.held_bytes) // per_row)))


def sample_spans(table: Table, memory: int, rows: int = SAMPLE_ROWS) -> list[tuple[int, int]]:
    """The runs of rows the sample reads (``sample_size`` of them in all, asked for ``rows``): spread evenly over
    the file, or the whole of a file of no more rows; of a CSR matrix, cut short where they hold more nonzeros
    than as many average rows (data/csrblocks.py)."""
    n, size = table.n_rows, sample_size(table, memory, rows)
    if size >= n:
        spans = [(0, n)]
    else:
        runs = min(SAMPLE_RUNS, size)
        run = size // runs
        starts = np.unique(np.linspace(0, n - run, runs).astype(np.int64))
        spans = [(int(s), int(s) + run) for s in starts]
    return csrblocks.fit_sample(table.X.reader, spans) if table.sparse else spans


def stays_sparse(table: Table) -> bool:
    """Whether ``table``'s rows are CSR rows too wide to centre: never centred (training/setup.py), and measured
    sparse by the sample's measures (the power iteration on the CSR rows, no fit); rows dense enough
    (training/autooptimizer.py ``dense_enough``) are centred, and measured as dense rows are, by ``sample``'s
    rows made dense."""
    return table.sparse and not dense_enough(table)


class Sample:
    """The sample of ``table`` within ``memory``: each part (labels, sample weights, rows as stored) read once,
    when first asked for, and kept until ``release``.  A run's set-up measures it several times (where its
    weights start, --lr auto's rate at each step size, the scale of sparse columns): one read serves them all.
    The parts are read-only, so that no measure changes what the next one sees."""

    def __init__(self, table: Table, memory: int = DEFAULT_MEMORY, held_out: tuple[float, int] | None = None,
                 skip_bad: bool = False, rows: int = SAMPLE_ROWS):
        """``held_out``: the run's --val-fraction and --seed, whose held-out rows the sample leaves out (None: no
        row of ``table`` is held out); ``skip_bad``: --bad-rows skip, whose rows with a non-finite feature or label
        it leaves out too; ``rows``: the rows asked for (``sample_size``)."""
        self.table, self.memory, self.held_out, self.skip_bad = table, memory, held_out, skip_bad
        self.asked = rows
        self._parts: dict = {}
        self._read: dict = {}  # parts read whole to find the bad rows, not yet taken as parts

    @classmethod
    def of(cls, drawn: Table | Sample, memory: int = DEFAULT_MEMORY) -> Sample:
        """``drawn`` where it is a sample already (a run's, shared: its own ``memory`` holds), else a sample of the
        table ``drawn`` within ``memory``."""
        return drawn if isinstance(drawn, Sample) else cls(drawn, memory)

    def _spans(self) -> tuple[list[tuple[int, int]], np.ndarray | None]:
        """The runs of rows read, and which of their rows the sample keeps (None: every one)."""
        if "spans" not in self._parts:
            spans = sample_spans(self.table, self.memory, self.asked)
            keep = trained(spans, self.held_out)
            if self.skip_bad:  # where every row is bad, they stay, zeroed: a measure of no rows is none
                finite = self._finite(spans)
                good = finite if keep is None else finite & keep
                keep = (None if good.all() else good) if good.any() else keep
            if keep is not None and not keep.any():  # a few rows, all held out: the first trained row after
                spans, keep = [first_trained(self.table.n_rows, spans[0][0], *self.held_out)], None
                self._read.clear()
            self._parts["spans"] = spans, keep
        return self._parts["spans"]

    def _finite(self, spans: list[tuple[int, int]]) -> np.ndarray:
        """Per row of ``spans``: are its features and label finite?  Read whole, and kept to be taken as parts."""
        n = sum(b - a for a, b in spans)
        labels = self._read["labels"] = self._read_labels(spans, n)
        rows = self._read["rows"] = self._read_rows(spans, n)
        finite = rows.finite_rows() if isinstance(rows, CsrRows) else np.isfinite(rows).all(axis=1)
        return finite & np.isfinite(labels)

    def _part(self, name: str, read):
        if name not in self._parts:
            spans, keep = self._spans()
            value = self._read.pop(name) if name in self._read else read(spans, sum(b - a for a, b in spans))
            if keep is not None:  # a copy of the rows trained, the rows read then let go: both fit in the bytes
                # per value --memory counts, as no standardized copy is made yet
                value = value.kept(keep) if isinstance(value, CsrRows) else value[keep]
            arrays = (value.data, value.indices, value.indptr) if isinstance(value, CsrRows) else (value,)
            for array in arrays:
                array.flags.writeable = False
            self._parts[name] = value
        return self._parts[name]

    def runs(self) -> np.ndarray:
        """Per row of the sample, the run of rows it was read from (0, 1, …: ``sample_spans``'s, in file order)."""
        spans, keep = self._spans()
        of_row = np.repeat(np.arange(len(spans)), [b - a for a, b in spans])
        return of_row if keep is None else of_row[keep]

    def labels(self) -> np.ndarray:
        """The labels of the sample's rows."""
        return self._part("labels", self._read_labels)

    def _read_labels(self, spans: list[tuple[int, int]], n: int) -> np.ndarray:
        return self.table.Y.read_ranges(spans, np.empty(n))

    def weights(self) -> np.ndarray | None:
        """The sample weights of the sample's rows (None: the table has none)."""
        if self.table.W is None:
            return None
        return self._part("weights", lambda spans, n: self.table.W.read_ranges(spans, np.empty(n)))

    def rows(self):
        """The sample's rows as read: float32 (rows × features), or CsrRows of a CSR matrix."""
        return self._part("rows", self._read_rows)

    def _read_rows(self, spans: list[tuple[int, int]], n: int):
        if self.table.sparse:
            return self.table.X.read_ranges(spans)
        # gzip chunks decoded in parallel
        return self.table.X.read_ranges(spans, np.empty((n, self.table.n_features), dtype=np.float32))

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """The means and deviations of the features of the sample's dense rows whose values are all finite, in one
        compiled pass over the rows as read (a mask of them, not a copy)."""
        rows = self.rows()
        stats = RunningMoments(rows.shape[1])
        stats.update(rows, np.flatnonzero(np.isfinite(rows).all(axis=1)))
        return stats.mean, stats.std()

    def held(self) -> bool:
        """Whether a part of the sample was read and is kept: a measure of it then reads at most the rest."""
        return bool(self._read) or any(name != "spans" for name in self._parts)

    def release(self) -> None:
        """Let go of what was read (the epochs need the whole of --memory); asked for again, it is read again."""
        self._parts.clear()
        self._read.clear()


def trained(spans: list[tuple[int, int]], held_out: tuple[float, int] | None) -> np.ndarray | None:
    """Per row of ``spans``, laid end to end: is it trained on, not held out by ``held_out`` (--val-fraction and
    --seed, the rows select_rows trains on)?  None where every row is."""
    if held_out is None or held_out[0] <= 0:
        return None
    fraction, seed = held_out
    keep, offset = np.zeros(sum(b - a for a, b in spans), dtype=np.bool_), 0
    for a, b in spans:
        keep[offset + select_rows(a, b - a, fraction, seed)[0]] = True
        offset += b - a
    return keep


def first_trained(n: int, start: int, fraction: float, seed: int, block: int = SAMPLE_ROWS) -> tuple[int, int]:
    """The run of one row that is the first of the ``n`` rows trained on (not held out by ``fraction`` at
    ``seed``) from row ``start`` on, wrapping round to row 0: a sample's one row where its runs hold none (the
    label pass refused a file with no row to train on)."""
    for a in [*range(start, n, block), *range(0, start, block)]:
        b = min(a + block, n if a >= start else start)
        rows, _ = select_rows(a, b - a, fraction, seed)
        if len(rows):
            return a + int(rows[0]), a + int(rows[0]) + 1
    raise ValueError(f"no row of {n} is trained on")


def room(drawn: Sample) -> int:
    """Bytes of the sample's --memory that a measure of its dense rows may hold beside them (a fit:
    training/classifierfit.py), the rows read and standardized being held (and the CSR rows they were made
    from, where ``stays_sparse`` is false of a CSR matrix)."""
    rows, table = len(drawn.labels()), drawn.table
    csr = CSR_HELD_BYTES * rows * table.X.nonzeros_per_row() if table.sparse else 0
    return int(drawn.memory - DENSE_HELD_BYTES * rows * (table.n_features + 1) - csr)


def sample_labels(table: Table | Sample, memory: int = DEFAULT_MEMORY) -> np.ndarray:
    """The labels of the sample's rows."""
    return Sample.of(table, memory).labels()


def sample_weights(table: Table | Sample, memory: int = DEFAULT_MEMORY) -> np.ndarray | None:
    """The sample weights of the sample's rows (None: the table has none)."""
    return Sample.of(table, memory).weights()


def sample(table: Table | Sample, center: np.ndarray, scale: np.ndarray, memory: int = DEFAULT_MEMORY
           ) -> np.ndarray:
    """Rows in runs spread evenly over the file (those of ``sample_labels``), as the model sees them, with a
    column of ones for the bias: DENSE_SAMPLE_BYTES a value, with the rows as read."""
    drawn = Sample.of(table, memory)
    rows, d = drawn.rows(), drawn.table.n_features
    if isinstance(rows, CsrRows):  # (a matrix dense enough: ``stays_sparse``)
        rows = rows.dense(d)
    Z = np.empty((len(rows), d + 1))
    np.subtract(rows, center, out=Z[:, :d])
    Z[:, :d] *= scale
    Z[~np.isfinite(Z)] = 0.0  # a bad row must not make the rate NaN (--bad-rows error stops at it, maybe later)
    Z[:, d] = 1.0
    return Z


def mean_row(table: Table | Sample, center: np.ndarray, scale: np.ndarray, memory: int = DEFAULT_MEMORY
             ) -> np.ndarray:
    """The mean of the sample's rows as the model sees them (``sample``'s without the bias's column, non-finite
    values 0, sparse rows' zeros counted): a linear model's mean score over the sample is its weights times this
    plus its bias."""
    drawn = Sample.of(table, memory)
    d = drawn.table.n_features
    if drawn.table.sparse:
        X, values = sparse_sample(drawn, None)
        means = np.bincount(X.indices, weights=values, minlength=d) / max(X.n_rows, 1)
    else:
        rows = drawn.rows()
        means = np.where(np.isfinite(rows), rows, np.float32(0.0)).mean(axis=0, dtype=np.float64)
    return (means - center) * scale


def sparse_sample(table: Table | Sample, scale: np.ndarray | None, memory: int = DEFAULT_MEMORY):
    """The sample's sparse rows (CsrRows) and their values as float64, times ``scale`` of their columns (None: as
    stored), non-finite ones 0."""
    X = Sample.of(table, memory).rows()
    values = X.data.astype(np.float64)
    if scale is not None:
        values *= scale[X.indices]
    values[~np.isfinite(values)] = 0.0
    return X, values
