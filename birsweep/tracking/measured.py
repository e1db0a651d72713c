"""One row of what a run measured besides accuracy: its loss terms' participation and the last task's diagnostics.

Shared by the W&B summary (loggers) and the DataFrames (analysis), so both carry the same columns and values:
``inert_terms``, ``participation_<term>`` (samples over the tasks done, terms in name order), and ``diag_task``,
``diag_pair_rate``, ``diag_pair_skl``, ``diag_pair_distance`` (means over the top pairs of the last task with
diagnostics), ``diag_replay_acc`` (its mean replay accuracy over the old classes).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

PREFIXES = ("inert_terms", "participation_", "diag_")  # measured columns, never settings
DIAG_COLUMNS = ("diag_task", "diag_pair_rate", "diag_pair_skl", "diag_pair_distance", "diag_replay_acc")


def _mean(values: List[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def measured_columns(data: Mapping[str, Any]) -> Dict[str, Any]:
    """The columns of one record ({} for a record from before participation was kept)."""
    if "participation" not in data:
        return {}
    out: Dict[str, Any] = {"inert_terms": tuple(data.get("inert_terms") or ())}
    participation = data.get("participation") or {}
    for term in sorted(participation):
        out[f"participation_{term}"] = int(sum(participation[term]))
    diags = data.get("diagnostics") or []
    if diags:
        last = diags[-1]
        pairs = last.get("pairs") or []
        values = [
            last.get("task"),
            _mean([p["rate"] for p in pairs]),
            _mean([p["skl"] for p in pairs]),
            _mean([p["distance"] for p in pairs]),
            last.get("replay_acc_old"),
        ]
        out.update(zip(DIAG_COLUMNS, values))
    return out


def from_flat(values: Mapping[str, Any]) -> Dict[str, Any]:
    """The same columns, in the same order, from a flat mapping that holds them (a W&B summary)."""
    if "inert_terms" not in values:
        return {}
    out: Dict[str, Any] = {"inert_terms": tuple(values.get("inert_terms") or ())}
    for key in sorted(k for k in values if k.startswith("participation_")):
        out[key] = int(values[key])
    out.update({k: values[k] for k in DIAG_COLUMNS if k in values})
    return out
