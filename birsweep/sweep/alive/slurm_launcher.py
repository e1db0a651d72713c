"""``hydra/launcher=slurm`` and ``slurm_cpu``: hydra-submitit-launcher's SLURM launcher with liveness and requeue.

* Sweep side, :meth:`SlurmLauncher.launch` waits for each job with a bound instead of submitit's endless wait: a
  job that shows no sign of life for ``job_lost_after`` s (no new job heartbeat, not queued) or that SLURM lists as
  ended without a result is cancelled and its trial concluded FAIL (:class:`.liveness.JobWatch`), also without
  accounting, where submitit sees state UNKNOWN for ever. sacct's failures are reported once, not at every poll.
* Job side, :meth:`SlurmLauncher.__call__` beats ``job_heartbeat`` from the job's start (:class:`JobBeat`). A run
  stopped by SIGUSR2 (time limit near, preemption) has written its record as interrupted and kept its checkpoint;
  the launcher then hands over to submitit's own SIGUSR2 handler, which pickles the callable (this launcher with the
  same overrides, :meth:`checkpoint`) and requeues the job; the requeued job resumes from its last finished task
  (``resume=auto``) while its Optuna trial stays RUNNING. ``max_num_timeout`` bounds requeues at the time limit.
  A run stopped by SIGTERM (``scancel``) ends without a result: its trial is FAIL. A sweep that stops (Ctrl-C)
  cancels the jobs it still waits for.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, ContextManager, Dict, List, Optional, Sequence

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides, run_job, setup_globals
from omegaconf import DictConfig, OmegaConf, open_dict

from birsweep.errors import BirsweepError, RunInterrupted
from birsweep.sweep.alive.job_beat import JobBeat
from birsweep.sweep.alive.liveness import JobWatch, TrialWatch
from hydra_plugins.hydra_submitit_launcher import submitit_launcher as _submitit  # the module: see the plugin
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

log = logging.getLogger(__name__)

SQUEUE_TIMEOUT_S = 30
NOT_SHOWN_AGAIN = "; not shown again: without accounting the sweep judges jobs by squeue and their heartbeat"


class JobLostError(BirsweepError):
    """The sweep stopped waiting for a SLURM job: it vanished, or ended without handing back a result."""


def quiet_sacct_watcher() -> Any:
    """submitit's shared SLURM state watcher, but one that calls sacct with its error stream captured and says once
    that sacct fails (without accounting submitit prints "Bypassing sacct error" and sacct's own error at every
    poll); job states then come from squeue and heartbeats. Installed once per process, before the first job."""
    from submitit.slurm import slurm

    class QuietSacctWatcher(slurm.SlurmInfoWatcher):
        birsweep_quiet = True
        warned = False

        def update(self) -> None:
            command = self._make_command()
            if command is None:
                return
            self._num_calls += 1
            try:
                self._output = subprocess.check_output(command, stderr=subprocess.PIPE, timeout=SQUEUE_TIMEOUT_S)
            except (OSError, subprocess.SubprocessError) as err:
                if not QuietSacctWatcher.warned:
                    QuietSacctWatcher.warned = True
                    detail = getattr(err, "stderr", None) or b""
                    log.warning("sacct fails (%s)%s", detail.decode(errors="replace").strip() or err, NOT_SHOWN_AGAIN)
            else:
                self._info_dict.update(self.read_info(self._output))
            self._last_status_check = time.time()
            for job_id in self._registered - self._finished:
                if self.is_done(job_id, mode="cache"):
                    self._finished.add(job_id)

    if not getattr(slurm.SlurmJob.watcher, "birsweep_quiet", False):
        slurm.SlurmJob.watcher = QuietSacctWatcher(delay_s=slurm.SlurmJob.watcher._delay_s)
    return slurm.SlurmJob.watcher


def queue_state(job_id: str) -> Optional[str]:
    """SLURM's state word for the job (squeue's %T; works without accounting), None when it does not list it."""
    try:
        out = subprocess.run(
            ["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T"],
            capture_output=True,
            text=True,
            timeout=SQUEUE_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    words = out.stdout.split()
    return words[0] if out.returncode == 0 and words else None


def gist(err: BaseException) -> str:
    """One line for a job's failure: submitit's own words and, when the job's traceback follows, its last line (the
    exception the job raised)."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip() and set(line.strip()) != {"-"}]
    if not lines:
        return type(err).__name__
    return lines[0][:200] if len(lines) == 1 else f"{lines[0][:120]} {lines[-1][:200]}"


def failed_return(overrides: Sequence[str], err: BaseException) -> JobReturn:
    ret = JobReturn(overrides=list(overrides), status=JobStatus.FAILED)
    ret.return_value = err
    return ret


class SlurmLauncher(_submitit.SlurmLauncher):  # type: ignore[misc]
    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._watch: Optional[TrialWatch] = None
        self._stopping: Optional[threading.Event] = threading.Event()

    def watch_trials(self, watch: TrialWatch) -> None:
        """The sweeper's seam: how to read a trial's job heartbeat and how long a silent job may stay."""
        self._watch = watch

    def stop_waiting(self) -> None:
        """The sweep is stopping (Ctrl-C, a stop signal): cancel the jobs still awaited and return at once, instead
        of waiting for them to end; their trials are failed (retryable) by the sweeper."""
        if self._stopping is not None:
            self._stopping.set()

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state["_watch"] = state["_stopping"] = None  # the sweep's storage handle and event stay with the sweep
        return state

    # --- sweep side -----------------------------------------------------------------------------------------------
    def _executor(self) -> Any:
        import submitit

        params = dict(self.params)
        folder = params.pop("submitit_folder")
        init = (
            {f"{self._EXECUTOR}_max_num_timeout": params.pop("max_num_timeout")} if "max_num_timeout" in params else {}
        )
        executor = submitit.AutoExecutor(folder=folder, cluster=self._EXECUTOR, **init)
        queue_keys = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{k if k in queue_keys else f"{self._EXECUTOR}_{k}": v for k, v in params.items()})
        return executor

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.config is not None
        if self._watch is None:  # not run by birsweep's sweeper: submitit's own wait
            returns: Sequence[JobReturn] = super().launch(job_overrides, initial_job_idx)
            return returns
        quiet_sacct_watcher()
        executor = self._executor()
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        job_params: List[Any] = []
        for offset, overrides in enumerate(job_overrides):
            number = initial_job_idx + offset
            log.info("\t#%d : %s", number, " ".join(filter_overrides(overrides)))
            job_params.append(
                (list(overrides), "hydra.sweep.dir", number, f"job_id_for_{number}", Singleton.get_state())
            )
        jobs = executor.map_array(self, *zip(*job_params))
        return [self._await(job, p[2], p[0]) for job, p in zip(jobs, job_params)]

    def _await(self, job: Any, number: int, overrides: Sequence[str]) -> JobReturn:
        """The job's JobReturn once it ends; a failed one when it is lost (then it is cancelled, to be sure)."""
        assert self._watch is not None
        watch = JobWatch(self._watch.lost_after, started=time.monotonic())
        while not job.done():
            why = watch.observe(time.monotonic(), self._watch.job_beat(number), queue_state(job.job_id))
            if why is None and self._stopping is not None and self._stopping.is_set():
                why = "the sweep stopped"
            if why is not None:
                job.cancel(check=False)
                log.warning("trial %d: SLURM job %s cancelled: %s", number, job.job_id, why)
                return failed_return(overrides, JobLostError(f"SLURM job {job.job_id}: {why}"))
            self._pause(self._watch.poll_s)
        try:
            result: JobReturn = job.results()[0]
            return result
        except Exception as err:  # ended without a result (cancelled, killed, its requeue refused): say so briefly
            reason = f"SLURM job {job.job_id} ended {job.state} without a result ({gist(err)}; log: {job.paths.stderr})"
            return failed_return(overrides, JobLostError(reason))

    def _pause(self, seconds: float) -> None:
        """Sleep between looks at a job; cut short when the sweep stops."""
        if self._stopping is None:
            time.sleep(seconds)
        else:
            self._stopping.wait(seconds)

    # --- job side -------------------------------------------------------------------------------------------------
    def __call__(
        self,
        sweep_overrides: List[str],
        job_dir_key: str,
        job_num: int,
        job_id: str,
        singleton_state: Dict[type, Singleton],
    ) -> JobReturn:
        import submitit

        assert self.hydra_context is not None and self.config is not None and self.task_function is not None
        Singleton.set_state(singleton_state)
        setup_globals()
        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, sweep_overrides)
        with open_dict(sweep_config.hydra.job):
            sweep_config.hydra.job.id = submitit.JobEnvironment().job_id
            sweep_config.hydra.job.num = job_num
        try:
            with job_beat(sweep_config):
                return run_job(
                    hydra_context=self.hydra_context,
                    task_function=self.task_function,
                    config=sweep_config,
                    job_dir_key=job_dir_key,
                    job_subdir_key="hydra.sweep.subdir",
                )
        except RunInterrupted as err:  # the record says interrupted and the last task's checkpoint is kept
            if err.signum == signal.SIGUSR2:
                hand_to_submitit(err.signum)  # checkpoint + requeue (exits), or raises: requeue refused
            log.warning("job %s stopped by %s: its trial is failed by the sweep", job_num, err.signame)
            raise SystemExit(128 + err.signum) from None  # no result: the sweep reads SLURM's state


def job_beat(cfg: DictConfig) -> ContextManager[Any]:
    """The job's heartbeat for its trial, as its ``optuna`` node says; nothing outside a sweep."""
    trial = OmegaConf.select(cfg, "optuna")
    if trial is None or trial.get("heartbeat_interval") is None:
        return nullcontext()
    job_id = OmegaConf.select(cfg, "hydra.job.id")
    return JobBeat(trial.storage, trial.study_name, trial.trial_number, float(trial.heartbeat_interval), job_id)


REQUEUE_TRIES = 3


def hand_to_submitit(signum: int, pause_s: float = 2.0) -> None:
    """Call the handler submitit installed for ``signum`` (ours replaced it during training, and put it back). For
    SIGUSR2 it checkpoints, asks SLURM to requeue the job and exits; when that raises (``scontrol requeue`` refused,
    e.g. by a busy controller) it is tried again, since a job that ends here has lost its trial."""
    handler = signal.getsignal(signum)
    if not callable(handler):
        return
    for attempt in range(1, REQUEUE_TRIES + 1):
        try:
            handler(signum, None)
            return
        except Exception as err:
            if attempt == REQUEUE_TRIES:
                raise
            log.warning("requeue attempt %d failed (%s: %s); trying again", attempt, type(err).__name__, err)
            time.sleep(pause_s)
