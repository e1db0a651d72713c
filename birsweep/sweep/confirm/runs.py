"""The confirmation runs: launched once each (claimed first, :mod:`birsweep.sweep.alive.claims`), and their test
scores read back from the records.

Resuming: a job whose record is completed is not launched again; any other (killed, interrupted, failed) is
launched with the same overrides and, as every run does, continues from its last finished task.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from birsweep.sweep.alive.claims import Claims
from birsweep.sweep.confirm.plan import Arm, ConfirmJob, Plan
from birsweep.sweep.labels import format_params
from birsweep.sweep.search.outcome import outcome_of
from birsweep.tracking.record import try_load
from birsweep.tracking.record_fields import RunStatus

log = logging.getLogger(__name__)

Launch = Callable[[List[List[str]], int], Sequence[Any]]  # launcher.launch(job overrides, initial_job_idx)


def is_done(job: ConfirmJob, sweep_dir: str) -> bool:
    data, _ = try_load(job.run_dir(sweep_dir))
    return data is not None and data["status"] == RunStatus.COMPLETED


def run(
    plan: Plan, sweep_dir: str, fixed: Sequence[str], extra: Sequence[str], launch: Launch, slots: int, claims: Claims
) -> int:
    """Launch every job of ``plan`` whose record is not completed, ``slots`` at a time, each once it is claimed for
    this sweep (:mod:`birsweep.sweep.alive.claims`); wait for those another live sweep runs. The number launched."""
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
            _launch(batch, sweep_dir, fixed, extra, launch, claims, plan.key)
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
    key: Optional[str],
) -> None:
    try:
        returns = list(launch([job.overrides(fixed, sweep_dir, extra, key) for _, job in batch], batch[0][0]))
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
