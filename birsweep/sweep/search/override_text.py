"""Override strings, both ways: Hydra's parser with one-line errors, what an override sets, and Python values written
as override text that Hydra parses back to the same value (the sweep's jobs get their values this way). Pure
functions."""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException

from birsweep.errors import ConfigError, first_line

_PARSER: Optional[OverridesParser] = None


def _parser() -> OverridesParser:
    global _PARSER
    if _PARSER is None:
        _PARSER = OverridesParser.create()
    return _PARSER


def parse_override(text: str) -> Override:
    try:
        return _parser().parse_override(text)
    except HydraException as err:
        raise ConfigError(f"bad sweep parameter '{text}': {first_line(err)}") from None


def override_identity(text: str) -> str:
    """What an override string sets (``variant`` for ``variant=baseline``, ``seed`` for ``+seed=3``): two
    override strings with the same identity clash, and the later one wins."""
    return identity(parse_override(text))


def identity(override: Override) -> str:
    """Two overrides of the same key (whatever their +/++/~ prefix) clash; the later one wins."""
    key = override.key_or_group
    if override.package:
        key = f"{key}@{override.package}"
    return key


def format_value(value: Any) -> str:
    """A Python value as override text that Hydra parses back to the same value (strings quoted only if needed)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return value if _round_trips(value, value) else quote(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_dict_key(k)}:{format_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    raise ConfigError(f"cannot pass a {type(value).__name__} to a job as an override value: {value!r}")


def _dict_key(key: Any) -> str:
    text = str(key)
    if not _round_trips("{" + text + ":0}", {text: 0}):
        raise ConfigError(f"cannot pass the dict key {text!r} in an override")
    return text


def _round_trips(text: str, expected: Any) -> bool:
    try:
        override = _parser().parse_override(f"k={text}")
    except HydraException:
        return False
    if override.is_sweep_override():
        return False
    value = override.value()
    return type(value) is type(expected) and value == expected


def quote(text: str) -> str:
    """Single-quoted override string; backslashes before a quote and the quotes themselves are escaped."""
    out, backslashes = [], 0
    for ch in text:
        if ch == "\\":
            backslashes += 1
            continue
        if ch == "'":
            out.append("\\" * (2 * backslashes) + "\\'")
        else:
            out.append("\\" * backslashes + ch)
        backslashes = 0
    out.append("\\" * (2 * backslashes))  # a trailing run of backslashes precedes the closing quote
    return "'" + "".join(out) + "'"
