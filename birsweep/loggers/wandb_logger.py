"""Weights & Biases logger: one W&B run per job, mirroring the run record.

* ``logger.mode``: ``offline`` (default; no account or network, ``wandb sync`` prints at the end), ``online``,
  ``disabled``; ``WANDB_MODE`` in the environment, when set, wins (CI, clusters without network, tests). The run's
  files live inside the Hydra job dir (``<job>/wandb/``) unless ``logger.dir`` says otherwise.
* Logged: the resolved (secret-masked) config; losses every ``trainer.log_every`` iterations as ``train/<name>``
  with the global iteration as step; after each task ``acc/task_<k>``, ``acc/avg``, ``val/acc_avg`` (with a
  validation split) and ``time/task_s`` (charted against ``task``); at the end the accuracy matrix as a table and
  a heatmap, and a summary with the record's names (``final_avg_acc``, ``val_final_avg_acc``, ``objective_split``,
  ``forgetting``, ``bwt``, ``status``, ``trial_number``, ``params.<name>``, timings). After each task also the
  diagnostics (``diag/*``, loggers/wandb_diagnostics.py); the summary also has ``inert_terms``,
  ``participation_<term>`` and the last task's ``diag_*`` (tracking/measured.py).
  With the ``on_model`` hook, a grid of replayed images per class (pixel models) or a plot of the class prior
  modes (hidden replay) after each task, drawn with the logger's own ``torch.Generator``.
* The run is always finished, whatever happens (exit code 0 for completed and pruned runs, 1 for failures;
  ``status`` in the summary, ``pruned``/``failed`` as a tag).
* A W&B failure logs one warning and switches the logger off: training goes on, the record stays complete.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any, Callable, Dict, List, Literal, Optional, Tuple, Union

from omegaconf import DictConfig

from birsweep.errors import ConfigError
from birsweep.loggers.wandb_diagnostics import diagnostics_row
from birsweep.loggers.wandb_generator import log_generator_eval
from birsweep.loggers.wandb_names import ENV_MODES, Mode, parse_mode, run_name, study_name, trial_number
from birsweep.loggers.wandb_samples import samples_row
from birsweep.loggers.wandb_start import start_run
from birsweep.models.bir import BIRNet
from birsweep.secrets import mask_secrets
from birsweep.tracking.measured import measured_columns
from birsweep.tracking.record import RecordView
from birsweep.tracking.record_fields import OUTCOME_KEYS, RunStatus, TrialInfo
from birsweep.train.loop.callbacks import RunCallback, TaskEnd

log = logging.getLogger(__name__)

EXIT_CODES = {
    RunStatus.COMPLETED: 0,
    RunStatus.PRUNED: 0,
    RunStatus.FAILED: 1,
    RunStatus.RUNNING: 1,
    RunStatus.INTERRUPTED: 1,
}


class WandbLogger(RunCallback):
    def __init__(self, cfg: DictConfig, several_runs: bool = False):
        self.cfg = cfg
        # a job training several trials keeps their W&B runs open side by side (trials_per_job, docs/sweeps.md)
        self.reinit: Literal["create_new", "finish_previous"] = "create_new" if several_runs else "finish_previous"
        lc = cfg.logger
        self.mode = parse_mode(str(lc.mode))
        env_mode = ENV_MODES.get(os.environ.get("WANDB_MODE", "").strip().lower())
        if env_mode and env_mode != self.mode:  # CI, clusters and test harnesses force a mode this way
            log.info("W&B mode %s from WANDB_MODE (logger.mode=%s)", env_mode, self.mode)
            self.mode = env_mode
        self.name = run_name(cfg)  # fails at start on a bad format
        if lc.log_samples and int(lc.samples_per_class) < 1:
            raise ConfigError(
                f"logger.samples_per_class={lc.samples_per_class} must be at least 1 (or logger.log_samples=false)"
            )
        study = study_name(cfg)
        self.group = lc.group or study or str(cfg.experiment_name)
        self.job_type = lc.job_type or str(cfg.variant.name)
        tags = list(lc.tags) + [str(cfg.variant.name), str(cfg.data.name)] + (["sweep"] if study else [])
        self.tags = list(dict.fromkeys(t for t in tags if t))[:64]
        self.iters = int(cfg.trainer.iters)
        self.init_timeout = float(lc.get("init_timeout", 30))
        if self.init_timeout <= 0:
            raise ConfigError(f"logger.init_timeout={self.init_timeout} must be positive (seconds, e.g. 30)")
        self.silent = bool(lc.get("silent", True))
        self.log_confusion = bool(lc.get("log_confusion", True))
        self.run: Any = None
        self.broken = False
        self.record: Optional[RecordView] = None
        self.logged_tasks = 0
        self.last_step = 0

    # --- safety net ---------------------------------------------------------------------------------------------
    def _safe(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a W&B call; on any error warn once, give up on W&B and let training go on."""
        if self.broken:
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - whatever W&B raises must not stop training
            self.broken = True
            log.warning(
                "W&B %s failed (%s: %s): W&B logging is off for this run, training goes on; "
                "the run record (results.json) is complete",
                what,
                type(err).__name__,
                err,
            )
            run, self.run = self.run, None
            if run is not None:
                try:
                    run.finish(exit_code=1)
                except Exception:  # noqa: BLE001
                    pass
            return None

    # --- callbacks ----------------------------------------------------------------------------------------------
    def on_start(self, record: RecordView) -> Optional[TrialInfo]:
        self.record = record
        if self.run is None and not self.broken:
            self._safe("init", self._init, record)
        # a resumed run: send the history the checkpoint restored, so the W&B run is complete
        self._safe("log", self._replay, record)
        return None

    def on_losses(self, step: int, task: int, values: Dict[str, float]) -> None:
        """``values`` as the record keeps them (rounded to 6 decimals), so W&B and results.json agree exactly."""
        if self.run is None:
            return
        row: Dict[str, Any] = {f"train/{k}": float(v) for k, v in values.items()}
        row["task"] = task
        self._safe("log", self._log, row, step)

    def on_task_end(self, end: TaskEnd) -> None:
        if self.run is not None and self.record is not None:
            self._safe("log", self._log_tasks, self.record, end.task)

    def on_model(self, task: int, model: BIRNet, image_shape: Tuple[int, ...]) -> None:
        """After task ``task``'s evaluation: replayed samples (images) or the class prior (hidden replay)."""
        if self.run is None or not self.cfg.logger.log_samples:
            return
        self._safe("sample logging", self._log_samples, task, model, image_shape)

    def on_end(self, record: RecordView) -> None:
        self.record = record
        if self.run is None and not self.broken:  # set-up failed before on_start: still one finished run
            self._safe("init", self._init, record)
        if self.run is None:
            return
        self._safe("log", self._log_tasks, record)
        self._safe("log", self._log_matrix, record)
        self._safe("summary", self._summary, record)
        self._safe("generator", log_generator_eval, self.run, record, max(self.last_step, 1))  # gen/*, PR curve
        run, self.run = self.run, None
        status = RunStatus(record["status"])
        files_dir = getattr(run, "dir", None)
        self._safe("finish", run.finish, exit_code=EXIT_CODES[status])
        quiet = self.silent or os.environ.get("WANDB_SILENT", "").lower() in ("1", "true", "yes")
        if self.mode == "offline" and not self.broken and files_dir and quiet:  # else W&B prints it itself
            synced = os.path.dirname(files_dir.rstrip(os.sep))
            print(f"W&B offline run ({status.value}): upload with  wandb sync {synced}")

    # --- pieces -------------------------------------------------------------------------------------------------
    def _init(self, record: RecordView) -> None:
        lc = self.cfg.logger
        wandb_parent = lc.dir or record["run_dir"]
        os.makedirs(wandb_parent, exist_ok=True)
        config = mask_secrets(record["config"])
        config["run_dir"] = record["run_dir"]
        self.run, self.mode = start_run(
            lambda mode, settings: self._wandb_init(config, wandb_parent, mode, settings),
            self.mode,
            self.init_timeout,
            self.silent,
        )
        self.run.define_metric("task")
        for prefix in ("acc/*", "val/*", "time/*", "samples/*", "diag/*"):
            self.run.define_metric(prefix, step_metric="task")

    def _wandb_init(self, config: Dict[str, Any], parent: str, mode: Mode, settings: Any) -> Any:
        import wandb

        lc = self.cfg.logger
        return wandb.init(
            project=lc.project,
            entity=lc.entity,
            group=self.group,
            job_type=self.job_type,
            name=self.name,
            tags=self.tags,
            notes=lc.notes,
            config=config,
            dir=parent,
            mode=mode,
            reinit=self.reinit,
            settings=settings,
        )

    def _log(self, row: Dict[str, Any], step: int) -> None:
        self.run.log(row, step=step)
        self.last_step = max(self.last_step, step)

    def _replay(self, record: RecordView) -> None:
        if self.run is None or (not record["losses"] and not record["tasks_done"]):
            return
        losses = record["losses"]
        for t in range(1, record["tasks_done"] + 1):
            for row in losses:
                if row["task"] == t:
                    values = {k: v for k, v in row.items() if k not in ("task", "iter", "step")}
                    self.on_losses(row["step"], t, values)
            self._log_tasks(record, upto=t)

    def _log_tasks(self, record: RecordView, upto: Optional[int] = None) -> None:
        """Per-task accuracies of every finished task not sent yet (also catches up after a pruned task)."""
        upto = record["tasks_done"] if upto is None else upto
        for t in range(self.logged_tasks + 1, upto + 1):
            end = TaskEnd.of(record, t)
            row: Dict[str, Any] = {"task": t, "acc/avg": end.avg_acc}
            if end.val_avg_acc is not None:  # the validation split's average, what a sweep tunes on
                row["val/acc_avg"] = end.val_avg_acc
            for k, acc in enumerate(end.accuracies):
                row[f"acc/task_{k + 1}"] = acc
            if end.seconds is not None:
                row["time/task_s"] = end.seconds
            # diag/*: loggers/wandb_diagnostics.py
            row.update(diagnostics_row(record, t, self.name, confusion=self.log_confusion))
            self._log(row, max(self.last_step, t * self.iters))
            self.logged_tasks = t

    def _log_matrix(self, record: RecordView) -> None:
        import wandb

        from birsweep.tracking.figures import accuracy_heatmap, figure_rgb

        matrix = record["acc_matrix"]
        if not matrix:
            return
        n = record["n_tasks"]
        columns: List[Union[str, int]] = ["after_task", *(f"task_{k + 1}" for k in range(n))]
        table = wandb.Table(
            columns=columns,
            data=[[t + 1] + list(row) for t, row in enumerate(matrix)],
        )
        title = f"{self.name}: accuracy after each task ({record['status']})"
        heatmap = wandb.Image(
            figure_rgb(accuracy_heatmap(matrix, title=title)),
            caption="row t: after training task t; column k: accuracy on task k (%)",
        )
        self._log({"acc_matrix": table, "acc_matrix_heatmap": heatmap}, max(self.last_step, 1))

    def _summary(self, data: RecordView) -> None:
        summary: Dict[str, Any] = {key: data.get(key) for key in OUTCOME_KEYS}
        summary["git_commit"] = (data.get("env") or {}).get("git_commit")
        summary.update(measured_columns(data))  # inert_terms, participation_<term>, diag_*: as the DataFrames
        timings = data.get("timings") or {}
        for key, value in timings.items():
            if not isinstance(value, list):
                summary[key] = value
        trial = data.get("trial") or {}
        number = trial.get("number", trial_number(self.cfg))
        study = trial.get("study_name", study_name(self.cfg))
        if number is not None:
            summary["trial_number"] = number
            summary["study_name"] = study
        params = trial.get("params")
        if params is None and self.cfg.get("optuna") is not None and self.cfg.optuna.params is not None:
            params = dict(self.cfg.optuna.params)
        for key, value in (params or {}).items():
            summary[f"params.{key}"] = value
        summary["run_dir"] = data["run_dir"]
        for key, value in summary.items():
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            self.run.summary[key] = value
        status = RunStatus(data["status"])
        if status != RunStatus.COMPLETED:
            self.run.tags = tuple(self.run.tags or ()) + (status.value,)

    # --- samples ------------------------------------------------------------------------------------------------
    def _log_samples(self, task: int, model: BIRNet, shape: Tuple[int, ...]) -> None:
        order = self.record.get("class_order") if self.record is not None else None
        row = samples_row(self.cfg, order, task, model, shape)
        if row is not None:
            self._log(row, max(self.last_step, task * self.iters))
