"""What a run is called: the continual-learning method it ran, as an OmegaConf resolver for names and dirs.

``variant.name`` says which memory-exaggeration terms are on; it does not say whether replay or SI ran, so
no-replay fine-tuning (``model.replay=none model.si_c=0``) would otherwise be named like the BI-R + SI baseline.
"""

from __future__ import annotations

from omegaconf import OmegaConf

RESOLVER = "method"  # used as ${method:${model.replay},${model.si_c}}


def method_name(replay: str, si_c: float) -> str:
    """bir_si (BI-R + SI) | bir (BI-R, si_c=0) | si (SI without replay) | finetune (neither)."""
    bir = str(replay) != "none"
    si = float(si_c) > 0
    if bir:
        return "bir_si" if si else "bir"
    return "si" if si else "finetune"


def register_resolvers() -> None:
    """Idempotent: the launcher, the sweeper and every job process call it before resolving a config."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, method_name)
