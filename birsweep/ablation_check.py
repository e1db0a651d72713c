"""Which combinations of BI-R's component switches run (docs/method.md, Ablations); one line for the others."""

from __future__ import annotations

from omegaconf import DictConfig

from birsweep.errors import ConfigError

BIR_SWITCHES = ("feedback", "conditional", "gates")


def check_ablation(cfg: DictConfig) -> None:
    meth = cfg.method
    off = [key for key in BIR_SWITCHES if not meth[key]]
    if off and meth.net != "bir":
        raise ConfigError(
            f"method.{off[0]}=false switches off a piece of the BI-R network, which method={meth.name} (a plain "
            "classifier) does not have: drop it, or use method=bir / an ablation (ablation=...)"
        )
    if off and meth.replay != "generative":
        raise ConfigError(f"method.{off[0]}=false acts on BI-R's replay: it needs method.replay=generative")
