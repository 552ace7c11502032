"""CSR rows through the kernels: the O(nonzeros) kernel (kernels/sparse.py), or, where the run's settings make
the kernels' rows dense (``KernelConfig.sparse`` false: training/autooptimizer.py ``densified``), the dense
kernels a piece of the rows at a time (kernels/densified.py)."""

from __future__ import annotations

import numpy as np

from sgdcli.data.sparse import CsrRows
from sgdcli.kernels import state as ks
from sgdcli.kernels.batches import finish_batch
from sgdcli.kernels.densified import train_block_csr
from sgdcli.kernels.sparse import finish_batch_sparse, train_block_sparse
from sgdcli.kernels.state import KernelConfig, Scratch, TrainState


def train(cfg: KernelConfig, X: CsrRows, y: np.ndarray, positions: np.ndarray, plan, state: TrainState,
          scratch: Scratch, sw: np.ndarray | None = None) -> int:
    """The CSR rows at ``positions`` of the window's rows ``X`` (data/sparse.py), labels ``y`` and weights
    ``sw`` in that order; the status the kernels return (``plan``: the run's engine.EpochPlan)."""
    starts = X.indptr[positions]
    lens = X.indptr[positions + 1] - starts
    if not cfg.sparse:
        return train_block_csr(cfg, X.data, X.indices, starts, lens, y, plan.center, plan.scale, state, scratch, sw)
    scale = plan.scale if cfg.standardized else None  # None: Numba compiles the kernel without the gather
    weights = {} if sw is None else {"sw": sw}  # omitted: no code for weights compiled
    centred = {} if plan.shift is None else {"shift": plan.shift}  # omitted: no code for centring compiled
    return train_block_sparse(cfg, X.data, X.indices, starts, lens, y, scale, state.W, state.G, _slots(cfg, state),
                              state.counters, state.sums, scratch.touched, scratch.marks, scratch.n_touched,
                              scratch.clocks, scratch.clock_now, **weights, **centred)


def finish(cfg: KernelConfig, plan, state: TrainState, scratch: Scratch, divisor: int) -> bool:
    """The step of an epoch's last, partial batch of CSR rows, its gradients' sum over ``divisor``
    (batches.partial_divisor); False if the model diverged."""
    if not cfg.sparse:
        return finish_batch(cfg, state, scratch, plan.center, plan.scale, divisor)
    centred = {} if plan.shift is None else {"shift": plan.shift}
    finish_batch_sparse(cfg, state.W, state.G, _slots(cfg, state), state.counters, state.sums, scratch.touched,
                        scratch.marks, scratch.n_touched, scratch.clocks, scratch.clock_now, divisor, **centred)
    return bool(np.isfinite(state.W).all())


def compile_kernels(cfg: KernelConfig, X: CsrRows, plan, scratch: Scratch, sw: np.ndarray | None,
                    n_features: int) -> None:
    """Compile (or load) the kernels that train CSR rows like ``X``'s, on no rows.  The sparse kernel's on a
    state of one feature, which compiles the same code without a model's worth of memory, and its last partial
    batch's step; the dense kernels' on the model's own, whose size their work arrays have, and, as for a dense
    file, not their step of a partial batch, which would write its gradient into the run's scratch
    (``Scratch.stepped``) as a step taken."""
    state = TrainState.zeros(plan.labels.n_outputs, n_features if not cfg.sparse else 1)
    y = np.zeros(1)  # labels as the kernels take them (float64); row 0's own may be one --bad-rows skips
    train(cfg, X, y[:0], np.zeros(0, dtype=np.int64), plan, state, scratch, sw)
    if cfg.sparse:
        finish(cfg, plan, state, scratch, 1)


def _slots(cfg: KernelConfig, state: TrainState):
    """The optimizer's slots, or plain SGD's cumulative L1 penalty (kernels/sparse.py); None for plain SGD
    without L1 (Numba then compiles that step alone)."""
    return state.slots if ks.uses_slots(cfg) else None
