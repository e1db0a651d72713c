"""The loss terms a variant can switch on, each registered by its own module.

A term module declares a config dataclass (its section ``variant.<name>``, with ranges and choices declared beside
the fields by :func:`bounded` and :func:`one_of`), a builder, and calls :func:`register_term` at import. Every
module of ``birsweep.methods`` is imported once when the registry is first read, so a new term needs no other
Python edit: the schema composes its config, ``config_check`` checks its values and ``build_terms`` builds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Generic, List, Optional, Tuple, Type, TypeVar

from omegaconf import DictConfig, OmegaConf

from birsweep.declare import Range, ranges_of
from birsweep.methods.discovery import import_all
from birsweep.methods.terms import LossTerm

if TYPE_CHECKING:
    from birsweep.data.features import Inputs
    from birsweep.models.bir import BIRNet

C = TypeVar("C")
T = TypeVar("T")

SHARED_KEYS = ("name", "use_rep_f", "rep_f")  # variant keys that belong to no single term


@dataclass(frozen=True)
class TermContext:
    """What a builder may need besides its own section: the network, the inputs and the shared variant keys."""

    model: BIRNet
    inputs: Inputs
    use_rep_f: bool
    rep_f: float


@dataclass(frozen=True)
class TermSpec(Generic[C]):
    name: str  # the config section variant.<name>
    config: Type[C]  # dataclass of the section: fields, defaults, ranges, choices
    build: Callable[[C, TermContext], List[LossTerm]]  # the enabled terms of the section ([] when off)
    order: int  # place in the step and in the optimiser's parameter groups, lowest first
    switches: Tuple[str, ...] = ("enabled",)  # boolean fields that switch a term of the section on
    check: Optional[Callable[[C], Optional[str]]] = None  # a cross-field problem, as one line, or None
    batched: bool = False  # the batched trainer runs its terms (docs/sweeps.md, Many trials per job)

    def switched_on(self, section: DictConfig) -> List[str]:
        """Labels of the switches that are on: ``<name>`` for ``enabled``, else ``<name>.<switch>``."""
        return [self.name if s == "enabled" else f"{self.name}.{s}" for s in self.switches if section[s]]


_REGISTRY: Dict[str, TermSpec[Any]] = {}


def register_term(spec: TermSpec[C]) -> TermSpec[C]:
    """Add a term section to the registry; a name may be registered once (or again by the same config class)."""
    if spec.name in SHARED_KEYS:
        raise ValueError(f"loss term name {spec.name!r} is a shared variant key")
    known = _REGISTRY.get(spec.name)
    if known is not None and _origin(known.config) != _origin(spec.config):
        raise ValueError(
            f"loss term {spec.name!r} is registered twice: {_origin(known.config)}, {_origin(spec.config)}"
        )
    _REGISTRY[spec.name] = spec
    return spec


def _origin(config: type) -> str:
    return f"{config.__module__}.{config.__qualname__}"


def term_specs() -> List[TermSpec[Any]]:
    """Every registered term section, in the order of the step."""
    import_all()  # a term module registers itself
    return sorted(_REGISTRY.values(), key=lambda spec: spec.order)


def term_config(spec: TermSpec[C], variant: DictConfig) -> C:
    """The typed config of ``spec``'s section of a composed ``variant`` node."""
    values = OmegaConf.to_container(variant[spec.name], resolve=True)
    assert isinstance(values, dict)
    return spec.config(**{str(key): value for key, value in values.items()})


def term_ranges() -> Dict[str, Range]:
    """``variant.<term>.<field>`` -> its allowed interval, for every field declared with :func:`bounded`."""
    return {key: r for spec in term_specs() for key, r in ranges_of(spec.config, f"variant.{spec.name}.").items()}
