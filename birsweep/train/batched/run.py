"""Many trials in one process as one batched computation (docs/sweeps.md, Many trials per job).

Every trial keeps what a run alone has: its seed (class order, initialisation, data order, noise), its values of
:data:`birsweep.train.batched.keys.PER_TRIAL_KEYS`, its run dir, record and callbacks (the Optuna trial, W&B). The
networks, Adam and SI live stacked (birsweep/train/batched/ops.py) and one vmapped step trains them all. Each
trial's random tensors are drawn, in the order a run alone draws them, from a generator that continues the global
RNG's state right after that trial's initialisation, so its numbers are the ones it has alone up to float
reassociation. A trial whose losses turn non-finite, whose callback fails or whose pruner stops it leaves the
stacks after that log point or task; the others go on with less work.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, List, Optional

import torch
from omegaconf import OmegaConf

from birsweep.config_check import tasks_to_run
from birsweep.data.features import build_inputs
from birsweep.data.sources import load_source
from birsweep.data.stream import ClassIncrementalStream, IndexBatches
from birsweep.device import pick_device
from birsweep.errors import RunInterrupted, RunPruned, failure_text
from birsweep.methods.si import SynapticIntelligence
from birsweep.secrets import mask_secrets
from birsweep.tracking.env import environment
from birsweep.tracking.record import RunRecord
from birsweep.tracking.record_fields import RunStatus
from birsweep.train.batched.ops import BatchedStep, Drawn, StackedAdam, StepShape, keep, stack_models
from birsweep.train.batched.terms import BatchedTerms
from birsweep.train.batched.trial import BatchTrial, Slot, not_batchable
from birsweep.train.evaluate import task_accuracies
from birsweep.train.loop.callbacks import TaskEnd
from birsweep.train.loop.losslog import check_finite
from birsweep.train.loop.signals import raise_on_stop_signals

log = logging.getLogger(__name__)

__all__ = ["BatchTrial", "BatchedRun", "not_batchable", "train_batched"]


class BatchedRun:
    def __init__(self, trials: List[BatchTrial]):
        cfg = self.cfg = trials[0].cfg
        self.started = time.time()
        self.device = pick_device(cfg.trainer.device)
        self.n_tasks = tasks_to_run(cfg)
        self.validation = float(cfg.data.val_fraction) > 0
        t0 = time.time()
        arrays = load_source(cfg.data)
        data_s = round(time.time() - t0, 3)
        if cfg.model.encoder.type == "conv":
            raise RuntimeError("the batched trainer takes pixel/feature MLP models only")
        t1 = time.time()
        self.inputs = build_inputs(
            arrays, None, cfg.data.normalize, False, self.device, cfg.paths.cache_dir, progress=False
        )
        features_s = round(time.time() - t1, 3)
        self.image_shape = arrays.shape
        self.slots: List[Slot] = []
        for trial in trials:
            d = trial.cfg.data
            stream = ClassIncrementalStream(
                arrays.train_y,
                arrays.test_y,
                arrays.n_classes,
                d.n_tasks,
                int(trial.cfg.seed),
                d.natural_order_below_seed,
                d.val_fraction,
            )
            slot = Slot(trial, self.inputs, stream, arrays.n_classes, self.device)
            config = mask_secrets(OmegaConf.to_container(trial.cfg, resolve=True))
            slot.record = RunRecord(
                trial.run_dir,
                self.n_tasks,
                config,
                environment(self.device),
                validation=self.validation,
                protocol_tasks=d.n_tasks,
            )
            slot.record.set_timing("data_s", data_s)
            slot.record.set_timing("features_s", features_s)
            slot.record.set_class_order([stream.original_classes(k) for k in range(d.n_tasks)])
            self.slots.append(slot)
        self.terms = BatchedTerms(self.slots[0].terms, [s.cfg for s in self.slots], self.device)
        for slot in self.slots:
            slot.record.set_terms(self.terms.names)
        self.params, self.buffers = stack_models([s.model for s in self.slots])
        self.prev: Optional[Dict[str, torch.Tensor]] = None
        self.step = BatchedStep(self.slots[0].model)
        self.temp = self._values("model.distill_temp")
        t = cfg.trainer
        self.adam = StackedAdam(self.params, self._values("trainer.lr"), tuple(t.betas))
        tracked = {id(p) for p in self.slots[0].model.si_parameters()}
        self.si_names = [k for k, p in self.slots[0].model.named_parameters() if id(p) in tracked]
        self.si = SynapticIntelligence(self._si_params(), self._values("model.si_c"), cfg.model.si_epsilon)

    def _si_params(self) -> List[torch.Tensor]:
        return [self.params[k] for k in self.si_names]

    def _values(self, key: str) -> torch.Tensor:
        return torch.tensor([float(OmegaConf.select(s.cfg, key)) for s in self.slots], device=self.device)

    # --- trials leaving ---------------------------------------------------------------------------------------
    def _leave(self, ended: Dict[int, tuple]) -> None:
        """End the trials at the given rows ({row: (status, reason)}) and drop them from every stack."""
        if not ended:
            return
        for row, (status, reason) in ended.items():
            self.slots[row].end(status, reason)
        rows = [r for r in range(len(self.slots)) if r not in ended]
        self.slots = [self.slots[r] for r in rows]
        if not rows:
            return
        index = torch.tensor(rows, device=self.device)
        self.params, self.buffers = keep(self.params, index), keep(self.buffers, index)
        self.prev = None if self.prev is None else keep(self.prev, index)
        self.temp = self.temp[index]
        self.adam.keep(index)
        self.si.keep(index, self._si_params())
        self.terms.keep(index)

    def _guarded(self, ended: Dict[int, tuple], row: int, call) -> None:
        """Run one trial's callback; what it raises ends that trial only."""
        try:
            call()
        except RunPruned:
            ended[row] = (RunStatus.PRUNED, "pruned by the study's pruner")
        except (KeyboardInterrupt, RunInterrupted):
            raise
        except Exception as err:
            ended[row] = (RunStatus.FAILED, failure_text(err))

    # --- training ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        ended: Dict[int, tuple] = {}
        for row, slot in enumerate(self.slots):

            def begin(slot: Slot = slot) -> None:
                slot.record.save()
                slot.written = True
                trial = slot.callbacks.on_start(slot.record.view())
                if trial is not None:
                    slot.record.set_trial(trial)
                    slot.record.save()

            self._guarded(ended, row, begin)
        self._leave(ended)

    def _draw(self, n_old: int, with_replay: bool):
        """Every trial's random tensors of one step, each from its own generator in the order of the run alone."""
        t, dev, z = self.cfg.trainer, self.device, int(self.cfg.model.z_dim)
        B, R = int(t.batch_size), int(t.batch_replay or t.batch_size)
        idx, classes, noise, eps, keys = [], [], [], [], []
        for slot in self.slots:
            idx.append(next(slot.batches))
            if with_replay:
                classes.append(torch.randint(0, n_old, (R,), device=dev, generator=slot.gen))
                noise.append(torch.randn((R, z), device=dev, generator=slot.gen))
                if slot.noise is not None:  # the terms' keys, from the trial's own term generator
                    keys.append(slot.noise.keys(R))
            eps.append(torch.randn((B + (R if with_replay else 0), z), device=dev, generator=slot.gen))
        return idx, classes, noise, eps, (torch.stack(keys) if keys else None)

    def train_task(self, task: int) -> None:
        t = self.cfg.trainer
        stream = self.slots[0].stream
        n_active, n_old = stream.classes_seen(task + 1), stream.classes_seen(task)
        with_replay = task > 0  # not_batchable: BI-R with replay through feedback only
        shape = StepShape(task + 1, n_active, n_old, self.inputs.n_pixels, str(self.cfg.method.targets) == "hard")
        for s in self.slots:  # on the slot: a trial that leaves takes its batches along
            s.batches = IndexBatches(s.train_idx[task], int(t.batch_size), s.gen)
        self.si.begin_task()
        sums: Dict[str, torch.Tensor] = {}
        steps = 0
        for it in range(1, int(t.iters) + 1):
            idx, classes, noise, eps, keys = self._draw(n_old, with_replay)
            drawn = Drawn(
                torch.stack([self.inputs.train[i] for i in idx]),
                torch.stack([s.train_y[i] for s, i in zip(self.slots, idx)]),
                torch.stack(eps),
                torch.stack(classes) if with_replay else None,
                torch.stack(noise) if with_replay else None,
                keys,
            )
            logs = self.step.train(
                self.params, self.buffers, self.prev, self.temp, drawn, shape, self.adam, self.si, self.terms
            )
            self.terms.add_counts(logs)
            for k, v in logs.items():
                v = v.detach()
                sums[k] = sums[k] + v if k in sums else v.clone()
            steps += 1
            if it % t.log_every == 0 or it == t.iters:
                self._log(task, it, sums, steps)
                sums, steps = {}, 0
                if not self.slots:
                    return
        self.si.end_task()

    def _log(self, task: int, it: int, sums: Dict[str, torch.Tensor], steps: int) -> None:
        keys = list(sums)
        table = (torch.stack([sums[k] for k in keys]) / steps).t().tolist()  # one host read for every trial
        penalty = self.si.penalty().tolist() if self.si.has_omega else None
        ended: Dict[int, tuple] = {}
        step = task * int(self.cfg.trainer.iters) + it
        for row, (slot, row_values) in enumerate(zip(self.slots, table)):
            values = dict(zip(keys, row_values))
            c = float(slot.cfg.model.si_c)
            if penalty is not None and c > 0:
                values["si_penalty"] = c * penalty[row]

            def report(slot: Slot = slot, values: Dict[str, float] = values) -> None:
                check_finite(values, task + 1, it)
                recorded = slot.record.add_losses(task + 1, it, step, values)
                slot.callbacks.on_losses(step, task + 1, recorded)

            self._guarded(ended, row, report)
        self._leave(ended)

    def end_task(self, task: int, seconds: float) -> None:
        eval_batch = int(self.cfg.trainer.eval_batch)
        ended: Dict[int, tuple] = {}
        counts = self.terms.take_counts()
        for row, slot in enumerate(self.slots):
            if counts:
                slot.record.add_participation(counts[row])
            with torch.no_grad():
                for name, p in slot.model.named_parameters():
                    p.copy_(self.params[name][row])
            n_active = slot.stream.classes_seen(task + 1)
            accs = task_accuracies(
                slot.model, self.inputs.test, slot.test_y, slot.test_idx[: task + 1], n_active, eval_batch
            )
            val_accs = None
            if self.validation:
                val_accs = task_accuracies(
                    slot.model, self.inputs.train, slot.train_y, slot.val_idx[: task + 1], n_active, eval_batch
                )

            def close(slot: Slot = slot, accs: Any = accs, val_accs: Any = val_accs) -> None:
                slot.record.add_task(accs, seconds, val_accs)
                slot.record.save()
                end = TaskEnd.of(slot.record.view(), task + 1)
                slot.callbacks.on_model(task + 1, slot.model, self.image_shape)
                slot.callbacks.on_task_end(end)

            self._guarded(ended, row, close)
        self.prev = {k: v.detach().clone() for k, v in self.params.items()}
        self._leave(ended)

    def fit(self) -> None:
        for task in range(self.n_tasks):
            t0 = time.time()
            self.train_task(task)
            if not self.slots:
                return
            self.end_task(task, time.time() - t0)
            if not self.slots:
                return
        iters = int(self.cfg.trainer.iters) * self.n_tasks
        for slot in self.slots:
            slot.record.set_timing("total_s", round(time.time() - self.started, 3))
            slot.record.set_timing("it_per_s", round(iters / max(slot.record.data["timings"]["train_s"], 1e-9), 2))
        self._leave({row: (RunStatus.COMPLETED, None) for row in range(len(self.slots))})


def train_batched(trials: List[BatchTrial]) -> None:
    """Train ``trials`` (equal but for PER_TRIAL_KEYS) as one batch; each trial's status, objective and reason
    are filled in. An error of the batch as a whole fails the trials still in it; a stop signal marks them
    interrupted and is raised again."""
    run: Optional[BatchedRun] = None
    with raise_on_stop_signals():
        try:
            run = BatchedRun(trials)
            run.start()
            run.fit()
        except (KeyboardInterrupt, RunInterrupted) as err:
            if run is not None:
                reason = "interrupted by SIGINT" if isinstance(err, KeyboardInterrupt) else str(err)
                run._leave({row: (RunStatus.INTERRUPTED, reason) for row in range(len(run.slots))})
            raise
        except Exception as err:
            reason = f"{type(err).__name__}: {err}"
            if run is not None:
                run._leave({row: (RunStatus.FAILED, reason) for row in range(len(run.slots))})
            for trial in trials:
                if trial.status is None:
                    trial.status, trial.reason = RunStatus.FAILED, reason
