"""What ``launch.py`` runs for one job: check the config, then train (or pre-train) and return the objective."""

from __future__ import annotations

import logging
import os
from typing import Any, List, Optional

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from birsweep.config_check import check_config
from birsweep.log_writes import report_log_write_errors_once
from birsweep.tracking.record import load as load_record
from birsweep.tracking.record import record_path
from birsweep.train.loop.callbacks import RunCallback

log = logging.getLogger(__name__)


def hydra_run_dir() -> str:
    """The job's output dir when Hydra runs us; the working directory otherwise (e.g. the compose API)."""
    if HydraConfig.initialized():
        return HydraConfig.get().runtime.output_dir
    return os.getcwd()


def job_callbacks(cfg: DictConfig, several_runs: bool = False) -> List[RunCallback]:
    """Loggers and the sweeper's trial handle, as the config asks (``several_runs``: one of the runs a job with
    several trials trains side by side)."""
    callbacks: List[RunCallback] = []
    if cfg.optuna is not None:
        from birsweep.sweep.job.trial import TrialHandle

        callbacks.append(TrialHandle.from_config(cfg))
    if cfg.logger.name == "wandb":
        from birsweep.loggers.wandb_logger import WandbLogger

        callbacks.append(WandbLogger(cfg, several_runs))
    return callbacks


def run(cfg: DictConfig, run_dir: Optional[str] = None, callbacks: Optional[List[RunCallback]] = None) -> Any:
    report_log_write_errors_once()  # a full disk: one line about the job's log file, not one traceback per line
    check_config(cfg)
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    run_dir = run_dir or hydra_run_dir()
    if cfg.task == "pretrain":
        return pretrain(cfg)
    if cfg.task == "campaign":
        from birsweep.campaign import run_campaign

        return run_campaign(cfg)
    if cfg.optuna is not None and cfg.optuna.get("batch"):  # trials_per_job > 1: the batch the sweep formed
        from birsweep.sweep.job.batch import run_batch, trial_configs
        from birsweep.train.batched.trial import BatchTrial

        trials = [BatchTrial(c, d, job_callbacks(c, True)) for c, d in trial_configs(cfg, run_dir)]
        return run_batch(cfg, trials)  # one outcome per trial
    from birsweep.train.loop.run import train

    callbacks = job_callbacks(cfg) if callbacks is None else callbacks
    objective = train(cfg, run_dir, callbacks)
    if float(cfg.data.val_fraction) > 0:  # the objective is the validation accuracy; the test one is in the record
        test = load_record(run_dir)["final_avg_acc"]
        print(
            f"final average accuracy: {100 * test:.2f}% test, {100 * objective:.2f}% validation (the objective)"
            f"  (record: {record_path(run_dir)})"
        )
    else:
        print(f"final average accuracy: {100 * objective:.2f}%  (record: {record_path(run_dir)})")
    return objective


def pretrain(cfg: DictConfig) -> float:
    """``task=pretrain``: (re-)train the conv encoder's cached weights and report its test accuracy."""
    import json

    from birsweep.device import pick_device
    from birsweep.train.pretrain import ensure_pretrained, summary_path

    enc = cfg.model.encoder
    path = ensure_pretrained(
        enc.pretrain,
        cfg.paths.cache_dir,
        cfg.data.root,
        cfg.data.download,
        pick_device(cfg.trainer.device),
        cfg.trainer.progress,
        force=True,
    )
    with open(summary_path(path)) as f:
        summary = json.load(f)
    print(
        f"encoder weights: {path}  (test accuracy on {enc.pretrain.dataset}: "
        f"{100 * summary['test_accuracy']:.2f}% after {summary['steps']} steps)"
    )
    return summary["test_accuracy"]
