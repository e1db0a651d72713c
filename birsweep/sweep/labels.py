"""Searched parameters as people read them: ``variant.repulsion.lamda_rep`` is shown as ``lamda_rep``.

One definition for the sweep's log and summary, the analysis tables and the W&B report's axes.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Mapping, Optional


def short_names(keys: Iterable[str]) -> Dict[str, str]:
    """Each dotted key's shortest tail of components that no other key in ``keys`` ends with: ``lamda_rep``, or
    ``recon.lamda_rep`` and ``repulsion.lamda_rep`` when both are there."""
    parts = {k: k.split(".") for k in dict.fromkeys(keys)}

    def tail(key: str, n: int) -> str:
        return ".".join(parts[key][-n:])

    out = {}
    for key, comps in parts.items():
        n = 1
        while n < len(comps) and any(tail(o, n) == tail(key, n) for o in parts if o != key):
            n += 1
        out[key] = tail(key, n)
    return out


def format_params(params: Mapping[str, Any], width: Optional[int] = None) -> str:
    """``name=value`` pairs with short names, floats to 4 significant digits; cut to ``width`` characters."""
    names = short_names(params)
    text = " ".join(f"{names[k]}={v:.4g}" if isinstance(v, float) else f"{names[k]}={v}" for k, v in params.items())
    return text if width is None or len(text) <= width else text[: width - 3] + "..."
