"""Searched parameters as people read them: ``variant.repulsion.lamda_rep`` is shown as ``lamda_rep``.

One definition for the sweep's log and summary, the analysis tables and the W&B report's axes.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Mapping, Optional


def short_names(keys: Iterable[str]) -> Dict[str, str]:
    """Each dotted key's last component where that is unambiguous among ``keys``, else the full key."""
    keys = list(keys)
    last = [k.split(".")[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


def format_params(params: Mapping[str, Any], width: Optional[int] = None) -> str:
    """``name=value`` pairs with short names, floats to 4 significant digits; cut to ``width`` characters."""
    names = short_names(params)
    text = " ".join(f"{names[k]}={v:.4g}" if isinstance(v, float) else f"{names[k]}={v}" for k, v in params.items())
    return text if width is None or len(text) <= width else text[: width - 3] + "..."
