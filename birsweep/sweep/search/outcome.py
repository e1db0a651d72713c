"""How a trial ended, how Optuna is told, and when too many failures stop the sweep."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import optuna
from hydra.core.utils import JobReturn, JobStatus
from optuna.trial import TrialState

from birsweep.errors import (
    RunPruned,
    first_line,
    last_line,
    no_space_text,
    write_fault,
    write_fault_advice,
    write_fault_text,
)
from birsweep.sweep.labels import format_params
from birsweep.tracking.record import mark_stale, try_load
from birsweep.tracking.record_fields import RunStatus

log = logging.getLogger(__name__)

MIN_TRIALS_FOR_FAILURE_RATE = 4  # the failure rate is judged once this many trials (or all) have finished


@dataclass
class Outcome:
    state: TrialState
    value: Optional[float] = None
    reason: Optional[str] = None


def outcome_of(ret: Any) -> Outcome:
    """How a job ended, from its JobReturn (or the exception the launcher raised instead of returning one)."""
    if isinstance(ret, BaseException):
        return Outcome(TrialState.FAIL, reason=f"launcher: {type(ret).__name__}: {last_line(ret)}")
    if not isinstance(ret, JobReturn):
        return Outcome(TrialState.FAIL, reason=f"launcher returned {type(ret).__name__}, not a JobReturn")
    value = getattr(ret, "_return_value", None)  # JobReturn.return_value re-raises a job's exception
    if ret.status == JobStatus.COMPLETED:
        if value is None:
            return Outcome(TrialState.FAIL, reason="the job returned None, not a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            return Outcome(TrialState.FAIL, reason=f"the job returned {value!r}, not a number")
        if not math.isfinite(number):
            return Outcome(TrialState.FAIL, reason=f"the job returned {number}")
        return Outcome(TrialState.COMPLETE, value=number)
    if isinstance(value, (optuna.TrialPruned, RunPruned)):
        return Outcome(TrialState.PRUNED, reason=str(value) or None)
    if isinstance(value, BaseException):
        found = write_fault(value)  # a full or read-only disk deep in the chain (SQLite's, under Optuna's errors)
        cause = found if found is not None and not write_fault_text(last_line(value)) else None
        said = (
            f"{type(cause).__name__}: {first_line(cause)}" if cause else f"{type(value).__name__}: {last_line(value)}"
        )
        return Outcome(TrialState.FAIL, reason=said)
    return Outcome(TrialState.FAIL, reason=f"job status {ret.status.name}")


@dataclass
class Tally:
    """Trials this invocation finished."""

    states: Dict[str, int] = field(default_factory=lambda: {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0})
    reasons: List[str] = field(default_factory=list)
    write_fault: Optional[str] = None  # the first trial a full or read-only disk failed (sweep/search/write_faults.py)

    @property
    def finished(self) -> int:
        return sum(self.states.values())

    def failure_rate(self) -> float:
        return self.states["FAIL"] / self.finished if self.finished else 0.0

    def add(self, number: int, outcome: Outcome) -> None:
        self.states[outcome.state.name] += 1
        if outcome.state == TrialState.FAIL:
            self.reasons.append(f"trial {number}: {outcome.reason}")
            if self.write_fault is None and write_fault_text(outcome.reason):
                what = str(outcome.reason).split("; ")[0]  # without the run's own advice, given below for a sweep
                why = what.split(": ", 1)[-1]
                met = "met a full disk" if no_space_text(why) else "could not write to its storage"
                self.write_fault = f"trial {number} {met} ({why}): the sweep stops; {write_fault_advice(why)}"

    def stop_reason(self, max_failure_rate: float, none_left: Callable[[], bool]) -> Optional[str]:
        """Why the sweep must stop: a full or read-only disk at once (every later trial would fail on it too), else
        once enough trials (or all: ``none_left()``) have finished and too many of them failed."""
        if self.write_fault is not None:
            return f"{self.write_fault} and run the same command again, it resumes and runs that trial again"
        if self.failure_rate() <= max_failure_rate:
            return None
        if self.finished < MIN_TRIALS_FOR_FAILURE_RATE and not none_left():
            return None
        return (
            f"{self.states['FAIL']} of {self.finished} trials failed, more than "
            f"max_failure_rate={max_failure_rate}; the sweep stops (last: {self.reasons[-1]})"
        )


def log_outcome(number: int, outcome: Outcome, params: Dict[str, Any]) -> None:
    """The sweep's one line on a finished trial: state, value, parameters, and why when it failed."""
    value = f" {outcome.value:.4f}" if outcome.value is not None else ""
    reason = f"  ({outcome.reason})" if outcome.state == TrialState.FAIL else ""
    log.info("trial %d %s%s  %s%s", number, outcome.state.name, value, format_params(params), reason)


def trial_id(study: optuna.Study, number: int) -> int:
    """The storage's id of trial ``number`` (what storage-level calls take)."""
    storage = study._storage
    return storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study.study_name), number)


def tell(study: optuna.Study, number: int, outcome: Outcome, retryable: bool = False) -> None:
    """Finish trial ``number`` as ``outcome`` says, noting a failure's reason; a trial already finished stays so."""
    tid, storage = trial_id(study, number), study._storage
    try:
        if outcome.state == TrialState.FAIL and not retryable:  # a signal, a full disk: retryable (docs/sweeps.md)
            retryable = write_fault_text(outcome.reason) or record_interrupted(
                storage.get_trial(tid).user_attrs.get("run_dir")
            )
        if outcome.reason and outcome.state == TrialState.FAIL:
            storage.set_trial_user_attr(tid, "fail_reason", outcome.reason)
        if retryable:
            storage.set_trial_user_attr(tid, "retryable", True)
    except Exception as err:  # already finished by someone else; on a full disk the next start closes it (stale)
        if write_fault(err) is not None:
            raise
        log.warning("trial %d: cannot annotate (%s)", number, last_line(err))
    try:
        study.tell(
            number,
            values=outcome.value if outcome.state == TrialState.COMPLETE else None,
            state=outcome.state,
            skip_if_finished=True,
        )
    except RuntimeError as err:
        if "Study.stop" not in str(err):  # the grid sampler stops the study when its grid is used up
            raise


def record_interrupted(run_dir: Optional[str]) -> bool:
    """Whether the job's record says ``interrupted`` (a stop signal: SIGTERM, SIGUSR2, Ctrl-C ended the run)."""
    data = try_load(run_dir)[0] if run_dir else None
    return data is not None and data.get("status") == RunStatus.INTERRUPTED


def close_record(
    study: optuna.Study,
    number: int,
    reason: str,
    status: RunStatus = RunStatus.FAILED,
    job_dir: Optional[str] = None,
) -> None:
    """A failed trial's job record that still says ``running`` (its job was killed or lost; or stopped with its
    sweep before it could say so: ``status`` interrupted) is closed as ``status``. ``job_dir``: where the record is
    when the job did not get to name its run dir to the trial."""
    try:
        run_dir = study._storage.get_trial(trial_id(study, number)).user_attrs.get("run_dir") or job_dir
        if run_dir and mark_stale(run_dir, reason, cause="TrialFailed", status=status):
            log.info("trial %d: its record in %s said running: now %s (%s)", number, run_dir, status.value, reason)
    except Exception as err:  # an unreadable record or a busy storage must not stop the sweep
        log.warning("trial %d: its record could not be closed (%s)", number, last_line(err))
