"""Text that fits in tables and figures: compact values, short parameter names, labels wrapped between words.

Names are shortened by :func:`birsweep.sweep.labels.short_names` (the sweep's summary uses the same), values keep
4 significant digits, and long labels wrap at spaces, never inside a ``name=value``.
"""

from __future__ import annotations

import textwrap
from typing import Any, Dict, Iterable, List

import pandas as pd

from birsweep.sweep.labels import short_names

PARAM_PREFIX = "params."
MISSING = "–"


def compact(value: Any) -> str:
    """A value as a table shows it: floats with 4 significant digits, missing values as a dash."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def param_names(columns: Iterable[str]) -> Dict[str, str]:
    """``params.<key>`` columns (or bare keys) -> short names, disambiguated when two keys end alike."""
    columns = list(columns)
    keys = {c: c[len(PARAM_PREFIX) :] if c.startswith(PARAM_PREFIX) else c for c in columns}
    short = short_names(keys.values())
    return {c: short[k] for c, k in keys.items()}


def wrap(text: Any, width: int = 40, max_lines: int = 4, suffix: str = "") -> str:
    """``text`` broken into lines of about ``width`` characters at spaces (a word longer than the line stays
    whole); past ``max_lines`` the last whole words give way to an ellipsis. ``suffix`` (e.g. ``" (n=3)"``)
    always ends the last line."""
    return "\n".join(wrap_lines(text, width, max_lines, suffix))


def wrap_lines(text: Any, width: int = 40, max_lines: int = 4, suffix: str = "") -> List[str]:
    lines = textwrap.wrap(
        str(text),
        width=max(width - len(suffix), 8),
        break_long_words=False,
        break_on_hyphens=False,
        max_lines=max_lines,
        placeholder=" …",
    ) or [""]
    lines[-1] += suffix
    return lines
