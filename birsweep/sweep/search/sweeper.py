"""A Hydra Sweeper that runs an Optuna study: ``python launch.py -m hparams_search=repulsion``.

Per trial: ask Optuna for parameters, make them the job's overrides plus the trial's identity (:mod:`.trial_overrides`:
the job reports to its trial and can be pruned), launch the job, tell Optuna how it ended (COMPLETE with its value,
PRUNED, or FAIL with the reason). ``n_trials`` counts finished trials (a re-run continues to it, jobs numbered by
trial); ``n_jobs`` jobs are in flight as :mod:`.dispatch` decides, each training ``trials_per_job`` trials
(:mod:`.batches`). Stale trials are closed first (sweep/alive/), confirmation runs after the search (sweep/confirm/).
Bad settings raise ConfigError first; too many failed trials or a full or read-only disk (:mod:`.write_faults`)
end the sweep with SweepError after the summary: ``launch.py`` makes it one ``error:`` line and the exit code.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Dict, List, Optional, Sequence, Tuple

import optuna
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from birsweep.errors import RunInterrupted
from birsweep.secrets import mask_url
from birsweep.sweep.alive.in_flight import InFlight
from birsweep.sweep.alive.job_beat import job_beat_of
from birsweep.sweep.alive.liveness import watch_jobs
from birsweep.sweep.alive.owner import Owner
from birsweep.sweep.alive.recovery import recover_stale
from birsweep.sweep.config import OptunaSweeperConfig, check_settings, confirm_config
from birsweep.sweep.confirm.stage import Stage
from birsweep.sweep.confirm.summary import lines as confirm_lines
from birsweep.sweep.errors import SweepError
from birsweep.sweep.search import results
from birsweep.sweep.search.ask import ask
from birsweep.sweep.search.batches import Job, group, outcomes_of
from birsweep.sweep.search.dispatch import LauncherKind, job_threads, plan
from birsweep.sweep.search.factory import build_pruner, plain_config, plain_dict, search_sampler
from birsweep.sweep.search.grammar import SearchSpace, check_searchable, parse_search_space
from birsweep.sweep.search.identity import check_identity, fixed_settings
from birsweep.sweep.search.joblib_guard import guard_joblib_executor
from birsweep.sweep.search.outcome import Outcome, Tally, close_record, log_outcome, outcome_of, tell, trial_id
from birsweep.sweep.search.stop import close_cut_short, stop_like_ctrl_c
from birsweep.sweep.search.study import counted, log_opening, open_study, storage_urls
from birsweep.sweep.search.trial_overrides import trial_overrides
from birsweep.sweep.search.write_faults import write_faults_stop

log = logging.getLogger(__name__)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


class OptunaSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        self.settings = OptunaSweeperConfig(**settings)  # Hydra passes hydra.sweeper's keys, typed on compose
        self.config: Optional[DictConfig] = None
        self.launcher: Any = None
        self.owner = Owner.current()
        self.tally = Tally()
        self.stop_reason: Optional[str] = None
        self.confirm: Optional[Stage] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )
        self.sweep_dir = str(config.hydra.sweep.dir)
        self.compose = lambda overrides: hydra_context.config_loader.load_sweep_config(config, overrides)

    def sweep(self, arguments: List[str]) -> Any:
        with write_faults_stop(self):
            self._prepare(arguments)
            recover_stale(self.study, self.owner, float(self.settings.grace_period), self.settings.retry_failed)
            try:
                self._run()
                if self.confirm is not None and self.stop_reason is None:  # after the search (sweep/confirm/)
                    self.confirm.run(self.study, self.launcher.launch, self.plan.slots, self._search_done())
            finally:
                self._finish()
        if self.stop_reason:
            raise SweepError(self.stop_reason)
        return self.study

    # --- set-up: the space, the sampler and pruner, how jobs reach the launcher, the study -------------------------
    def _prepare(self, arguments: Sequence[str]) -> None:
        s = self.settings
        check_settings(s)
        params = plain_dict(s.params, "hydra.sweeper.params")
        self.space: SearchSpace = parse_search_space(params, arguments)
        check_searchable(self.space)
        self.storage_url, self.job_storage = storage_urls(self.config, s.storage, self.sweep_dir)
        self.sampler, self.target = search_sampler(s.sampler, self.space, s.n_trials)  # no parameter set twice
        self.pruner_dict = plain_config(s.pruner, "pruner")
        self.pruner = build_pruner(self.pruner_dict)
        launcher = LauncherKind.of(self.launcher)
        self.plan = plan(launcher, s.dispatch, s.n_jobs)
        if "JoblibLauncher" in launcher.names:
            guard_joblib_executor()  # slot threads share joblib's one executor; its workers die with the sweep
        for note in self.plan.notes:
            log.warning(note)
        self.threads_override = job_threads(self.config, s.job_threads, launcher, arguments)
        self.inflight = InFlight(float(s.heartbeat_interval), self.owner)
        watch_jobs(self.launcher, s.job_lost_after, lambda n: job_beat_of(self.study, n))  # SLURM: lost jobs
        extra = [self.threads_override] if self.threads_override else []
        beats = float(s.heartbeat_interval), float(s.grace_period)  # its claims beat as trials do (alive/claims.py)
        self.confirm = Stage.create(confirm_config(s.confirm), self.space, self.sweep_dir, extra, self.compose, *beats)
        self.study = open_study(self.storage_url, self.sampler, self.pruner, str(s.study_name), str(s.direction))
        if self.config is not None:  # a study name stands for one set of fixed settings (docs/sweeps.md)
            fixed = fixed_settings(self.config, self.space.searched, parse_search_space(params).fixed)
            check_identity(self.study, fixed, mask_url(self.storage_url))
        os.makedirs(self.sweep_dir, exist_ok=True)
        OmegaConf.save(self.config, os.path.join(self.sweep_dir, "multirun.yaml"))
        in_flight = f"{self.plan.slots} in flight ({self.plan.mode})"
        log_opening(self.study, self.storage_url, self.target, in_flight, self.space)

    # --- ask ------------------------------------------------------------------------------------------------------
    def _remaining(self) -> int:
        """New trials still to ask for: the target less counted finished trials and trials running anywhere."""
        return max(0, self.target - counted(self.study, FINISHED + (TrialState.RUNNING,)))

    def _jobs_remaining(self) -> int:
        return -(-self._remaining() // int(self.settings.trials_per_job))

    def _search_done(self) -> bool:
        return counted(self.study, FINISHED) >= self.target and self._remaining() == 0

    def _ask(self) -> Tuple[optuna.Trial, List[str]]:
        """One new trial, marked as this sweep's and beating (alive/in_flight.py), and its job's overrides."""
        trial, params = ask(self.study, self.space)
        self.inflight.add(trial)
        overrides = trial_overrides(
            self.space.overrides(params),
            self.threads_override,
            storage=self.job_storage,
            study_name=self.study.study_name,
            number=trial.number,
            pruner=self.pruner_dict,
            params=params,
            owner=self.owner.encode(),
            lost_after=float(self.settings.grace_period),
            heartbeat=float(self.settings.heartbeat_interval),
        )
        return trial, overrides

    def _ask_job(self) -> List[Job]:
        """Up to trials_per_job new trials, one job per group of them that may share a batch (search/batches.py)."""
        asked = [self._ask() for _ in range(min(int(self.settings.trials_per_job), self._remaining()))]
        return group([(t.number, dict(t.params), o) for t, o in asked])

    # --- launch ---------------------------------------------------------------------------------------------------
    def _run(self) -> None:
        if self._remaining() == 0:
            log.info("study %r already holds %d finished trials: nothing to run", self.study.study_name, self.target)
            return
        with self.inflight, stop_like_ctrl_c():
            try:
                if self.plan.mode == "slots":
                    self._run_slots()
                else:
                    self._run_batches()
            except (KeyboardInterrupt, RunInterrupted):  # Ctrl-C, or SIGTERM/SIGUSR2 in a job run in this process
                for number in self.inflight.numbers():  # their jobs got the signal too (stop.py), or died
                    close_cut_short(self.study, number, self.sweep_dir)
                raise

    def _launch_one(self, number: int, overrides: List[str]) -> Any:
        try:
            return self.launcher.launch([overrides], initial_job_idx=number)[0]
        except BaseException as err:  # e.g. a joblib worker killed by the OS: this trial fails, the sweep goes on
            return err

    def _run_slots(self) -> None:
        """Each job launched on its own from a thread: a slot freed by a finished job is refilled at once."""
        pool = ThreadPoolExecutor(max_workers=self.plan.slots, thread_name_prefix="optuna-trial")
        futures: Dict[Future[Any], List[int]] = {}
        try:
            while True:
                if self.stop_reason is None:
                    for _ in range(min(self.plan.slots - len(futures), self._jobs_remaining())):
                        for numbers, overrides in self._ask_job():
                            futures[pool.submit(self._launch_one, numbers[0], overrides)] = numbers
                if not futures:
                    break
                done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                for fut in done:
                    self._conclude_job(futures.pop(fut), fut.result())
        finally:
            stop_waiting = getattr(self.launcher, "stop_waiting", None)
            if futures and callable(stop_waiting):  # stopping: the SLURM launcher cancels its jobs, waits no more
                stop_waiting()
            pool.shutdown(wait=True)

    def _run_batches(self) -> None:
        """``n_jobs`` jobs per ``launcher.launch`` call; a stop signal in a job run here stops the sweep."""
        if int(self.settings.trials_per_job) > 1:  # a job's dir is its first trial's: launched one by one
            while self.stop_reason is None and self._jobs_remaining() > 0:
                jobs = [job for _ in range(min(self.plan.slots, self._jobs_remaining())) for job in self._ask_job()]
                for numbers, overrides in jobs:
                    self._conclude_job(numbers, self.launcher.launch([overrides], initial_job_idx=numbers[0])[0])
            return
        while self.stop_reason is None:
            n = min(self.plan.slots, self._remaining())
            if n == 0:
                break
            asked = [self._ask() for _ in range(n)]
            numbers = [t.number for t, _ in asked]
            if numbers == list(range(numbers[0], numbers[0] + n)):
                returns: List[Any] = list(self.launcher.launch([o for _, o in asked], initial_job_idx=numbers[0]))
            else:  # another sweep asked in between: keep job numbers equal to trial numbers
                returns = [self._launch_one(num, o) for num, (_, o) in zip(numbers, asked)]
            for number, ret in zip(numbers, returns):
                self._conclude(number, outcome_of(ret))

    # --- tell -----------------------------------------------------------------------------------------------------
    def _conclude_job(self, numbers: List[int], ret: Any) -> None:
        for number, outcome in outcomes_of(ret, numbers).items():
            self._conclude(number, outcome)

    def _conclude(self, number: int, outcome: Outcome) -> None:
        self._tell(number, outcome)
        self.tally.add(number, outcome)
        log_outcome(number, outcome, self.study._storage.get_trial(trial_id(self.study, number)).params)
        if outcome.state == TrialState.FAIL and self.stop_reason is None:
            self.stop_reason = self.tally.stop_reason(
                float(self.settings.max_failure_rate), lambda: self._remaining() == 0
            )
            if self.stop_reason:
                log.error(self.stop_reason)

    def _tell(self, number: int, outcome: Outcome, retryable: bool = False) -> None:
        self.inflight.discard(number)
        tell(self.study, number, outcome, retryable)
        if outcome.state == TrialState.FAIL:  # a job killed before it could close its record: close it here
            close_record(self.study, number, str(outcome.reason))

    # --- the end --------------------------------------------------------------------------------------------------
    def _finish(self) -> None:
        """The results files and the summary, also when the sweep stopped on failures or was interrupted."""
        if not hasattr(self, "study"):
            return
        done = self._search_done()
        block = self.confirm.summary(self.study, done, self.stop_reason) if self.confirm is not None else None
        results.write(self.study, self.sweep_dir, self.storage_url, self.target, block)
        hint = mask_url(self.storage_url) if self.settings.dashboard_hint else None
        extra = confirm_lines(block) if block is not None else []
        print(results.render(self.study, self.storage_url, self.target, self.sweep_dir, hint, extra=extra), flush=True)
