"""How far a full-batch logistic or softmax run ended above the optimum, estimated by a fit of its sample (or,
for a linear, logistic, softmax or poisson run that started at that fit, by its last step's gradient on every row:
``from_fit``): a FitWarning where it is far.

A full batch steps once an epoch, so its updates are as few as its epochs,
and on nearly separable rows, whose optimum is far from the start (the
weights' norm grows as the labels' noise shrinks) and flat (most rows sit at
p near y), the rate 1/L, sized for the curvature of the start, crawls: runs
of many epochs end well above the optimum's loss, and their loss falls at the
end slowly enough, per unit of the cosine's rate, to pass as settled
(fitwarnings._still_falling).  A run of fewer than
fitwarnings.FEW_UPDATES updates whose loss still fell is told so already.

So at the end of a full-batch logistic or softmax run without --l2, the
run's sample (training/sampling.py, read again: the same rows) is fitted by
Newton's method (training/classifierfit.py), and the mean loss on those rows
of the model the run keeps (its last epoch's: where early stopping chose
another, fitwarnings.py judges it) is set against the fit's.  The rows'
scores are computed for all of the sample and then taken for the rows
judged: a copy of those rows would be a second sample beside the one
--memory holds.

A fit gains on the rows it fits: where they are m of the n rows trained on
(the sample leaves out the rows --val-fraction holds out, which are not),
the optimum over all n has on them a loss higher by about
p/2 · (1/m − 1/n) (p weights, softmax's but for one class's; Akaike's
optimism of a fit, for the sample inside the data), which is added back; the
fit's own ridge (on the weights: the bias, as trained, has none) keeps it at
or above their least loss.  With row weights v
(--class-weight, --sample-weight), the loss Σ v·ℓ / m, the gain is
tr(H⁻¹G)/2 · (1/m − 1/n), H the loss's curvature E[v·∇²ℓ] and G its
gradients' spread E[v²·∇ℓ∇ℓᵀ]: at a likelihood's optimum a row's expected
∇ℓ∇ℓᵀ is its curvature, so where the weights vary apart from the rows'
curvature tr(H⁻¹G) is p · E[v²]/E[v], and the gain is multiplied by Σv²/Σv
over the rows judged (1 without weights, or with equal ones).  Without it
the gain added back was too small by that factor, and settled weighted runs
were told they were far.  Heavy-tailed weights, whose few largest carry most
of the weight, gained less than the factor says (bench/results/
2026-12-03-full-batch-weights.md): the estimate errs towards silence there.

A run over NEAR above that estimate is told so, with the epochs that would get
there if the gap fell as one over the root of the epochs, as it did on nearly
separable rows (bench/results/2026-12-03-full-batch.md): far slower than
gradient descent's one over the updates on a smooth convex loss, since the
optimum is flat and the cosine takes the rate to 0 at the end.  A smaller
batch (more updates an epoch, at the rate training/decayingrate.py balances)
or --l2 (whose optimum is nearer) get there sooner.  Runs with --l2 are not
judged: their optimum is near, and the penalty would have to be set against
the fit's as well.  Nor are runs with --l1 by this fit of no penalty: their
optimum's loss is above its by what the penalty costs (at the optimum of a
strong one, a warning that the loss was far above and to raise the epochs
many times); a logistic or softmax full batch under --l1 starts at the lasso
fit of its sample, which judges it (fitgap.stepped_off).
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.options import TrainOptions
from sgdcli.training import classifierfit, curvature, gradientnoise, linearfit, poissonfit, replicas, robustfit
from sgdcli.training.sampling import room, sample, sample_labels, stays_sparse
from sgdcli.training.start import FIT_WIDE

# A full-batch run whose loss ends this share above the optimum's estimate is far from it: the few percent a run
# at the defaults is meant to get within.
NEAR = 0.05
# A regression's residuals under this share of its labels' root mean square are rounding: losses of such residuals
# are equal, whatever their ratio.  On labels all 3, runs ended at residuals of 1e-13 to 2e-11 (float64's
# rounding through the kernels' sums), and quantile runs (4e-13 against their start's 3e-17) were told to lower
# the rate, a full-batch linear run that it ended 3e11 % above an optimum of 1e-32.  This is a residual 50 times
# theirs, and far below what a label's measurement tells: 0.4 on labels about 1.7e9 (Unix times).
ROUNDING = 2.0**-32


def short(run, epochs: int) -> list[str]:
    """The warning of ``run`` (a training/run.py ``Run`` at its end, after ``epochs`` epochs, the last of which it
    keeps: early stopping's choice is judged by stopchoice.threshold_chose) where it is a full-batch logistic or
    softmax run without --l2 or --l1 whose model's loss on its sample is over NEAR above the optimum's estimate;
    nothing where that is not measured (another run; sparse rows; a fit too wide for classifierfit.FIT_UP_TO, or for
    the sample's --memory).  A run that started at the fit of its sample (at a rate given: fitwarnings.log_end) and
    ended far from it was taken there by its steps: the warning says to lower the rate, not to raise --epochs."""
    opts = run.opts
    if (opts.model not in classifierfit.MODELS or opts.l2 > 0 or opts.l1 > 0 or stays_sparse(run.table)
            or (max(run.labels.n_outputs, 2) - 1) * (run.table.n_features + 1) > classifierfit.FIT_UP_TO
            or not replicas.full_batch(run.batch, run.n_train, run.shards)):
        return []
    labels = sample_labels(run.sample)
    weights = run.sample_weights_of(labels)
    Z = sample(run.sample, run.plan.center, run.plan.scale)
    if classifierfit.skipped(opts.model, Z, labels, weights, room(run.sample)):
        return []
    fitted = classifierfit.fit_loss(opts.model, Z, labels, weights)
    classes = run.labels.class_of(labels)
    keep = (classes >= 0) if weights is None else (classes >= 0) & (weights > 0)
    v = np.ones(int(keep.sum())) if weights is None else weights[keep]
    S = (Z @ run.kept_params().T)[keep]  # every row's scores, then the kept rows': never a copy of Z's rows
    m, p = len(S), Z.shape[1] * (max(S.shape[1], 2) - 1)
    loss = float(np.sum(v * losses(S, classes[keep])) / m) if m else math.nan
    best = fitted + optimism(p, m, run.n_train, v) if m else math.nan
    if not (math.isfinite(best) and best > 0 and loss > (1.0 + NEAR) * best):
        return []
    gap = loss / best - 1.0
    advice = (  # a run from the fit of its sample (training/start.py) stepped off it
        f"it started at such a fit, and its steps took it away: lower --lr (try {run.rate_opts.lr / 10:.4g}) "
        "or use --lr auto" if run.start_fitted else
        f"raise --epochs (to about {math.ceil(epochs * (gap / NEAR) ** 2)}), lower --batch-size or add --l2")
    return [f"{measured(loss, best, m)}: the model may be far from the optimum; {advice}"]


def keeps_step(opts, shards: int, start_fitted: bool) -> bool:
    """Whether a run of ``opts`` keeps its steps' gradients for ``from_fit``: a full batch of linear, logistic,
    softmax or poisson that starts at the fit of its sample (training/start.py), of one model (``shards``), whose
    kept model is the last iterate (not --average's), without --l1, whose penalty has no gradient at 0."""
    return (start_fitted and opts.model in ("linear", *classifierfit.MODELS, "poisson") and shards == 1
            and not opts.average and opts.l1 == 0)


def from_fit(run) -> list[str] | None:
    """The warning of ``run`` (a training/run.py ``Run`` at its end, which ``keeps_step``) where its last epoch's
    model is over NEAR above the optimum by its gradient on every training row, the one its last step took
    (kernels/state.py Scratch.stepped), and the curvature of the run's sample there: the objective less half the
    Newton decrement estimates the optimum's (where the sample holds too few rows of a class to tell its
    curvature in every direction, the decrement along the directions it does tell: gradientnoise.newton_gap;
    a linear model's curvature does not depend on the model, and its decrement is exact but for the sample's
    second moments standing for every row's: linearfit.newton_gap; poisson's, poissonfit.newton_gap, by its
    deviance, twice the loss less the saturated model's over every training row, which the label pass sums:
    its loss has no floor at 0); [] where it is near; None where that is not measured (no step kept: averaged
    models, Dask workers; a fit the sample's --memory leaves no room for; poisson resumed from the checkpoint of
    an older sgdcli without weights: it reads no labels again, and that checkpoint keeps no saturated loss).

    A run that starts at the fit of its sample sets no other measure against it: the fit is its start.  Its
    gradient on every row says what the sample could not: a sample holding few rows of a class, or few rows a
    weight, fits them far from the optimum of every row, and a full batch, a step an epoch at the rate its
    largest curvature allows, stays near where it started along the flatter directions.  Where the
    run's loss ended above its start, its steps took it away from the fit: the warning says to lower the rate."""
    stepped = run.executor.stepped() if run.plan.keep_step and run.history else None
    if stepped is None or (run.opts.model == "poisson" and not math.isfinite(run.saturated_loss)):
        return None
    gradient, params = stepped
    opts = run.opts
    measured_gap = _newton_gap(run, params, gradient, run.kept_params())
    if measured_gap is None:
        return None
    fall, change, whole, rows, fitted = measured_gap
    loss = run.history[-1]["train_loss"] + penalty(opts, params)
    start = run.history[0]["train_loss"] + penalty(opts, np.atleast_2d(run.start_model))
    what = "objective" if opts.l2 > 0 else "mean loss"
    if opts.model == "poisson":  # its deviance, twice the loss less the saturated model's: ≥ 0 (poissonfit.py)
        loss, start, fall, change = 2 * (loss - run.saturated_loss), 2 * (start - run.saturated_loss), 2 * fall, \
            2 * change
        what = "objective (its mean deviance and twice --l2's penalty)" if opts.l2 > 0 else "mean deviance"
    # the optimum's objective by the quadratic, and the kept model's: the last step's change measured on the sample
    best, end = loss - fall, loss + change
    if near(end, best, _rounding_of(run)):
        return []
    step = (f"a Newton step from the gradient of its last step on them, with the curvature of the run's sample of "
            f"{rows:,} rows" + ("," if whole else " where it tells it,"))
    told = (f"the model's {what} on every training row is "
            + (f"far above the optimum's: {step} would take {fall:.4g} off epoch {len(run.history)}'s {loss:.4g}"
               if best <= 0 else f"{above(end, best)} the optimum's, estimated by {step} {best:.4g}")
            + "; the run started at the fit of that sample")
    if end > start:
        return [f"{told}, at {start:.4g}, and its steps took it away: the model may be far from the optimum; lower "
                f"--lr (try {run.rate_opts.lr / 10:.4g})" + (" or use --lr auto" if run.auto is None else "")]
    batch = TrainOptions().batch_size
    smaller = (f"lower --batch-size (at {batch}, {math.ceil(run.n_train / batch):,} steps an epoch) or "
               if batch < run.n_train else "")  # (the default on fewer rows is refused)
    return [f"{told}, {fitted}, and a full batch steps once an epoch: the model may be far from the optimum; "
            f"{smaller}raise --epochs"]


def _newton_gap(run, params: np.ndarray, gradient: np.ndarray,
                moved: np.ndarray) -> tuple[float, float, bool, int, str] | None:
    """``from_fit``'s measure of ``run`` on its sample, whose model ``params`` had ``gradient`` on every training
    row and moved to ``moved``: half the Newton decrement, the objective's change on the sample, whether that
    decrement is the whole one (gradientnoise.newton_gap), the sample's rows, and what its fit was of (a linear
    model's weights; a classifier's rarest class); None where that is not measured (a fit of the sample's
    classifier that its --memory leaves no room for, or whose curvature cannot be solved; figures that are not
    finite)."""
    opts = run.opts
    raw = sample_labels(run.sample)
    weights = run.sample_weights_of(raw)
    Z = sample(run.sample, run.plan.center, run.plan.scale)
    try:
        if opts.model in ("linear", "poisson"):  # its fit was solved beside the sample in its --memory (start.fits)
            gap = linearfit.newton_gap if opts.model == "linear" else poissonfit.newton_gap
            fall, change = gap(Z, raw, weights, opts.l2, params[0], gradient[0], moved[0])
            whole, fitted = True, f"of {Z.shape[1]:,} weights"
        else:
            found = run.labels.class_of(raw)
            labels = np.where(found >= 0, found, np.nan)
            if classifierfit.skipped(opts.model, Z, labels, weights, room(run.sample), FIT_WIDE):
                return None
            fall, change, whole = gradientnoise.newton_gap(opts.model, Z, labels, weights, opts.l2, params,
                                                           gradient, moved, FIT_WIDE)
            counted = (found >= 0) if weights is None else (found >= 0) & (weights > 0)  # as the fit counts them
            rare = int(np.bincount(found[counted], minlength=max(run.labels.n_outputs, 2)).min())
            fitted = f"whose rarest class has {rare:,} rows"
    except np.linalg.LinAlgError:  # a row weighing 10**100 times the others: theirs is below its rounding
        return None
    return (fall, change, whole, len(Z), fitted) if math.isfinite(fall + change) else None


def penalty(opts: TrainOptions, params: np.ndarray) -> float:
    """--l2's and --l1's penalty of ``params`` (outputs × features + 1, in the kernels' units, as they step it), the
    biases' aside: what the objective adds to the mean loss."""
    weights = params[:, :-1]
    return 0.5 * opts.l2 * float(np.sum(weights**2)) + opts.l1 * float(np.sum(np.abs(weights)))


def objective_name(opts: TrainOptions) -> str:
    """What the end's measures score a model by: its mean loss, or with --l2 or --l1 its objective."""
    return ("mean loss" if opts.l2 == opts.l1 == 0 else "objective (its mean loss and --l2's penalty)" if opts.l1 == 0
            else "objective (its mean loss and the penalties)")


def measured(loss: float, best: float, rows: int, how: str = "Newton's method", what: str = "mean loss",
             kept_epoch: int = 0, epochs: int = 0) -> str:
    """The figures of a model set against a fit of its run's sample, as the end's warnings give them: its ``what``
    (mean loss; under --l2, the objective) ``loss`` on the sample's ``rows`` rows, above the optimum's estimate
    ``best`` by a fit (``how``); naming the epoch early stopping kept (``kept_epoch``, 1-based) where it is not
    the last of the run's ``epochs``."""
    which = f" (epoch {kept_epoch}'s, which early stopping kept)" if 0 < kept_epoch < epochs else ""
    return (f"the model's{which} {what} on the run's sample of {rows:,} rows, {loss:.4g}, is {above(loss, best)} the "
            f"optimum's, estimated by a fit of them ({how}), {best:.4g}")


def above(loss: float, best: float) -> str:
    """How far ``loss`` is above ``best`` (> 0), as the warnings say it: "12% above"; under 10%, to a tenth of a
    percent, as NEAR is near there ("5% above" read for 5.15%, against a line at 5%); a hundred times and more, in
    times (labels all the same read "1756348063086433271808% above")."""
    share = loss / best - 1
    if loss >= 100 * best:
        return f"{loss / best:.3g} times"
    return f"{share:.1%} above" if share < 0.0995 else f"{share:.0%} above"  # (0.0995 reads "10.0%")


def near(loss: float, best: float, floor: float) -> bool:
    """Whether ``loss`` is within NEAR of the optimum's estimate ``best``, beyond a rounding ``floor``
    (``rounding``); where the estimate is not above 0, whether ``loss`` is within that floor."""
    if best > 0:
        return loss <= (1.0 + NEAR) * best + floor
    return loss <= floor


def _rounding_of(run) -> float:
    """``rounding`` of ``run``'s model on the labels of its sample."""
    raw = sample_labels(run.sample)
    return rounding(run.opts.model, run.opts.objective[1], raw, run.sample_weights_of(raw))


def rounding(model: str, param: float, labels: np.ndarray, weights: np.ndarray | None) -> float:
    """The loss of ``model`` (``param``: huber's ε, quantile's q) at a residual of ROUNDING times the root mean
    square of ``labels`` (the finite ones, weighed by ``weights``; None: 1), of either sign: where a kept model's
    loss and the one it is held to differ by less, they are the same.  0 for the models that are not a
    regression's residuals (the classifiers, poisson) and where no label is finite."""
    if model not in ("linear", *robustfit.MODELS):
        return 0.0
    keep = np.isfinite(labels)
    if not keep.any():
        return 0.0
    r = ROUNDING * math.sqrt(curvature.mean(labels[keep].astype(np.float64) ** 2,
                                            None if weights is None else weights[keep]))
    if model == "linear":
        return 0.5 * r * r
    return float(np.max(robustfit.losses(model, param, np.array([r, -r]))))


def optimism(p: int, m: int, n: int, v: np.ndarray) -> float:
    """What a fit of ``p`` weights to ``m`` of ``n`` rows, weighing ``v`` (those m rows'), gains on them over the
    optimum of all n: p/2 · (1/m − 1/n) · Σv²/Σv (the module's docstring)."""
    return 0.5 * p * (1.0 / m - 1.0 / max(n, m)) * float(np.sum(v * v) / np.sum(v))


def losses(S: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Each row's loss of scores ``S`` (rows × outputs: logistic's one, softmax's per class) for its class."""
    if S.shape[1] == 1:
        return np.logaddexp(0.0, S[:, 0]) - (classes == 1) * S[:, 0]
    top = S.max(axis=1)
    return top + np.log(np.exp(S - top[:, None]).sum(axis=1)) - S[np.arange(len(S)), classes]
