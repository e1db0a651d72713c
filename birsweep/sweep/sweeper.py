"""A Hydra Sweeper that runs an Optuna study: ``python launch.py -m hparams_search=repulsion``.

For every trial the sweeper asks Optuna for parameters, turns them into the job's overrides, adds the trial's
identity (``+optuna=trial optuna.storage=... optuna.trial_number=N ...``) so the job can report to its trial and be
pruned, launches the job with whichever Hydra launcher is selected, and tells Optuna how it ended: COMPLETE with
the job's return value, PRUNED when the job raised ``birsweep.errors.RunPruned``, FAIL with the reason otherwise.

* Budget: ``n_trials`` is the number of finished trials (complete, pruned or failed) the study should hold; a
  re-run of the same command continues until it does, numbering jobs (``hydra.job.num``) by trial number.
* In flight: ``n_jobs`` trials at a time. With out-of-process launchers (joblib, submitit) each trial is launched
  on its own from a thread, so a slot freed by a finished or pruned trial is refilled at once; the basic launcher
  runs trials one after another in this process; other launchers get batches of ``n_jobs``.
* Crashes: trials left RUNNING by a sweep that died are recovered at the next start (see ``_recover_stale``).
"""
from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import optuna
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from birsweep.errors import BirsweepError, ConfigError, RunPruned, last_line
from birsweep.sweep import TRIAL_GROUP, TRIAL_OPTION, results
from birsweep.sweep import storage as storages
from birsweep.sweep.grammar import SearchSpace, format_value, grid_values, parse_search_space
from birsweep.sweep.owner import Owner
from birsweep.sweep.trial import build_pruner
from birsweep.tracking.record import RunStatus, mark_stale, try_load
from birsweep.tracking.secrets import mask_url

log = logging.getLogger(__name__)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
OWNERLESS_GRACE_S = 5.0  # a RUNNING trial nobody has marked as theirs after this long was asked by a dead sweep
MIN_TRIALS_FOR_FAILURE_RATE = 4  # the failure rate is judged once this many trials (or all) have finished
OUT_OF_PROCESS_LAUNCHERS = ("JoblibLauncher", "BaseSubmititLauncher")


class SweepError(BirsweepError):
    """The sweep stopped: too many failed trials."""


@dataclass
class Outcome:
    state: TrialState
    value: Optional[float] = None
    reason: Optional[str] = None


@dataclass
class Tally:
    """Trials this invocation finished."""

    states: Dict[str, int] = field(default_factory=lambda: {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0})
    reasons: List[str] = field(default_factory=list)

    @property
    def finished(self) -> int:
        return sum(self.states.values())

    def failure_rate(self) -> float:
        return self.states["FAIL"] / self.finished if self.finished else 0.0


def outcome_of(ret: Any) -> Outcome:
    """How a job ended, from its JobReturn (or the exception the launcher raised instead of returning one)."""
    if isinstance(ret, BaseException):
        return Outcome(TrialState.FAIL, reason=f"launcher: {type(ret).__name__}: {last_line(ret)}")
    if not isinstance(ret, JobReturn):
        return Outcome(TrialState.FAIL, reason=f"launcher returned {type(ret).__name__}, not a JobReturn")
    value = getattr(ret, "_return_value", None)  # JobReturn.return_value re-raises a job's exception
    if ret.status == JobStatus.COMPLETED:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return Outcome(TrialState.FAIL, reason=f"the job returned {value!r}, not a number")
        if not math.isfinite(number):
            return Outcome(TrialState.FAIL, reason=f"the job returned {number}")
        return Outcome(TrialState.COMPLETE, value=number)
    if isinstance(value, RunPruned):
        return Outcome(TrialState.PRUNED, reason=str(value) or None)
    if isinstance(value, BaseException):
        return Outcome(TrialState.FAIL, reason=f"{type(value).__name__}: {last_line(value)}")
    return Outcome(TrialState.FAIL, reason=f"job status {ret.status.name}")


def runs_jobs_side_by_side_here(launcher: Any) -> bool:
    """joblib and submitit's local executor run several jobs as processes on this machine's cores."""
    names = {c.__name__ for c in type(launcher).__mro__}
    return "JoblibLauncher" in names or ("LocalLauncher" in names and "submitit" in type(launcher).__module__)


def joblib_pool_size(n_jobs: Any, cpus: Optional[int] = None) -> int:
    """Worker processes joblib starts for ``n_jobs``: n > 0 as is, -1 all CPUs, -2 all but one, ..."""
    cpus = cpus or os.cpu_count() or 1
    if n_jobs is None:
        return cpus
    n = int(n_jobs)
    return n if n > 0 else max(1, cpus + 1 + n)


class OptunaSweeper(Sweeper):
    def __init__(self, direction: str = "maximize", study_name: Optional[str] = None, storage: Optional[str] = None,
                 n_trials: int = 20, n_jobs: int = 1, max_failure_rate: float = 0.5, sampler: Any = None,
                 pruner: Any = None, params: Any = None, retry_failed: bool = False, dispatch: str = "auto",
                 job_threads: Any = "auto", heartbeat_interval: float = 30.0, grace_period: float = 600.0,
                 dashboard_hint: bool = True) -> None:
        self.direction, self.study_name, self.storage = direction, study_name, storage
        self.n_trials, self.n_jobs, self.max_failure_rate = n_trials, n_jobs, max_failure_rate
        self.sampler_config, self.pruner_config, self.params = sampler, pruner, params
        self.retry_failed, self.dispatch, self.job_threads = retry_failed, dispatch, job_threads
        self.heartbeat_interval, self.grace_period = heartbeat_interval, grace_period
        self.dashboard_hint = dashboard_hint
        self.config: Optional[DictConfig] = None
        self.hydra_context: Optional[HydraContext] = None
        self.launcher = None
        self.owner = Owner.current()
        self._inflight: Dict[int, optuna.Trial] = {}
        self._lock = threading.Lock()

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context = config, hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)
        self.sweep_dir = str(config.hydra.sweep.dir)

    # --- entry point ----------------------------------------------------------------------------------------------
    def sweep(self, arguments: List[str]) -> Any:
        try:
            self._prepare(arguments)
            self._recover_stale()
        except ConfigError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
        stop_reason = None
        try:
            stop_reason = self._run()
        finally:
            self._finish()
        if stop_reason:
            print(f"error: {stop_reason}", file=sys.stderr)
            sys.exit(1)
        return self.study

    # --- set-up ---------------------------------------------------------------------------------------------------
    def _check_settings(self) -> None:
        if str(self.direction).lower() not in ("maximize", "minimize"):
            raise ConfigError(f"hydra.sweeper.direction={self.direction!r} is not one of maximize, minimize")
        if not self.study_name or not str(self.study_name).strip():
            raise ConfigError("hydra.sweeper.study_name is empty: name the study (it is how a re-run resumes it)")
        for key, value in (("n_trials", self.n_trials), ("n_jobs", self.n_jobs)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"hydra.sweeper.{key}={value!r} must be a whole number of at least 1")
        if not 0.0 <= float(self.max_failure_rate) <= 1.0:
            raise ConfigError(f"hydra.sweeper.max_failure_rate={self.max_failure_rate} is out of range [0, 1]")
        if self.dispatch not in ("auto", "slots", "batch"):
            raise ConfigError(f"hydra.sweeper.dispatch={self.dispatch!r} is not one of auto, slots, batch")
        jt = self.job_threads
        if not (jt is None or jt == "auto" or (isinstance(jt, int) and not isinstance(jt, bool) and jt >= 1)):
            raise ConfigError(f"hydra.sweeper.job_threads={jt!r} must be auto, null or a number of at least 1")
        if float(self.heartbeat_interval) <= 0 or float(self.grace_period) <= float(self.heartbeat_interval):
            raise ConfigError("hydra.sweeper.grace_period must be longer than heartbeat_interval (both > 0)")

    def _prepare(self, arguments: Sequence[str]) -> None:
        self._check_settings()
        params = OmegaConf.to_container(self.params, resolve=True) if OmegaConf.is_config(self.params) \
            else (self.params or {})
        self.space: SearchSpace = parse_search_space(params, arguments)
        if not self.space.distributions:
            raise ConfigError("nothing to search: give hydra.sweeper.params (e.g. hparams_search=repulsion) or a "
                              "sweep override such as variant.rep_f=interval(1,30)")
        # storage: what this process opens, and what jobs receive (an ${oc.env:...} stays unresolved, so a
        # password kept in an environment variable is never written into a job's overrides)
        raw = self._raw_sweeper_value("storage")
        self.storage_url = storages.normalise(self.storage) if self.storage \
            else storages.default_storage(self.sweep_dir)
        self.job_storage = raw if isinstance(raw, str) and "${oc.env:" in raw else self.storage_url
        self.sampler, self.target = self._build_sampler()
        self.pruner_dict = self._pruner_dict()
        self.pruner = build_pruner(self.pruner_dict)
        self.mode, self.slots = self._dispatch_mode()
        self.threads_override = self._threads_override(arguments)
        self.study = self._open_study()
        self._store = self.study._storage  # optuna's (cached) storage under the study: trial ids and user attrs
        self._study_id = self._store.get_study_id_from_name(self.study.study_name)
        os.makedirs(self.sweep_dir, exist_ok=True)
        OmegaConf.save(self.config, os.path.join(self.sweep_dir, "multirun.yaml"))
        log.info("Optuna study %r (%s) in %s: %d finished trials wanted, %d in flight (%s), sampler %s, pruner %s",
                 self.study.study_name, self.study.direction.name.lower(), mask_url(self.storage_url), self.target,
                 self.slots, self.mode, type(self.sampler).__name__, type(self.pruner).__name__)
        for key, dist in self.space.distributions.items():
            log.info("  %s: %s", key, dist)

    def _raw_sweeper_value(self, key: str) -> Any:
        node = OmegaConf.to_container(self.config.hydra.sweeper, resolve=False) if self.config is not None else {}
        return node.get(key)

    def _build_sampler(self) -> Tuple[optuna.samplers.BaseSampler, int]:
        cfg = self.sampler_config
        if cfg is None:
            return optuna.samplers.TPESampler(), self.n_trials
        if OmegaConf.is_config(cfg):
            cfg = OmegaConf.to_container(cfg, resolve=True)
        if not isinstance(cfg, dict) or "_target_" not in cfg:
            raise ConfigError(f"hydra.sweeper.sampler must be a config with a _target_, got {cfg!r}")
        target = cfg["_target_"]
        try:
            cls = get_class(target)
        except Exception:
            raise ConfigError(f"unknown sampler {target!r}: choose hydra/sweeper/sampler=tpe|random|grid|cmaes|gp|qmc"
                              " or give the _target_ of an optuna sampler class") from None
        if not (isinstance(cls, type) and issubclass(cls, optuna.samplers.BaseSampler)):
            raise ConfigError(f"{target!r} is not an optuna sampler")
        extra: Dict[str, Any] = {}
        target_n = self.n_trials
        if issubclass(cls, optuna.samplers.GridSampler):
            grid = {k: grid_values(k, d) for k, d in self.space.distributions.items()}
            extra["search_space"] = grid
            size = math.prod(len(v) for v in grid.values())
            if size < target_n:
                log.info("the grid has %d points: n_trials %d -> %d", size, target_n, size)
                target_n = size
        try:
            sampler = instantiate({k: v for k, v in cfg.items() if k != "search_space" or not extra}, **extra)
        except Exception as err:
            raise ConfigError(f"cannot build the sampler {target!r}: {last_line(err)}") from None
        return sampler, target_n

    def _pruner_dict(self) -> Optional[Dict[str, Any]]:
        cfg = self.pruner_config
        if cfg is None:
            return None
        return OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dict(cfg)

    def _dispatch_mode(self) -> Tuple[str, int]:
        names = {c.__name__ for c in type(self.launcher).__mro__}
        out_of_process = bool(names & set(OUT_OF_PROCESS_LAUNCHERS))
        mode = self.dispatch
        if mode == "auto":
            mode = "slots" if out_of_process else ("serial" if "BasicLauncher" in names else "batch")
        elif mode == "slots" and not out_of_process:
            raise ConfigError(f"hydra.sweeper.dispatch=slots needs a launcher that runs jobs in other processes "
                              f"(joblib, submitit), not {type(self.launcher).__name__}")
        slots = self.n_jobs
        if mode == "serial":
            if self.n_jobs > 1:
                log.warning("the basic launcher runs one job at a time: n_jobs=%d has no effect "
                            "(hydra/launcher=joblib runs trials side by side)", self.n_jobs)
            slots = 1
        if "JoblibLauncher" in names:  # its worker pool: hydra.launcher.n_jobs, joblib's meaning (-1 = all CPUs)
            pool = joblib_pool_size(getattr(self.launcher, "joblib", {}).get("n_jobs"))
            if pool < slots:
                log.warning("joblib runs %d jobs at a time (hydra.launcher.n_jobs, -1 = one per CPU): %d trials in "
                            "flight, not hydra.sweeper.n_jobs=%d", pool, pool, slots)
                slots = pool
        return mode, slots

    def _threads_override(self, arguments: Sequence[str]) -> Optional[str]:
        """``trainer.threads=N`` for every job: one torch thread per job when joblib runs them side by side."""
        jt = self.job_threads
        if jt is None or self.config is None or OmegaConf.select(self.config, "trainer") is None:
            return None
        if OmegaConf.select(self.config, "trainer.threads") is not None:
            return None  # the user chose
        if any(a.lstrip("+~").startswith("trainer.threads=") for a in arguments):
            return None
        if jt == "auto":
            if not runs_jobs_side_by_side_here(self.launcher):
                return None
            jt = 1
        return f"trainer.threads={jt}"

    def _open_study(self) -> optuna.Study:
        storage = storages.open_storage(self.storage_url)
        direction = str(self.direction).lower()
        study = optuna.create_study(storage=storage, sampler=self.sampler, pruner=self.pruner,
                                    study_name=str(self.study_name), direction=direction, load_if_exists=True)
        if study.direction.name.lower() != direction:
            raise ConfigError(f"study {study.study_name!r} in {mask_url(self.storage_url)} is "
                              f"{study.direction.name.lower()}, the config says {direction}: "
                              "use another study_name or the study's direction")
        return study

    # --- trials a dead sweep left RUNNING -------------------------------------------------------------------------
    def _recover_stale(self) -> None:
        """Close RUNNING trials whose sweep is gone: from the job's record when the job got to finish it (its
        state and value), FAIL otherwise; with ``retry_failed`` a failed one is queued again with its parameters.

        A RUNNING trial is stale when its owner (the sweep process) is known dead on this host, or its heartbeat
        is older than ``grace_period`` (owner on another machine, which may still be running it)."""
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            owner = Owner.decode(t.user_attrs.get("owner"))
            if owner is None and t.datetime_start is not None:
                # a sweep marks its trial right after asking for it: wait that long before judging an unmarked one
                age = time.time() - t.datetime_start.timestamp()
                if age < OWNERLESS_GRACE_S:
                    time.sleep(OWNERLESS_GRACE_S - age)
                t = self._store.get_trial(self._trial_id(t))
                if t.state != TrialState.RUNNING:
                    continue
                owner = Owner.decode(t.user_attrs.get("owner"))
                if owner is None:
                    self._close_stale(t, "its sweep stopped before marking it")
                    continue
            if owner == self.owner:
                continue
            now = time.time()
            alive = owner.alive() if owner is not None else None
            beat = t.user_attrs.get("heartbeat") or (t.datetime_start.timestamp() if t.datetime_start else now)
            if alive is True or (alive is None and now - float(beat) <= self.grace_period):
                log.info("trial %d is RUNNING in another live sweep (%s): left alone", t.number, owner or "unknown")
                continue
            why = f"its sweep ({owner}) stopped" if alive is False else \
                f"no heartbeat for {now - float(beat):.0f} s (sweep {owner or 'unknown'})"
            self._close_stale(t, why)
        if self.retry_failed:
            self._enqueue_retries()

    def _close_stale(self, t: optuna.trial.FrozenTrial, why: str) -> None:
        run_dir = t.user_attrs.get("run_dir")
        record = try_load(run_dir)[0] if run_dir else None
        status = (record or {}).get("status")
        trial_id = self._trial_id(t)
        if status == RunStatus.COMPLETED and record.get("objective") is not None:
            outcome = Outcome(TrialState.COMPLETE, value=float(record["objective"]))
        elif status == RunStatus.PRUNED:
            outcome = Outcome(TrialState.PRUNED, reason=record.get("error"))
        elif status == RunStatus.FAILED and not str(record.get("error")).startswith("SweepGoneError"):
            outcome = Outcome(TrialState.FAIL, reason=record.get("error") or "failed")
        else:  # never finished, or the job stopped because its sweep had died: a casualty of the crash
            outcome = Outcome(TrialState.FAIL, reason=f"left RUNNING: {why}")
            self._store.set_trial_user_attr(trial_id, "retryable", True)
            if run_dir:
                mark_stale(run_dir, str(outcome.reason))
        log.warning("trial %d was left RUNNING (%s): now %s%s", t.number, why, outcome.state.name,
                    f" ({outcome.reason})" if outcome.reason else "")
        self._tell(t.number, outcome)

    def _enqueue_retries(self) -> None:
        trials = self.study.get_trials(deepcopy=False)
        retried = {t.user_attrs.get("retry_of") for t in trials}
        for t in trials:
            if t.state == TrialState.FAIL and t.user_attrs.get("retryable") and t.number not in retried:
                self.study.enqueue_trial(dict(t.params), user_attrs={"retry_of": t.number})
                log.info("trial %d queued again with the same parameters (retry_failed=true)", t.number)

    def _trial_id(self, t: optuna.trial.FrozenTrial) -> int:
        return self._trial_id_by_number(t.number)

    # --- the loop -------------------------------------------------------------------------------------------------
    def _remaining(self) -> int:
        """New trials still to ask for: the target less finished trials and trials running anywhere."""
        trials = self.study.get_trials(deepcopy=False, states=FINISHED + (TrialState.RUNNING,))
        return max(0, self.target - len(trials))

    def _ask(self) -> Tuple[optuna.Trial, List[str]]:
        trial = self.study.ask(fixed_distributions=self.space.distributions)
        trial.set_user_attr("owner", self.owner.encode())
        trial.set_user_attr("heartbeat", time.time())
        params = {k: trial.params[k] for k in self.space.distributions}
        overrides = self.space.overrides(params)
        if self.threads_override:
            overrides.append(self.threads_override)
        overrides += [
            f"+{TRIAL_GROUP}={TRIAL_OPTION}",
            f"{TRIAL_GROUP}.storage={format_value(self.job_storage)}",
            f"{TRIAL_GROUP}.study_name={format_value(self.study.study_name)}",
            f"{TRIAL_GROUP}.trial_number={trial.number}",
            f"{TRIAL_GROUP}.pruner={format_value(self.pruner_dict)}",
            f"{TRIAL_GROUP}.params={format_value(params)}",
            f"{TRIAL_GROUP}.owner={format_value(self.owner.encode())}",
        ]
        with self._lock:
            self._inflight[trial.number] = trial
        return trial, overrides

    def _launch_one(self, number: int, overrides: List[str]) -> Any:
        try:
            returns = self.launcher.launch([overrides], initial_job_idx=number)
            return returns[0]
        except BaseException as err:  # e.g. a joblib worker killed by the OS: this trial fails, the sweep goes on
            return err

    def _run(self) -> Optional[str]:
        self.tally = Tally()
        self._stop_reason: Optional[str] = None
        if self._remaining() == 0:
            log.info("study %r already holds %d finished trials: nothing to run", self.study.study_name, self.target)
            return None
        beat = threading.Thread(target=self._heartbeat_loop, name="optuna-heartbeat", daemon=True)
        self._beating = threading.Event()
        beat.start()
        try:
            if self.mode == "slots":
                self._run_slots()
            else:
                self._run_batches()
        except KeyboardInterrupt:
            for number in list(self._inflight):
                self._tell(number, Outcome(TrialState.FAIL, reason="sweep interrupted"), retryable=True)
            raise
        finally:
            self._beating.set()
        return self._stop_reason

    def _run_slots(self) -> None:
        pool = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="optuna-trial")
        futures: Dict[Future, int] = {}
        try:
            while True:
                if self._stop_reason is None:
                    free = self.slots - len(futures)
                    for _ in range(min(free, self._remaining())):
                        trial, overrides = self._ask()
                        futures[pool.submit(self._launch_one, trial.number, overrides)] = trial.number
                if not futures:
                    break
                done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                for fut in done:
                    number = futures.pop(fut)
                    self._conclude(number, fut.result())
        finally:
            pool.shutdown(wait=True)

    def _run_batches(self) -> None:
        while self._stop_reason is None:
            n = min(self.slots, self._remaining())
            if n == 0:
                break
            asked = [self._ask() for _ in range(n)]
            numbers = [t.number for t, _ in asked]
            if numbers == list(range(numbers[0], numbers[0] + n)):
                returns: List[Any] = list(self.launcher.launch([o for _, o in asked], initial_job_idx=numbers[0]))
            else:  # another sweep asked in between: keep job numbers equal to trial numbers
                returns = [self._launch_one(num, o) for num, (_, o) in zip(numbers, asked)]
            for number, ret in zip(numbers, returns):
                self._conclude(number, ret)

    def _conclude(self, number: int, ret: Any) -> None:
        outcome = outcome_of(ret)
        self._tell(number, outcome)
        self.tally.states[outcome.state.name] += 1
        if outcome.state == TrialState.FAIL:
            self.tally.reasons.append(f"trial {number}: {outcome.reason}")
        params = self._store.get_trial(self._trial_id_by_number(number)).params
        shown = " ".join(f"{k.split('.')[-1]}={v:.4g}" if isinstance(v, float) else f"{k.split('.')[-1]}={v}"
                         for k, v in params.items())
        value = f" {outcome.value:.4f}" if outcome.value is not None else ""
        log.info("trial %d %s%s  %s%s", number, outcome.state.name, value, shown,
                 f"  ({outcome.reason})" if outcome.state == TrialState.FAIL else "")
        t = self.tally
        if (outcome.state == TrialState.FAIL and self._stop_reason is None
                and t.failure_rate() > float(self.max_failure_rate)
                and (t.finished >= MIN_TRIALS_FOR_FAILURE_RATE or self._remaining() == 0)):
            self._stop_reason = (f"{t.states['FAIL']} of {t.finished} trials failed, more than "
                                 f"max_failure_rate={self.max_failure_rate}; the sweep stops "
                                 f"(last: {t.reasons[-1]})")
            log.error(self._stop_reason)

    def _trial_id_by_number(self, number: int) -> int:
        return self._store.get_trial_id_from_study_id_trial_number(self._study_id, number)

    def _tell(self, number: int, outcome: Outcome, retryable: bool = False) -> None:
        trial_id = self._trial_id_by_number(number)
        storage = self._store
        with self._lock:
            self._inflight.pop(number, None)
        try:
            if outcome.reason and outcome.state == TrialState.FAIL:
                storage.set_trial_user_attr(trial_id, "fail_reason", outcome.reason)
            if retryable:
                storage.set_trial_user_attr(trial_id, "retryable", True)
        except Exception as err:  # already finished by someone else
            log.warning("trial %d: cannot annotate (%s)", number, last_line(err))
        try:
            self.study.tell(number, values=outcome.value if outcome.state == TrialState.COMPLETE else None,
                            state=outcome.state, skip_if_finished=True)
        except RuntimeError as err:
            if "Study.stop" not in str(err):  # the grid sampler stops the study when its grid is used up
                raise

    def _heartbeat_loop(self) -> None:
        while not self._beating.wait(float(self.heartbeat_interval)):
            with self._lock:
                trials = list(self._inflight.values())
            for trial in trials:
                try:
                    trial.set_user_attr("heartbeat", time.time())
                except Exception:  # finished meanwhile, or the storage is briefly locked: next beat
                    pass

    # --- the end --------------------------------------------------------------------------------------------------
    def _finish(self) -> None:
        if not hasattr(self, "study"):
            return
        results.write(self.study, self.sweep_dir, self.storage_url, self.target)
        hint = self._dashboard_arg() if self.dashboard_hint else None
        print(results.render(self.study, self.storage_url, self.target, self.sweep_dir, hint), flush=True)

    def _dashboard_arg(self) -> str:
        return mask_url(self.storage_url)
