"""A pause at a chosen point of a real ``launch.py`` job, so a test signals or kills it there whatever the speed of
the machine (no run made long to give a test time to act).

``gate(dir, task=2)`` gives the overrides that add Hydra's callback ``hydra.callbacks.gate``. In each job it adds
a run callback: the first time the job reaches the point (``at="end"``: task ``task`` evaluated and checkpointed;
``at="mid"``: task ``task``'s first loss log, mid-task) it writes ``dir/<job>.reached`` (its pid) and waits there
until the test writes ``dir/<job>.open`` (:func:`open_gate`). ``<job>`` is the job's output dir relative to the
sweep dir (``/`` as ``~``: ``confirm~trial_0~seed_2``), or its last part for a single run; ``jobs`` (an fnmatch
pattern on that name) picks the jobs that stop. A job that reaches its point again (a requeued or resumed job)
passes, and so does one that waited ``bound`` seconds (a test that never opened it has failed by then). The
heartbeat thread of a sweep's job beats on while it waits; a stop signal's exception ends the wait as it would
end training.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, List, Optional

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from birsweep.train.loop.callbacks import RunCallback, TaskEnd

log = logging.getLogger(__name__)
_current: Optional[_Pause] = None  # the gate of the job this process runs now (the basic launcher runs several)


def gate(directory: Path, task: int = 1, at: str = "end", jobs: str = "*", bound: float = 900.0) -> List[str]:
    """The overrides that stop the matching jobs of a ``launch.py`` command at ``at`` of task ``task``."""
    return [
        "+hydra.callbacks.gate._target_=tests.gate.Gate",
        f"+hydra.callbacks.gate.directory={directory}",
        f"+hydra.callbacks.gate.task={task}",
        f"+hydra.callbacks.gate.at={at}",
        f"+hydra.callbacks.gate.jobs='{jobs}'",
        f"+hydra.callbacks.gate.bound={bound}",
    ]


def reached(directory: Path, job: str) -> Path:
    return directory / f"{job.replace('/', '~')}.reached"


def open_gate(directory: Path, job: str) -> None:
    (directory / f"{job.replace('/', '~')}.open").write_text("open\n")


def wait_until_reached(
    directory: Path, job: str, alive: Callable[[], bool], what: Callable[[], str] = str, bound: float = 600.0
) -> int:
    """The pid of the job waiting at its gate, once it is there; fails if ``alive()`` turns false first (the
    process ended without reaching it) or after ``bound`` seconds, saying ``what()`` (its output, say)."""
    path, deadline = reached(directory, job), time.monotonic() + bound
    while not path.exists():
        assert alive(), f"the job ended before it reached its gate {path.name}: {what()[-3000:]}"
        assert time.monotonic() < deadline, f"no job reached the gate {path.name} in {bound} s: {what()[-3000:]}"
        time.sleep(0.05)
    return int(path.read_text())


class _Pause(RunCallback):
    def __init__(self, directory: Path, job: str, task: int, at: str, bound: float):
        self.directory, self.job, self.task, self.at, self.bound = directory, job, task, at, bound

    def _stop_here(self) -> None:
        mark = reached(self.directory, self.job)
        if mark.exists():  # the second time: a requeued or resumed job goes on
            return
        mark.write_text(str(os.getpid()))
        key = mark.with_suffix(".open")
        deadline = time.monotonic() + self.bound
        while not key.exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # a signal's handler raises here as it would in the training step
        if not key.exists():
            log.warning("gate %s: not opened within %.0f s, going on", self.job, self.bound)

    def on_losses(self, step: int, task: int, values: Any) -> None:
        if self.at == "mid" and task == self.task:
            self._stop_here()

    def on_task_end(self, end: TaskEnd) -> None:
        if self.at == "end" and end.task == self.task:
            self._stop_here()


def _with_gate(job_callbacks: Callable[..., List[RunCallback]]) -> Callable[..., List[RunCallback]]:
    def wrapped(*args: Any, **kwargs: Any) -> List[RunCallback]:
        callbacks = job_callbacks(*args, **kwargs)
        return callbacks + ([_current] if _current is not None else [])

    wrapped.gated = True  # type: ignore[attr-defined]
    return wrapped


class Gate(Callback):
    """``hydra.callbacks.gate`` (:func:`gate` writes its overrides)."""

    def __init__(self, directory: str, task: int = 1, at: str = "end", jobs: str = "*", bound: float = 900.0):
        assert at in ("end", "mid"), at
        self.directory, self.task, self.at, self.jobs, self.bound = Path(directory), task, at, jobs, bound

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        import birsweep.app as app

        global _current
        hydra = HydraConfig.get()
        out = Path(hydra.runtime.output_dir)
        multirun = hydra.mode == RunMode.MULTIRUN
        job = Path(os.path.relpath(out, Path(hydra.sweep.dir).absolute())).as_posix() if multirun else out.name
        _current = _Pause(self.directory, job, self.task, self.at, self.bound)
        if not fnmatch.fnmatch(job, self.jobs):
            _current = None
        if not getattr(app.job_callbacks, "gated", False):
            app.job_callbacks = _with_gate(app.job_callbacks)
