"""How trials are handed to the launcher: pure functions of the launcher's class names and the sweeper's settings.

* ``slots``: each trial launched on its own from a thread, a freed slot refilled at once (launchers that run jobs
  in other processes: joblib, submitit);
* ``serial``: one trial after another in this process (Hydra's basic launcher);
* ``batch``: ``n_jobs`` trials per ``launcher.launch`` call (any other launcher).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, FrozenSet, Optional, Sequence, Tuple

from omegaconf import OmegaConf

from birsweep.errors import ConfigError

OUT_OF_PROCESS_LAUNCHERS = frozenset({"JoblibLauncher", "BaseSubmititLauncher"})


@dataclass(frozen=True)
class LauncherKind:
    """What dispatch needs to know of a launcher: its class's name, the names of its bases and its module."""

    name: str
    names: FrozenSet[str]  # the class and its bases
    module: str
    joblib_n_jobs: Any = None  # hydra.launcher.n_jobs of the joblib launcher (joblib's meaning: -1 = all CPUs)

    @classmethod
    def of(cls, launcher: Any) -> LauncherKind:
        names = frozenset(c.__name__ for c in type(launcher).__mro__)
        n_jobs = (getattr(launcher, "joblib", None) or {}).get("n_jobs") if "JoblibLauncher" in names else None
        return cls(type(launcher).__name__, names, type(launcher).__module__, n_jobs)

    @property
    def out_of_process(self) -> bool:
        return bool(self.names & OUT_OF_PROCESS_LAUNCHERS)

    @property
    def side_by_side_here(self) -> bool:
        """joblib and submitit's local executor run several jobs as processes on this machine's cores."""
        return "JoblibLauncher" in self.names or ("LocalLauncher" in self.names and "submitit" in self.module)


@dataclass(frozen=True)
class Plan:
    mode: str  # slots | serial | batch
    slots: int  # trials in flight
    notes: Tuple[str, ...] = ()  # warnings for the log: settings that had to give way


def joblib_pool_size(n_jobs: Any, cpus: Optional[int] = None) -> int:
    """Worker processes joblib starts for ``n_jobs``: n > 0 as is, -1 all CPUs, -2 all but one, ..."""
    cpus = cpus or os.cpu_count() or 1
    if n_jobs is None:
        return cpus
    n = int(n_jobs)
    return n if n > 0 else max(1, cpus + 1 + n)


def plan(launcher: LauncherKind, dispatch: str, n_jobs: int, cpus: Optional[int] = None) -> Plan:
    """The dispatch mode and the number of trials in flight; ConfigError for ``slots`` on an in-process launcher."""
    mode = dispatch
    if mode == "auto":
        mode = "slots" if launcher.out_of_process else ("serial" if "BasicLauncher" in launcher.names else "batch")
    elif mode == "slots" and not launcher.out_of_process:
        raise ConfigError(
            f"hydra.sweeper.dispatch=slots needs a launcher that runs jobs in other processes "
            f"(joblib, submitit), not {launcher.name}"
        )
    slots, notes = n_jobs, []
    if mode == "serial":
        if n_jobs > 1:
            notes.append(
                f"the basic launcher runs one job at a time: n_jobs={n_jobs} has no effect "
                "(hydra/launcher=joblib runs trials side by side)"
            )
        slots = 1
    if "JoblibLauncher" in launcher.names:  # its worker pool caps the trials in flight
        pool = joblib_pool_size(launcher.joblib_n_jobs, cpus)
        if pool < slots:
            notes.append(
                f"joblib runs {pool} jobs at a time (hydra.launcher.n_jobs, -1 = one per CPU): {pool} "
                f"trials in flight, not hydra.sweeper.n_jobs={slots}"
            )
            slots = pool
    return Plan(mode, slots, tuple(notes))


def user_set_threads(configured: Any, arguments: Sequence[str]) -> bool:
    """The run's ``trainer.threads`` is the user's: set in the config or on the command line."""
    return configured is not None or any(a.lstrip("+~").startswith("trainer.threads=") for a in arguments)


def threads_override(job_threads: Any, launcher: LauncherKind, has_trainer: bool, user_set: bool) -> Optional[str]:
    """``trainer.threads=N`` for every job: one torch thread per job when jobs run side by side on this machine."""
    if job_threads is None or not has_trainer or user_set:
        return None
    if job_threads == "auto":
        return "trainer.threads=1" if launcher.side_by_side_here else None
    return f"trainer.threads={job_threads}"


def job_threads(config: Any, job_threads: Any, launcher: LauncherKind, arguments: Sequence[str]) -> Optional[str]:
    """:func:`threads_override` for the sweep's config (``None`` without one) and command line."""
    has_trainer = config is not None and OmegaConf.select(config, "trainer") is not None
    chosen = OmegaConf.select(config, "trainer.threads") if has_trainer else None
    return threads_override(job_threads, launcher, has_trainer, user_set_threads(chosen, arguments))
