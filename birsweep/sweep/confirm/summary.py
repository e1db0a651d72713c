"""What the confirmation stage found, from its runs' records: the ``confirmation:`` block of
``optimization_results.yaml`` and its lines in the printed summary (statistics: :mod:`birsweep.stats`)."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

from birsweep.stats import LEVEL, Paired, paired, sentence, spread, verdict
from birsweep.sweep.confirm.plan import BASELINE, Plan
from birsweep.sweep.labels import format_params

SCORE = "final_avg_acc"  # test accuracy: what confirmation compares (the search saw validation accuracy)
SEED_RULE = "the next whole numbers above the largest seed the search used"
WIDTH = 70


def _num(value: float) -> Optional[float]:
    return None if value is None or math.isnan(value) else float(f"{value:.6g}")  # 6 significant digits


def block(plan: Plan, scores: Dict[str, Dict[int, Optional[float]]]) -> Dict[str, Any]:
    """The ``confirmation:`` block: settings, and per arm its test scores by seed, mean ± sd (s.e.m.), and, for a
    searched configuration, Δ to the baseline paired by seed with its interval, p-value and verdict."""
    base = {s: v for s, v in scores.get(BASELINE, {}).items() if v is not None}
    arms: List[Dict[str, Any]] = []
    for arm in plan.arms:
        by_seed = scores.get(arm.name, {})
        s = spread(v for v in by_seed.values() if v is not None)
        entry: Dict[str, Any] = {
            "arm": arm.name,
            "rank": arm.rank,
            "params": arm.params,
            "overrides": arm.overrides,
            "search_value": arm.value,
            "scores": [by_seed.get(seed) for seed in plan.seeds],  # in the order of ``seeds``; null: not completed
            "n": s.n,
            "mean": _num(s.mean),
            "sd": _num(s.sd),
            "sem": _num(s.sem),
        }
        if arm.name != BASELINE:
            d = paired({k: v for k, v in by_seed.items() if v is not None}, base)
            entry["vs_baseline"] = _delta(d)
            entry["answer"] = sentence(arm.name, d)
        arms.append(entry)
    done = sum(v is not None for by_seed in scores.values() for v in by_seed.values())
    return {
        "score": f"{SCORE} (test)",
        "seeds": plan.seeds,
        "search_seeds": plan.search_seeds,
        "seed_rule": SEED_RULE,
        "level": LEVEL,
        "runs_completed": done,
        "runs_planned": len(plan.jobs),
        "note": plan.note,
        "arms": arms,
    }


def _delta(d: Paired) -> Dict[str, Any]:
    return {
        "n": d.n,
        "delta": _num(d.delta),
        "sd": _num(d.sd),
        "ci_low": _num(d.low),
        "ci_high": _num(d.high),
        "p": _num(d.p),
        "verdict": verdict(d),
        "note": d.note or None,
    }


def not_run(reason: str) -> Dict[str, Any]:
    return {"note": reason, "arms": []}


def _pct(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def lines(data: Dict[str, Any]) -> List[str]:
    """The confirmation's lines in the sweep's printed summary."""
    if not data.get("arms"):
        return [f"confirmation: {data.get('note') or 'not run'}"]
    out = [
        f"confirmation on the test set, seeds {','.join(map(str, data['seeds']))} "
        f"({data['runs_completed']}/{data['runs_planned']} runs completed; search seeds "
        f"{','.join(map(str, data['search_seeds']))}):"
    ]
    for a in data["arms"]:
        label = a["arm"] + (f" (#{a['rank']})" if a["rank"] else "")
        spread_text = (
            f"{_pct(a['mean'])} (n={a['n']})"
            if a["sd"] is None
            else f"{_pct(a['mean'])} ± {_pct(a['sd'])} sd (s.e.m. {_pct(a['sem'])}, n={a['n']})"
        )
        what = format_params(a["params"], WIDTH) if a["params"] else " ".join(a["overrides"])
        out.append(f"  {label:<16s} {spread_text}  {what}")
    for a in data["arms"]:
        if "answer" in a:
            out.append(f"  {a['answer']}")
    if data.get("note"):
        out.append(f"  note: {data['note']}")
    return out
