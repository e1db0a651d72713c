"""Hooks the training run calls, so loggers and the sweeper's trial handle plug in without touching the loop.

Callbacks get values and read-only views, never the record itself: what a callback wants recorded it returns, and
the loop writes it (the trial a run belongs to, or a reason to record a finished run as failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from birsweep.models.bir import BIRNet
from birsweep.tracking.record import RecordView
from birsweep.tracking.record_fields import RunStatus, TrialInfo


@dataclass(frozen=True)
class TaskEnd:
    """What the end of task ``task`` (1-based) carries, with the values as the record keeps them."""

    task: int
    n_tasks: int
    avg_acc: float  # average accuracy over tasks 1..task
    accuracies: Tuple[float, ...]  # accuracy on each task 1..task
    seconds: Optional[float]  # training time of the task (None if a restored history lacks it)
    val_avg_acc: Optional[float] = None  # the same average on the validation split (None without one)
    inert_terms: Tuple[str, ...] = ()  # enabled loss terms that acted on no sample so far

    @property
    def objective(self) -> float:
        """What a sweeper may see: the validation average when there is a split, never the test one then."""
        return self.avg_acc if self.val_avg_acc is None else self.val_avg_acc

    @classmethod
    def of(cls, record: RecordView, task: int) -> TaskEnd:
        """Task ``task``'s end as ``record`` holds it (also for catching up on tasks of a restored history)."""
        tasks_s = record["timings"]["tasks_s"]
        return cls(
            task=task,
            n_tasks=int(record["n_tasks"]),
            avg_acc=record["avg_acc"][task - 1],
            accuracies=tuple(record["acc_matrix"][task - 1][:task]),
            seconds=tasks_s[task - 1] if len(tasks_s) >= task else None,
            val_avg_acc=record["val_avg_acc"][task - 1] if "val_avg_acc" in record else None,
            inert_terms=_inert_after(record, task),
        )


def _inert_after(record: RecordView, task: int) -> Tuple[str, ...]:
    """The terms with no participating sample in tasks 1..task (older records without counts: none)."""
    counts = record.get("participation") or {}
    return tuple(name for name, per_task in counts.items() if len(per_task) >= task and sum(per_task[:task]) == 0)


class RunCallback:
    """No-op base: override what you need. Hooks run in this order: ``on_start``, per task ``on_losses`` (every
    ``trainer.log_every`` iterations), ``on_model``, ``on_task_end``; then ``on_finish`` and ``on_end`` once,
    whatever the outcome."""

    def on_start(self, record: RecordView) -> Optional[TrialInfo]:
        """After set-up and any resume (``record`` holds the restored history); return the run's trial to record."""
        return None

    def on_losses(self, step: int, task: int, values: Dict[str, float]) -> None:
        """The losses at global iteration ``step``, as the record keeps them."""

    def on_model(self, task: int, model: BIRNet, image_shape: Tuple[int, ...]) -> None:
        """After task ``task``'s evaluation, before ``on_task_end``: the trained model, read-only, and the shape of
        the data's images (draw random numbers from your own generator, so the run's numbers do not change)."""

    def on_task_end(self, end: TaskEnd) -> None:
        """After a task's evaluation and checkpoint; may raise :class:`birsweep.errors.RunPruned` to stop the run."""

    def on_finish(self, status: RunStatus) -> Optional[str]:
        """The run has ended with ``status``; return a reason to record it as failed instead (e.g. its trial was
        closed meanwhile), else None."""
        return None

    def on_end(self, record: RecordView) -> None:
        """Called once, whatever the outcome; ``record["status"]`` says which."""


class CallbackList(RunCallback):
    def __init__(self, callbacks: Iterable[Optional[RunCallback]]):
        self.callbacks: List[RunCallback] = [c for c in callbacks if c is not None]

    def on_start(self, record: RecordView) -> Optional[TrialInfo]:
        """Every callback starts; the first trial returned is the run's."""
        trials = [c.on_start(record) for c in self.callbacks]
        return next((t for t in trials if t is not None), None)

    def on_losses(self, step: int, task: int, values: Dict[str, float]) -> None:
        for c in self.callbacks:
            c.on_losses(step, task, values)

    def on_model(self, task: int, model: BIRNet, image_shape: Tuple[int, ...]) -> None:
        for c in self.callbacks:
            c.on_model(task, model, image_shape)

    def on_task_end(self, end: TaskEnd) -> None:
        for c in self.callbacks:
            c.on_task_end(end)

    def on_finish(self, status: RunStatus) -> Optional[str]:
        """Every callback is asked; the first reason to fail wins."""
        reasons = [c.on_finish(status) for c in self.callbacks]
        return next((r for r in reasons if r is not None), None)

    def on_end(self, record: RecordView) -> None:
        for c in self.callbacks:
            c.on_end(record)
