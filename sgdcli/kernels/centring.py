"""Sparse rows centred without being made dense: the columns' means, scaled (``shift``), taken off every row.

A centred row is x·s − shift, whose zeros are not zero.  Its score under
weights W is the nonzeros' W·(x·s) less W·shift: the second term is one
number an output, the same for every row until a step changes W
(``centring_scores``).  Its gradient on column j is g·(x_j·s_j − shift_j),
so a batch's is the nonzeros' sum less shift_j times the sum of the rows'
derivatives g, the bias's own gradient (``centre_gradient``): a term on
every column, O(columns) a step, which the rows that are centred
(training/autooptimizer.py ``dense_enough``) pay anyway for a step on
every weight.  The kernels of kernels/sparse.py take both where given a
shift.
"""

from __future__ import annotations

from sgdcli.kernels.jit import kernel


@kernel(callee=True)
def centre_gradient(G, shift, touched, n_touched, marks):
    """The batch's gradient summed over rows centred by ``shift`` (the columns' means, scaled): each column's sum
    less its shift times the bias's (the sum of the rows' derivatives), which touches every column; returns the
    count of columns touched."""
    k_out, d1 = G.shape
    d = d1 - 1
    for j in range(d):
        if shift[j] != 0.0:
            for k in range(k_out):
                G[k, j] -= shift[j] * G[k, d]
            if marks[j] == 0:
                marks[j] = 1
                touched[n_touched] = j
                n_touched += 1
    return n_touched


@kernel(callee=True)
def centring_scores(W, shift, base):
    """Per output, the centring's part of a score: the weights (as kept, before the call's scale) times
    ``shift``."""
    for k in range(W.shape[0]):
        acc = 0.0
        for j in range(W.shape[1] - 1):
            acc += W[k, j] * shift[j]
        base[k] = acc
