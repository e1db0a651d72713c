"""A run's checkpoint payload (README.md, Usage: resume): everything that makes a resumed run continue
with the numbers of an uninterrupted one: the model, optimiser, SI, the terms and their generator, the method's own
state, the record's history and every random generator."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Protocol, Union

from omegaconf import DictConfig
from torch import nn

from birsweep.errors import ResumeError
from birsweep.methods.method_api import MethodHooks, Step
from birsweep.methods.replay import frozen_copy
from birsweep.methods.si import SynapticIntelligence
from birsweep.methods.term_noise import load_noise_state, noise_state
from birsweep.methods.terms import LossTerm
from birsweep.models.bir import BIRNet
from birsweep.models.classifier import Classifier
from birsweep.tracking.record import RunRecord, try_load
from birsweep.tracking.record_fields import RunStatus
from birsweep.train.loop import checkpoint

log = logging.getLogger("birsweep.train.loop.run")  # the run's own logger: "resuming ..." reads as the run's line


class Run(Protocol):
    """What a checkpoint holds of a set-up run (birsweep.train.loop.run.Run)."""

    cfg: DictConfig
    run_dir: str
    config: Any
    n_tasks: int
    model: Union[BIRNet, Classifier]
    optimizer: Any
    si: SynapticIntelligence
    terms: List[LossTerm]
    step: Step
    hooks: MethodHooks
    record: RunRecord
    start_task: int
    previous: Optional[nn.Module]


def checkpoint_payload(run: Run, tasks_done: int) -> Dict[str, Any]:
    return {
        "tasks_done": tasks_done,
        "config": run.config,
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "si": run.si.state_dict(),
        "terms": [term.state_dict() for term in run.terms],
        "term_noise": noise_state(run.step),
        "method": run.hooks.state_dict(),
        "history": run.record.history(),
        "rng": checkpoint.rng_state(),
    }


def load_payload(run: Run, payload: Dict[str, Any]) -> None:
    """Put a checkpoint's state back into a set-up run (the config check has passed)."""
    run.model.load_state_dict(payload["model"])
    run.optimizer.load_state_dict(payload["optimizer"])
    run.si.load_state_dict(payload["si"])
    for term, state in zip(run.terms, payload.get("terms", [])):
        term.load_state_dict(state)
    load_noise_state(run.step, payload.get("term_noise"))
    run.hooks.load_state_dict(payload.get("method", {}))
    run.record.restore(payload["history"])
    run.start_task = payload["tasks_done"]
    run.previous = frozen_copy(run.model)
    checkpoint.set_rng_state(payload["rng"])


def restore_run(run: Run) -> None:
    """Continue ``run`` from its run dir's checkpoint, as ``resume`` asks (auto: when there is one)."""
    mode = str(run.cfg.resume).lower()
    if mode == "false":
        return
    payload = checkpoint.load(run.run_dir, run.config)
    if payload is None:
        if mode == "true":
            raise ResumeError(
                f"resume=true but there is no checkpoint in {run.run_dir}; "
                "give the run's directory with hydra.run.dir=... or use resume=auto"
            )
        return
    load_payload(run, payload)
    log.info("resuming %s after task %d of %d", run.run_dir, run.start_task, run.n_tasks)


def completed_objective(cfg: DictConfig, run_dir: str, config: Dict[str, Any], n_tasks: int) -> Optional[float]:
    """The objective of the completed run already in ``run_dir``, when re-running it would only redo it: ``resume``
    is not false, its record says ``completed`` and its checkpoint holds all ``n_tasks`` tasks, made with these
    settings (other settings are refused here as on any resume). ``None``: train (or resume) as usual. Outside a
    sweep only: a trial's dir belongs to its study, whose own resume decides (docs/faults.md)."""
    if str(cfg.resume).lower() == "false" or cfg.get("optuna") is not None:
        return None
    record, _ = try_load(run_dir)
    if record is None or record.get("status") != RunStatus.COMPLETED.value:
        return None
    payload = checkpoint.load(run_dir, config)
    if payload is None or payload["tasks_done"] != n_tasks:
        return None
    return float(record["objective"])
