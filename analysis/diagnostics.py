"""The memory-exaggeration diagnostics of run records (birsweep/train/diagnostics.py) as DataFrames.

* :func:`load_diagnostics` – long frames, one row per run x task x ...: ``kind="pairs"`` the most confused pairs of
  old classes (``rank``, ``pair``, ``class_a``, ``class_b``, ``rate``, ``skl``, ``distance``), ``kind="replay"``
  the replay accuracy per class seen (``class``, ``old``, ``replay_acc``), ``kind="participation"`` each term's
  participating samples per task (``term``, ``count``);
* what ``load_runs`` adds per run (:func:`analysis.runs.record_columns`): ``inert_terms``, ``participation_<term>``
  (total over the tasks done) and the last task's summary ``diag_task``, ``diag_pair_rate``, ``diag_pair_skl``,
  ``diag_pair_distance`` (means over its top pairs) and ``diag_replay_acc`` (mean over its old classes).
"""

from __future__ import annotations

from typing import Any, Dict, List

import pandas as pd

from analysis.runs import iter_records, run_row
from birsweep.tracking.measured import PREFIXES

KINDS = ("pairs", "replay", "participation")
MEASURED_PREFIXES = PREFIXES  # the columns of analysis.runs.record_columns: measured, not settings
ID = ["run_dir", "sweep_dir", "job", "experiment", "variant", "seed", "data", "status"]
TRIAL = ["study_name", "trial_number", "trial_state"]


def _rows(data: Dict[str, Any], base: Dict[str, Any], kind: str) -> List[Dict[str, Any]]:
    rows: List[Dict[str, Any]] = []
    for d in data.get("diagnostics") or []:
        at = {**base, "task": d["task"]}
        if kind == "pairs":
            for rank, p in enumerate(d.get("pairs") or [], start=1):
                a, b = p["classes"]
                rows.append(
                    {**at, "rank": rank, "pair": f"{a}-{b}", "class_a": a, "class_b": b}
                    | {k: p[k] for k in ("rate", "skl", "distance")}
                )
        elif kind == "replay":
            accs = d.get("replay_acc") or []
            for k, (label, acc) in enumerate(zip(d["classes"], accs)):
                rows.append({**at, "class": label, "old": k < d["n_old"], "replay_acc": acc})
        else:
            for term, count in (d.get("participation") or {}).items():
                rows.append({**at, "term": term, "count": count})
    return rows


def load_diagnostics(path, kind: str = "pairs") -> pd.DataFrame:
    """Every record's diagnostics under ``path`` (as :func:`analysis.load_runs` finds them) as a long frame."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}: one of {', '.join(KINDS)}")
    rows: List[Dict[str, Any]] = []
    for data in iter_records(path):
        row = run_row(data)
        base = {k: row.get(k) for k in ID + TRIAL}
        rows += _rows(data, base, kind)
    columns = {
        "pairs": ["task", "rank", "pair", "class_a", "class_b", "rate", "skl", "distance"],
        "replay": ["task", "class", "old", "replay_acc"],
        "participation": ["task", "term", "count"],
    }[kind]
    frame = pd.DataFrame(rows, columns=ID + TRIAL + columns)
    for col in ("seed", "trial_number", "job", "task"):
        frame[col] = frame[col].astype("Int64")
    return frame
