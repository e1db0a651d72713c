"""Declaring a config key's allowed values beside its field: one declaration per key.

``bounded`` and ``one_of`` put the interval or the choices into the dataclass field's metadata; ``declared``
walks a (nested) dataclass and yields every declared key with its dotted path. The schema's sections, the loss
terms' and the methods' configs all declare this way, and ``birsweep.config_check`` reads the declarations to
check a composed config before a run starts.
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


class Range(NamedTuple):
    low: float
    high: float = math.inf
    low_inclusive: bool = True
    high_inclusive: bool = False


def bounded(
    default: T, low: float, high: float = math.inf, low_inclusive: bool = True, high_inclusive: bool = False
) -> T:
    """A config field whose value must lie in the given interval (checked before a run starts)."""
    return field(default=default, metadata={RANGE: Range(low, high, low_inclusive, high_inclusive)})


def one_of(default: T, *allowed: str) -> T:
    """A config field whose value must be one of ``allowed`` (compared in lower case)."""
    return field(default=default, metadata={CHOICES: allowed})


Declaration = Union[Range, Tuple[str, ...]]


def declared(cls: Any, prefix: str = "") -> Iterator[Tuple[str, str, Declaration]]:
    """``(key, kind, declaration)`` for every field of dataclass ``cls`` (and of the dataclasses nested in it)
    declared with :func:`bounded` (kind ``range``) or :func:`one_of` (kind ``choices``)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        if RANGE in f.metadata:
            yield key, RANGE, f.metadata[RANGE]
        if CHOICES in f.metadata:
            yield key, CHOICES, f.metadata[CHOICES]
        sub = hints.get(f.name)
        if dataclasses.is_dataclass(sub):
            yield from declared(sub, key + ".")


def ranges_of(cls: Any, prefix: str = "") -> Dict[str, Range]:
    return {k: d for k, kind, d in declared(cls, prefix) if kind == RANGE}  # type: ignore[misc]


def choices_of(cls: Any, prefix: str = "") -> Dict[str, Tuple[str, ...]]:
    return {k: d for k, kind, d in declared(cls, prefix) if kind == CHOICES}  # type: ignore[misc]
