"""The continual-learning methods, each registered by its own module (docs/method.md, Adding a method).

A method module declares the config keys it reads (a dataclass whose fields join the ``method`` section, with ranges
and choices declared beside them by ``bounded`` and ``one_of``), a builder of its model, step and hooks
(``birsweep.methods.method_api``), its label in reports and its own rules, and calls :func:`register_method` at
import. Its YAML file ``conf/method/<name>.yaml`` sets ``method.kind: <name>``, the key the registry is read by.
The schema, the config check, the run loop, the generator evaluation and the report's methods table read this
registry; nothing else names a method.
"""

from __future__ import annotations

import functools
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, make_dataclass
from typing import Any, Callable, Dict, Generic, List, Optional, Tuple, Type, TypeVar, cast

from omegaconf import DictConfig

from birsweep.declare import one_of
from birsweep.errors import ConfigError
from birsweep.methods.discovery import import_all
from birsweep.methods.method_api import Built, Toolkit

C = TypeVar("C")


@dataclass
class SharedMethodConfig:
    """The ``method`` keys every method has; each method adds the keys of its own config (see MethodConfig)."""

    name: str = "bir_si"  # the run's label (experiment_name, W&B); the method's YAML sets it, an ablation renames it
    kind: str = "bir_si"  # the registered method this runs (birsweep/methods/*_method.py); its YAML sets it
    targets: str = one_of("soft", "soft", "hard")  # replay's targets: soft (distillation) | hard (previous argmax)
    ablation: Optional[str] = None  # the ablation group's choice (conf/ablation), null for the methods themselves
    # conv models (docs/method.md, Image-level models): train the pre-trained conv layers on images (upstream's
    # freeze_convE=False; the plain-classifier methods' files set true, and the s-GR ablations)
    train_conv: bool = False


def _never(cfg: DictConfig) -> bool:
    return False


def _train_conv(cfg: DictConfig) -> bool:
    return bool(cfg.method.train_conv)


@dataclass(frozen=True)
class MethodSpec(Generic[C]):
    name: str  # method.kind, and the name of conf/method/<name>.yaml
    label: str  # in reports, e.g. "BI-R + SI"
    config: Type[C]  # the method's own keys (flat in the method section): fields, defaults, ranges, choices
    build: Callable[[Toolkit], Built]
    order: int  # place in the report's methods table, lowest first (the upper bound last)
    across_tasks: bool = True  # replay or a regulariser acts across tasks (refused with trainer.only_last)
    bir_step: Callable[[DictConfig], bool] = _never  # trains with BI-R's step: variants, compile, bf16, batching
    uses_images: Callable[[DictConfig], bool] = _train_conv  # conv models: its model holds conv layers, reads images
    check: Optional[Callable[[DictConfig], Optional[str]]] = None  # a problem with its settings, as one line


_REGISTRY: Dict[str, MethodSpec[Any]] = {}


def register_method(spec: MethodSpec[C]) -> MethodSpec[C]:
    """Add a method; a name may be registered once, and a key may belong to one method config only."""
    if not is_dataclass(spec.config):
        raise ValueError(f"method {spec.name!r}: its config must be a dataclass")
    shared = {f.name for f in fields(SharedMethodConfig)}
    for other in _REGISTRY.values():
        clash = {f.name for f in fields(other.config)} & {f.name for f in fields(spec.config)}
        if other.name == spec.name and _origin(other.build) != _origin(spec.build):
            raise ValueError(f"method {spec.name!r} is registered twice: {_origin(other.build)}, {_origin(spec.build)}")
        if clash and other.config is not spec.config and other.name != spec.name:
            raise ValueError(f"method {spec.name!r}: method.{sorted(clash)[0]} is already a key of {other.name}")
    taken = shared & {f.name for f in fields(spec.config)}
    if taken:
        raise ValueError(f"method {spec.name!r}: method.{sorted(taken)[0]} is a key of every method")
    _REGISTRY[spec.name] = spec
    return spec


def _origin(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def method_specs() -> List[MethodSpec[Any]]:
    """Every registered method, in the report's order."""
    import_all()  # a method module registers itself
    return sorted(_REGISTRY.values(), key=lambda spec: (spec.order, spec.name))


def find_method(kind: str) -> Optional[MethodSpec[Any]]:
    return next((spec for spec in method_specs() if spec.name == kind), None)


def method_of(cfg: DictConfig) -> MethodSpec[Any]:
    """The registered method a composed config runs (``method.kind``)."""
    spec = find_method(str(cfg.method.kind))
    if spec is None:
        known = ", ".join(s.name for s in method_specs())
        raise ConfigError(f"method.kind={cfg.method.kind!r} is not a registered method: choose method=one of {known}")
    return spec


def _configs() -> List[Type[Any]]:
    """The method configs, each once (several methods may share one, as bir and bir_si do)."""
    unique: List[Type[Any]] = []
    for spec in method_specs():
        if spec.config not in unique:
            unique.append(spec.config)
    return unique


def compose_method_config() -> Type[SharedMethodConfig]:
    """The shared keys plus every registered method's own keys: the typed ``method`` section."""
    return _composed(tuple(_configs()))


@functools.cache
def _composed(configs: Tuple[Type[Any], ...]) -> Type[SharedMethodConfig]:
    own = [(f.name, typing.get_type_hints(c)[f.name], _copy(f)) for c in configs for f in fields(c)]
    composed = make_dataclass("MethodConfig", own, bases=(SharedMethodConfig,))
    composed.__module__ = "birsweep.schema"  # found by name when a launcher pickles a composed config
    return cast(Type[SharedMethodConfig], composed)


def _copy(f: Any) -> Any:
    if f.default_factory is not MISSING:
        return field(default_factory=f.default_factory, metadata=f.metadata)
    return field(default=f.default, metadata=f.metadata)


def label_of(kind: str) -> str:
    """A method's label in reports; an unknown name (a method no longer registered) stands for itself."""
    spec = find_method(kind)
    return kind if spec is None else spec.label


def report_rank(kind: str) -> int:
    """A method's place in the report's methods table; unknown names come last."""
    names = [spec.name for spec in method_specs()]
    return names.index(kind) if kind in names else len(names)
