"""A training run: the passes before training, the epoch loop, validation, checkpoints and the model.

Order of work: one pass over the labels (classes, finiteness, row count), one
over the features if standardizing, the measures of a sample (where the
weights start, the rate: runrate.py), then the epochs.  Where each runs is
the executor's business (parallel/executor.py); this module adds
validation, early stopping, history, resume, and the checkpoints and stops
on signals of safepoints.py, at the safe points the executor offers between
kernel calls or rounds.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math

import numpy as np

from sgdcli.data.selection import ValidationRows
from sgdcli.data.shuffle import pages_for
from sgdcli.data.table import Table
from sgdcli.engine import passes
from sgdcli.engine.divergence import diverged, scaled_from
from sgdcli.engine.epoch import EpochPlan, Position, current_lr, rows_done
from sgdcli.errors import DivergedError, InputError, RuntimeFailure, WorkLost
from sgdcli.fieldtypes import MAX_INT
from sgdcli.kernels import losses, optimizers
from sgdcli.kernels.scoring import fold_weights
from sgdcli.kernels.state import TrainState
from sgdcli.model.file import Model
from sgdcli.model.standardize import multipliers
from sgdcli.options import TrainOptions
from sgdcli.parallel.executor import Executor
from sgdcli.reporting.records import json_line
from sgdcli.reporting.reporter import Reporter, begin_run
from sgdcli.training import (autooptimizer, centre, fingerprints, fitwarnings, fullbatch, replicas, result, resume,
                             runlog, runrate, safepoints, setup, warmstart)
from sgdcli.training import checkpoint as ckpt_mod
from sgdcli.training.control import RunControl
from sgdcli.training.early_stopping import EarlyStopping, settled
from sgdcli.training.inputs import Inputs
from sgdcli.training.progress import objective
from sgdcli.reporting.reporter import counted
from sgdcli.training.rate import BLOWN_UP, blew_up
from sgdcli.training.sampling import SAMPLE_ROWS, Sample, sample_weights, stays_sparse
from sgdcli.training.start import fitted, fit_sample_rows, log_odds, start_weights

SHARING = "counting the rows each model averaged trains"  # what a run stopped in cut_shares was doing


class Run:
    """One training run: its set-up, and the epoch loop with validation and early stopping; its rate is runrate.py's,
    its safe points and checkpoints safepoints.py's."""

    def __init__(self, table: Table, val_table: Table | None, opts: TrainOptions, executor: Executor,
                 reporter: Reporter, control: RunControl, inputs: Inputs | None = None):
        """``executor`` runs the passes, the epochs and validation (here, on threads, or on Dask workers);
        ``inputs``, the files that must not change under the run (default: ``table`` and ``val_table``)."""
        self.inputs = inputs or Inputs(table, val_table)
        opts = autooptimizer.resolved(table, opts)  # train() has resolved --optimizer auto already; Run alone has not
        self.init = (warmstart.load(opts.init, table, opts.model, opts.init_optimizer) if opts.init is not None
                     else None)
        if self.init is not None and not opts.restandardize:  # the kernels take the initial model's units
            opts = dataclasses.replace(opts, standardize=self.init.model.scale is not None)
        self.table, self.val_table, self.opts = table, val_table, opts
        self.executor, self.reporter, self.control = executor, reporter, control
        self._check_stop = functools.partial(safepoints.check_stop, self.inputs, control)  # nothing to save yet
        self.shards, self.block_rows = executor.shards, executor.block_rows
        run_options = {**opts.as_dict(), "threads": executor.threads, **executor.run_options()}
        self.fingerprints = (run_options, fingerprints.fingerprint(table, val_table, self.init))
        saved = resume.load(self) if control.resume else None  # checked against the run, or removed
        self.clock = (warmstart.optimizer_clock(self.init, opts.optimizer, stays_sparse(table)) if opts.init_optimizer
                      else 0)
        # the runs that learn the same facts (setup.shared_facts: a sweep's) differ in their batch size and rate,
        # and in what those choose, the optimizer (--optimizer auto) and the steps between averagings
        alike = json.dumps([{k: v for k, v in run_options.items() if k not in ("batch_size", "lr", "optimizer",
                                                                               "sync_every")},
                            self.fingerprints[1]], sort_keys=True)
        facts = setup.learn(table, val_table, opts, saved, self.init, self._pass, reporter.message, self._check_stop,
                            self._progress, alike)
        self.labels, self.n_train, self.n_bad = facts.labels, facts.n_train, facts.n_bad
        self.mean, self.std, self.weighting = facts.mean, facts.std, facts.weighting
        # where training starts, over every training row: an epoch far above it blew up, though no value
        # overflowed (rate.blew_up)
        self.zero_loss = facts.zero_loss
        # the mean loss over the training rows of the best constant model, where counted (a fresh logistic
        # model's, its bias at the labels' log-odds; a linear model's, at their mean: where it starts, or above
        # where it starts, at a fit of its sample), else the all-zero model's: what the end of a run is held to
        self.start_loss = facts.zero_loss
        # poisson's saturated model's mean loss over the training rows, from which its deviance is measured
        self.saturated_loss = facts.saturated_loss
        self.objective = (*opts.objective, self.weighting.class_weights)  # validation weighs rows as given
        d = table.n_features
        self.batch = self.n_train if opts.batch_size is None else opts.batch_size
        # each step on every training row of its model's share: a full batch, whose loss is of its start's weights
        self.full = replicas.full_batch(self.batch, self.n_train, self.shards)
        # With W shards each worker steps through about n/W rows an epoch: the step clock (what schedules
        # count) advances by the largest share's steps, the iterations are every share's summed.
        per_shard = replicas.share_rows(self.n_train, self.shards)
        steps = replicas.share_steps(self.n_train, self.batch, self.shards, opts.drop_last)
        if steps == 0:  # a share smaller than a batch (a larger one is refused before): the model would not train
            raise InputError(f"--drop-last: each of the {self.shards} models averaged gets at most {per_shard:,} "
                             f"training rows an epoch, fewer than a batch of {self.batch:,}, so no batch would train; "
                             "lower --batch-size or leave out --drop-last")
        self.iters = replicas.epoch_steps(self.n_train, self.batch, self.shards, opts.drop_last)
        self.kernel_loss = losses.loss_of((*opts.objective, self.weighting.kernel_class_weights()))
        # weighted rows on batches that are not full are drawn in proportion to their weights (engine/resample.py)
        self.drawn = self.weighting.weighted and not self.full
        center = np.zeros(d) if self.mean is None else self.mean
        self.std = setup.divided(table, opts, facts, self.batch, self.full, reporter.message)
        scale = np.ones(d) if self.std is None else multipliers(self.std)
        self.steps = steps
        if steps * opts.epochs > MAX_INT:  # the kernels count a run's iterations in 64 bits
            raise InputError(f"--epochs: {opts.epochs} epochs of {steps} iterations are more than 2**63 - 1 "
                             "iterations in all")
        self.auto, self.warnings = None, list(executor.warnings)  # the set-up's; log_end adds the fit's
        self.local_steps = replicas.local_steps(executor.run_options().get("sync_every"), steps)
        # read once for every measure of the set-up, of the training rows alone (training/sampling.py); a full
        # batch's, where it starts at a fit of it, larger, on every run and resume alike, and a fresh linear run's
        # of many features
        rows = (fit_sample_rows(opts.model, table, max(self.labels.n_outputs, 2), opts.memory, opts.l1, self.full)
                if self.full or self.init is None else SAMPLE_ROWS)
        self.sample = Sample(table, opts.memory, held_out=(opts.val_fraction, opts.seed),
                             skip_bad=opts.bad_rows == "skip", rows=rows)
        if self.std is None:  # no pass of the features' moments: the sample's, read for the rate anyway
            setup.warn_coarse(table, self.sample.moments)
        self.start = start_weights(opts.model, opts.quantile, self.sample, center, scale, self.sample_weights_of,
                                   opts.memory)
        if opts.model == "logistic" and self.init is None:
            count = facts.count
            if count is None:  # a resume without weights (whose pass setup.learn keeps): a checkpoint keeps no
                # class counts, and a restart after a blow-up starts from the bias they give
                reporter.message(f"reading the labels of {table.path} (one pass): where the bias starts")
                count = self._pass(passes.label_pass, "reading the labels")
            self.start[-1], loss = log_odds(count, self.labels, self.weighting.class_weights,
                                            self.weighting.sample_weight is not None)
            self.start_loss = self.zero_loss if loss is None else loss
        elif opts.model == "linear" and self.init is None:  # its bias starts at the labels' mean (training/start.py)
            known = (facts.count.zero.constant_loss(self.start[-1]) if facts.count is not None else
                     saved.start_loss if saved is not None else math.nan)
            self.start_loss = known if math.isfinite(known) else self.zero_loss
        # a full batch of linear, logistic, softmax, poisson, squared_hinge or modified_huber starts at the fit of
        # the sample (training/start.py), and so does a mini-batch linear run, held to the loss above all the same
        # (the best constant model's, the all-zero model's): the fit's is below it
        fit = fitted(opts.model, self.sample, self.labels.class_of, max(self.labels.n_outputs, 2), center, scale,
                     self.sample_weights_of, opts.l2, opts.l1, self.full) if self.init is None else None
        self.start_model = fit if self.full else None  # (where a full batch keeps its step: fullbatch.keeps_step)
        self.start_at_fit = fit is not None
        # where the bias starts but for a fit: what the adaptive optimizers' rate measures the labels' spread
        # about (runrate.py), which a fit's intercept on raw features far from 0 is not
        self.bias_start = float(self.start[-1])
        if fit is not None:
            if not self.full:
                self.start = fit
            how = ("least squares" if opts.model == "linear" else "proximal Newton steps" if opts.l1 > 0 else
                   "Newton's method")
            reporter.message(f"starting at the fit of the run's sample of {len(self.sample.labels()):,} rows "
                             f"({how})" + (": a full batch keeps where it starts" if self.full else ""))
        self.score_centre = centre.ScoreCentre.of_run(self.sample, self.labels.task, self.mean, self.init is None
                                                      or opts.restandardize, center, scale)  # AUC's
        self.measured = runrate.measure(self, center, scale)  # while the sample is held
        self.auto, self.auto_held = self.measured.auto, self.measured.held
        halvings = saved.position.lr_halvings if saved is not None else 0
        self._set_rate(halvings)
        if self.cfg.restart:
            reporter.message(f"a full batch: {self.rate_opts.optimizer}'s velocity is dropped before a step wherever "
                             f"it points uphill of the step's gradient{', --l1 included' if opts.l1 else ''} "
                             "(adaptive restart)")
        self.pages = executor.page_shuffle(pages_for(self.batch, opts.page_rows), opts.seed, opts.shuffle)
        self.plan = EpochPlan(self.labels, center, scale, opts.seed, opts.val_fraction, opts.drop_last, self.pages,
                              skip_bad=opts.bad_rows == "skip", skipped=self.n_bad,
                              weight_scale=self.weighting.row_scale(), resample=self.drawn,
                              class_weights=self.weighting.kernel_class_weights(), suggest_lr_auto=self.auto is None,
                              lr_scale=self.lr / self.rate_opts.lr,
                              keep_step=fullbatch.keeps_step(opts, self.shards, self.start_fitted))
        executor.prepare(self.cfg, self.plan)
        executor.cut_shares(self.plan, reporter.message, lambda: self._check_stop(SHARING), self._progress(SHARING))
        self.stopper = EarlyStopping(opts.patience, opts.min_delta) if opts.early_stopping else None
        self.val_scored = None  # the rows the last validation pass scored
        self.resumed = saved is not None
        if saved is not None:
            self.state, self.pos, self.history = saved.state, saved.position, saved.history
            if self.stopper is not None:
                self.stopper.restore(saved.stopper, saved.best_params)
            reporter.message(f"resuming from {saved.path}: epoch {self.pos.epoch + 1}, "
                             f"iteration {safepoints.iteration(self)} of {self.iters}")
        else:
            self.state, self.pos, self.history = self._first_state(), Position(), []
            if self.init is not None:
                reporter.message(f"--init {self.init.path}: starting from its weights"
                                 + (" and its optimizer's state, " if opts.init_optimizer else ", ")
                                 + ("standardized with this data's statistics" if opts.restandardize else
                                    "with its scaling, its centering moved into the bias (sparse input this "
                                    "wide is not centered)" if self.init.model.center is not None
                                    and self.mean is not None
                                    and not np.array_equal(self.init.model.center, self.mean) else
                                    "with its standardization"))
        self.points = safepoints.SafePoints(self)

    def _set_rate(self, halvings: int) -> None:
        """The options with the rate ``--lr`` or ``--lr auto`` gives (halved ``halvings`` times), and the kernels'."""
        self.rate_opts, self.lr, self.cfg = runrate.rates(self, halvings)

    def _first_state(self) -> TrainState:
        """The state training starts from: the weights of ``_start_params``, and the initial model's optimizer state
        where --init-optimizer carries it over."""
        state = TrainState.zeros(self.labels.n_outputs, self.table.n_features)
        state.W[:] = self._start_params()
        if self.init is not None and self.opts.init_optimizer:
            warmstart.restore_optimizer(self.init, state.slots, self.kept_slots(), state.W, self.opts.momentum,
                                        self.cfg.bias_times)
        return state

    def _start_params(self) -> np.ndarray:
        """The weights training starts from (outputs × features + 1, standardized; one row for every output): the
        initial model's, the fit of the run's sample, or the start (training/start.py)."""
        if self.init is not None:
            return warmstart.first_weights(self.init, self.mean, self.std, self.opts.init_optimizer)
        return np.atleast_2d(self.start if self.start_model is None else self.start_model)

    def _stopping_loss(self, record: dict) -> float:
        """What early stopping judges of the epoch of ``record``, the last: its validation loss, else its training
        loss, under --l2 or --l1 the objective (once a run's first record holds it, every later one does)."""
        if "val_loss" in record:
            return record["val_loss"]
        if "objective" not in self.history[0]:  # none, or an older sgdcli's checkpoint's records: the mean losses
            return record["train_loss"]
        return record["objective"]

    def _judges_start(self) -> bool:
        """Whether early stopping judges the weights an epoch starts from: a full batch's training loss is theirs
        (its one step comes after), where no validation rows score the epoch's end."""
        return self.stopper is not None and self.val_table is None and self.opts.val_fraction <= 0 and self.full

    def _penalties(self, train_loss: float, start_penalty: float) -> dict:
        """An epoch's ``penalty``, --l2's and --l1's of the weights at its end, and its ``objective``
        (progress.objective; a full batch's of ``start_penalty``, its start's); none without them."""
        if not (self.opts.l2 or self.opts.l1):
            return {}
        end = fullbatch.penalty(self.opts, self.state.W)
        return {"penalty": end, "objective": objective(train_loss, start_penalty, end, self.full)}

    @property
    def start_fitted(self) -> bool:
        """Whether the run starts at the fit of its sample (training/start.py ``fitted``)."""
        return self.start_model is not None

    def kept_slots(self) -> dict[str, int]:
        """The slots that hold this run's optimizer state, by name (kernels/optimizers.py)."""
        return optimizers.kept_slots(self.cfg.optimizer, self.cfg.average)

    def kept_params(self) -> np.ndarray:
        """The weights of the model the run keeps (outputs × features + 1, standardized): those early stopping
        judged best where that was an epoch before the last, else the last state's (or their average: a full
        batch's last step, which no epoch's loss measured, descends from the weights the last epoch's measured); a
        warm start's own before any update (--epochs 0: with --init-optimizer, the state holds the last iterate of
        a model that averaged)."""
        stopper = self.stopper
        if stopper is not None and stopper.best_params is not None and stopper.best_epoch < len(self.history):
            return stopper.best_params
        if self.init is not None and self.state.iterations == 0:
            return warmstart.weights(self.init, self.mean, self.std)
        return self.state.params(self.opts.average)

    def sample_weights_of(self, labels: np.ndarray) -> np.ndarray | None:
        """The weights the kernels would give the rows of --lr auto's sample (rate.sample), whose raw labels are
        ``labels``; None where every row weighs 1."""
        return self.weighting.of_rows(labels, self.labels.classes, sample_weights(self.sample))

    def _restart_slower(self, exc: DivergedError, metrics_tmp) -> bool:
        """--lr auto: after a blow-up, train from the start at half the rate; False where that is not the case
        (runrate.halved)."""
        halvings = runrate.halved(self)
        if halvings is None:
            return False
        self._set_rate(halvings)
        self.executor.prepare(self.cfg, self.plan)
        self.state = self._first_state()
        self.pos, self.history = Position(lr_halvings=halvings), []
        self.points.restarted()
        if self.stopper is not None:
            self.stopper = EarlyStopping(self.opts.patience, self.opts.min_delta)
        if metrics_tmp is not None:
            open(metrics_tmp, "w").close()
        self.reporter.message(runrate.restarted(exc, self.rate_opts.lr))
        return True

    def _pass(self, fn, stage: str):
        """A pass before training over every block (wherever the executor runs it)."""
        return self.executor.data_pass(fn, self.opts, lambda: self._check_stop(stage), self._progress(stage))

    def _progress(self, stage: str):
        """``progress(rows read, rows in all)`` of a pass outside the epochs, told to the reporter as ``stage``."""
        return lambda done, total: self.reporter.pass_progress(stage, done, total)

    # --- the epoch loop ----------------------------------------------------------------------------

    def train(self, metrics_tmp) -> Model:
        opts, reporter = self.opts, self.reporter
        runlog.log_start(self)
        self.sample.release()  # the epochs' windows take all of --memory
        self._check_stop("setting up")  # compiling the kernels takes seconds, a minute after an upgrade
        control = self.control  # (a nightly log shows the work a run without --resume gives up, once it trains)
        replaced = ckpt_mod.earlier(control.checkpoint) if control.checkpoint and not control.resume else None
        if replaced is not None:
            reporter.message(f"--checkpoint: {replaced}, is replaced: this run, without --resume, starts afresh")
        if metrics_tmp is not None:
            with open(metrics_tmp, "w", encoding="utf-8") as fh:  # epochs done before a resume: the checkpoint's
                fh.writelines(json_line(r) for r in self.history)
        begin_run(reporter, epochs=opts.epochs, iterations=self.iters, rows=self.n_train, batch_size=self.batch,
                  lr=self.lr, batch=replicas.batch_text(self))
        if self.resumed:
            reporter.resumed(epoch=self.pos.epoch, iteration=safepoints.iteration(self),
                             rows=rows_done(self.pos, self.state, self.plan), records=list(self.history))
        try:
            while self.pos.epoch < opts.epochs and not (self.stopper is not None and self.stopper.stopped):
                try:
                    self._epoch(metrics_tmp)
                except DivergedError as exc:
                    if not self._restart_slower(exc, metrics_tmp):
                        exc.lr = self.lr  # halved by the restarts: not the rate reporter.begin was told
                        raise runrate.advised(self, exc) from None
        finally:
            reporter.close()
        self.warnings += fitwarnings.log_end(self, self.stopper.best_epoch if self.stopper is not None else len(self.history))
        runlog.log_left_out(self)
        return result.model_of(self)

    def _epoch(self, metrics_tmp) -> None:
        opts, epoch = self.opts, self.pos.epoch
        self.reporter.epoch_start(epoch)
        self.points.start_epoch()
        told = [(-1, -1, "")]  # the iterations, rows and detail the reporter last heard of
        judged = self.state.params(opts.average).copy() if self._judges_start() else None
        start_penalty = fullbatch.penalty(opts, self.state.W) if self.full and (opts.l2 or opts.l1) else 0.0

        def advance(it, rows, loss, lr, detail=""):
            told[0] = (it, rows, detail)
            self.reporter.advance(epoch, it, rows, loss, lr, detail)

        try:
            result = self.executor.run_epoch(self.state, self.pos, on_progress=advance, safe_point=self.points.safe_point)
        except WorkLost as exc:
            if self.control.checkpoint is None:
                raise
            self.points.save_in_epoch()  # the last whole round: --resume continues from it
            raise RuntimeFailure(f"{exc}; checkpoint saved to {self.control.checkpoint}, "
                                 f"run the same command with --resume to continue") from None
        if blew_up(result.train_loss, self.zero_loss):  # named as the kernels' divergences name it (epoch.py)
            scaled = scaled_from(self.cfg.lr, self.plan.lr_scale)
            raise diverged(f"training diverged in epoch {epoch + 1}: its mean loss {result.train_loss:.4g} is over "
                           f"{BLOWN_UP:g} times the all-zero model's {self.zero_loss:.4g} at learning rate "
                           f"{self.cfg.lr:.4g}{f' ({scaled})' if scaled else ''}; ", self.cfg.lr, self.rate_opts.lr,
                           self.cfg.l2, self.opts.standardize, lr_auto=self.auto is None)
        if told[0][:2] != (result.iterations, result.rows):  # the last partial batch, taken after the last kernel
            # call, or --drop-last's rows, left out: the last advance is the epoch's record
            self.reporter.advance(epoch, result.iterations, result.rows, result.train_loss,
                                  current_lr(self.cfg, self.state), told[0][2])
        seconds = self.points.epoch_seconds()
        params = self.state.params(opts.average)
        record = {
            "epoch": epoch + 1,
            "iterations": result.iterations,
            "rows": result.rows,
            "train_loss": result.train_loss,
            "lr": current_lr(self.cfg, self.state),
            **({"bad_rows": result.bad_rows} if self.plan.skip_bad else {}),
            **self._penalties(result.train_loss, start_penalty),
            **self.validate(params),
            "seconds": seconds,
            "rows_per_s": result.rows / seconds if seconds > 0 else 0.0,
        }
        self.history.append(record)
        self.reporter.epoch_end(record)
        if metrics_tmp is not None:
            with open(metrics_tmp, "a", encoding="utf-8") as fh:
                fh.write(json_line(record))
        stop = self.stopper is not None and self.stopper.update(
            self._stopping_loss(record), params if judged is None else judged, epoch + 1, settled(self.cfg, self.state))
        if stop and epoch + 1 < opts.epochs:  # (patience that ran out on the last epoch stopped nothing)
            self.reporter.message(
                f"early stopping after epoch {epoch + 1}: no decrease of more than {opts.min_delta:g} "
                f"for {counted(opts.patience, 'epoch')}; keeping epoch {self.stopper.best_epoch}"
            )
        self.pos = Position(epoch=epoch + 1, epoch_start_t=self.state.iterations, lr_halvings=self.pos.lr_halvings)
        if epoch + 1 < opts.epochs and not (self.stopper is not None and self.stopper.stopped):
            self.points.save()

    def validate(self, params, stage: str = "validating", on_stop=None) -> dict:
        """``val_loss`` and ``val_<metric>`` of ``params`` on the validation rows, if any (the pass shown as
        ``stage``; a signal acted on by ``on_stop``, by default the epochs' safe point)."""
        opts = self.opts
        if self.val_table is None and opts.val_fraction <= 0:
            return {}
        if not self.cfg.standardized:  # weights on raw features already: no fold (nor its compile)
            We = params.copy()
        else:
            We = fold_weights(params, self.plan.center, self.plan.scale, np.empty_like(params))
        held_out = self.val_table is None
        table = self.table if held_out else self.val_table
        select = ValidationRows(opts.val_fraction, opts.seed, held_out, self.plan.skip_bad)
        scores = self.executor.validate(table, self.objective, self.labels, We, opts.memory, select,
                                        on_stop=on_stop or (lambda: self.points.safe_point(self.pos)),
                                        centre=self.score_centre(params), progress=self._progress(stage))
        self.val_scored = scores["rows"]
        return {"val_loss": scores.pop("loss"), **{f"val_{k}": v for k, v in scores.items() if k != "rows"}}
