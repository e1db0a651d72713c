"""Hydra callback, run before Hydra creates the run or sweep dir and writes the config into it: an output dir that
cannot be created or written stops the command with one line (Hydra would fail on it with a traceback), and so
does a literal password anywhere in the composed config (Hydra would write it into ``.hydra/`` or
``multirun.yaml``); the command line itself is checked earlier, by ``launch.py``."""

from __future__ import annotations

import os
from typing import Any, Iterator, Optional, Tuple

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from birsweep.errors import ConfigError, StorageError
from birsweep.secrets import check_config_value


def unwritable(path: str) -> Optional[str]:
    """Why ``path`` cannot be created or written, or None. Looks at its nearest existing ancestor only, so a
    ``${now:...}`` part resolved again later does not matter; ``os.access`` also sees read-only file systems."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent
    if not os.path.isdir(probe):
        return f"{probe} is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable"
    return None


def _check(config: DictConfig, key: str) -> None:
    from birsweep.sweep.errors import PassThroughHydra

    try:
        path = OmegaConf.select(config, key, throw_on_missing=True)
    except Exception:  # an interpolation only Hydra can resolve later: leave the dir to Hydra
        return
    problem = unwritable(str(path)) if path else None
    if problem:
        error = StorageError(f"cannot create the output dir {path} ({key}): {problem}; give another {key}=...")
        raise PassThroughHydra(error)  # a BaseException: past Hydra's handler, to launch.py's one line


def _strings(node: Any, prefix: str = "") -> Iterator[Tuple[str, str]]:
    """Every string value of a plain config tree with its dotted key."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{prefix}{key}.")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{prefix}{i}.")
    elif isinstance(node, str):
        yield prefix[:-1], node


def _check_secrets(config: DictConfig) -> None:
    """A password written out in a config file (unresolved values: an ${oc.env:...} stays what it is)."""
    from birsweep.sweep.errors import PassThroughHydra

    tree = OmegaConf.to_container(config, resolve=False)
    for key, value in _strings(tree):
        try:
            check_config_value(key, value)
        except ConfigError as err:
            raise PassThroughHydra(err) from None


class CheckOutputDirs(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check_secrets(config)
        _check(config, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from birsweep.hydra_errors import hydra_error_line
        from birsweep.sweep.errors import PassThroughHydra
        from birsweep.sweep_values import check_sweep_values

        _check_secrets(config)
        try:
            check_sweep_values(config)  # every value a sweep lists, before the sweeper writes multirun.yaml
        except ConfigError as err:
            raise PassThroughHydra(err) from None
        except Exception as err:  # Hydra only warns about a callback's Exception: carry it past as one line
            raise PassThroughHydra(ConfigError(hydra_error_line(err) or str(err))) from None
        _check(config, "hydra.sweep.dir")
