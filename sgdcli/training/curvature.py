"""The loss's curvature bound ``c`` in ``--lr auto``'s rate for sgd, momentum and nesterov (training/rate.py).

Most losses bound their second derivative in the score by a constant (``CURVATURE``): ¼ for logistic, ½ for
softmax, 1 for squared error.  Poisson's is exp(score), a row's mean count μ, which under the log link grows
with the features: the curvature of the mean loss, Σ μ_i x_i x_iᵀ / n, is then far above the mean count times
that of the features alone, along the directions where the counts grow, and the heaviest rows are those whose
steps overflow.  So each sampled row counts with its own curvature (``row_curvature``), estimated by its count
(whose mean is μ), and at least the mean count, where training starts (the bias at its log, the weights 0),
and 1.

Huber's loss and the pinball loss (quantile) have bounded gradients, and their curvature lives near a residual
of 0: huber's second derivative is 1 within ``--epsilon`` of the label and 0 beyond, the pinball loss's is 0
but at the quantile itself.  Their mean curvature over the rows is the share of rows whose residuals are near 0:
for huber those within ε, for the pinball loss the residuals' density at 0.  Both shrink as one over the
residuals' scale, so that a bound of 1 leaves the weights crawling at a step of lr × ε (lr × max(q, 1 − q))
where the targets are large (targets on a scale of a thousand ended several times above the optimum's loss
after 5 epochs), and overshoots where they are tiny.  For residuals of scale σ, Gaussian about the quantile
sought,

    huber:   c = P(|r| < ε) = erf(ε / (σ·√2))        (1 where σ is small against ε: squared error)
    pinball: c = φ(Φ⁻¹(q)) / σ

The residuals are those of a least-squares fit on the sample (the features as the model sees them), each half's
rows predicted by the fit on the other half: a fit cannot shrink the residuals of rows it did not see, so wide
rows against few sampled ones do not shrink σ, and with it the rate.  σ is robust (1.4826 times the residuals'
median absolute deviation, the standard deviation for Gaussian ones, which a few outliers do not inflate).
Sparse rows, and dense ones too wide for an exact solve (``EXACT_UP_TO``, ``--memory``), take the labels'
spread about their median instead: a larger σ than the residuals', and so a larger rate, which these losses'
bounded gradients keep from blowing up.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

# Bounds on each loss's second derivative in the score; the hinges as squared error; poisson's, exp(score), is
# each row's own (row_curvature), which weighs the rows; huber's and the pinball loss's from the residuals (bound()).
CURVATURE = {"linear": 1.0, "logistic": 0.25, "softmax": 0.5, "hinge": 1.0, "huber": 1.0, "quantile": 1.0,
             "squared_hinge": 2.0, "modified_huber": 2.0, "poisson": 1.0}
EXACT_UP_TO = 2048  # features up to which λmax and the residuals' fit are exact; beyond, power iteration
GRAM_COPIES = 3  # float64 d × d matrices an exact solve holds at once: the product, its scaling, LAPACK's
# The least-squares fit's ridge, times the mean diagonal of the rows' second moments: at rounding's scale for the
# directions the rows determine, and what keeps a solve defined where they do not
RIDGE = 1e-10
MAD_TO_SD = 1.4826  # the median absolute deviation of Gaussian values times this is their standard deviation
RESIDUAL_LOSSES = ("huber", "quantile")  # whose curvature follows the residuals' scale


def exact(d: int, memory: int) -> bool:
    """Whether a d × d matrix of the features' second moments, and a solver's copies of it, fit ``memory``."""
    return d <= EXACT_UP_TO and gram_bytes(d) <= memory


def gram_bytes(d: int) -> int:
    """Bytes an exact solve of a d × d matrix of second moments holds: GRAM_COPIES float64 copies."""
    return GRAM_COPIES * 8 * d * d


def bound(model: str, labels: np.ndarray, weights: np.ndarray | None = None, *, param: float = 0.0,
          scale: float = math.nan) -> float:
    """The curvature bound ``c`` of ``model`` (``param``: huber's ε, quantile's q): CURVATURE (poisson's 1, its
    rows weighted by ``row_curvature``); huber's and the pinball loss's from the residuals' ``scale`` σ
    (``residual_scale``), or CURVATURE's 1 where σ is not a positive number (no finite label; every residual
    0)."""
    if model not in RESIDUAL_LOSSES or not (scale > 0 and math.isfinite(scale)):
        return CURVATURE[model]
    if model == "huber":
        return math.erf(param / (scale * math.sqrt(2.0))) or CURVATURE[model]  # 0 only where ε is 0
    normal = NormalDist()
    return normal.pdf(normal.inv_cdf(min(max(param, 1e-9), 1 - 1e-9))) / scale


def ending_stable(model: str, c: float, ends_at: float) -> float:
    """``c`` for a full batch whose schedule ends at ``ends_at`` of its rate (constant: 1): huber's at least
    ``ends_at`` times its second derivative's bound (CURVATURE's 1), so that the steps it ends with are gradient
    descent's stable 1/L.  Its residuals' c (``bound``), the rows' typical curvature, is a step several times
    over 2/L where most residuals lie beyond ε: a decaying schedule's last steps come under 2/L, but at a
    constant rate gradient descent settled in a cycle above the optimum, however many epochs.
    The other losses: ``c`` (the pinball loss has a kink, under which no rate is stable)."""
    return max(c, ends_at * CURVATURE[model]) if model == "huber" else c


def row_curvature(model: str, labels: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray | None:
    """Poisson's curvature at each sampled row, exp(score): the row's count (``labels``), at least the mean count
    (weighted by ``weights``) and 1; a label that is not finite, those.  None for the other losses, whose bound
    is one for all rows (``bound``)."""
    if model != "poisson":
        return None
    keep = np.isfinite(labels)
    floor = max(1.0, mean(labels[keep], None if weights is None else weights[keep])) if keep.any() else 1.0
    return np.fmax(labels.astype(np.float64), floor)


def row_terms(weights: np.ndarray | None, curvatures: np.ndarray | None, by_weight: bool = False):
    """What each sampled row's second moments count with in λmax, v·κ, and in the trace (training/rate.py), for
    rows of weights v (mean 1) and curvatures κ (None: 1 each): v²·κ where each row's step is v times an
    unweighted one's; v·κ where rows are drawn in proportion to v and each draw weighs their mean
    (``by_weight``: engine/resample.py), as often as v and as far as an unweighted row.  (None, None) where
    both are None."""
    if weights is None and curvatures is None:
        return None, None
    v = np.ones(len(curvatures)) if weights is None else weights
    k = np.ones(len(weights)) if curvatures is None else curvatures
    return v * k, (v if by_weight else v**2) * k


def residual_scale(labels: np.ndarray, Z: np.ndarray | None, weights: np.ndarray | None = None) -> float:
    """σ of huber's and the pinball loss's curvature: of the residuals of ``labels`` to a least-squares fit on the
    sample's rows ``Z`` (with the bias's column), each half's predicted by the other's; of the labels about
    their median where ``Z`` is None (sparse rows, too wide to solve).  Each row counts with its weight in the
    fit and the spread (``weights``; None: equally), as in the objective.  NaN where no label is finite."""
    keep = np.isfinite(labels) if weights is None else np.isfinite(labels) & (weights > 0)
    y, w = labels[keep].astype(np.float64), None if weights is None else weights[keep]
    if len(y) == 0:
        return math.nan
    if Z is None or len(y) < 4:
        return spread(y, w)
    Z = Z if keep.all() else Z[keep]
    root = np.ones(len(y)) if w is None else np.sqrt(w)
    residuals = np.empty(len(y))
    for fit, predict in ((slice(0, None, 2), slice(1, None, 2)), (slice(1, None, 2), slice(0, None, 2))):
        # alternate rows, views of the sample: both halves span the file
        fitted = least_squares(Z[fit] * root[fit, None], y[fit] * root[fit])
        residuals[predict] = y[predict] - Z[predict] @ fitted
    return spread(residuals, w)


def least_squares(Z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The weights of the least-squares fit of ``y`` on ``Z``, the smallest where the rows do not determine them
    (fewer rows than features, constant columns): a ridge of RIDGE times the mean diagonal, which otherwise
    changes nothing a rate could see, and a solve, which on a few thousand columns takes a tenth of the time an
    SVD does.  Such a fit passes through the rows it saw, which is why ``residual_scale`` measures it on the
    others."""
    gram = Z.T @ Z
    ridge = RIDGE * (float(np.trace(gram)) / len(gram) or 1.0)
    return np.linalg.solve(gram + ridge * np.eye(len(gram)), Z.T @ y)


def mean(values: np.ndarray, weights: np.ndarray | None) -> float:
    """The mean of ``values`` weighted by ``weights`` (None, or all zero: unweighted)."""
    return float(np.average(values, weights=weights if weights is not None and weights.any() else None))


def weighted_quantile(values: np.ndarray, weights: np.ndarray | None, q: float) -> float:
    """The smallest of ``values`` at or below which a share ``q`` of their ``weights`` (None: equal) lies; NaN
    where no value weighs anything."""
    w = np.ones(len(values)) if weights is None else weights
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(w[order])
    if len(values) == 0 or cumulative[-1] <= 0:
        return math.nan
    return float(values[order][min(np.searchsorted(cumulative, q * cumulative[-1]), len(values) - 1)])


def spread(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """1.4826 times the (weighted) median absolute deviation of ``values`` from their (weighted) median."""
    return MAD_TO_SD * weighted_quantile(np.abs(values - weighted_quantile(values, weights, 0.5)), weights, 0.5)
