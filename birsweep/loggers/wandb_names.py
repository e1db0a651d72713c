"""What a job's W&B run is called and how it runs: the run name from ``logger.name_format``, the mode."""

from __future__ import annotations

import string
from typing import Dict, Optional, Tuple

from omegaconf import DictConfig

from birsweep.errors import ConfigError
from birsweep.loggers.wandb_start import Mode
from birsweep.naming import method_name

NAME_FIELDS = ("method", "variant", "seed", "trial", "experiment", "data", "study")
MODES: Tuple[Mode, ...] = ("offline", "online", "disabled")
ENV_MODES: Dict[str, Mode] = {
    "offline": "offline",
    "dryrun": "offline",
    "online": "online",
    "run": "online",
    "disabled": "disabled",
}


def parse_mode(text: str) -> Mode:
    for mode in MODES:
        if text == mode:
            return mode
    raise ConfigError(f"logger.mode={text!r} is not one of {', '.join(MODES)}")


def study_name(cfg: DictConfig) -> Optional[str]:
    return str(cfg.optuna.study_name) if cfg.get("optuna") is not None else None


def trial_number(cfg: DictConfig) -> Optional[int]:
    return int(cfg.optuna.trial_number) if cfg.get("optuna") is not None else None


def run_name(cfg: DictConfig) -> str:
    """The W&B run name from ``logger.name_format``; an unknown field is a config error."""
    fmt = str(cfg.logger.name_format)
    fields = [f for _, f, _, _ in string.Formatter().parse(fmt) if f is not None]
    bad = [f for f in fields if f not in NAME_FIELDS]
    if bad:
        raise ConfigError(
            f"logger.name_format={fmt!r}: unknown field {{{bad[0]}}}; "
            f"use {', '.join('{' + f + '}' for f in NAME_FIELDS)}"
        )
    number = trial_number(cfg)
    return fmt.format(
        method=method_name(cfg),
        variant=cfg.variant.name,
        seed=cfg.seed,
        trial="" if number is None else f"-t{number}",
        experiment=cfg.experiment_name,
        data=cfg.data.name,
        study=study_name(cfg) or "",
    )
