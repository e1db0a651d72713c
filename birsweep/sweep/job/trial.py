"""The job side of a sweep: report the average accuracy after every task (on the validation split when the run has
one, never the test set then) to the job's Optuna trial and stop when the study's pruner says so.

The sweeper passes the trial's identity, the storage and the pruner's config through the job's ``optuna`` config
node (:class:`birsweep.schema.TrialConfig`). The job opens the storage itself, so this works in the sweeper's own
process (basic launcher), in joblib's worker processes and on other machines (submitit), and rebuilds the same
pruner from its config, since Optuna does not store pruners with the study.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, List, Optional

import optuna
from omegaconf import DictConfig

from birsweep.config_check import tasks_to_run
from birsweep.errors import BirsweepError, ConfigError, RunPruned
from birsweep.secrets import mask_url
from birsweep.sweep.alive.liveness import SWEEP_HEARTBEAT, Silence, sweep_gone
from birsweep.sweep.alive.owner import Owner
from birsweep.sweep.job.log_tag import tag_logs, untag_logs
from birsweep.sweep.search.factory import build_pruner, plain_dict
from birsweep.sweep.search.storage import open_storage
from birsweep.tracking.record import RecordView
from birsweep.tracking.record_fields import RunStatus, TrialInfo
from birsweep.train.loop.callbacks import RunCallback, TaskEnd
from birsweep.train.loop.signals import deferred

log = logging.getLogger(__name__)


class TrialClosedError(BirsweepError):
    """The job's trial was finished by someone else (a later sweep closed it as stale)."""


class SweepGoneError(TrialClosedError):
    """The sweep process that launched the job died: nobody would record the trial's end, so the job stops."""


class TrialHandle(RunCallback):
    def __init__(
        self,
        storage: str,
        study_name: str,
        trial_number: int,
        pruner: Any = None,
        params: Optional[Dict[str, Any]] = None,
        owner: Optional[str] = None,
        sweep_lost_after: Optional[float] = None,
    ):
        self.storage_spec, self.study_name, self.number = str(storage), str(study_name), int(trial_number)
        self.pruner_config = pruner
        self.params = dict(params or {})
        self.owner = Owner.decode(owner)
        self.sweep_lost_after = None if sweep_lost_after is None else float(sweep_lost_after)
        self.clock: Callable[[], float] = time.monotonic  # tests swap in a fake one
        self.sweep_silence = Silence()
        self.n_tasks: Optional[int] = None
        self._inert: Optional[List[str]] = None  # the inert terms last written to the trial
        self._trial: Optional[optuna.Trial] = None

    @classmethod
    def from_config(cls, cfg: DictConfig) -> TrialHandle:
        t = cfg.optuna
        params = plain_dict(t.params, "optuna.params")
        handle = cls(t.storage, t.study_name, t.trial_number, t.pruner, params, t.owner, t.sweep_lost_after)
        handle.n_tasks = tasks_to_run(cfg)
        return handle

    # --- the trial in the storage ---------------------------------------------------------------------------------
    def connect(self) -> optuna.Trial:
        if self._trial is None:
            storage = open_storage(self.storage_spec)
            pruner = build_pruner(self.pruner_config)
            try:
                study = optuna.load_study(study_name=self.study_name, storage=storage, pruner=pruner)
                study_id = storage.get_study_id_from_name(self.study_name)
                trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, self.number)
            except KeyError as err:
                raise ConfigError(
                    f"no trial {self.number} in study {self.study_name!r} at {mask_url(self.storage_spec)}: {err}"
                ) from None
            self._storage, self._trial_id = storage, trial_id
            self._trial = optuna.Trial(study, trial_id)
        return self._trial

    def state(self) -> optuna.trial.TrialState:
        self.connect()
        return self._storage.get_trial(self._trial_id).state

    def _check_open(self) -> None:
        self.connect()
        trial = self._storage.get_trial(self._trial_id)
        state = trial.state
        if state != optuna.trial.TrialState.RUNNING:
            raise TrialClosedError(
                f"trial {self.number} of study {self.study_name!r} is already {state.name}: "
                "a later sweep closed it (its sweep had stopped); this job stops"
            )
        if self.owner is not None and self.owner.alive() is False:
            raise SweepGoneError(
                f"the sweep that launched trial {self.number} ({self.owner}) is gone; this job "
                "stops: re-run the sweep to resume the study"
            )
        why = sweep_gone(self.sweep_silence, trial.user_attrs.get(SWEEP_HEARTBEAT), self.clock(), self.sweep_lost_after)
        if why is not None:  # any host: the sweep's heartbeat in the storage stopped changing
            raise SweepGoneError(
                f"the sweep that launched trial {self.number} is gone ({why}); this job stops: "
                "re-run the sweep to resume the study"
            )

    # --- callbacks ------------------------------------------------------------------------------------------------
    def on_start(self, record: RecordView) -> Optional[TrialInfo]:
        """Check the trial is still open, point it at the run dir and hand the loop the trial to record."""
        tag_logs(self.number)  # until on_end (which always follows): the job's console lines carry its trial number
        with deferred():  # a stop signal is raised between storage calls, never inside one
            trial = self.connect()
            self._check_open()
            params = self.params or dict(self._storage.get_trial(self._trial_id).params)
            trial.set_user_attr("run_dir", record["run_dir"])
        return TrialInfo(
            study_name=self.study_name, number=self.number, params=params, storage=mask_url(self.storage_spec)
        )

    def on_task_end(self, end: TaskEnd) -> None:
        task, value = end.task, float(end.objective)  # validation accuracy when the run has a split
        with deferred():  # a stop signal is raised between storage calls, never inside one
            trial = self.connect()
            self._check_open()
            inert = list(end.inert_terms)
            if inert != self._inert:  # terms that acted on no sample so far: the trial trained as the baseline does
                trial.set_user_attr("inert_terms", inert)
                self._inert = inert
            trial.report(value, step=task)
            final = self.n_tasks is not None and task >= self.n_tasks
            prune = not final and trial.should_prune()  # a finished run is never thrown away
        if prune:
            what = "validation" if end.val_avg_acc is not None else "average"
            log.info("trial %d pruned after task %d: %s accuracy %.4f", self.number, task, what, value)
            raise RunPruned(f"pruned after task {task}: {what} accuracy {value:.4f}")

    def on_finish(self, status: RunStatus) -> Optional[str]:
        """A completed run whose trial a later sweep already failed must not claim success."""
        if status != RunStatus.COMPLETED or self._trial is None:
            return None
        try:
            with deferred():
                state = self.state()
        except Exception:  # the storage is unreachable: the sweeper decides from the job's return value
            return None
        if state.is_finished():
            return (
                f"TrialClosedError: trial {self.number} was already {state.name} when the run finished "
                "(a later sweep closed it)"
            )
        return None

    def on_end(self, record: RecordView) -> None:
        untag_logs()  # the sweeper's own lines (basic launcher: same process) stay untagged
