"""One trial's parameters: the unconditional ones with ``study.ask``, then, define-by-run, each conditional one
whose condition holds (so Optuna never stores a value for a parameter the job did not use)."""

from __future__ import annotations

from typing import Any, Dict, Tuple

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from birsweep.sweep.search.grammar import SearchSpace


def suggest(trial: optuna.Trial, key: str, dist: BaseDistribution) -> Any:
    """``trial.suggest_*`` for a distribution the grammar made."""
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(key, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(key, dist.low, dist.high, step=dist.step, log=dist.log)
    assert isinstance(dist, FloatDistribution), f"{key}: no suggest_* for {dist!r}"
    return trial.suggest_float(key, dist.low, dist.high, step=dist.step, log=dist.log)


def ask(study: optuna.Study, space: SearchSpace) -> Tuple[optuna.Trial, Dict[str, Any]]:
    """A new trial and its parameters, conditional ones only where sampled."""
    trial = study.ask(fixed_distributions=space.distributions)
    for key, dist in space.active(trial.params).items():
        suggest(trial, key, dist)
    return trial, {k: trial.params[k] for k in space.searched if k in trial.params}
