"""What a run is called: the continual-learning method it ran is the ``method`` group's choice (``method.name``).

``variant.name`` says which memory-exaggeration terms are on, ``method.name`` which method they were added to (or
that ran alone), so ``experiment_name`` is ``<data>-<method>-<variant>``.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

RESOLVER = "method"  # ${method:<replay>,<si_c>}: the name configs composed before the method group used


def method_name(cfg: DictConfig) -> str:
    """bir_si | bir | gr | lwf | si | ewc | none | joint: the method group's choice."""
    return str(cfg.method.name)


def legacy_method_name(replay: str, si_c: float) -> str:
    """The name a config without the method group derived from model.replay and model.si_c (old studies'
    stored configs still resolve it): bir_si | bir | si | finetune."""
    bir = str(replay) != "none"
    si = float(si_c) > 0
    if bir:
        return "bir_si" if si else "bir"
    return "si" if si else "finetune"


def register_resolvers() -> None:
    """Idempotent: the launcher, the sweeper and every job process call it before resolving a config."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, legacy_method_name)
