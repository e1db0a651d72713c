"""The confirmation stage (``hydra.sweeper.confirm``; docs/sweeps.md): after the search, the ``top_k`` best
configurations and the baseline run again on the same fresh seeds, scored on the test set.

A search ranks configurations by one run each, on a validation split, with the seed the search used: the winner is
partly luck. Confirmation runs each of the ``top_k`` best distinct complete trials and the baseline (the search's
fixed settings with ``confirm.baseline`` applied last) on ``confirm.seeds`` seeds none of the search's runs used,
so every configuration can be set against the baseline seed by seed (:mod:`birsweep.stats`).

* Seeds: the search's seeds are the job's ``seed`` and any value a trial drew for a searched ``seed``; the fresh
  seeds are the next ``seeds`` whole numbers above the largest of them (seed 0 -> 1, 2, 3): deterministic, so a
  re-run plans the same jobs.
* Jobs are ordinary Hydra jobs through the sweep's launcher, with no Optuna trial and no pruning, in
  ``<sweep dir>/confirm/<arm>/seed_<s>`` (arm ``trial_<n>`` or ``baseline``), each told who it is by
  ``+confirm=run confirm.arm=... confirm.rank=... confirm.params=... confirm.seed=...`` (the record's ``confirm``).
* Resuming: a job whose record is completed is not launched again; any other (killed, interrupted, failed) is
  launched with the same overrides and, as every run does, continues from its last finished task.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

import optuna
from optuna.trial import FrozenTrial, TrialState

from birsweep.errors import ConfigError, first_line
from birsweep.sweep import CONFIRM_GROUP, CONFIRM_OPTION
from birsweep.sweep.config import ConfirmConfig, baseline_overrides
from birsweep.sweep.confirm_claim import Claims
from birsweep.sweep.grammar import SearchSpace, format_value, override_identity
from birsweep.sweep.labels import format_params
from birsweep.sweep.outcome import outcome_of
from birsweep.sweep.owner import Owner
from birsweep.tracking.record import try_load
from birsweep.tracking.record_fields import RunStatus

log = logging.getLogger(__name__)

CONFIRM_DIR = "confirm"
BASELINE = "baseline"
SEED_KEY = "seed"
Launch = Callable[[List[List[str]], int], Sequence[Any]]  # launcher.launch(job overrides, initial_job_idx)
Compose = Callable[[List[str]], Any]  # a job's config for overrides (Hydra's config loader)


def merged(overrides: Sequence[str]) -> List[str]:
    """Override strings with a later setting of a key replacing an earlier one (at the later one's place)."""
    out: Dict[str, str] = {}
    for text in overrides:
        key = override_identity(text)
        out.pop(key, None)
        out[key] = text
    return list(out.values())


@dataclass(frozen=True)
class Arm:
    """A configuration that is confirmed: a trial of the search (``rank`` 1 = best) or the baseline (rank 0)."""

    name: str  # "trial <n>" or "baseline"
    rank: int
    params: Optional[Dict[str, Any]]  # the trial's searched parameters; None for the baseline
    overrides: List[str]  # what the arm sets on top of the search's fixed settings
    value: Optional[float] = None  # the trial's objective in the search

    @property
    def dirname(self) -> str:
        return self.name.replace(" ", "_")


@dataclass(frozen=True)
class ConfirmJob:
    arm: Arm
    seed: int

    @property
    def subdir(self) -> str:
        return f"{CONFIRM_DIR}/{self.arm.dirname}/seed_{self.seed}"

    def run_dir(self, sweep_dir: str) -> str:
        return os.path.join(sweep_dir, *self.subdir.split("/"))

    def overrides(self, fixed: Sequence[str], extra: Sequence[str] = ()) -> List[str]:
        """The job's overrides: fixed settings, the arm's, the seed (a later setting of one key replaces an earlier
        one), then the confirmation's identity and run dir."""
        return [
            *merged([*fixed, *self.arm.overrides, *extra, f"{SEED_KEY}={self.seed}"]),
            f"+{CONFIRM_GROUP}={CONFIRM_OPTION}",
            f"{CONFIRM_GROUP}.arm={format_value(self.arm.name)}",
            f"{CONFIRM_GROUP}.rank={self.arm.rank}",
            f"{CONFIRM_GROUP}.params={format_value(self.arm.params)}",
            f"{CONFIRM_GROUP}.seed={self.seed}",
            f"hydra.sweep.subdir={format_value(self.subdir)}",
        ]


@dataclass
class Plan:
    arms: List[Arm]
    seeds: List[int]
    search_seeds: List[int]
    jobs: List[ConfirmJob] = field(default_factory=list)
    note: Optional[str] = None  # why fewer arms than asked, or why nothing runs

    def __post_init__(self) -> None:
        self.jobs = [ConfirmJob(arm, seed) for arm in self.arms for seed in self.seeds]


def top_trials(study: optuna.Study, k: int) -> List[FrozenTrial]:
    """The ``k`` best complete trials by the search's objective, one per distinct parameter set (ties: lower number
    first)."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    done.sort(key=lambda t: (sign * float(t.value or 0.0), t.number))
    seen: Set[str] = set()
    out: List[FrozenTrial] = []
    for t in done:
        key = repr(sorted(t.params.items()))
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out[:k]


def search_seeds(job_seed: int, trials: Sequence[FrozenTrial]) -> List[int]:
    """Every seed a run of the search used: the jobs' ``seed`` and any drawn for a searched ``seed``."""
    seeds = {int(job_seed)}
    seeds |= {int(t.params[SEED_KEY]) for t in trials if SEED_KEY in t.params}
    return sorted(seeds)


def fresh_seeds(used: Sequence[int], n: int) -> List[int]:
    """The ``n`` whole numbers just above the largest used seed."""
    start = max(used) + 1 if used else 0
    return list(range(start, start + n))


def make_plan(settings: ConfirmConfig, study: optuna.Study, space: SearchSpace, job_seed: int) -> Plan:
    trials = study.get_trials(deepcopy=False)
    used = search_seeds(job_seed, trials)
    seeds = fresh_seeds(used, int(settings.seeds))
    best = top_trials(study, int(settings.top_k))
    note = None
    if not best:
        return Plan([], seeds, used, note="no complete trial to confirm")
    if len(best) < settings.top_k:
        note = f"only {len(best)} distinct complete trials to confirm (top_k={settings.top_k})"
    arms = [
        Arm(
            f"trial {t.number}",
            rank,
            dict(t.params),
            [o for o in space.overrides(t.params) if o not in space.fixed],
            float(t.value) if t.value is not None else None,
        )
        for rank, t in enumerate(best, start=1)
    ]
    arms.append(Arm(BASELINE, 0, None, baseline_overrides(settings.baseline)))
    return Plan(arms, seeds, used, note=note)


def is_done(job: ConfirmJob, sweep_dir: str) -> bool:
    data, _ = try_load(job.run_dir(sweep_dir))
    return data is not None and data["status"] == RunStatus.COMPLETED


def run(
    plan: Plan, sweep_dir: str, fixed: Sequence[str], extra: Sequence[str], launch: Launch, slots: int, claims: Claims
) -> int:
    """Launch every job of ``plan`` whose record is not completed, ``slots`` at a time, each once it is claimed for
    this sweep (:mod:`birsweep.sweep.confirm_claim`); wait for those another live sweep runs. The number launched."""
    todo = [(i, job) for i, job in enumerate(plan.jobs) if not is_done(job, sweep_dir)]
    if plan.jobs:
        log.info(
            "confirmation: %d configurations and the baseline on seeds %s (search: %s): %d runs, %d already completed",
            len(plan.arms) - 1,
            ",".join(map(str, plan.seeds)),
            ",".join(map(str, plan.search_seeds)),
            len(plan.jobs),
            len(plan.jobs) - len(todo),
        )
    launched, waiting = 0, False
    with claims:
        while todo:
            batch: List[Tuple[int, ConfirmJob]] = []
            for i, job in todo:  # claimed a batch at a time, so two sweeps share the runs
                if len(batch) < max(1, slots) and claims.try_claim(job.run_dir(sweep_dir)):
                    batch.append((i, job))
            if not batch:  # all held by another live sweep: its results are read when they are there
                if not waiting:
                    log.info("confirmation: waiting for %d runs another sweep of the study is running", len(todo))
                    waiting = True
                time.sleep(claims.interval / 4)
                todo = [(i, job) for i, job in todo if not is_done(job, sweep_dir)]
                continue
            _launch(batch, sweep_dir, fixed, extra, launch, claims)
            launched += len(batch)
            ran = {i for i, _ in batch}  # tried once by this sweep: a failure is not retried here (re-run the sweep)
            todo = [(i, job) for i, job in todo if i not in ran and not is_done(job, sweep_dir)]
    return launched


def _launch(
    batch: List[Tuple[int, ConfirmJob]],
    sweep_dir: str,
    fixed: Sequence[str],
    extra: Sequence[str],
    launch: Launch,
    claims: Claims,
) -> None:
    try:
        returns = list(launch([job.overrides(fixed, extra) for _, job in batch], batch[0][0]))
    except Exception as err:  # the launcher failed as a whole: these runs stay missing, a re-run retries them
        returns = [err] * len(batch)
    for (_, job), ret in zip(batch, returns):
        claims.release(job.run_dir(sweep_dir))
        outcome = outcome_of(ret)
        data, _ = try_load(job.run_dir(sweep_dir))
        if data is not None and data["status"] == RunStatus.COMPLETED:
            test = data.get("final_avg_acc")
            log.info("confirm %s seed %d: test %.4f  %s", job.arm.name, job.seed, test, _params(job.arm))
        else:
            log.warning(
                "confirm %s seed %d did not complete (%s); re-run the sweep command to retry it",
                job.arm.name,
                job.seed,
                outcome.reason or (data or {}).get("error") or "no record",
            )


def _params(arm: Arm) -> str:
    return format_params(arm.params, 80) if arm.params else " ".join(arm.overrides)


def scores(plan: Plan, sweep_dir: str) -> Dict[str, Dict[int, Optional[float]]]:
    """arm name -> seed -> test final average accuracy (None where the run has not completed)."""
    out: Dict[str, Dict[int, Optional[float]]] = {}
    for job in plan.jobs:
        data, _ = try_load(job.run_dir(sweep_dir))
        ok = data is not None and data["status"] == RunStatus.COMPLETED and data.get("final_avg_acc") is not None
        out.setdefault(job.arm.name, {})[job.seed] = float(data["final_avg_acc"]) if ok and data else None
    return out


class Stage:
    """The confirmation stage as the sweeper drives it: checked at start, run after the search, summarised."""

    def __init__(self, settings: ConfirmConfig, space: SearchSpace, sweep_dir: str, extra: Sequence[str]) -> None:
        self.settings, self.space, self.sweep_dir, self.extra = settings, space, sweep_dir, list(extra)
        self.job_seed = 0
        self.beat_s, self.lost_after_s = 30.0, 600.0  # the sweep's heartbeat_interval and grace_period

    @classmethod
    def create(
        cls, settings: ConfirmConfig, space: SearchSpace, sweep_dir: str, extra: Sequence[str], compose: Compose
    ) -> Optional[Stage]:
        """The stage when ``top_k > 0``, else None. Composes a baseline job now, so a baseline that does not make a
        valid run stops the sweep before anything runs (ConfigError); the search's ``seed`` comes from it too."""
        if settings.top_k == 0:
            return None
        stage = cls(settings, space, sweep_dir, extra)
        overrides = merged([*space.fixed, *baseline_overrides(settings.baseline)])
        try:
            cfg = compose(overrides)
            from birsweep.config_check import check_config

            check_config(cfg)
        except Exception as err:  # Hydra's composition errors and ours, as one line
            raise ConfigError(
                f"hydra.sweeper.confirm.baseline={settings.baseline!r} does not make a valid run "
                f"({first_line(err)}): give overrides that turn the search's settings into the baseline"
            ) from None
        composed_seed = compose(list(space.fixed)).seed  # the search's seed (a baseline may set its own)
        stage.job_seed = int(composed_seed)
        return stage

    def plan(self, study: optuna.Study) -> Plan:
        return make_plan(self.settings, study, self.space, self.job_seed)

    def run(self, study: optuna.Study, launch: Launch, slots: int, search_done: bool) -> None:
        if not search_done:
            log.warning("confirmation waits until the search holds its finished trials: run the same command again")
            return
        claims = Claims(os.path.join(self.sweep_dir, CONFIRM_DIR), Owner.current(), self.beat_s, self.lost_after_s)
        run(self.plan(study), self.sweep_dir, self.space.fixed, self.extra, launch, slots, claims)

    def summary(self, study: optuna.Study, search_done: bool, stopped: Optional[str] = None) -> Dict[str, Any]:
        from birsweep.sweep import confirm_summary

        if stopped:
            return confirm_summary.not_run(f"not run: the sweep stopped ({stopped})")
        if not search_done:
            return confirm_summary.not_run("the search has not finished: the confirmation runs after it")
        plan = self.plan(study)
        return confirm_summary.block(plan, scores(plan, self.sweep_dir))  # test accuracy: higher is better
