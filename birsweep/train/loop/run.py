"""One continual-learning run: set up data, encoder and model, train task by task, evaluate, checkpoint, record."""

from __future__ import annotations

import logging
import time
from typing import Iterable, List, Optional, Union

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from tqdm.auto import tqdm

from birsweep.config_check import tasks_to_run
from birsweep.data.features import Inputs
from birsweep.data.images import ImageInputs
from birsweep.data.sources import load_source
from birsweep.data.stream import ClassIncrementalStream, IndexBatches
from birsweep.device import pick_device, seed_everything
from birsweep.errors import RunInterrupted, RunPruned, StorageError, failure_text
from birsweep.io import remove_stale_tmp
from birsweep.methods.method_api import MethodHooks, Step
from birsweep.methods.method_registry import method_of
from birsweep.methods.replay import frozen_copy
from birsweep.methods.terms import LossTerm
from birsweep.models.bir import BIRNet
from birsweep.models.classifier import Classifier
from birsweep.secrets import mask_secrets
from birsweep.tracking.env import environment
from birsweep.tracking.record import METRICS, RESULTS, RunRecord
from birsweep.tracking.record_fields import RunStatus
from birsweep.train.build.toolkit import RunToolkit
from birsweep.train.diagnostics import build_diagnostics
from birsweep.train.evaluate import task_accuracies
from birsweep.train.generator_eval import evaluate_generator
from birsweep.train.loop import checkpoint
from birsweep.train.loop.callbacks import CallbackList, RunCallback, TaskEnd
from birsweep.train.loop.inputs import run_inputs
from birsweep.train.loop.losslog import LossMeter, check_finite
from birsweep.train.loop.signals import raise_on_stop_signals
from birsweep.train.loop.state import checkpoint_payload, completed_objective, restore_run
from birsweep.train.participation import Participation

log = logging.getLogger(__name__)


class Run:
    """Everything a run holds; built once, then ``fit`` trains the remaining tasks."""

    model: Union[BIRNet, Classifier]  # BI-R's network, or the plain classifier of the other methods
    step: Step
    hooks: MethodHooks
    terms: List[LossTerm]  # the variants' loss terms (BI-R only)
    previous: Optional[nn.Module]  # a frozen copy of the model after the previous task

    def __init__(self, cfg: DictConfig, run_dir: str, callbacks: Iterable[RunCallback] = ()):
        self.cfg, self.run_dir = cfg, run_dir
        self.started = time.time()
        self.config = mask_secrets(OmegaConf.to_container(cfg, resolve=True))
        self.device = pick_device(cfg.trainer.device)
        self.callbacks = CallbackList(callbacks)
        self.validation = float(cfg.data.val_fraction) > 0  # tune on held-out training samples, not the test set
        self.n_tasks = tasks_to_run(cfg)  # the protocol's tasks, or its first trainer.max_tasks
        self.record = RunRecord(
            run_dir,
            self.n_tasks,
            self.config,
            environment(self.device),
            validation=self.validation,
            protocol_tasks=cfg.data.n_tasks,
        )

    # --- set-up -----------------------------------------------------------------------------------------------------
    def setup(self) -> None:
        cfg, t0 = self.cfg, time.time()
        seed_everything(cfg.seed)
        arrays = load_source(cfg.data)
        self.record.set_timing("data_s", round(time.time() - t0, 3))
        self.stream = ClassIncrementalStream(
            arrays.train_y,
            arrays.test_y,
            arrays.n_classes,
            cfg.data.n_tasks,
            cfg.seed,
            cfg.data.natural_order_below_seed,
            cfg.data.val_fraction,
        )
        self.record.set_class_order([self.stream.original_classes(k) for k in range(cfg.data.n_tasks)])
        t1 = time.time()
        self.inputs: Union[Inputs, ImageInputs]
        self.inputs, encoder = run_inputs(cfg, arrays, self.device)
        self.encoder = encoder  # the frozen pre-trained conv layers (None on pixel models): the evaluation's features
        self.record.set_timing("features_s", round(time.time() - t1, 3))
        self.image_shape = arrays.shape
        self.train_y = self.stream.train_y.to(self.device)
        self.test_y = self.stream.test_y.to(self.device)
        self.train_idx = [i.to(self.device) for i in self.stream.train_idx]
        self.test_idx = [i.to(self.device) for i in self.stream.test_idx]
        self.val_idx = [i.to(self.device) for i in self.stream.val_idx or []]

        # the model's initialisation must not depend on whether the encoder or features came from a cache
        seed_everything(cfg.seed)
        self.previous = None
        self.start_task = 0
        toolkit = RunToolkit(cfg, self.inputs, arrays, encoder, self.train_idx, self.device)
        built = method_of(cfg).build(toolkit)  # the registered method (birsweep/methods/method_registry.py)
        self.model, self.optimizer, self.si, self.step = built.model, built.optimizer, built.si, built.step
        self.hooks, self.terms = built.hooks, built.terms
        self._measures(cfg)

    def _measures(self, cfg: DictConfig) -> None:
        """Participation of the loss terms, and the diagnostics of the BI-R network (docs/analysis.md)."""
        self.record.set_terms([term.name for term in self.terms])
        self.participation = Participation([term.name for term in self.terms], self.device)
        self.diagnostics = None
        if isinstance(self.model, BIRNet) and self.model.conditional and isinstance(self.inputs, Inputs):
            self.diagnostics = build_diagnostics(cfg, self.stream, self._test_features, self.test_y, self.test_idx)

    def _test_features(self) -> torch.Tensor:
        assert isinstance(self.inputs, Inputs)
        return self.inputs.test

    def restore(self) -> None:
        """Continue from the run dir's checkpoint, as ``resume`` asks."""
        restore_run(self)

    def save_checkpoint(self, tasks_done: int) -> None:
        checkpoint.save(self.run_dir, checkpoint_payload(self, tasks_done))

    # --- training ---------------------------------------------------------------------------------------------------
    def train_task(self, task: int) -> None:
        """Train task ``task`` (0-based) for ``trainer.iters`` steps."""
        cfg, n_tasks = self.cfg.trainer, self.n_tasks
        n_active = self.stream.classes_seen(task + 1)
        replay = self.hooks.replay(
            task, self.previous, self.stream.classes_seen(task), cfg.batch_replay or cfg.batch_size
        )
        batches = IndexBatches(self.hooks.train_indices(task, self.train_idx), cfg.batch_size)
        self.si.begin_task()
        meter = LossMeter()
        iters = 0 if cfg.only_last and task < n_tasks - 1 else cfg.iters  # trainer.only_last: the last task only
        bar = tqdm(
            range(1, iters + 1),
            desc=f"task {task + 1}/{n_tasks}",
            disable=not cfg.progress,
            dynamic_ncols=True,
            leave=True,
        )
        for it in bar:
            idx = next(batches)
            logs = self.step(self.inputs.train_batch(idx), self.train_y[idx], task + 1, n_active, replay, idx)
            meter.add(logs)
            self.participation.add(logs)
            if it == 1 and "first_step_s" not in self.record.data["timings"]:  # start-up cost, as a user waits it
                self.record.set_timing("first_step_s", round(time.time() - self.started, 3))
            if it % cfg.log_every == 0 or it == iters:
                values = meter.flush()
                if self.si.has_omega:
                    values["si_penalty"] = self.si.c * float(self.si.penalty())
                check_finite(values, task + 1, it)
                step = task * cfg.iters + it
                recorded = self.record.add_losses(task + 1, it, step, values)
                self.callbacks.on_losses(step, task + 1, recorded)
                bar.set_postfix(loss=f"{values['loss']:.4f}")
        bar.close()
        self.si.end_task()

    def prepare_task(self, task: int) -> None:
        """The features of the task's training, validation and test samples (encoded now unless cached)."""
        t0 = time.time()
        train_rows = [self.train_idx[task]] + ([self.val_idx[task]] if self.val_idx else [])
        if self.inputs.ensure(torch.cat(train_rows), self.test_idx[task]):
            timings = self.record.data["timings"]
            timings["features_s"] = round(timings.get("features_s", 0.0) + time.time() - t0, 3)

    def fit(self) -> float:
        n_tasks = self.n_tasks
        for task in range(self.start_task):  # a resumed run evaluates the tasks it trained before, too
            self.prepare_task(task)
        for task in range(self.start_task, n_tasks):
            self.prepare_task(task)
            t0 = time.time()
            self.train_task(task)
            accs = task_accuracies(
                self.model,
                self.inputs.test,
                self.test_y,
                self.test_idx[: task + 1],
                self.stream.classes_seen(task + 1),
                self.cfg.trainer.eval_batch,
            )
            seconds = time.time() - t0
            val_accs = None
            if self.validation:  # held-out training samples: the training set's features, never augmented
                val_accs = task_accuracies(
                    self.model,
                    self.inputs.train,
                    self.train_y,
                    self.val_idx[: task + 1],
                    self.stream.classes_seen(task + 1),
                    self.cfg.trainer.eval_batch,
                )
            counts = self.participation.take()
            self.record.add_participation(counts)
            if self.diagnostics is not None and isinstance(self.model, BIRNet):  # leaves the RNG and mode as they were
                self.record.add_diagnostics(self.diagnostics(self.model, task + 1, counts))
            self.record.add_task(accs, seconds, val_accs)
            self.hooks.end_task(task, self.stream.classes_seen(task + 1))
            self.previous = frozen_copy(self.model)
            self.save_checkpoint(task + 1)
            self.record.save()
            end = TaskEnd.of(self.record.view(), task + 1)
            log.info(
                "after task %d/%d: average accuracy %.2f%% (%s)%s",
                task + 1,
                n_tasks,
                100 * end.avg_acc,
                " ".join(f"{100 * a:.1f}" for a in accs),
                "" if end.val_avg_acc is None else f", validation {100 * end.val_avg_acc:.2f}%",
            )
            if isinstance(self.model, BIRNet):  # replay samples and prior statistics exist for BI-R only
                self.callbacks.on_model(task + 1, self.model, self.image_shape)
            self.callbacks.on_task_end(end)
        return self.record.data["objective"]


def train(cfg: DictConfig, run_dir: str, callbacks: Iterable[RunCallback] = ()) -> float:
    """Train (or resume) the run in ``run_dir`` and return its objective: the final average accuracy on the
    validation split when ``data.val_fraction > 0``, on the test set otherwise.

    The record is first written once set-up and resume have passed their checks: a bad setting or a bad
    checkpoint stops the run with the previous record (and metrics.csv) left as they were.
    """
    started = time.time()
    run = Run(cfg, run_dir, callbacks)
    done = completed_objective(cfg, run_dir, run.config, run.n_tasks)
    if done is not None:  # the same command again over a finished run: its files are left byte for byte
        log.info("%s already holds this run, completed: nothing to run (resume=false starts over)", run_dir)
        return done
    record = run.record
    written = False
    with raise_on_stop_signals():
        try:
            run.setup()
            run.restore()
            for path in remove_stale_tmp(run_dir, (checkpoint.CHECKPOINT, RESULTS, METRICS), started):
                log.info("removed %s, left by a write that was cut short", path)
            record.save()
            written = True
            trial = run.callbacks.on_start(record.view())
            if trial is not None:
                record.set_trial(trial)
                record.save()
            objective = run.fit()
            record.set_generator_eval(evaluate_generator(run))  # after the last checkpoint: a resumed run redoes it
            record.set_timing("total_s", round(time.time() - started, 3))
            iters = cfg.trainer.iters * run.n_tasks
            record.set_timing("it_per_s", round(iters / max(record.data["timings"]["train_s"], 1e-9), 2))
            record.finish(RunStatus.COMPLETED)
            return objective
        except RunPruned:
            _close(record, RunStatus.PRUNED, "pruned by the study's pruner", written)
            raise
        except RunInterrupted as err:
            _close(record, RunStatus.INTERRUPTED, str(err), written)
            raise
        except KeyboardInterrupt:
            _close(record, RunStatus.INTERRUPTED, "interrupted by SIGINT", written)
            raise
        except BaseException as err:  # SystemExit too: the record must say what happened
            _close(record, RunStatus.FAILED, failure_text(err), written)
            raise
        finally:
            veto = run.callbacks.on_finish(record.status)
            if veto is not None:
                _close(record, RunStatus.FAILED, veto, written)
            run.callbacks.on_end(record.view())


def _close(record: RunRecord, status: RunStatus, reason: str, written: bool) -> None:
    """Finish the record as ``status``; a record that was never written stays unwritten (the previous one, if
    any, stays), and one that cannot be written any more (full disk) is left as it last was, with a warning."""
    try:
        record.finish(status, reason, save=written)
    except StorageError as err:
        log.warning("the record could not be closed as %s (%s): %s", status.value, reason, err)
