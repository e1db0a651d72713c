"""Declaring a config key's allowed values beside its field: one declaration per key.

``bounded`` and ``one_of`` put the interval or the choices into the dataclass field's metadata (``per_trial`` marks
a value the batched trainer may vary per trial); ``declared`` walks a (nested) dataclass and yields every declared
key with its dotted path. The schema's sections, the loss terms' and the methods' configs all declare this way:
``birsweep.config_check`` reads the declarations to check a composed config before a run starts, and
``birsweep.train.batched.keys`` reads the per-trial ones.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import field
from typing import Any, Dict, Iterator, NamedTuple, Tuple, TypeVar, Union

T = TypeVar("T")

RANGE = "range"  # field metadata keys
CHOICES = "choices"
PER_TRIAL = "per_trial"


class Range(NamedTuple):
    low: float
    high: float = math.inf
    low_inclusive: bool = True
    high_inclusive: bool = False


def bounded(
    default: T,
    low: float,
    high: float = math.inf,
    low_inclusive: bool = True,
    high_inclusive: bool = False,
    per_trial: bool = False,
) -> T:
    """A config field whose value must lie in the given interval (checked before a run starts); ``per_trial``: the
    trials of one batched job may differ in it (docs/sweeps.md, Many trials per job)."""
    meta: Dict[str, Any] = {RANGE: Range(low, high, low_inclusive, high_inclusive)}
    if per_trial:
        meta[PER_TRIAL] = True
    return field(default=default, metadata=meta)


def per_trial(default: T) -> T:
    """A config field with no declared range that the trials of one batched job may differ in (the seed)."""
    return field(default=default, metadata={PER_TRIAL: True})


def one_of(default: T, *allowed: str) -> T:
    """A config field whose value must be one of ``allowed`` (compared in lower case)."""
    return field(default=default, metadata={CHOICES: allowed})


Declaration = Union[Range, Tuple[str, ...], bool]


def declared(cls: Any, prefix: str = "") -> Iterator[Tuple[str, str, Declaration]]:
    """``(key, kind, declaration)`` for every field of dataclass ``cls`` (and of the dataclasses nested in it)
    declared with :func:`bounded` (kind ``range``), :func:`one_of` (kind ``choices``) or as per-trial (kind
    ``per_trial``, declaration True)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        for kind in (RANGE, CHOICES, PER_TRIAL):
            if kind in f.metadata:
                yield key, kind, f.metadata[kind]
        sub = hints.get(f.name)
        if dataclasses.is_dataclass(sub):
            yield from declared(sub, key + ".")


def ranges_of(cls: Any, prefix: str = "") -> Dict[str, Range]:
    return {k: d for k, kind, d in declared(cls, prefix) if kind == RANGE}  # type: ignore[misc]


def choices_of(cls: Any, prefix: str = "") -> Dict[str, Tuple[str, ...]]:
    return {k: d for k, kind, d in declared(cls, prefix) if kind == CHOICES}  # type: ignore[misc]


def per_trial_keys_of(cls: Any, prefix: str = "") -> Tuple[str, ...]:
    return tuple(k for k, kind, _ in declared(cls, prefix) if kind == PER_TRIAL)
