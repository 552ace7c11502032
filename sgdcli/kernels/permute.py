"""A uniform permutation in place, from a 64-bit seed, compiled.

Fisher–Yates driven by splitmix64: NumPy's own ``permutation`` is several
times slower on the blocks training shuffles every epoch, a noticeable share
of an epoch once the training kernels got fast.
"""

from __future__ import annotations

import numpy as np

from sgdcli.kernels.jit import kernel


@kernel(callee=True)
def shuffle_in_place(a, state):
    """Shuffle ``a`` in place, uniformly, from a 64-bit seed (for other kernels; ``fisher_yates`` from Python).

    j = floor(u·(i+1)) with u a 53-bit uniform: the bias against uniform is
    below (i+1)/2^53, far under anything a training run can see.
    """
    x = np.uint64(state)
    for i in range(a.shape[0] - 1, 0, -1):
        x += np.uint64(0x9E3779B97F4A7C15)  # splitmix64
        z = x
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        u = float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)
        j = min(int(u * (i + 1)), i)
        t = a[i]
        a[i] = a[j]
        a[j] = t


@kernel()
def fisher_yates(a, state):
    """Shuffle ``a`` in place, uniformly, from a 64-bit seed; returns ``a``."""
    shuffle_in_place(a, state)
    return a
