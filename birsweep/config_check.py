"""Value checks the typed schema cannot express: choices, ranges and rules across fields, one clear line each.

Each key declares its range or choices beside its field (``birsweep.declare``: the schema's sections, the loss
terms', the methods' and the data sets' own sections; ``data.name``'s choices are the registered data sets); they
are read from the declarations and checked here, before the rules that tie keys together. The methods' own rules
live with them (birsweep/methods/method_check.py and each method's module).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import typing
from typing import Any, Dict, List, Optional, Tuple

from omegaconf import DictConfig, OmegaConf

from birsweep.data.sources import data_source, source_names
from birsweep.declare import Range, choices_of, ranges_of
from birsweep.errors import ConfigError
from birsweep.hydra_errors import unknown_key_line
from birsweep.methods.method_check import check_method, variant_terms
from birsweep.methods.term_registry import term_config, term_specs


def _in_range(value, low, high, low_incl, high_incl) -> bool:
    above = value >= low if low_incl else value > low
    below = value <= high if high_incl else value < high
    return above and below


def _interval(low, high, low_incl, high_incl) -> str:
    return f"{'[' if low_incl else '('}{low}, {high}{']' if high_incl else ')'}"


def _schema_tree(cls: Any) -> Dict[str, Any]:
    """The keys of a schema dataclass: a nested dict per typed section, None for a leaf (a value, list or Any)."""
    tree: Dict[str, Any] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        options = [a for a in typing.get_args(kind) if a is not type(None)] if typing.get_origin(kind) else [kind]
        section = next((a for a in options if dataclasses.is_dataclass(a)), None)
        tree[f.name] = _schema_tree(section) if section is not None else None
    return tree


def _unknown_keys(node: DictConfig, tree: Dict[str, Any], prefix: str = "") -> List[str]:
    found: List[str] = []
    for key in node.keys():
        path = f"{prefix}{key!s}"
        if key not in tree:
            found.append(path)
        elif isinstance(tree[key], dict):
            child = node._get_node(key)
            if isinstance(child, DictConfig) and not child._is_none():
                found += _unknown_keys(child, tree[key], path + ".")
    return found


def _dotted(tree: Dict[str, Any], prefix: str = "") -> List[str]:
    out: List[str] = []
    for key, sub in tree.items():
        out.append(prefix + key)
        if isinstance(sub, dict):
            out += _dotted(sub, f"{prefix}{key}.")
    return out


def check_known_keys(cfg: DictConfig) -> None:
    """A key the schema does not know (added with ``+key=...``, which bypasses Hydra's own check) is a typo."""
    from birsweep import schema

    tree = _schema_tree(schema.Config)
    for prefix, section in schema.schema_sections()[1:]:  # with the sections of the terms and data sets registered now
        tree[prefix.rstrip(".")] = _schema_tree(section)
    tree["hydra"] = None  # Hydra's own node, when a config carries it
    unknown = _unknown_keys(cfg, tree)
    if unknown:
        key = unknown[0]
        near: Optional[List[str]] = difflib.get_close_matches(key, _dotted(tree), n=1, cutoff=0.6)
        raise ConfigError(unknown_key_line(key, near[0] if near else None))


def declared_choices() -> Dict[str, Tuple[str, ...]]:
    """Every key's allowed values as declared beside its field (the schema's sections, the loss terms' and the data
    sets' own), and ``data.name``'s: the registered data sets."""
    from birsweep.schema import schema_sections

    declared = {key: c for prefix, cls in schema_sections() for key, c in choices_of(cls, prefix).items()}
    return {"data.name": source_names(), **declared}


def declared_ranges() -> Dict[str, Range]:
    from birsweep.schema import schema_sections

    return {key: r for prefix, cls in schema_sections() for key, r in ranges_of(cls, prefix).items()}


def tasks_to_run(cfg: DictConfig) -> int:
    """How many tasks a run trains: the protocol's ``data.n_tasks``, or its first ``trainer.max_tasks``."""
    limit = OmegaConf.select(cfg, "trainer.max_tasks")
    return int(cfg.data.n_tasks) if limit is None else min(int(limit), int(cfg.data.n_tasks))


def check_config(cfg: DictConfig) -> None:
    """Raise ConfigError naming the first bad value and what would be accepted."""
    check_known_keys(cfg)
    for key, allowed in declared_choices().items():
        value = OmegaConf.select(cfg, key)
        if str(value).lower() not in allowed:
            raise ConfigError(f"{key}={value!r} is not one of {', '.join(allowed)}")
    for key, (low, high, li, hi) in declared_ranges().items():
        value = OmegaConf.select(cfg, key)
        if value is None:
            continue
        if isinstance(value, float) and math.isnan(value) or not _in_range(value, low, high, li, hi):
            raise ConfigError(f"{key}={value!r} is out of range {_interval(low, high, li, hi)}")
    if cfg.trainer.max_tasks is not None and cfg.trainer.max_tasks > cfg.data.n_tasks:
        raise ConfigError(
            f"trainer.max_tasks={cfg.trainer.max_tasks} exceeds data.n_tasks={cfg.data.n_tasks}: "
            "give at most the protocol's task count, or null for all"
        )
    device = str(cfg.trainer.device)
    if not (device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
        raise ConfigError(f"trainer.device={device!r} is not one of auto, cpu, cuda, cuda:N")
    if len(cfg.trainer.betas) != 2 or not all(0.0 <= b < 1.0 for b in cfg.trainer.betas):
        raise ConfigError(f"trainer.betas={list(cfg.trainer.betas)} must be two numbers in [0, 1)")
    if cfg.data.augment and cfg.model.encoder.type != "conv":
        raise ConfigError(
            "data.augment=true needs the conv encoder (CIFAR crop + flip); "
            "it is not defined for pixel-level models (model.encoder.type=none)"
        )
    contrast = cfg.variant.contrastive
    if (
        contrast.enabled
        and contrast.include_current
        and contrast.augment == "fork"
        and cfg.model.encoder.type != "conv"
    ):
        raise ConfigError(
            "variant.contrastive.augment=fork crops the images to 24x24, which only the conv encoder turns into "
            "features of the usual size: use a conv model (model=bir_conv) or variant.contrastive.augment=birsweep"
        )
    unfit = data_source(str(cfg.data.name)).conv_problem()
    if unfit and cfg.model.encoder.type == "conv":
        raise ConfigError(
            f"data={cfg.data.name} is {unfit}: use model=bir_mlp (the splitMNIST protocol), not the CIFAR conv encoder"
        )
    if cfg.model.encoder.type == "conv" and cfg.model.recon != "mse":
        raise ConfigError("model.recon=bce needs pixels in [0, 1]; conv features are unbounded: use model.recon=mse")
    weights = str(cfg.model.encoder.weights)
    if weights not in ("pretrain", "random") and not os.path.isfile(os.path.expanduser(weights)):
        raise ConfigError(f"model.encoder.weights={weights!r}: no such file; give pretrain, random or a path")
    if cfg.model.encoder.type == "conv" and (cfg.model.encoder.depth, cfg.model.encoder.channels) != (5, 16):
        raise ConfigError("only the C3-5x16-bn encoder (model.encoder.depth=5, channels=16) is implemented")
    v = cfg.variant
    terms = variant_terms(cfg)
    if not str(v.name).strip():
        raise ConfigError("variant.name is empty: name the variant (it labels runs, W&B groups and reports)")
    if v.name == "baseline" and terms:
        raise ConfigError(
            f"variant.name=baseline but variant.{terms[0]} is on: name what you run, "
            f"e.g. variant.name={'+'.join(t.split('.')[0] for t in terms)}"
        )
    check_method(cfg)  # the registered method's rules (birsweep/methods/method_check.py)
    for spec in term_specs():
        problem = spec.check(term_config(spec, v)) if spec.check else None
        if problem:
            raise ConfigError(problem)
    if cfg.task == "pretrain" and cfg.model.encoder.type != "conv":
        raise ConfigError("task=pretrain pre-trains the conv encoder: select a conv model (model=bir_conv)")
