"""How much of its worst case the gradient's noise keeps near the optimum, and how far the weights have to
travel there: what ``--lr auto`` raises the rate of a schedule that does not decay by (training/rate.py).

The rate's noise term, c · trace / B', bounds the variance of a batch's gradient by the loss's curvature bound
c times the rows' squared norms: ℓ'(score)² is at most c where a classifier knows nothing (logistic's
(p − y)² is ¼ at p = ½).  Near the optimum of logistic and softmax the derivative is p − y, whose mean square is
far smaller where the rows are nearly separable: most rows sit at p near y.  Such an optimum is flat as well as
quiet (for these likelihoods the gradient's noise at the optimum is also its curvature there), and far (the
weights grow as the labels' noise shrinks), so a constant rate sized by the worst case's noise still crawls
towards it when the run ends.

So logistic and softmax are fitted on the rate's sample (Newton's method, a ridge of RIDGE over the rows fitted
and --l2 on the weights, neither on the bias, as training has it), each half of the rows by the fit on the other
half (alternate rows, as curvature.residual_scale): a fit cannot quiet the gradients of rows it did not see, and
one that overfits its half is over-confident on the other's misfits, which raises the estimate; so does one that
stops short.  Two things are read off the held-out rows:

- the share: the mean of v²·‖ℓ'‖²·‖z‖² (v the row's weight, z its features as the model sees them, with
  the bias's 1) against c times the trace, relative to NOISY (about the share of labels as noisy as those
  the √T rule was measured on, bench/results/2026-12-02-schedules.md), at most 1;
- the curvature of the mean loss along the fitted weights (the bias's aside): the direction the weights travel
  from the start.  A rate lr over T updates (1/(1 − β) further with momentum) closes the distance along it by
  about e^(−curvature · lr · T / (1 − β)).

``steady`` raises the rate to what the share of the noise allows, but no further than FOLDS e-folds of that
distance need: where the optimum is near enough to be reached at the worst case's rate, the run is limited by
its noise, and a larger rate only adds to it.  The other losses, sparse rows, and fits of more than FIT_UP_TO
weights keep the worst case; so do fits that the sample's --memory leaves no room for beside its rows
(``fit_bytes``: a small --memory cuts the sample to what it holds, and the fit's arrays then broke that bound).

The same fit gives adam, rmsprop and adagrad the size of the weights they seek (training/adaptivesize.py).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from sgdcli.training.curvature import CURVATURE

# The gradient's noise at the fit, over c · trace, from which the noise term counts whole: the labels of
# bench/constant_noise.py this noisy and noisier ended no nearer the optimum at a larger rate.
NOISY = 0.5
# e-folds of the distance to the fit along its path beyond which a larger rate only adds noise: runs whose
# worst-case rate closed this many already ended at their noise, not at the distance.
FOLDS = 4.0
# Weights ((classes − 1) × (features + 1): logistic's, and softmax's but for one class's, held at 0) up to which
# Newton's method fits the sample: each of its steps costs about the rows times the weights' square.
FIT_UP_TO = 64
RIDGE = 1e-2  # the fit's ridge, over the rows fitted: what keeps separable halves finite, small beside their loss
# The bias's ridge: training never penalizes the bias, and RIDGE on it too shrank the fitted bias of unbalanced,
# nearly separable rows towards 0, the weights making up for it (a shorter distance, a louder noise).  The weights'
# ridge keeps the fit finite without it (a fit holds two classes at least: ``_kept``, so no bias alone drives
# the loss to 0); this only keeps the Newton step's matrix definite where every row's probability saturates.
BIAS_RIDGE = 1e-12
NEWTON_STEPS = 40  # Newton's method stops earlier where its decrement is at rounding's scale
# Rows of each class in the sample per weight of a class from which its curvature there is the decrement's
# (newton_gap): fewer leave it along some of that class's directions to the other classes' rows, far below every
# row's, and its inverse far too large (a softmax class of 18 rows for 31 weights: 6.5% of the loss estimated
# above the optimum, 0.49% measured).
DETERMINED = 1.0
# Where they are fewer, the decrement is taken along the directions of the sample's curvature within this
# factor of its largest only, which those few rows do not hold down (bench/results/2026-12-04-full-batch-gradient.md).
DETERMINED_SPAN = 1e-2
MODELS = ("logistic", "softmax")
# What a fit holds beside the sample (fit_bytes), which --memory bounds with it: per row, values a class (scores,
# probabilities and their temporaries, one-hot labels) and two (weights, curvatures); the Newton step's matrices
# and the solver's copies of them; the Hessian's products, BLOCK_ROWS rows at a time.
FIT_ROW_VALUES = 8
NEWTON_COPIES = 4
BLOCK_ROWS = 256


class Fit(NamedTuple):
    """What ``fitted`` reads off a fit of the sample; the defaults: not measured."""

    share: float = 1.0  # the gradient's noise at the fit over c · trace, over NOISY, at most 1
    bend: float = math.inf  # the mean loss's curvature along the fitted weights, without the penalty's
    distance: float = math.nan  # how far the weights travel from the start: the fitted weights' norm (training/
    # decayingrate.py), the bias's aside, softmax's centred across the classes as its steps keep them
    # the mean of v²·‖ℓ'‖²·‖z‖² (v·‖ℓ'‖²·‖z‖² for rows drawn by weight) over the held-out rows, those of weight 0
    # too: a row's (a draw's) noise there
    noise: float = math.nan


def measure(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None,
            l2: float = 0.0, by_weight: bool = False) -> tuple[float, float]:
    """The share of the noise term, c · trace, that ``model``'s gradient keeps at a fit (under ``l2`` too) on the
    sample's rows ``Z`` (with the bias's column) and raw ``labels``, each row weighing ``weights`` (None: 1), over
    NOISY and at most 1; and the mean loss's curvature along the fitted weights (the bias's aside) there, without
    the penalty's: (1, inf) where it is not measured (see the module's docstring).  ``by_weight``: the rows are
    drawn in proportion to their weights, each a step of an unweighted row's size (engine/resample.py)."""
    return fitted(model, Z, labels, weights, l2, by_weight)[:2]


def fitted(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, l2: float = 0.0,
           by_weight: bool = False) -> Fit:
    """``measure``'s share and curvature, and the fit's distance from the start and its gradient's noise (``Fit``);
    ``Fit()`` where they are not measured."""
    rows = _rows(model, Z, labels, weights)
    if rows is None:
        return Fit()
    Z, Y, v, kept = rows
    k = Y.shape[1]
    squares, bends, distances = np.empty(len(Z)), np.empty(len(Z)), []
    theta = np.zeros((Z.shape[1], k))
    for fit, held in ((slice(0, None, 2), slice(1, None, 2)), (slice(1, None, 2), slice(0, None, 2))):
        theta = _fit(Z[fit], Y[fit], v[fit], l2, theta, model)  # the second half starts from the first's fit
        P = _softmax(Z[held] @ theta)  # theta's first column is 0
        squares[held] = ((P - Y[held]) ** 2).sum(axis=1)
        # the path from the start to the fit: logistic's one weight vector, softmax's centred across the classes
        path = (theta[:-1, 1] - theta[:-1, 0])[:, None] if model == "logistic" else theta[:-1] - theta[:-1].mean(
            axis=1, keepdims=True)
        distances.append(float(np.linalg.norm(path)))
        A = Z[held, :-1] @ (path / (distances[-1] or 1.0))  # each row's scores' move per unit of travel
        if model == "logistic":
            bends[held] = P[:, 0] * P[:, 1] * A[:, 0] ** 2
        else:
            bends[held] = (P * A**2).sum(axis=1) - (P * A).sum(axis=1) ** 2
    if model == "logistic":  # two classes' softmax: ‖P − Y‖² is 2 (p − y)²
        squares /= 2.0
    norms = (v if by_weight else v**2 / kept) * np.einsum("ij,ij->i", Z, Z)  # the rows' terms of the rate's trace
    share = float(np.sum(norms * squares) / np.sum(norms)) / CURVATURE[model] / NOISY
    bend = float(np.sum(v * bends) / len(Z))
    return Fit(min(1.0, share), bend, float(np.mean(distances)), float(np.sum(norms * squares) / len(Z))) if (
        np.isfinite(share) and np.isfinite(bend)) else Fit()


def steady(c: float, lam: float, noise: float, l2: float, ends_at: float, share: float, bend: float,
           updates: int, momentum: float | None) -> tuple[float, float]:
    """The rate of a schedule that ends at ``ends_at`` of it (training/rate.py), its noise term ``noise``
    (√updates · trace / B') counted whole, raised where the gradient keeps a ``share`` of it near the fit, as
    far as that noise allows and no further than FOLDS e-folds of the distance to the fit over the run's
    ``updates`` at the curvature ``bend`` along its path (+ l2; momentum β's steps go 1/(1 − β) further); and
    the share of the noise term that rate counts."""
    worst = 1.0 / (c * (lam + noise) + l2) / ends_at
    if share >= 1.0:
        return worst, 1.0
    quiet = 1.0 / (c * (lam + share * noise) + l2) / ends_at
    curvature = bend + l2
    reach = FOLDS * (1.0 - (momentum or 0.0)) / (curvature * max(updates, 1)) if curvature > 0 else math.inf
    rate = max(worst, min(quiet, reach))
    return (worst, 1.0) if rate == worst else (rate, ((1.0 / (rate * ends_at) - l2) / c - lam) / noise)


def fit_weights(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None,
                l2: float = 0.0) -> np.ndarray | None:
    """The weights of ``model`` (features × outputs, the bias's aside) fitted to all the sample's rows ``Z`` (with
    the bias's column), raw ``labels`` and ``weights`` (None: 1) under ``l2``: logistic's one column, softmax's
    centred across the classes (the weights a model that starts at 0 travels to); None where ``measure``
    fits nothing."""
    fit = fit_model(model, Z, labels, weights, l2)
    if fit is None:
        return None
    return fit[:-1, None] if model == "logistic" else fit[:, :-1].T


def fit_model(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, l2: float = 0.0,
              classes: int | None = None, up_to: int = FIT_UP_TO) -> np.ndarray | None:
    """The model of ``model`` (its weights and bias, last) fitted to all the sample's rows ``Z`` (with the bias's
    column), ``labels`` (logistic's positive class the larger) and ``weights`` (None: 1) under ``l2``: logistic's
    one vector, softmax's one per class (classes × features + 1), centred across the classes as training's are
    (``_fit``); None where ``measure`` fits nothing (of up to ``up_to`` weights), or the sample holds other than
    ``classes`` classes (None: any)."""
    rows = _rows(model, Z, labels, weights, up_to)
    if rows is None or classes not in (None, rows[1].shape[1]):
        return None
    Z, Y, v, _ = rows
    theta = _fit(Z, Y, v, l2, np.zeros((Z.shape[1], Y.shape[1])), model)
    return theta[:, 1] if model == "logistic" else (theta - theta.mean(axis=1, keepdims=True)).T


def fit_loss(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None) -> float:
    """The mean loss (each row times its weight of ``weights``, None: 1) of ``model`` fitted without a penalty
    (but RIDGE's on the weights) to all the sample's rows ``Z`` (with the bias's column) and raw ``labels``: the
    loss alone, the ridge's penalty left out, so at least the least mean loss on them; NaN where ``measure``
    fits nothing."""
    return _fitted_value(model, Z, labels, weights, 0.0, True)


def fit_objective(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, l2) -> float:
    """The objective trained (the mean loss, each row times its weight of ``weights``, None: 1, over the rows with
    a label, plus the penalty of ``l2`` on the weights: a number, or one per feature) of ``model`` fitted to all the
    sample's rows ``Z`` (with the bias's column) and raw ``labels``: at least its least value on them (the fit's
    RIDGE left out); NaN where ``measure`` fits nothing."""
    return _fitted_value(model, Z, labels, weights, l2, False)


def _fitted_value(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, l2,
                  over_fitted: bool) -> float:
    """``fit_objective``; ``over_fitted``: its loss a mean over the rows fitted (``fit_loss``), not over all the
    rows with a label (the weights' scaling in ``_rows`` undone)."""
    rows = _rows(model, Z, labels, weights)
    if rows is None:
        return math.nan
    Z, Y, v, kept = rows
    if weights is not None and over_fitted:  # as training/fullbatch.py takes the model's
        v = v / kept
    theta = _fit(Z, Y, v, l2, np.zeros((Z.shape[1], Y.shape[1])), model)
    penalty = np.zeros(Z.shape[1])
    penalty[:-1] += l2
    return _objective(Z, Y, v, theta[:, 1:], penalty, _pooled(model, l2, Y.shape[1]))


def fit_bytes(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None,
              up_to: int = FIT_UP_TO) -> int | None:
    """The most bytes ``measure`` or ``fit_weights`` holds beside the sample's rows ``Z`` (with the bias's column), for
    its ``labels`` and ``weights``: arrays of the rows' classes (FIT_ROW_VALUES a class), the Newton step's
    matrices, BLOCK_ROWS rows at a time, and where some rows are left out (no label, no weight), a copy of the
    others; None where ``measure`` fits nothing (of up to ``up_to`` weights)."""
    keep = _kept(model, Z, labels, weights, up_to)
    if keep is None:
        return None
    m = int(keep.sum())
    return fit_size(m, Z.shape[1], len(np.unique(labels[keep])), copied=m < len(Z))


def fit_size(m: int, p: int, k: int, copied: bool = True) -> int:
    """``fit_bytes`` of ``m`` rows of ``p`` values (the bias's included) in ``k`` classes; ``copied``: some rows
    are left out, and the others copied."""
    return 8 * (m * (FIT_ROW_VALUES * k + 2 + (p if copied else 0)) + NEWTON_COPIES * ((k - 1) * p) ** 2
                + 2 * BLOCK_ROWS * p)


def skipped(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, room: int,
            up_to: int = FIT_UP_TO) -> str:
    """Why a fit of the sample's rows ``Z`` (``fit_bytes``, of up to ``up_to`` weights) is skipped where
    ``--memory`` leaves ``room`` bytes beside them; '' where it fits, or fits nothing."""
    need = fit_bytes(model, Z, labels, weights, up_to)
    if need is None or need <= room:
        return ""
    return (f"a fit of the sample's {len(Z)} rows needs {need:,} bytes beside them, and --memory leaves "
            f"{max(room, 0):,}")


def _kept(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None,
          up_to: int = FIT_UP_TO) -> np.ndarray | None:
    """Which rows a fit of ``model`` holds (a label, a weight above 0); None where it fits nothing: another model,
    fewer than two classes (logistic: other than two), more than ``up_to`` weights, fewer than 4 rows."""
    if model not in MODELS:
        return None
    keep = _known(labels) if weights is None else _known(labels) & (weights > 0)
    k = len(np.unique(labels[keep]))
    if k < 2 or (model == "logistic" and k != 2) or (k - 1) * Z.shape[1] > up_to or keep.sum() < 4:
        return None
    return keep


def _rows(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, up_to: int = FIT_UP_TO):
    """The rows a fit of up to ``up_to`` weights holds (``_kept``): their features (``Z`` itself where it holds
    every row), one-hot labels and weights, and the share of the rows with a label that they are; None where it
    fits nothing.

    A row of weight 0 is a training row all the same: the weights' mean over the training rows is 1 (model/
    weights.py), and the objective, the draws (engine/resample.py) and the noise per draw are means over every
    row, its loss 0.  So the weights the fit holds are scaled by that share, which makes their mean over the
    rows fitted the weighted mean over all (a mean over the rows fitted alone counted the loss and the noise
    1 / share times against --l2 and the trace)."""
    keep = _kept(model, Z, labels, weights, up_to)
    if keep is None:
        return None
    _, y = np.unique(labels[keep], return_inverse=True)
    kept = float(keep.sum() / _known(labels).sum())
    Z = Z if keep.all() else Z[keep]
    v = np.ones(len(Z)) if weights is None else weights[keep].astype(np.float64) * kept
    return Z, np.eye(y.max() + 1)[y], v, kept


def _gram(Z: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Zᵀ · diag(c) · Z, BLOCK_ROWS rows at a time: never a copy of all of ``Z``."""
    G = np.zeros((Z.shape[1], Z.shape[1]))
    for start in range(0, len(Z), BLOCK_ROWS):
        z = Z[start:start + BLOCK_ROWS]
        G += (z * c[start:start + BLOCK_ROWS, None]).T @ z
    return G


def _known(labels: np.ndarray) -> np.ndarray:
    return np.isfinite(labels) if labels.dtype.kind in "fc" else np.ones(len(labels), dtype=bool)


def _softmax(S: np.ndarray) -> np.ndarray:
    E = np.exp(S - S.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def _pooled(model: str, l2, classes: int) -> np.ndarray:
    """What softmax's penalty of ``l2`` (a number, or one per feature) on every class's weights takes off the
    penalty of the other classes' alone, per feature, times the squared sum of their weights (``_fit``); 0 for
    logistic, whose one weight vector is all the penalty sees."""
    return np.asarray(l2 / classes if model == "softmax" else 0.0 * l2, dtype=np.float64).reshape(-1)


def _objective(Z, Y, v, theta, ridge, pooled) -> float:
    """The mean loss of ``theta`` plus the penalty of ``ridge`` (each of ``theta``'s rows'), less ``pooled`` / 2
    (per feature) times the squared norm of the weights' sum over the classes (the bias's aside: ``_fit``)."""
    S = _scores(Z, theta)
    top = S.max(axis=1)
    lse = top + np.log(np.exp(S - top[:, None]).sum(axis=1))
    return float(np.sum(v * (lse - (S * Y).sum(axis=1))) / len(Z) + 0.5 * np.sum(ridge[:, None] * theta**2)
                 - 0.5 * np.sum(pooled * theta[:-1].sum(axis=1) ** 2))


def _scores(Z: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """The classes' scores: the first class's 0, the others' of ``theta`` (features + 1 × classes − 1)."""
    S = np.zeros((len(Z), theta.shape[1] + 1))
    S[:, 1:] = Z @ theta
    return S


def _ridge(m: int, p: int, l2) -> np.ndarray:
    """The ridge of a fit of ``m`` rows of ``p`` values (the bias's last): RIDGE / m + ``l2`` on each weight,
    BIAS_RIDGE on the bias (``_fit``)."""
    ridge = np.full(p, RIDGE / m)
    ridge[:-1] += l2
    ridge[-1] = BIAS_RIDGE
    return ridge


def _hessian(Z: np.ndarray, P: np.ndarray, v: np.ndarray, ridge: np.ndarray, pooled: np.ndarray) -> np.ndarray:
    """The objective's curvature (``_objective``'s) over the other classes' weights, class-major, where rows ``Z``
    (weighing ``v``) have the other classes' probabilities ``P`` (rows × classes − 1)."""
    m, p = Z.shape
    k = P.shape[1]
    hessian = np.empty((k * p, k * p))
    for a in range(k):
        for b in range(a, k):
            curvature = v * P[:, a] * ((a == b) - P[:, b])
            block = _gram(Z, curvature) / m
            block[np.arange(p - 1), np.arange(p - 1)] -= pooled
            hessian[a * p:(a + 1) * p, b * p:(b + 1) * p] = block
            hessian[b * p:(b + 1) * p, a * p:(a + 1) * p] = block.T
    hessian[np.diag_indices_from(hessian)] += np.tile(ridge, k)
    return hessian


def newton_gap(model: str, Z: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, l2: float,
               params: np.ndarray, gradient: np.ndarray, moved: np.ndarray, up_to: int = FIT_UP_TO
               ) -> tuple[float, float, bool]:
    """How far the objective trained (the mean loss, each row times its weight, plus --l2's penalty ``l2``) at
    ``params`` (outputs × features + 1, the bias last: logistic's one row, softmax's one per class, in the units of
    ``Z``), whose gradient g on every training row is ``gradient`` (the same shape), is above its optimum were it
    a quadratic with the curvature H of the sample's rows ``Z`` (with the bias's column), classes ``labels``
    (model/labels.py's indices, NaN for none) and weights ``weights`` (None: 1) there, and the fit's RIDGE: half
    the Newton decrement, gᵀH⁻¹g / 2, where each class has DETERMINED rows a weight of a class in the sample;
    else the larger of the decrement along the directions of H within DETERMINED_SPAN of its largest curvature
    and ‖g‖⁴ / (2 gᵀHg), what the best step along g takes off: less than the decrement by H, which the directions
    those few rows cannot tell would make far too large.  Then how the objective on the sample changes from
    ``params`` to ``moved`` (the same shape), whatever the distance; and whether the first figure is the
    decrement's.  Softmax's weights are measured relative to the first class's, on which the loss does not
    depend.  NaNs where ``measure`` fits nothing (of up to ``up_to`` weights), or the sample holds fewer classes
    than ``params``; LinAlgError where H cannot be solved."""
    rows = _rows(model, Z, labels, weights, up_to)
    classes = max(len(params), 2)
    if rows is None or rows[1].shape[1] != classes:
        return math.nan, math.nan, False
    Z, Y, v, _ = rows
    if model == "logistic":
        theta, there = params[:1].T, moved[:1].T
    else:  # the other classes' weights less the first's
        theta, there = (params[1:] - params[0]).T, (moved[1:] - moved[0]).T
    P = _softmax(_scores(Z, theta))[:, 1:]
    g = gradient[-theta.shape[1]:].ravel()  # class-major: logistic's one row, softmax's but the first class's
    ridge, pooled = _ridge(*Z.shape, l2), _pooled(model, l2, classes)
    penalty = ridge.copy()
    penalty[:-1], penalty[-1] = l2, 0.0  # the objective's own, without the fit's ridge
    hessian = _hessian(Z, P, v, ridge, pooled)
    whole = Y.sum(axis=0).min() >= DETERMINED * Z.shape[1]
    if whole:
        fall = 0.5 * float(g @ np.linalg.solve(hessian, g))
    else:
        curvatures, directions = np.linalg.eigh(hessian)
        along, held = directions.T @ g, curvatures >= DETERMINED_SPAN * curvatures[-1]
        fall = 0.5 * max(float(np.sum(along[held] ** 2 / curvatures[held])), (g @ g) ** 2 / (g @ hessian @ g))
    return fall, _objective(Z, Y, v, there, penalty, pooled) - _objective(Z, Y, v, theta, penalty, pooled), whole


def _fit(Z: np.ndarray, Y: np.ndarray, v: np.ndarray, l2: float, start: np.ndarray,
         model: str = "logistic") -> np.ndarray:
    """The softmax weights (features + 1 × classes, the first class's 0: logistic's for two) of rows ``Z``,
    one-hot labels ``Y`` and weights ``v``, by Newton's method with a backtracking line search from ``start``
    (weights of the same shape), under a ridge of RIDGE / rows + ``l2`` (a number, or one per feature) on the
    other classes' weights, and of BIAS_RIDGE alone on their biases (the last row), which training does not
    penalize (kernels/optimizers.py): the fitted biases make the weighted mean of p − y over the rows 0 for every
    class.  Softmax trains a weight vector for every class, the first's too, and --l2 penalizes them all: with
    the first held at 0 and the others' mean ū, that is l2/2 · Σ ‖wⱼ − ū‖², l2/2 · (Σ_{j>0} ‖wⱼ‖² − ‖Σ_{j>0} wⱼ‖²
    / classes).  It stops where the curvature cannot be solved (a row of 10**100 times the others' weight)."""
    m, p = Z.shape
    k = Y.shape[1] - 1
    ridge = _ridge(m, p, l2)
    pooled = _pooled(model, l2, k + 1)
    theta = start[:, 1:].copy()
    value = _objective(Z, Y, v, theta, ridge, pooled)
    for _ in range(NEWTON_STEPS):
        P = _softmax(_scores(Z, theta))[:, 1:]
        gradient = Z.T @ ((P - Y[:, 1:]) * v[:, None]) / m + ridge[:, None] * theta
        gradient[:-1] -= pooled[:, None] * theta[:-1].sum(axis=1, keepdims=True)
        gradient = gradient.T.ravel()  # class-major
        try:
            step = -np.linalg.solve(_hessian(Z, P, v, ridge, pooled), gradient)
        except np.linalg.LinAlgError:
            break
        decrement = -float(gradient @ step)
        if not decrement > 1e-12:
            break
        t = 1.0
        while t > 1e-8:
            trial = theta + t * step.reshape(k, p).T
            trial_value = _objective(Z, Y, v, trial, ridge, pooled)
            if trial_value <= value - 1e-4 * t * decrement:
                break
            t /= 2
        else:
            break
        theta, value = trial, trial_value
    return np.column_stack([np.zeros(p), theta])
