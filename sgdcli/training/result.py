"""The model a training run ends with: its weights (the best epoch's under early stopping, else the last, or
their average), and the card that says how it was trained.

Everything here is read from the finished run (training/run.py); the card's
fields are those docs/model-format.md describes, and the optimizer's state
is kept only where it belongs to the weights written, so that ``--init``
with ``--init-optimizer`` goes on from where the run stopped.
"""

from __future__ import annotations

import math

from sgdcli.model.file import Model
from sgdcli.training import runlog
from sgdcli.versions import versions


def model_of(run) -> Model:
    """The model ``run`` (a finished training/run.Run) writes."""
    opts, d = run.opts, run.table.n_features
    final = run.kept_params()
    return Model(
        model=opts.model,
        weights=final[:, :d].copy(),
        bias=final[:, d].copy(),
        classes=run.labels.classes,
        center=run.mean,
        scale=run.std,
        options=opts.as_dict(),
        training={
            "rows": run.n_train,
            **runlog.validation_rows(run),  # val_rows and val_bad_rows
            "batch_size": run.batch,
            "iterations_per_epoch": run.iters,
            "epochs_run": len(run.history),
            "updates": run.state.iterations,
            "lr": run.lr,
            "zero_loss": run.zero_loss,
            **_centre(run, final),
            **({"lr_auto": {**run.auto.as_dict(), "halvings": run.pos.lr_halvings}} if run.auto else {}),
            "threads": run.executor.threads,
            "block_rows": run.block_rows,
            "shuffle": run.pages.as_dict(),
            "read_mode": run.table.X.layout.read_mode,
            **({"unwritten_rows": run.table.unwritten_rows} if run.table.unwritten_rows else {}),
            # predict picks these columns by name; columns known by their indices only are not listed
            "features": run.table.known_names,
            "features_from": run.table.x_kind,
            **run.weighting.as_dict(),
            **({"lineage": run.init.lineage() + [{
                "started_from": {"path": run.init.path, "fingerprint": run.init.fingerprint},
                "data": run.table.fingerprint(), "rows": run.n_train, "epochs": len(run.history)}]}
               if run.init else {}),
            **({"hashing": run.table.hashing} if run.table.hashing else {}),
            **({"encoding": run.table.encoding} if run.table.encoding else {}),
            **({"categories": run.table.categories} if run.table.categories else {}),
            **({"class_names": run.table.class_names} if run.table.class_names else {}),
            "best_epoch": run.stopper.best_epoch if run.stopper is not None else len(run.history),
            # (patience that ran out on the last epoch ended nothing: the run made every epoch)
            "stopped_early": run.stopper is not None and run.stopper.stopped and len(run.history) < run.opts.epochs,
            "bad_rows": run.n_bad,
            **({"warnings": run.warnings} if run.warnings else {}),
            **run.executor.summary(),
        },
        history=run.history,
        fingerprint=run.table.fingerprint(),
        versions=versions(),
        # an earlier epoch kept by early stopping: the optimizer's state now belongs to later weights
        optimizer=None if run.stopper is not None and run.stopper.best_params is not None
        and run.stopper.best_epoch != len(run.history) else
        {"optimizer": opts.optimizer, "updates": run.state.iterations + run.clock,
                   "slots": {**{name: run.state.slots[i].copy() for name, i in run.kept_slots().items()},
                             # the weights are the average: the optimizer goes on from the last iterate
                             **({"iterate": run.state.W.copy()} if opts.average else {})}},
    )


def _centre(run, final) -> dict:
    """``score_centre``, a binary model's mean score over its training rows, which evaluate centres its AUC on
    (model/metrics.py); none where it is not finite (files without it fall back to the bias)."""
    if run.labels.task != "binary":
        return {}
    centre = run.score_centre(final)
    return {"score_centre": centre} if math.isfinite(centre) else {}
