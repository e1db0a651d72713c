"""One trial of a batched job (birsweep/train/batched/run.py): what it is given, its own side of the batch (stream,
generator, record, callbacks, a network to evaluate), and which configs the batched trainer takes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import List, Optional

import torch
from omegaconf import DictConfig

from birsweep.data.features import Inputs
from birsweep.data.stream import ClassIncrementalStream, IndexBatches
from birsweep.device import seed_everything
from birsweep.errors import StorageError
from birsweep.methods.method_registry import method_of
from birsweep.methods.term_noise import noise_for
from birsweep.methods.variants import build_terms
from birsweep.tracking.record import RunRecord
from birsweep.tracking.record_fields import RunStatus
from birsweep.train.batched.terms import unbatched_terms
from birsweep.train.build.bir_net import build_bir_net
from birsweep.train.loop.callbacks import CallbackList, RunCallback
from birsweep.train.step.compiled import compile_mode

log = logging.getLogger(__name__)


@dataclass
class BatchTrial:
    """One trial of a batched job: what it is given, and how it ended (filled in by :func:`train_batched`)."""

    cfg: DictConfig
    run_dir: str
    callbacks: List[RunCallback] = field(default_factory=list)
    status: Optional[RunStatus] = None
    objective: Optional[float] = None
    reason: Optional[str] = None


def not_batchable(cfg: DictConfig) -> Optional[str]:
    """Why the batched trainer cannot train this config (its trials then run one after another), or None."""
    meth = cfg.method
    if not method_of(cfg).bir_step(cfg):  # a plain classifier, or BI-R's ablation without feedback
        return f"method={meth.name} (the batched trainer takes the BI-R network with replay through feedback only)"
    if not (meth.conditional and meth.gates):
        return "a BI-R ablation switch (method.feedback, conditional or gates) is not its default"
    unbatched = unbatched_terms(cfg)
    if unbatched:
        return f"the {', '.join(unbatched)} term is not batched (repulsion and recon are)"
    if bool(cfg.data.augment) or str(cfg.trainer.precision) != "32" or compile_mode(cfg.trainer.compile) != "off":
        return "data.augment, trainer.precision or trainer.compile is not its default"
    if cfg.model.encoder.type == "conv":
        return "a conv encoder model (the batched trainer takes MLP models on pixels or fixed features)"
    if str(cfg.resume).lower() == "true":
        return "resume=true (batched trials are not checkpointed)"
    return None


class Slot:
    """A trial's own side of the batch: stream, generator, record, callbacks and a network to evaluate."""

    record: RunRecord  # set by BatchedRun once the trial's config is resolved
    batches: IndexBatches  # the current task's, drawn with the trial's generator

    def __init__(
        self, trial: BatchTrial, inputs: Inputs, stream: ClassIncrementalStream, n_classes: int, device: torch.device
    ):
        self.trial, self.cfg, self.device = trial, trial.cfg, device
        self.stream = stream
        self.train_y, self.test_y = stream.train_y.to(device), stream.test_y.to(device)
        self.train_idx = [i.to(device) for i in stream.train_idx]
        self.test_idx = [i.to(device) for i in stream.test_idx]
        self.val_idx = [i.to(device) for i in stream.val_idx or []]
        self.callbacks = CallbackList(trial.callbacks)
        self.written = False
        seed_everything(int(self.cfg.seed))  # as Run.setup: the initialisation follows the seed alone
        self.model = build_bir_net(self.cfg, inputs.dim, n_classes, device)  # switches at their defaults here
        self.terms = build_terms(self.cfg.variant, self.model, inputs)  # as Run.setup, before the RNG is copied
        self.noise = noise_for(self.terms, int(self.cfg.seed), device)  # the terms' own draws, as TrainStep's
        self.gen = torch.Generator(device=device)  # continues the global RNG from here, as the run alone does
        self.gen.set_state(torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state())

    def end(self, status: RunStatus, reason: Optional[str] = None) -> None:
        """Close the record as ``status`` and let the callbacks know; the trial leaves the batch."""
        record, trial = self.record, self.trial
        if status == RunStatus.COMPLETED:  # the stacked networks are not evaluated one by one (docs/method.md)
            record.set_generator_eval({"skipped": "a batched trial (trials_per_job > 1) has no generator evaluation"})
        try:
            record.finish(status, reason, save=self.written)
        except StorageError as err:
            log.warning("the record of %s could not be closed as %s: %s", trial.run_dir, status.value, err)
        veto = self.callbacks.on_finish(record.status)
        if veto is not None:
            record.finish(RunStatus.FAILED, veto, save=self.written)
        self.callbacks.on_end(record.view())
        trial.status, trial.reason = record.status, record.data.get("error")
        if trial.status == RunStatus.COMPLETED:
            trial.objective = record.data["objective"]
