"""The rules every method's settings follow (docs/method.md, Methods), read from the registry: one line per
problem. A method's own rules are its ``check`` (in its module)."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any, List

from omegaconf import DictConfig

from birsweep.errors import ConfigError
from birsweep.methods.method_registry import MethodSpec, method_of, method_specs
from birsweep.methods.term_registry import term_specs


def _default(f: Any) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default


def foreign_keys(cfg: DictConfig, spec: MethodSpec[Any]) -> List[str]:
    """``method.<key>=value`` for each key of another method set away from its default: the method would ignore it."""
    own = {f.name for f in fields(spec.config)}
    found: List[str] = []
    for other in method_specs():
        for f in fields(other.config):
            value = cfg.method[f.name]
            if f.name not in own and value != _default(f):
                shown = str(value).lower() if isinstance(value, bool) else value
                found.append(f"method.{f.name}={shown} is a key of method={other.name}")
    return found


def variant_terms(cfg: DictConfig) -> List[str]:
    """The labels of the loss terms the variant switches on."""
    return [label for spec in term_specs() for label in spec.switched_on(cfg.variant[spec.name])]


def check_method(cfg: DictConfig) -> None:
    """The method is registered and its settings fit together and with the trainer and the variant."""
    meth = cfg.method
    if not str(meth.name).strip():
        raise ConfigError("method.name is empty: name the method (it labels runs), e.g. method=bir_si")
    spec = method_of(cfg)
    foreign = foreign_keys(cfg, spec)
    if foreign:
        raise ConfigError(f"{foreign[0]}, which method={meth.name} does not read: drop it, or choose that method")
    if cfg.trainer.only_last and (spec.across_tasks or cfg.model.si_c > 0):
        raise ConfigError(
            f"trainer.only_last=true trains the last task alone, which method={meth.name} would not "
            "(replay, SI or EWC act across tasks): use it with method=none, or ablation=only_last"
        )
    problem = spec.check(cfg) if spec.check else None
    if problem:
        raise ConfigError(problem)
    compiled = str(cfg.trainer.compile).lower() not in ("off", "false")
    if not spec.bir_step(cfg) and (compiled or str(cfg.trainer.precision) != "32"):
        raise ConfigError(
            f"trainer.compile and trainer.precision=bf16 apply to BI-R's step; method={meth.name} trains a plain "
            "classifier in full precision: drop them"
        )
    terms = variant_terms(cfg)
    if terms and not spec.bir_step(cfg):
        raise ConfigError(
            f"variant.{terms[0]} acts on the BI-R model's replayed samples, which method={meth.name} does not "
            "have: use method=bir_si or method=bir, or variant=baseline"
        )
