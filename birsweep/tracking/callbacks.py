"""Hooks the training run calls, so loggers and the sweeper's trial handle plug in without touching the loop."""
from __future__ import annotations

from typing import Dict, Iterable, List


class RunCallback:
    """No-op base: override what you need. ``record`` is the live RunRecord."""

    def on_start(self, record) -> None:
        pass

    def on_losses(self, step: int, task: int, values: Dict[str, float]) -> None:
        pass

    def on_model(self, task: int, model, inputs) -> None:
        """After task ``task``'s evaluation, before ``on_task_end``: the trained model and its inputs, read-only
        (draw random numbers from your own generator, so the run's numbers do not change)."""

    def on_task_end(self, task: int, record) -> None:
        """Called after a task's evaluation and checkpoint; may raise optuna.TrialPruned to stop the run."""

    def on_end(self, record) -> None:
        """Called once, whatever the outcome; ``record.data['status']`` says which."""


class CallbackList(RunCallback):
    def __init__(self, callbacks: Iterable[RunCallback]):
        self.callbacks: List[RunCallback] = [c for c in callbacks if c is not None]

    def on_start(self, record) -> None:
        for c in self.callbacks:
            c.on_start(record)

    def on_losses(self, step, task, values) -> None:
        for c in self.callbacks:
            c.on_losses(step, task, values)

    def on_model(self, task, model, inputs) -> None:
        for c in self.callbacks:
            c.on_model(task, model, inputs)

    def on_task_end(self, task, record) -> None:
        for c in self.callbacks:
            c.on_task_end(task, record)

    def on_end(self, record) -> None:
        for c in self.callbacks:
            c.on_end(record)
