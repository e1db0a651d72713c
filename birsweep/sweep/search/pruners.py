"""Median and percentile pruning judged task by task.

Optuna's MedianPruner and PercentilePruner compare a trial's *best* value over all steps so far with the median
(percentile) of earlier trials at the current step. That suits learning curves that rise; the average accuracy
over the tasks seen falls as tasks are added (after task 1 every run is near 100%), so the best value is always
the first one and those pruners would never prune. These subclasses take the same arguments and compare the
value reported after the current task with the others' after the same task.
"""

from __future__ import annotations

import copy
import math

import optuna
from optuna.study import StudyDirection


def latest_value_view(trial: optuna.trial.FrozenTrial, direction: StudyDirection) -> optuna.trial.FrozenTrial:
    """A copy of ``trial`` whose earlier reports are the worst possible, so its best report is its latest."""
    step = trial.last_step
    if step is None:
        return trial
    worst = -math.inf if direction == StudyDirection.MAXIMIZE else math.inf
    view = copy.copy(trial)
    view.intermediate_values = {s: (v if s == step else worst) for s, v in trial.intermediate_values.items()}
    return view


class MedianPruner(optuna.pruners.MedianPruner):
    """optuna.pruners.MedianPruner on the value after the current task (module docstring)."""

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return super().prune(study, latest_value_view(trial, study.direction))


class PercentilePruner(optuna.pruners.PercentilePruner):
    """optuna.pruners.PercentilePruner on the value after the current task (module docstring)."""

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return super().prune(study, latest_value_view(trial, study.direction))
