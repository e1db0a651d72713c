"""Trials whose variant term never fired: the job's trial handle marks them (user attribute ``inert_terms``), and
the summary says how many complete trials trained as the baseline does (docs/sweeps.md, Inert terms)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from optuna.trial import FrozenTrial, TrialState

ATTR = "inert_terms"  # the trial's enabled loss terms that acted on no sample (a list; [] when all acted)
NOTE = (
    "a term that never fires adds exactly 0 and no gradient: these trials trained as the baseline does, so their "
    "results equal the baseline's with the same seed, bit for bit (the terms draw from a generator of their own)"
)


def inert_terms(trial: FrozenTrial) -> List[str]:
    value = trial.user_attrs.get(ATTR) or []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def inert_summary(trials: Sequence[FrozenTrial]) -> Dict[str, Any]:
    """Complete trials with an inactive term: how many, which, and the terms."""
    inert = [t for t in trials if t.state == TrialState.COMPLETE and inert_terms(t)]
    summary: Dict[str, Any] = {
        "complete_trials": len(inert),
        "trials": [t.number for t in inert],
        "terms": sorted({name for t in inert for name in inert_terms(t)}),
    }
    if inert:
        summary["note"] = NOTE
    return summary


def inert_line(summary: Dict[str, Any], n_complete: int) -> Optional[str]:
    """The summary's line, or None when every complete trial's terms acted."""
    n = summary["complete_trials"]
    if not n:
        return None
    shown = ", ".join(f"#{k}" for k in summary["trials"][:12]) + (" ..." if n > 12 else "")
    return (
        f"inert: {n} of {n_complete} complete trials had a term that never fired ({', '.join(summary['terms'])}): "
        f"their results equal the baseline's ({shown})"
    )
