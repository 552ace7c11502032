"""The sample of rows a run is measured on before it trains: ``--lr auto``'s curvature and label scale
(training/rate.py), where a bias starts, the all-zero model's loss, the scale of sparse columns, and the mean row
whose score a binary model's AUC is centred on where the run knows no exact mean of its features (``mean_row``).

Runs of rows spread evenly over the file, the same places for every layout,
so that the same rows stored any way give the same measures, on every run
and every resume; up to SAMPLE_ROWS of them, fewer where ``--memory`` cannot
hold them at the sample's bytes per value.
"""

from __future__ import annotations

import numpy as np

from sgdcli.data import csrblocks
from sgdcli.data.table import Table
from sgdcli.options import DEFAULT_MEMORY

SAMPLE_ROWS = 4096  # fewer where --memory cannot hold them (sample_size)
# Bytes the sample takes per value it holds, which --memory bounds: dense, the float32 rows read, their
# standardized float64 copy and a mask of its finite values; sparse, per nonzero, its value and index as read, its
# row and scaled value, and the power iteration's temporaries.
DENSE_SAMPLE_BYTES = 4 + 8 + 1
SPARSE_SAMPLE_BYTES = 8 + 16 + 24
# Places of the file the sample is read from: few enough that where each read decodes a chunk (gzip) the sample
# costs a few percent of an epoch (`bench/defaults.py` notes), and the same for every layout, so that the same
# rows stored any way get the same rate.
SAMPLE_RUNS = 16


def sample_size(table: Table, memory: int) -> int:
    """Rows in the sample: SAMPLE_ROWS, or as many as ``memory`` holds at the sample's bytes per value (rows of
    many features: an AnnData matrix of 20,000 genes fits about 1,000 rows in the default --memory)."""
    if table.sparse:
        per_row = SPARSE_SAMPLE_BYTES * (table.X.reader.nnz / max(table.n_rows, 1) + 1)
    else:
        per_row = DENSE_SAMPLE_BYTES * (table.n_features + 1)
    return max(1, min(SAMPLE_ROWS, int(memory // per_row)))


def sample_spans(table: Table, memory: int) -> list[tuple[int, int]]:
    """The runs of rows the sample reads (``sample_size`` of them in all): spread evenly over the file; of a CSR
    matrix, cut short where they hold more nonzeros than as many average rows (data/csrblocks.py)."""
    n, size = table.n_rows, sample_size(table, memory)
    runs = min(SAMPLE_RUNS, size)
    run = min(size // runs, n)
    starts = np.unique(np.linspace(0, n - run, min(runs, max(1, n // run))).astype(np.int64))
    spans = [(int(s), int(s) + run) for s in starts]
    return csrblocks.fit_sample(table.X.reader, spans) if table.sparse else spans


def sample_labels(table: Table, memory: int = DEFAULT_MEMORY) -> np.ndarray:
    """The labels of the sample's rows."""
    spans = sample_spans(table, memory)
    return table.Y.read_ranges(spans, np.empty(sum(b - a for a, b in spans)))


def sample_weights(table: Table, memory: int = DEFAULT_MEMORY) -> np.ndarray | None:
    """The sample weights of the sample's rows (None: the table has none)."""
    if table.W is None:
        return None
    spans = sample_spans(table, memory)
    return table.W.read_ranges(spans, np.empty(sum(b - a for a, b in spans)))


def sample(table: Table, center: np.ndarray, scale: np.ndarray, memory: int = DEFAULT_MEMORY) -> np.ndarray:
    """Rows in runs spread evenly over the file (those of ``sample_labels``), as the model sees them, with a
    column of ones for the bias: built in place, DENSE_SAMPLE_BYTES a value."""
    spans = sample_spans(table, memory)
    d = table.n_features
    buffer = np.empty((sum(b - a for a, b in spans), d), dtype=np.float32)
    rows = table.X.read_ranges(spans, buffer)  # gzip chunks decoded in parallel
    Z = np.empty((len(rows), d + 1))
    np.subtract(rows, center, out=Z[:, :d])
    del rows, buffer
    Z[:, :d] *= scale
    Z[~np.isfinite(Z)] = 0.0  # a bad row must not make the rate NaN (--bad-rows skip leaves it out of training)
    Z[:, d] = 1.0
    return Z


def mean_row(table: Table, center: np.ndarray, scale: np.ndarray, memory: int = DEFAULT_MEMORY) -> np.ndarray:
    """The mean of the sample's rows as the model sees them (``sample``'s without the bias's column, non-finite
    values 0, sparse rows' zeros counted): a linear model's mean score over the sample is its weights times this
    plus its bias.  Within the sample's bytes per value (the rows read, their finite copy and its mask)."""
    d = table.n_features
    if table.sparse:
        X, values = sparse_sample(table, None, memory)
        means = np.bincount(X.indices, weights=values, minlength=d) / max(X.n_rows, 1)
    else:
        spans = sample_spans(table, memory)
        buffer = np.empty((sum(b - a for a, b in spans), d), dtype=np.float32)
        rows = table.X.read_ranges(spans, buffer)
        means = np.where(np.isfinite(rows), rows, np.float32(0.0)).mean(axis=0, dtype=np.float64)
    return (means - center) * scale


def sparse_sample(table: Table, scale: np.ndarray | None, memory: int):
    """The sample's sparse rows (CsrRows) and their values as float64, times ``scale`` of their columns (None: as
    stored), non-finite ones 0."""
    X = table.X.read_ranges(sample_spans(table, memory))
    values = X.data.astype(np.float64)
    if scale is not None:
        values *= scale[X.indices]
    values[~np.isfinite(values)] = 0.0
    return X, values
