"""The score a binary model's AUC is centred on (model/metrics.py): its mean score over the training rows.

For a linear model that mean is its score at the training rows' mean.  Where
the run standardizes dense features with this data's statistics, the
features are centred on exactly that mean, so it is the bias.  Elsewhere
(sparse input too wide to centre, which is scaled and never centred;
``--no-standardize``; ``--init`` keeping the initial model's
standardization) the bias is the score at all-zero features (or at another
file's means), which can lie far from every score, and the mean row comes
from the sample of rows ``--lr auto`` reads (training/sampling.py): bounded
by ``--memory``, read again the same on a resume, so a resumed run ends with
the uninterrupted run's centre and validation metrics without a checkpoint
carrying it.
"""

from __future__ import annotations

import numpy as np

from sgdcli.training import sampling


class ScoreCentre:
    def __init__(self, mean_row: np.ndarray | None):
        """``mean_row``: the training rows' mean as the model sees them (standardized), None where it is the
        origin (the features centred on their exact mean: the centre is the bias)."""
        self.mean_row = mean_row

    @classmethod
    def of_run(cls, drawn: sampling.Sample, task: str, mean: np.ndarray | None, exact: bool, center: np.ndarray,
               scale: np.ndarray) -> "ScoreCentre":
        """The centre of a run of ``task`` on the table of the sample ``drawn`` whose standardization is ``center``
        and ``scale``; ``exact``: whether ``mean`` (the run's centering, or None) is this data's own mean of its
        dense rows; the sample's rows are read but for a binary model whose features are not centred on it."""
        if task != "binary" or (exact and mean is not None and not sampling.stays_sparse(drawn.table)):
            return cls(None)
        return cls(sampling.mean_row(drawn, center, scale))

    def __call__(self, params: np.ndarray) -> float:
        """The first output's score at the mean row of weights ``params`` (standardized units, the bias last)."""
        bias = float(params[0, -1])
        return bias if self.mean_row is None else float((params[0, :-1] * self.mean_row).sum()) + bias
