"""Scores of rows under a model, and the weights that make standardized units raw ones."""

from __future__ import annotations

from numba import prange

from sgdcli.kernels.intrinsics import AHEAD, prefetch_row
from sgdcli.kernels.jit import kernel
from sgdcli.kernels.state import isolated


@kernel()
def fold_weights(W, center, scale, We):
    """Weights on raw features equivalent to ``W`` on (x − center)·scale."""
    k_out, d1 = W.shape
    d = d1 - 1
    for k in range(k_out):
        bias = W[k, d]
        for j in range(d):
            w = W[k, j] * scale[j]
            We[k, j] = w
            bias -= w * center[j]
        We[k, d] = bias
    return We


@kernel(parallel=True)
def scores(X, rows, We, out):
    """Raw scores of rows ``rows`` of ``X``: out[r, k] = We[k, :d]·x + We[k, d]."""
    d = X.shape[1]
    k_out = We.shape[0]
    n = rows.shape[0]
    for r in prange(n):
        if r + AHEAD < n:
            prefetch_row(X, rows[r + AHEAD])
        i = rows[r]
        for k in range(k_out):
            acc = We[k, d]
            for j in range(d):
                acc += We[k, j] * X[i, j]
            out[r, k] = acc
    return out


def csr_scores(X, We):
    """Raw scores of CSR rows (``data``, ``indices``, ``indptr``, ``n_rows``: data/sparse.py's CsrRows) in
    O(nonzeros): out[i, k] = We[k, :d]·x_i + We[k, d], with no array the size of the nonzeros besides them
    (NumPy's bincount of the products took three: the --memory of predict and evaluate three times over)."""
    return _csr_scores(X.data, X.indices, X.indptr, We, isolated((X.n_rows, We.shape[0])))


@kernel(parallel=True, exact=True)
def _csr_scores(data, indices, indptr, We, out):
    """Each row's products summed in the order of its entries, then the bias: rounded as IEEE 754 says (no
    fast-math), so the scores are those of the sum written out, bit for bit."""
    k_out, d1 = We.shape
    base = indptr[0]  # ``data`` and ``indices`` hold the block's entries only
    for i in prange(out.shape[0]):
        a, b = indptr[i] - base, indptr[i + 1] - base
        for k in range(k_out):
            acc = 0.0
            for j in range(a, b):
                acc += data[j] * We[k, indices[j]]
            out[i, k] = acc + We[k, d1 - 1]
    return out
