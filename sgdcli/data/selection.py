"""Which rows of a block are used: trained or held out, and finite or skipped.

One function serves the label scan, standardization, every epoch and the
validation pass, so they always agree on the rows.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sgdcli.data.shuffle import validation_mask
from sgdcli.data.sparse import CsrRows
from sgdcli.kernels.rows import finite_rows


def finite_mask(block) -> np.ndarray:
    """Per row of ``block``: are all its features (dense or CSR rows) and its label finite?"""
    if isinstance(block.X, CsrRows):
        return block.X.finite_rows() & np.isfinite(block.y)
    return finite_rows(block.X, block.y, np.empty(block.stop - block.start, dtype=np.bool_))


def select_rows(start: int, n: int, val_fraction: float, seed: int, held_out: bool = False,
                finite: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Block-local indices of the rows to use, and how many of them ``finite`` rejected.

    ``held_out`` selects the validation rows of ``--val-fraction`` instead of the
    trained ones (with no fraction, every row is trained and none held out).
    ``finite``, a per-row mask, drops rows with non-finite values (--bad-rows skip).
    """
    if val_fraction <= 0 and finite is None:  # every row, or none: no mask to build
        return (np.empty(0, dtype=np.int64) if held_out else np.arange(n, dtype=np.int64)), 0
    if val_fraction > 0:
        mask = validation_mask(start, start + n, val_fraction, seed)
        if not held_out:
            mask = ~mask
    else:
        mask = np.full(n, not held_out)
    bad = 0
    if finite is not None:
        bad = int(np.count_nonzero(mask & ~finite))
        mask &= finite
    return np.flatnonzero(mask).astype(np.int64), bad


@dataclasses.dataclass(frozen=True)
class ValidationRows:
    """The rows a validation pass scores, as a picklable selector of ``model.inference.score_blocks``.

    On the training file (``held_out``) the rows --val-fraction holds out; on a
    --val file every row.  ``skip_bad`` leaves out rows with non-finite values.
    """

    fraction: float
    seed: int
    held_out: bool
    skip_bad: bool

    def __call__(self, block) -> tuple[np.ndarray, int]:
        finite = finite_mask(block) if self.skip_bad else None
        fraction = self.fraction if self.held_out else 0.0
        return select_rows(block.start, block.stop - block.start, fraction, self.seed, held_out=self.held_out,
                           finite=finite)
