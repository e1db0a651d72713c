"""Optuna samplers and pruners from their ``_target_`` configs (``hydra/sweeper/sampler=...``, ``.../pruner=...``).

The sweeper builds both; a job rebuilds the same pruner from the config it was given (Optuna does not store
pruners with the study), so both sides go through :func:`build_pruner`.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable, Dict, Optional, Tuple

import optuna
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

from birsweep.errors import ConfigError, last_line
from birsweep.sweep.search.distinct import distinct
from birsweep.sweep.search.grammar import SearchSpace, grid_values

log = logging.getLogger(__name__)


def plain_dict(node: Any, what: str) -> Dict[str, Any]:
    """A mapping (DictConfig or dict, interpolations resolved) as a plain dict; ``None`` is ``{}``."""
    if node is None:
        return {}
    if OmegaConf.is_config(node):
        node = OmegaConf.to_container(node, resolve=True)
    if not isinstance(node, dict):
        raise ConfigError(f"the {what} must be a mapping of key: value, got {node!r}")
    return {str(k): v for k, v in node.items()}


def plain_config(config: Any, what: str) -> Optional[Dict[str, Any]]:
    """A ``_target_`` config as a plain dict (interpolations resolved); ``None`` stays ``None``."""
    if config is None:
        return None
    if OmegaConf.is_config(config):
        config = OmegaConf.to_container(config, resolve=True)
    if not isinstance(config, dict) or "_target_" not in config:
        raise ConfigError(f"the {what} must be a config with a _target_, got {config!r}")
    return {str(k): v for k, v in config.items()}


def _build(config: Dict[str, Any], what: str, **extra: Any) -> object:
    """The object a ``_target_`` config builds; the callers check its type (mypy takes no abstract ``type[T]``)."""
    try:
        built: object = instantiate(config, **extra)
    except Exception as err:  # hydra's InstantiationException carries the cause on several lines
        raise ConfigError(f"cannot build the {what} {config['_target_']!r}: {last_line(err)}") from None
    return built


def _not_optuna(config: Dict[str, Any], what: str) -> ConfigError:
    return ConfigError(f"{config['_target_']!r} is not an optuna {what}")


def _build_sampler(config: Dict[str, Any], **extra: Any) -> optuna.samplers.BaseSampler:
    sampler = _build(config, "sampler", **extra)
    if not isinstance(sampler, optuna.samplers.BaseSampler):
        raise _not_optuna(config, "sampler")
    return sampler


def build_pruner(config: Any) -> optuna.pruners.BasePruner:
    """An Optuna pruner from a ``_target_`` config (dict or DictConfig); ``None`` is the NopPruner."""
    plain = plain_config(config, "pruner")
    if plain is None:
        return optuna.pruners.NopPruner()
    pruner = _build(plain, "pruner")
    if not isinstance(pruner, optuna.pruners.BasePruner):
        raise _not_optuna(plain, "pruner")
    return pruner


def build_sampler(config: Any, space: SearchSpace, n_trials: int) -> Tuple[optuna.samplers.BaseSampler, int]:
    """The sampler, and the number of finished trials to aim for: ``n_trials``, or the grid's size if smaller.

    ``None`` is Optuna's default TPE. The grid sampler's ``search_space`` is the grid of ``space``."""
    plain = plain_config(config, "sampler")
    if plain is None:
        return optuna.samplers.TPESampler(), n_trials
    target = plain["_target_"]
    try:
        cls = get_class(target)
    except Exception:
        raise ConfigError(
            f"unknown sampler {target!r}: choose hydra/sweeper/sampler=tpe|random|grid|cmaes|gp|qmc"
            " or give the _target_ of an optuna sampler class"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, optuna.samplers.BaseSampler)):
        raise _not_optuna(plain, "sampler")
    if not issubclass(cls, optuna.samplers.GridSampler):
        return _build_sampler(plain), n_trials
    if space.conditional:
        raise ConfigError(
            f"the grid sampler cannot skip parameters: {', '.join(space.conditional)} has a when(...) condition; "
            "drop the condition or use another sampler"
        )
    grid = {k: grid_values(k, d) for k, d in space.distributions.items()}
    size = math.prod(len(v) for v in grid.values())
    if size < n_trials:
        log.info("the grid has %d points: n_trials %d -> %d", size, n_trials, size)
    plain.pop("search_space", None)
    return _build_sampler(plain, search_space=grid), min(size, n_trials)


def sampler_maker(
    config: Any, space: SearchSpace, n_trials: int
) -> Tuple[Callable[[Optional[int]], Any], Optional[int]]:
    """``(make, seed)``: ``make(s)`` builds the configured sampler with seed ``s`` in place of the config's ``seed``
    (a sampler config without a ``seed`` key is built as it is); ``seed`` is the config's."""
    plain = plain_config(config, "sampler")
    if plain is None:
        return (lambda s: optuna.samplers.TPESampler(seed=s)), None
    if "seed" not in plain:
        return (lambda s: build_sampler(plain, space, n_trials)[0]), None
    seed = plain["seed"]
    return (lambda s: build_sampler({**plain, "seed": s}, space, n_trials)[0]), None if seed is None else int(seed)


def search_sampler(config: Any, space: SearchSpace, n_trials: int) -> Tuple[optuna.samplers.BaseSampler, int]:
    """The sweep's sampler, proposing no parameter set the study holds (:mod:`.distinct`), and the number of finished
    trials to aim for (:func:`build_sampler`)."""
    _, target = build_sampler(config, space, n_trials)
    make, seed = sampler_maker(config, space, n_trials)
    return distinct(make, seed, space), target
