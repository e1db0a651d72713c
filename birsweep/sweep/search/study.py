"""The study a sweep runs, and where: the storage this process opens, the storage its jobs are told, and the study
opened there with the direction the config asks for.

Kept out of :mod:`birsweep.sweep.search.sweeper` so that module holds only the ask/launch/tell loop; what a storage
spec means is :mod:`birsweep.sweep.search.storage`.
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Tuple

import optuna
from omegaconf import DictConfig, OmegaConf
from optuna.study import StudyDirection
from optuna.trial import TrialState

from birsweep.errors import ConfigError
from birsweep.secrets import check_no_literal_passwords, mask_url
from birsweep.sweep.search.grammar import SearchSpace
from birsweep.sweep.search.storage import default_storage, normalise, open_storage

log = logging.getLogger(__name__)


def storage_urls(config: Optional[DictConfig], storage: Optional[str], sweep_dir: str) -> Tuple[str, str]:
    """``(what this process opens, what jobs receive)``. An ``${oc.env:...}`` stays unresolved for the jobs, so a
    password kept in an environment variable is never written into a job's overrides; a config file's literal
    password is refused here, before the sweeper writes multirun.yaml."""
    raw = _as_written(config, "storage")
    if isinstance(raw, str):
        check_no_literal_passwords([raw], where="hydra.sweeper.storage in the config")
    url = normalise(storage) if storage else default_storage(sweep_dir)
    return url, raw if isinstance(raw, str) and "${oc.env:" in raw else url


def _as_written(config: Optional[DictConfig], key: str) -> Any:
    """``hydra.sweeper.<key>`` as the config says it, interpolations unresolved."""
    node = OmegaConf.to_container(config.hydra.sweeper, resolve=False) if config is not None else {}
    return node.get(key) if isinstance(node, dict) else None


def open_study(
    url: str,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
    study_name: str,
    direction: str,
) -> optuna.Study:
    """The study named ``study_name`` in ``url``, created when new; a study there of the other direction is a
    :class:`ConfigError` (``direction`` is maximize or minimize: check_settings allows no other)."""
    direction = direction.lower()
    study = optuna.create_study(
        storage=open_storage(url),
        sampler=sampler,
        pruner=pruner,
        study_name=study_name,
        direction=StudyDirection[direction.upper()],
        load_if_exists=True,
    )
    if study.direction.name.lower() != direction:
        raise ConfigError(
            f"study {study.study_name!r} in {mask_url(url)} is "
            f"{study.direction.name.lower()}, the config says {direction}: "
            "use another study_name or the study's direction"
        )
    return study


def log_opening(study: optuna.Study, storage_url: str, target: int, in_flight: str, space: SearchSpace) -> None:
    """What the sweep is about to do, and the space it searches, one parameter a line."""
    sampler = type(getattr(study.sampler, "base", study.sampler)).__name__  # the sampler inside DistinctSampler
    log.info(
        "Optuna study %r (%s) in %s: %d finished trials wanted, %s, sampler %s, pruner %s",
        study.study_name,
        study.direction.name.lower(),
        mask_url(storage_url),
        target,
        in_flight,
        sampler,
        type(study.pruner).__name__,
    )
    for key, dist in space.distributions.items():
        log.info("  %s: %s", key, dist)
    for key, dist in space.conditional.items():
        log.info("  %s: %s when %s", key, dist, space.conditions[key])


def counted(study: optuna.Study, states: Tuple[TrialState, ...]) -> int:
    """Trials in ``states`` that count toward ``n_trials``: all but a retryable FAIL (a trial that a stop signal or
    a dead sweep cut short ran to no end of its own: another trial takes its place, docs/sweeps.md)."""
    trials = study.get_trials(deepcopy=False, states=states)
    return sum(1 for t in trials if not (t.state == TrialState.FAIL and t.user_attrs.get("retryable")))
