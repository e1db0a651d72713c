"""Whether the other side of a trial is still alive, judged from heartbeats in the study storage, not from pids.

Sweep and job may run on different hosts, whose clocks need not agree: a heartbeat counts as a sign of life when
its *value changes*, timed by the observer's own clock (:class:`Silence`). The sweep judges a job by its
``job_heartbeat`` and what SLURM's queue says of it (:class:`JobWatch`); a job judges its sweep by the sweep's
``heartbeat`` (:class:`birsweep.sweep.job.trial.TrialHandle`). Pure logic: callers pass the clock in, so tests can
use a fake one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from birsweep.errors import ConfigError

JOB_HEARTBEAT = "job_heartbeat"  # trial user attribute the job beats while it runs
JOB_ID = "job_id"  # trial user attribute: the SLURM job running it (a requeued job keeps its id)
SWEEP_HEARTBEAT = "heartbeat"  # trial user attribute the sweep beats while the trial is in flight
DEFAULT_JOB_LOST_AFTER = 300.0  # hydra.sweeper.job_lost_after left null: a SLURM job silent this long is lost

# SLURM job states (squeue %T) of a job that is waiting to run: it cannot beat yet, and that is fine
QUEUED_STATES = frozenset(
    {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING", "SUSPENDED", "PREEMPTED"}
)
# a job in one of these states runs (or is finishing): it must beat
RUNNING_STATES = frozenset({"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING"})


@dataclass(frozen=True)
class TrialWatch:
    """What the sweeper hands a launcher that can watch its jobs (``launcher.watch_trials(...)``)."""

    job_beat: Callable[[int], Any]  # trial number -> its job heartbeat as the storage holds it now (None: none)
    lost_after: float  # hydra.sweeper.job_lost_after

    @property
    def poll_s(self) -> float:
        """Seconds between looks at a job: often enough to keep the bound, rarely enough to spare SLURM."""
        return max(1.0, min(10.0, self.lost_after / 10))


def watch_jobs(launcher: Any, job_lost_after: Optional[float], job_beat: Callable[[int], Any]) -> None:
    """Hand a launcher that watches its jobs (the SLURM ones: ``watch_trials``) how to judge them. Other launchers'
    jobs run in this sweep's process (basic) or in child processes whose death the launcher reports itself (joblib,
    submitit_local), and a job the sweep cannot cancel would only be abandoned: ``job_lost_after`` is refused."""
    watch_trials = getattr(launcher, "watch_trials", None)
    if callable(watch_trials):
        lost_after = DEFAULT_JOB_LOST_AFTER if job_lost_after is None else float(job_lost_after)
        watch_trials(TrialWatch(job_beat, lost_after))
    elif job_lost_after is not None:
        raise ConfigError(
            f"hydra.sweeper.job_lost_after={job_lost_after:g} applies to SLURM jobs only (hydra/launcher=slurm or "
            f"slurm_cpu), not to the {type(launcher).__name__}'s, which do not beat: drop the setting"
        )


class Silence:
    """How long a heartbeat has not changed, by the observer's clock."""

    def __init__(self, now: Optional[float] = None) -> None:
        self.value: Any = None
        self.since = now  # None: from the first look

    def observe(self, value: Any, now: float) -> float:
        """Note the heartbeat's current ``value`` (None: none yet) and return the seconds since it last changed
        (or since the first look, while there is none)."""
        if self.since is None or (value is not None and value != self.value):
            self.value, self.since = value, float(now)
        return float(now) - self.since


@dataclass
class JobWatch:
    """The sweep's view of one trial's job: lost when it shows no sign of life for ``lost_after`` seconds, or when
    SLURM lists it as ended and no result came within ``ended_grace`` seconds.

    Signs of life: a new job heartbeat; SLURM listing the job as queued (a job waiting for a node cannot beat). A
    running job that stops beating (killed by SIGKILL, its node lost) and a job SLURM forgot (state unknown, as
    without accounting) are lost once the bound has passed, so the sweep never waits for ever.
    """

    lost_after: float
    started: float
    ended_grace: float = 30.0
    beat: Silence = field(init=False)
    ended_since: Optional[float] = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.beat = Silence(self.started)

    def observe(self, now: float, job_beat: Any, queue_state: Optional[str]) -> Optional[str]:
        """Why the job is lost, or None while it may still be alive. ``queue_state``: SLURM's word for the job
        (squeue's %T), None when SLURM does not list it (ended long ago, or the query failed)."""
        silent = self.beat.observe(job_beat, now)
        state = (queue_state or "").upper() or None
        if state in QUEUED_STATES:
            self.beat.since, self.ended_since = float(now), None  # waiting for a node: not silent
            return None
        if state is not None and state not in RUNNING_STATES:
            if self.ended_since is None:
                self.ended_since = float(now)
            if now - self.ended_since >= self.ended_grace:
                return f"SLURM lists the job as {state} and it handed back no result in {self.ended_grace:.0f} s"
        else:
            self.ended_since = None
        if silent > self.lost_after:
            seen = "no job heartbeat" if self.beat.value is None else "its job heartbeat stopped"
            return (
                f"{seen} for {silent:.0f} s (job_lost_after={self.lost_after:g} s; "
                f"SLURM state {state or 'unknown'}): the job vanished"
            )
        return None


def sweep_gone(silence: Silence, sweep_beat: Any, now: float, lost_after: Optional[float]) -> Optional[str]:
    """Job side: why the job's sweep counts as gone (its heartbeat unchanged for more than ``lost_after`` s by
    this host's clock), or None. ``lost_after`` None: never judged."""
    silent = silence.observe(sweep_beat, now)
    if lost_after is None or silent <= lost_after:
        return None
    return f"its heartbeat has not changed for {silent:.0f} s (more than {lost_after:g} s)"
