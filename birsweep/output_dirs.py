"""Hydra callback: an output dir that cannot be created or written stops the command with one line, before Hydra
itself fails on it with a traceback (it creates the run dir, or the sweep dir, before any birsweep code runs)."""

from __future__ import annotations

import os
from typing import Any, Optional

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from birsweep.errors import StorageError


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


class CheckOutputDirs(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check(config, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check(config, "hydra.sweep.dir")
