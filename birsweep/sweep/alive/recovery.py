"""Trials a dead sweep left RUNNING, closed when the next sweep of the study starts.

A RUNNING trial is stale when its owner (the sweep process that asked for it) is known dead on this host, or its
heartbeat is older than ``grace_period`` (owner on another machine, which may still be running it). A stale trial
is closed from its job's record when the job got to finish it (its state and value), FAIL otherwise; with
``retry_failed`` a failed one is queued again with its parameters.
"""

from __future__ import annotations

import logging
import time

import optuna
from optuna.trial import FrozenTrial, TrialState

from birsweep.sweep.alive.liveness import SWEEP_HEARTBEAT
from birsweep.sweep.alive.owner import OWNER_ATTR, Owner
from birsweep.sweep.search.outcome import Outcome, tell, trial_id
from birsweep.tracking.record import mark_stale, try_load
from birsweep.tracking.record_fields import RunStatus

log = logging.getLogger(__name__)

OWNERLESS_GRACE_S = 5.0  # a RUNNING trial nobody has marked as theirs after this long was asked by a dead sweep


def recover_stale(study: optuna.Study, me: Owner, grace_period: float, retry_failed: bool) -> None:
    """Close the stale RUNNING trials of ``study`` (module docstring); ``me`` is this sweep, whose trials stay."""
    storage = study._storage
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = Owner.decode(t.user_attrs.get(OWNER_ATTR))
        if owner is None and t.datetime_start is not None:
            # a sweep marks its trial right after asking for it: wait that long before judging an unmarked one
            age = time.time() - t.datetime_start.timestamp()
            if age < OWNERLESS_GRACE_S:
                time.sleep(OWNERLESS_GRACE_S - age)
            t = storage.get_trial(trial_id(study, t.number))
            if t.state != TrialState.RUNNING:
                continue
            owner = Owner.decode(t.user_attrs.get(OWNER_ATTR))
            if owner is None:
                close_stale(study, t, "its sweep stopped before marking it")
                continue
        if owner == me:
            continue
        now = time.time()
        alive = owner.alive() if owner is not None else None
        beat = t.user_attrs.get(SWEEP_HEARTBEAT) or (t.datetime_start.timestamp() if t.datetime_start else now)
        if alive is True or (alive is None and now - float(beat) <= grace_period):
            log.info("trial %d is RUNNING in another live sweep (%s): left alone", t.number, owner or "unknown")
            continue
        why = (
            f"its sweep ({owner}) stopped"
            if alive is False
            else f"no heartbeat for {now - float(beat):.0f} s (sweep {owner or 'unknown'})"
        )
        close_stale(study, t, why)
    if retry_failed:
        enqueue_retries(study)


def close_stale(study: optuna.Study, t: FrozenTrial, why: str) -> None:
    """Finish a stale trial as its job's record says, or FAIL it (retryable) and mark a running record failed."""
    run_dir = t.user_attrs.get("run_dir")
    record = try_load(run_dir)[0] if run_dir else None
    status = record.get("status") if record is not None else None
    if record is not None and status == RunStatus.COMPLETED and record.get("objective") is not None:
        outcome = Outcome(TrialState.COMPLETE, value=float(record["objective"]))
    elif record is not None and status == RunStatus.PRUNED:
        outcome = Outcome(TrialState.PRUNED, reason=record.get("error"))
    elif (
        record is not None and status == RunStatus.FAILED and not str(record.get("error")).startswith("SweepGoneError")
    ):
        outcome = Outcome(TrialState.FAIL, reason=record.get("error") or "failed")
    elif record is not None and status == RunStatus.INTERRUPTED:  # a stop signal, not the trial's fault: retry
        outcome = Outcome(TrialState.FAIL, reason=record.get("error") or "interrupted")
        study._storage.set_trial_user_attr(trial_id(study, t.number), "retryable", True)
    else:  # never finished, or the job stopped because its sweep had died: a casualty of the crash
        outcome = Outcome(TrialState.FAIL, reason=f"left RUNNING: {why}")
        study._storage.set_trial_user_attr(trial_id(study, t.number), "retryable", True)
        if run_dir:
            mark_stale(run_dir, str(outcome.reason))
    log.warning(
        "trial %d was left RUNNING (%s): now %s%s",
        t.number,
        why,
        outcome.state.name,
        f" ({outcome.reason})" if outcome.reason else "",
    )
    tell(study, t.number, outcome)


def enqueue_retries(study: optuna.Study) -> None:
    """Queue each retryable failed trial once more with its parameters (``retry_of`` names the original)."""
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    for t in trials:
        if t.state == TrialState.FAIL and t.user_attrs.get("retryable") and t.number not in retried:
            if not t.params:  # killed between Optuna making the trial and storing its parameters: nothing to repeat
                log.info(
                    "trial %d was cut short before its parameters were stored: a new trial takes its place", t.number
                )
                continue
            study.enqueue_trial(dict(t.params), user_attrs={"retry_of": t.number})
            log.info("trial %d queued again with the same parameters (retry_failed=true)", t.number)
