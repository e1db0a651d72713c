"""Hydra's override grammar mapped to Optuna distributions (values back to override text:
:mod:`birsweep.sweep.search.override_text`). Pure functions.

=================================  ==========================================================
``key=interval(a, b)``             ``FloatDistribution(a, b)``
``key=int(interval(a, b))``        ``IntDistribution(a, b)``
``key=tag(log, interval(a, b))``   ``FloatDistribution(a, b, log=True)`` (also with ``int(...)``)
``key=range(a, b, step)``          the values Hydra's range gives (end excluded, as in Hydra):
                                   ``IntDistribution`` / ``FloatDistribution`` with that step
``key=choice(x, y, ...)``          ``CategoricalDistribution([x, y, ...])`` (also ``key=x,y``)
``key=value``, ``~key``            fixed: passed to every job unchanged
``key=when(other=v, <sweep>)``     conditional: ``<sweep>`` is sampled only in trials whose
                                   ``other`` (a searched ``choice``) came out ``v``; otherwise
                                   ``key`` is not sampled and the job keeps its default
``key: null`` (in ``params``)      not searched, nor set: drops a parameter that a preset this
                                   one extends searches (the job keeps its default)
=================================  ==========================================================

``when(...)`` is the sweeper's own word, read before Hydra's parser sees the rest (``hydra.sweeper.params`` only;
the condition's value is one plain value without commas).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from hydra.core.override_parser.types import ChoiceSweep, Glob, IntervalSweep, Override, RangeSweep
from optuna.distributions import (
    BaseDistribution,
    CategoricalChoiceType,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from birsweep.errors import ConfigError
from birsweep.sweep.search.override_text import format_value, identity, parse_override

_CHOICE_TYPES = (str, int, float, bool)


_WHEN = re.compile(r"^\s*when\s*\(\s*([A-Za-z_][\w.]*)\s*=\s*([^,()]*?)\s*,\s*(.+?)\s*\)\s*$", re.DOTALL)


@dataclass(frozen=True)
class Condition:
    """``key`` came out ``value`` (same type too: ``true`` is not ``1``)."""

    key: str
    value: Any

    def holds(self, params: Mapping[str, Any]) -> bool:
        got = params.get(self.key, _MISSING)
        return type(got) is type(self.value) and got == self.value

    def __str__(self) -> str:
        return f"{self.key}={format_value(self.value)}"


_MISSING = object()


@dataclass
class SearchSpace:
    """What the sweeper samples (``distributions`` always, ``conditional`` only where their ``conditions`` hold)
    and what every job gets as is (``fixed``, override strings)."""

    distributions: Dict[str, BaseDistribution] = field(default_factory=dict)
    fixed: List[str] = field(default_factory=list)
    conditional: Dict[str, BaseDistribution] = field(default_factory=dict)
    conditions: Dict[str, Condition] = field(default_factory=dict)  # conditional key -> its condition

    @property
    def searched(self) -> List[str]:
        return list(self.distributions) + list(self.conditional)

    def active(self, params: Mapping[str, Any]) -> Dict[str, BaseDistribution]:
        """The conditional parameters to sample in a trial whose unconditional ones are ``params``."""
        return {k: d for k, d in self.conditional.items() if self.conditions[k].holds(params)}

    def overrides(self, params: Mapping[str, Any]) -> List[str]:
        """The job's overrides for sampled ``params``: fixed ones first, then one ``key=value`` per parameter
        (a conditional one only when sampled, so the job keeps its default otherwise)."""
        keys = list(self.distributions) + [k for k in self.conditional if k in params]
        return list(self.fixed) + [f"{key}={format_value(params[key])}" for key in keys]


def distribution(override: Override) -> Optional[BaseDistribution]:
    """The Optuna distribution of a sweep override, ``None`` for a fixed value. Raises ConfigError otherwise."""
    if not override.is_sweep_override():
        return None
    key, value = override.get_key_element(), override.value()
    tags = set(getattr(value, "tags", set()) or set())
    log = "log" in tags
    if isinstance(value, Glob):
        raise ConfigError(f"{key}: glob(...) selects config group options; use choice(...) to search over them")
    if isinstance(value, ChoiceSweep):
        if log:
            raise ConfigError(f"{key}: tag(log, ...) needs an interval or a range, not choice(...)")
        choices: List[CategoricalChoiceType] = []
        for v in override.sweep_iterator():
            if not isinstance(v, _CHOICE_TYPES):
                raise ConfigError(f"{key}: choice(...) values must be strings, numbers or booleans, got {v!r}")
            choices.append(v)
        if len(set(map(repr, choices))) != len(choices):
            raise ConfigError(f"{key}: choice(...) lists a value twice")
        return CategoricalDistribution(choices)
    if isinstance(value, RangeSweep):
        return _range_distribution(key, override, value, log)
    if isinstance(value, IntervalSweep):
        return _interval_distribution(key, value, log)
    raise ConfigError(f"{key}: {override.input_line!r} is not a sweep the Optuna sweeper understands")


def _interval_distribution(key: str, value: IntervalSweep, log: bool) -> BaseDistribution:
    low, high = value.start, value.end
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        raise ConfigError(f"{key}: interval(a, b) needs two finite bounds")
    if not low < high:
        raise ConfigError(f"{key}: interval({low}, {high}) is empty: the lower bound must be below the upper")
    if log and low <= 0:
        raise ConfigError(f"{key}: tag(log, interval({low}, {high})) needs a lower bound above 0")
    if isinstance(low, int) and isinstance(high, int):
        return IntDistribution(low, high, log=log)
    return FloatDistribution(float(low), float(high), log=log)


def _range_distribution(key: str, override: Override, value: RangeSweep, log: bool) -> BaseDistribution:
    values: List[int | float] = []
    for v in override.sweep_iterator():
        if not isinstance(v, (int, float)):  # Hydra's range yields numbers; say so if that ever changes
            raise ConfigError(f"{key}: {override.input_line!r} gave a value that is not a number: {v!r}")
        values.append(v)
    if not values:
        raise ConfigError(f"{key}: {override.input_line!r} has no values (the end is excluded)")
    if value.shuffle:
        if log:
            raise ConfigError(f"{key}: tag(log, ...) cannot be used with shuffle(...)")
        return CategoricalDistribution(sorted(values))  # the order is the sampler's business
    step = abs(value.step)
    low = min(values)
    n = len(values)
    ints = [v for v in values if isinstance(v, int)]
    if len(ints) == n and isinstance(step, int):
        low = min(ints)
        if log and step != 1:
            raise ConfigError(f"{key}: tag(log, range(...)) needs step 1 (Optuna's log scale has no step)")
        if log and low <= 0:
            raise ConfigError(f"{key}: tag(log, range(...)) needs values above 0")
        return IntDistribution(low, low + step * (n - 1), log=log, step=step)
    if log:
        raise ConfigError(f"{key}: tag(log, range(...)) needs integers; use tag(log, interval(a, b)) for floats")
    step = float(step)
    high = round(float(low) + step * (n - 1), 12)
    return FloatDistribution(float(low), high, step=step) if n > 1 else CategoricalDistribution([float(low)])


def parse_condition(key: str, text: str) -> Optional[Tuple[Condition, str]]:
    """``(condition, inner sweep text)`` of ``when(other=v, <sweep>)``; None for any other text."""
    if not text.lstrip().startswith("when"):
        return None
    match = _WHEN.match(text)
    if match is None:
        if re.match(r"^\s*when\s*\(", text) is None:
            return None
        raise ConfigError(f"{key}: write a condition as when(other.key=value, <sweep>), got {text!r}")
    other, value_text, inner = match.groups()
    try:
        override = parse_override(f"{other}={value_text}")
    except ConfigError as err:
        raise ConfigError(f"{key}: the condition of {text!r}: {err}") from None
    if override.is_sweep_override():
        raise ConfigError(f"{key}: the condition when({other}=...) needs one plain value, got {value_text!r}")
    return Condition(other, override.value()), inner


def parse_search_space(params: Optional[Mapping[str, Any]], arguments: Sequence[str] = ()) -> SearchSpace:
    """The search space from the sweeper's ``params`` and the command line's overrides (which win on a clash)."""
    lines: Dict[str, str] = {}
    conditions: Dict[str, Condition] = {}
    for key, text in (params or {}).items():
        if text is None:  # dropped by a preset that extends another
            continue
        key, text = str(key), (text if isinstance(text, str) else format_value(text))
        found = parse_condition(key, text)
        if found is not None:
            conditions[key], text = found
        lines[key] = f"{key}={text}"
    for text in arguments:
        override = parse_override(text)
        lines[identity(override)] = text
        conditions.pop(identity(override), None)  # the command line's value replaces the conditional one
    space = SearchSpace()
    for name, text in lines.items():
        override = parse_override(text)
        dist = None if override.is_delete() else distribution(override)
        if name in conditions:
            if dist is None:
                raise ConfigError(f"{name}: when(...) needs a sweep inside (interval, range, choice), got {text!r}")
            space.conditional[name], space.conditions[name] = dist, conditions[name]
        elif dist is None:
            space.fixed.append(override.input_line or text)
        else:
            space.distributions[override.get_key_element()] = dist
    for name, cond in space.conditions.items():
        _check_condition(name, cond, space.distributions.get(cond.key))
    return space


def check_searchable(space: SearchSpace) -> None:
    """A sweep needs at least one searched parameter."""
    if not space.distributions:
        raise ConfigError(
            "nothing to search: give hydra.sweeper.params (e.g. hparams_search=repulsion) or a "
            "sweep override such as variant.rep_f=interval(1,30)"
        )


def _check_condition(key: str, cond: Condition, on: Optional[BaseDistribution]) -> None:
    """A condition tests a parameter every trial samples, for a value that parameter can take."""
    if not isinstance(on, CategoricalDistribution):
        raise ConfigError(
            f"{key}: when({cond}, ...) needs {cond.key} searched as choice(...) in every trial (it is not)"
        )
    if not any(type(c) is type(cond.value) and c == cond.value for c in on.choices):
        shown = ", ".join(format_value(c) for c in on.choices)
        raise ConfigError(f"{key}: when({cond}, ...) can never hold: {cond.key} is one of {shown}")


def grid_values(key: str, dist: BaseDistribution) -> List[Any]:
    """The finite values of a distribution, for the grid sampler."""
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution) and not dist.log:
        return list(range(dist.low, dist.high + 1, dist.step))
    if isinstance(dist, FloatDistribution) and dist.step is not None:
        n = int(round((dist.high - dist.low) / dist.step)) + 1
        return [round(dist.low + i * dist.step, 12) for i in range(n)]
    raise ConfigError(f"the grid sampler needs a finite set of values: give {key} as choice(...) or range(...)")
