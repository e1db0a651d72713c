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
    if not meth.internal and cfg.model.encoder.type == "conv":
        # image replay on conv models exists for BI-R with feedback and frozen conv layers (docs/method.md, Internal
        # replay); upstream's s-GR family trains the conv layers of a separate generator at the image level
        if not meth.feedback or str(meth.ablation or "").startswith("sgr"):
            raise ConfigError(
                f"{'ablation=' + meth.ablation if meth.ablation else 'method.feedback=false'} with "
                "method.internal=false on a conv model needs trainable conv layers in BI-R's generator, which "
                "birsweep does not build: on CIFAR use method=gr (upstream's s-GR on images) or ablation=sgr_internal, "
                "or run the s-GR ablations on a pixel model (experiment=ablations_digits)"
            )
