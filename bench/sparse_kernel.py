"""The sparse kernel alone, in memory, against scikit-learn's partial_fit on the same CSR rows.

400,000 rows × 60 nonzeros out of 2^18 columns with Zipf-distributed
frequencies, labels from a sparse linear model; logistic loss, plain SGD at
a constant rate, batch 256, 32 and 1, in calls of 65,536 rows as the engine
makes them.  Prints rows/s and nanoseconds per nonzero for each.

    python bench/sparse_kernel.py
"""

import time

import numpy as np
from sgdcli.kernels import sparse
from sgdcli.kernels.state import Scratch, TrainState, kernel_config
from sgdcli.options import TrainOptions
n, d, nnz = 400_000, 1 << 18, 60
rng = np.random.default_rng(0)
p = 1.0 / np.arange(1, d + 1) ** 1.1; p /= p.sum()  # Zipf-like feature frequencies
indices = rng.choice(d, size=n * nnz, p=p).astype(np.int32)
data = np.ones(n * nnz, dtype=np.float32)
indptr = np.arange(0, n * nnz + 1, nnz, dtype=np.int64)
w = rng.standard_normal(d) * (rng.random(d) < 0.05)
scores = np.add.reduceat(w[indices], indptr[:-1])
y = (scores + rng.standard_normal(n) > 0).astype(float)
for batch in (256, 32, 1):
    cfg = kernel_config(TrainOptions(model="logistic", lr=0.1, optimizer="sgd", schedule="constant", standardize=False, l2=1e-6), batch, 1, n)
    for rep in range(3):
        st = TrainState.zeros(1, d)
        s = Scratch.make(1, 1, d, sparse=True)
        args = (s.touched, s.marks, s.n_touched, s.clocks, s.clock_now)
        order = rng.permutation(n)
        starts, lens = indptr[order], np.full(n, nnz, dtype=np.int64)
        t0 = time.perf_counter()
        for lo in range(0, n, 65536):  # calls of SLICE_ROWS, as the engine makes them
            sparse.train_block_sparse(cfg, data, indices, starts[lo:lo+65536], lens[lo:lo+65536], y[order][lo:lo+65536], None, st.W, st.G, None, st.counters, st.sums, *args)
        dt = time.perf_counter() - t0
    print(f"batch {batch}: {n/dt/1e6:.2f}M rows/s, {dt/(n*nnz)*1e9:.2f} ns per nonzero, loss {st.sums[0]/st.sums[1]:.4f}")
try:
    from sklearn.linear_model import SGDClassifier
    import scipy.sparse as sp
    Xs = sp.csr_matrix((data, indices, indptr), shape=(n, d))
    clf = SGDClassifier(loss="log_loss", alpha=1e-6, learning_rate="constant", eta0=0.1)
    t0 = time.perf_counter()
    for lo in range(0, n, 65536):
        clf.partial_fit(Xs[lo:lo+65536], y[lo:lo+65536], classes=[0, 1])
    dt = time.perf_counter() - t0
    print(f"scikit-learn partial_fit: {n/dt/1e6:.2f}M rows/s, {dt/(n*nnz)*1e9:.2f} ns per nonzero")
except ImportError as e:
    print("no sklearn", e)
