"""What the training kernels are given: their settings, the training state, and their work arrays.

``KernelConfig`` is immutable and built once per run from the training
options (``kernel_config``); ``TrainState`` holds everything that changes
while training, as arrays, so a checkpoint is a copy of it; ``Scratch`` holds
work arrays allocated once per run.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sgdcli.kernels import lazymomentum, losses, optimizers, schedules
from sgdcli.kernels.optimizers import N_SLOTS, SGD, SLOT_AVG

# counters (int64)
T, FILL, EPOCH, BAD = 0, 1, 2, 3
N_COUNTERS = 4
# sums (float64)
EPOCH_LOSS, EPOCH_ROWS, BATCH_LOSS = 0, 1, 2
N_SUMS = 3
# status codes
OK, BAD_ROW, DIVERGED = 0, 1, 2

# Batches (or batch segments) of fewer rows run serially: a fork/join, plus
# zeroing and merging the partial buffers, costs about as much as fifty rows of
# work, so small batches lose more than the threads share out (the batch-size
# rows of `make bench` show it).
PAR_MIN_ROWS = 128


class KernelConfig(NamedTuple):
    """Immutable settings of the kernels; built once per run by ``kernel_config``."""

    model: int
    loss: tuple  # (code, param, class weights or None): losses.loss_of
    optimizer: int
    schedule: int
    batch_size: int
    parts: int
    par_min_rows: int
    standardized: bool
    lr: float
    l1: float
    l2: float
    momentum: float
    beta1: float
    beta2: float
    eps: float
    power_t: float
    gamma: float
    step_epochs: int
    warmup: int
    total_iterations: int
    average: bool
    average_from: int  # the update after which the running average starts (until then it is the iterate)
    # the O(nonzeros) kernel trains the rows, CSR ones (kernels/sparse.py); CSR rows the dense kernels train, a
    # piece at a time made dense (kernels/densified.py), are not
    sparse: bool
    # momentum and Nesterov step on the columns of a batch's CSR rows alone, the others caught up later
    # (kernels/lazymomentum.py), where a step on every weight would cost more (training/autooptimizer.py)
    lazy_momentum: bool
    clock: int  # updates the optimizer's state had seen before this run (--init-optimizer): Adam's bias
    # correction, the running average and RMSprop's lazy decay count from there; the schedule counts from 0
    # The bias's rate over the weights', for the update rules linear in the gradient (sgd, momentum, nesterov),
    # applied as its gradient times this: --lr auto's where --l2 slows the weights' rate (training/biasrate.py)
    bias_times: float
    # momentum's and Nesterov's velocity is dropped where it points uphill of the objective's slope, a full batch's
    # exact gradient and --l1's (kernels/optimizers.py ``_uphill``)
    restart: bool = False


def kernel_config(opts, batch: int, threads: int, total_iterations: int,
                  par_min_rows: int = PAR_MIN_ROWS, replicas: int = 1, sparse: bool = False,
                  class_weights=None, clock: int = 0, bias_times: float = 1.0,
                  lazy_momentum: bool = False, full_batch: bool = False) -> KernelConfig:
    """The kernels' settings for ``opts`` (``sgdcli.TrainOptions``) at the batch size and thread count used,
    for one of ``replicas`` models averaged, on dense or ``sparse`` rows, with ``class_weights`` (one per class,
    None: every row weighs 1), the bias stepping at ``bias_times`` the weights' rate, momentum and Nesterov on
    sparse rows stepping on a batch's columns alone or not (``lazy_momentum``), and each batch all the rows of
    the model's epoch or not (``full_batch``: its gradient exact, which momentum's restart needs).

    Only the options' attributes (and ``for_input``, which resolves ``--optimizer auto``) are read: the
    kernels import nothing of sgdcli's other layers.
    """
    opts = opts.for_input(sparse)
    restart = full_batch and opts.optimizer in ("momentum", "nesterov")
    return KernelConfig(
        model=losses.CODES[opts.model],
        loss=losses.loss_of((*opts.objective, class_weights)),
        optimizer=optimizers.CODES[opts.optimizer],
        schedule=schedules.CODES[opts.schedule],
        batch_size=int(batch),
        parts=int(threads),
        par_min_rows=int(par_min_rows),
        standardized=bool(opts.standardize),
        lr=float(opts.scaled_lr(batch, replicas)),
        l1=float(opts.l1),
        l2=float(opts.l2),
        momentum=float(opts.momentum),
        beta1=float(opts.beta1),
        beta2=float(opts.beta2),
        eps=float(opts.eps),
        power_t=float(opts.power_t),
        gamma=float(opts.gamma),
        step_epochs=int(opts.step_epochs),
        warmup=int(opts.warmup_iterations),
        total_iterations=int(total_iterations),
        average=bool(opts.average),
        average_from=average_start(clock + total_iterations),
        sparse=bool(sparse),
        # (not where the velocity restarts: kernels/lazymomentum.py's steps never drop it)
        lazy_momentum=bool(sparse and lazy_momentum and opts.optimizer in ("momentum", "nesterov") and not restart),
        clock=int(clock),
        bias_times=float(bias_times),
        restart=bool(restart),
    )


def average_start(updates: int) -> int:
    """The updates that --average's running mean leaves out, of a model's ``updates`` (a warm start's
    included, with --init-optimizer, so that two runs continued make the model of one): the first half.

    A mean of every iterate keeps the far-off first ones, whose weight only
    falls as 1/t; a mean of the last half (suffix averaging) keeps the
    noise reduction and drops them (bench/average_suffix.py measures both
    against the optimum).
    """
    return updates // 2


def uses_slots(cfg: KernelConfig) -> bool:
    """Whether the run keeps optimizer state or a running average (all but plain SGD without averaging), or,
    on rows the O(nonzeros) kernel trains, plain SGD's cumulative L1 penalty (kernels/sparse.py)."""
    return cfg.optimizer != SGD or cfg.average or (cfg.sparse and cfg.l1 > 0)


# The arrays the kernels write are each allocated alone, between guards of this many bytes.  LLVM's vectorized
# loops check at run time whether the arrays they write lie near those they read, and run a scalar loop where
# they do; with fastmath's ``reassoc`` the two loops round differently.  Arrays that malloc placed side by side
# in one process and apart in another therefore gave the same command models that differed in their last bits
# (4-class softmax: 4 runs in 10).  A guard wider than any vector loop's reach makes every process take the
# vector loop.
GUARD = 4096
_ALIGN = 64  # a cache line, where each array starts


def isolated(shape, dtype=np.float64, like: np.ndarray | None = None) -> np.ndarray:
    """Zeros of ``shape`` (or a copy of ``like``), alone in memory between two GUARDs."""
    dtype = np.dtype(dtype if like is None else like.dtype)
    shape = tuple(np.shape(like) if like is not None else np.atleast_1d(shape))
    n = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buf = np.zeros(n + 2 * GUARD + _ALIGN, dtype=np.uint8)
    start = GUARD + (-(buf.ctypes.data + GUARD)) % _ALIGN
    out = buf[start:start + n].view(dtype).reshape(shape)
    if like is not None:
        out[...] = like
    return out


class TrainState(NamedTuple):
    """Everything that changes during training, as arrays (checkpointable)."""

    W: np.ndarray  # (outputs, features + 1) in standardized units; the last column is the bias
    G: np.ndarray  # gradient sum of the batch in progress, over raw features
    slots: np.ndarray  # optimizer state and the running average
    counters: np.ndarray  # T, FILL, EPOCH, BAD
    sums: np.ndarray  # EPOCH_LOSS, EPOCH_ROWS, BATCH_LOSS

    @classmethod
    def zeros(cls, k_out: int, d: int) -> "TrainState":
        return cls(
            W=isolated((k_out, d + 1)),
            G=isolated((k_out, d + 1)),
            slots=isolated((N_SLOTS, k_out, d + 1)),
            counters=isolated(N_COUNTERS, np.int64),
            sums=isolated(N_SUMS),
        )

    @classmethod
    def of(cls, *arrays: np.ndarray) -> "TrainState":
        """A state of copies of ``arrays`` (a checkpoint's), each alone in memory as ``zeros`` makes them."""
        return cls(*(isolated(None, like=np.asarray(a)) for a in arrays))

    @property
    def iterations(self) -> int:
        return int(self.counters[T])

    def params(self, average: bool) -> np.ndarray:
        """The parameters a model should use: the Polyak average or the last iterate."""
        return self.slots[SLOT_AVG] if average and self.iterations > 0 else self.W


_LINE = 8  # float64s per 64-byte cache line


def _padded(n: int) -> int:
    """``n`` rounded up to whole cache lines, plus one line of gap."""
    return -(-n // _LINE) * _LINE + _LINE


class Scratch(NamedTuple):
    """Work arrays of ``train_block``, allocated once per run.

    Each thread's rows are padded to whole cache lines, so threads never write
    to the same line (false sharing made the parallel path slower than the
    serial one at 10 features).  Kernels use only the first columns.
    """

    partial: np.ndarray  # per-thread gradient sums
    ploss: np.ndarray
    pstatus: np.ndarray
    s_buf: np.ndarray  # per-thread scores of one row
    g_buf: np.ndarray  # per-thread d loss / d score of one row
    We: np.ndarray  # effective weights on raw features
    touched: np.ndarray  # sparse kernel: the columns the batch in progress touched (kernels/sparse.py)
    marks: np.ndarray  # sparse kernel: 1 where a column is in ``touched``
    n_touched: np.ndarray  # sparse kernel: how many there are
    clocks: np.ndarray  # sparse kernel, lazy momentum (else empty): each column's clock (kernels/lazymomentum.py)
    clock_now: np.ndarray  # and the running one
    # dense kernels, where kept (else empty): the latest step's gradient (the mean over its rows, plus --l2's, not
    # --l1's) and the model before the step that it is the gradient of, in the units the model trains in; NaN
    # until a step
    stepped: np.ndarray
    # CSR rows the dense kernels train (kernels/densified.py), else empty: a piece of them made dense, and the
    # offset of each of its rows
    pieces: np.ndarray
    piece_at: np.ndarray

    @classmethod
    def make(cls, parts: int, k_out: int, d: int, sparse: bool = False, keep_step: bool = False,
             lazy_momentum: bool = False, piece_rows: int = 0) -> "Scratch":
        """The arrays of the dense kernels, or of the sparse one (which needs neither per-thread gradient sums
        nor effective weights: a feature-sized array each, the size of the model, spared); ``keep_step``: the
        dense kernels keep each step's gradient (``stepped``); ``lazy_momentum``: the run's
        ``KernelConfig.lazy_momentum``, which the sparse kernel's clocks are kept for; ``piece_rows``: the rows
        of a piece of CSR rows made dense for the dense kernels (densified.py; 0: the rows are not CSR, or the
        sparse kernel trains them)."""
        dense = 0 if sparse else d + 1
        stepped = isolated((2, k_out, dense) if keep_step and dense else (2, 0, 0))
        stepped[...] = np.nan
        return cls(
            partial=isolated((parts, k_out, _padded(dense) if dense else 0)),
            ploss=isolated(_padded(parts)),
            pstatus=isolated(_padded(parts), np.int64),
            s_buf=isolated((parts, _padded(k_out))),
            g_buf=isolated((parts, _padded(k_out))),
            We=isolated((k_out, dense)),
            touched=isolated(d if sparse else 0, np.int64),
            marks=isolated(d if sparse else 0, np.uint8),
            n_touched=isolated(1, np.int64),
            clocks=isolated(d if sparse and lazy_momentum else 0),
            clock_now=isolated(lazymomentum.NOW),
            stepped=stepped,
            pieces=isolated(piece_rows * d, np.float32),
            piece_at=isolated(piece_rows, np.int64),
        )
