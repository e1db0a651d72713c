"""A Hydra Sweeper that runs an Optuna study: ``python launch.py -m hparams_search=repulsion``.

For every trial the sweeper asks Optuna for parameters, turns them into the job's overrides, adds the trial's
identity (``+optuna=trial optuna.storage=... optuna.trial_number=N ...``: :mod:`birsweep.sweep.trial_overrides`)
so the job can report to its trial and be pruned, launches the job with whichever Hydra launcher is selected, and
tells Optuna how it ended: COMPLETE with the job's return value, PRUNED when the job was pruned, FAIL with the
reason otherwise. The study itself, and the storage it and the jobs open, come from :mod:`birsweep.sweep.study`.

* Budget: ``n_trials`` is the number of finished trials (complete, pruned or failed) the study should hold; a
  re-run of the same command continues until it does, numbering jobs (``hydra.job.num``) by trial number.
* In flight: ``n_jobs`` jobs at a time, handed to the launcher as :mod:`birsweep.sweep.dispatch` decides; each
  job trains ``trials_per_job`` trials (one by default; several in one process: :mod:`birsweep.sweep.batch_job`).
* Crashes: trials left RUNNING by a sweep that died are closed at the next start (:mod:`birsweep.sweep.recovery`).
* Confirmation (``confirm.top_k > 0``): once the search is done, its best configurations and the baseline run on
  fresh seeds (:mod:`birsweep.sweep.confirm`); the summary and the results file then carry the comparison.
* Errors: bad settings raise ConfigError before anything runs; too many failed trials end the sweep with
  SweepError after the summary. ``launch.py`` turns both into one ``error:`` line and the exit code.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Dict, List, Optional, Sequence, Tuple

import optuna
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from birsweep.errors import ConfigError, RunInterrupted
from birsweep.secrets import mask_url
from birsweep.sweep import results
from birsweep.sweep.ask import ask
from birsweep.sweep.batch_job import Job, group, outcomes_of
from birsweep.sweep.config import OptunaSweeperConfig, check_settings, confirm_config
from birsweep.sweep.confirm import Stage
from birsweep.sweep.confirm_summary import lines as confirm_lines
from birsweep.sweep.dispatch import LauncherKind, plan, threads_override, user_set_threads
from birsweep.sweep.distinct import distinct
from birsweep.sweep.errors import SweepError
from birsweep.sweep.factory import build_pruner, build_sampler, plain_config, plain_dict, sampler_maker
from birsweep.sweep.grammar import SearchSpace, parse_search_space
from birsweep.sweep.heartbeat import InFlight
from birsweep.sweep.identity import check_identity, fixed_settings
from birsweep.sweep.joblib_guard import guard_joblib_executor
from birsweep.sweep.labels import format_params
from birsweep.sweep.liveness import JOB_HEARTBEAT, watch_jobs
from birsweep.sweep.outcome import Outcome, Tally, close_record, outcome_of, tell, trial_id
from birsweep.sweep.owner import Owner
from birsweep.sweep.recovery import recover_stale
from birsweep.sweep.study import open_study, storage_urls
from birsweep.sweep.trial_overrides import trial_overrides

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
        self._prepare(arguments)
        recover_stale(self.study, self.owner, float(self.settings.grace_period), self.settings.retry_failed)
        try:
            self._run()
            if self.confirm is not None and self.stop_reason is None:  # after the search (birsweep/sweep/confirm.py)
                self.confirm.run(self.study, self.launcher.launch, self.plan.slots, self._search_done())
        finally:
            self._finish()
        if self.stop_reason:
            raise SweepError(self.stop_reason)
        return self.study

    # --- set-up ---------------------------------------------------------------------------------------------------
    def _prepare(self, arguments: Sequence[str]) -> None:
        s = self.settings
        check_settings(s)
        params = plain_dict(s.params, "hydra.sweeper.params")
        self.space: SearchSpace = parse_search_space(params, arguments)
        if not self.space.distributions:
            raise ConfigError(
                "nothing to search: give hydra.sweeper.params (e.g. hparams_search=repulsion) or a "
                "sweep override such as variant.rep_f=interval(1,30)"
            )
        self.storage_url, self.job_storage = storage_urls(self.config, s.storage, self.sweep_dir)
        _, self.target = build_sampler(s.sampler, self.space, s.n_trials)
        make, seed = sampler_maker(s.sampler, self.space, s.n_trials)
        self.sampler = distinct(make, seed, self.space)  # no parameter set twice (birsweep/sweep/distinct.py)
        self.pruner_dict = plain_config(s.pruner, "pruner")
        self.pruner = build_pruner(self.pruner_dict)
        launcher = LauncherKind.of(self.launcher)
        self.plan = plan(launcher, s.dispatch, s.n_jobs)
        if "JoblibLauncher" in launcher.names:
            guard_joblib_executor()  # slot threads share joblib's one executor; its workers die with the sweep
        for note in self.plan.notes:
            log.warning(note)
        has_trainer = self.config is not None and OmegaConf.select(self.config, "trainer") is not None
        chosen = OmegaConf.select(self.config, "trainer.threads") if self.config is not None and has_trainer else None
        self.threads_override = threads_override(
            s.job_threads, launcher, has_trainer, user_set_threads(chosen, arguments)
        )
        self.inflight = InFlight(float(s.heartbeat_interval))
        watch_jobs(self.launcher, s.job_lost_after, self._job_beat)  # SLURM: a vanished job is given up on
        extra = [self.threads_override] if self.threads_override else []
        self.confirm = Stage.create(confirm_config(s.confirm), self.space, self.sweep_dir, extra, self.compose)
        if self.confirm is not None:  # its claims on runs beat and are judged as trials are (confirm_claim.py)
            self.confirm.beat_s, self.confirm.lost_after_s = float(s.heartbeat_interval), float(s.grace_period)
        self.study = open_study(self.storage_url, self.sampler, self.pruner, str(s.study_name), str(s.direction))
        if self.config is not None:  # a study name stands for one set of fixed settings (docs/sweeps.md)
            fixed = fixed_settings(self.config, self.space.searched, parse_search_space(params).fixed)
            check_identity(self.study, fixed, mask_url(self.storage_url))
        os.makedirs(self.sweep_dir, exist_ok=True)
        OmegaConf.save(self.config, os.path.join(self.sweep_dir, "multirun.yaml"))
        log.info(
            "Optuna study %r (%s) in %s: %d finished trials wanted, %d in flight (%s), sampler %s, pruner %s",
            self.study.study_name,
            self.study.direction.name.lower(),
            mask_url(self.storage_url),
            self.target,
            self.plan.slots,
            self.plan.mode,
            type(getattr(self.sampler, "base", self.sampler)).__name__,
            type(self.pruner).__name__,
        )
        for key, dist in self.space.distributions.items():
            log.info("  %s: %s", key, dist)
        for key, dist in self.space.conditional.items():
            log.info("  %s: %s when %s", key, dist, self.space.conditions[key])

    # --- the loop -------------------------------------------------------------------------------------------------
    def _remaining(self) -> int:
        """New trials still to ask for: the target less finished trials and trials running anywhere."""
        trials = self.study.get_trials(deepcopy=False, states=FINISHED + (TrialState.RUNNING,))
        return max(0, self.target - len(trials))

    def _jobs_remaining(self) -> int:
        k = int(self.settings.trials_per_job)
        return -(-self._remaining() // k)

    def _ask_job(self) -> List[Job]:
        """Up to trials_per_job new trials, one job per group of them that may share a batch (sweep/batch_job.py)."""
        asked = [self._ask() for _ in range(min(int(self.settings.trials_per_job), self._remaining()))]
        return group([(t.number, dict(t.params), o) for t, o in asked])

    def _search_done(self) -> bool:
        return len(self.study.get_trials(deepcopy=False, states=FINISHED)) >= self.target and self._remaining() == 0

    def _ask(self) -> Tuple[optuna.Trial, List[str]]:
        trial, params = ask(self.study, self.space)
        trial.set_user_attr("owner", self.owner.encode())
        trial.set_user_attr("heartbeat", time.time())
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
        self.inflight.add(trial)
        return trial, overrides

    def _job_beat(self, number: int) -> Any:
        try:
            return self.study._storage.get_trial(trial_id(self.study, number)).user_attrs.get(JOB_HEARTBEAT)
        except Exception:  # the storage is briefly busy: no news this time
            return None

    def _launch_one(self, number: int, overrides: List[str]) -> Any:
        try:
            return self.launcher.launch([overrides], initial_job_idx=number)[0]
        except BaseException as err:  # e.g. a joblib worker killed by the OS: this trial fails, the sweep goes on
            return err

    def _run(self) -> None:
        if self._remaining() == 0:
            log.info("study %r already holds %d finished trials: nothing to run", self.study.study_name, self.target)
            return
        with self.inflight:
            try:
                if self.plan.mode == "slots":
                    self._run_slots()
                else:
                    self._run_batches()
            except (KeyboardInterrupt, RunInterrupted):  # Ctrl-C, or SIGTERM/SIGUSR2 in a job run in this process
                for number in self.inflight.numbers():
                    self._tell(number, Outcome(TrialState.FAIL, reason="sweep interrupted"), retryable=True)
                raise

    def _run_slots(self) -> None:
        """Each trial launched on its own from a thread: a slot freed by a finished trial is refilled at once."""
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
        if int(self.settings.trials_per_job) > 1:  # a job's dir is its first trial's: launched one by one
            while self.stop_reason is None and self._jobs_remaining() > 0:
                jobs = [job for _ in range(min(self.plan.slots, self._jobs_remaining())) for job in self._ask_job()]
                for numbers, overrides in jobs:  # as below: a stop signal in a job run here stops the sweep
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

    def _conclude_job(self, numbers: List[int], ret: Any) -> None:
        for number, outcome in outcomes_of(ret, numbers).items():
            self._conclude(number, outcome)

    def _conclude(self, number: int, outcome: Outcome) -> None:
        self._tell(number, outcome)
        self.tally.add(number, outcome)
        params = self.study._storage.get_trial(trial_id(self.study, number)).params
        value = f" {outcome.value:.4f}" if outcome.value is not None else ""
        log.info(
            "trial %d %s%s  %s%s",
            number,
            outcome.state.name,
            value,
            format_params(params),
            f"  ({outcome.reason})" if outcome.state == TrialState.FAIL else "",
        )
        if outcome.state == TrialState.FAIL and self.stop_reason is None:
            self.stop_reason = self.tally.too_many_failures(
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
