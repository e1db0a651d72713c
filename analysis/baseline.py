"""Every configuration against a baseline, paired by seed: Δ, its 95 % interval and the paired t-test's p-value.

``analysis.compare(runs, baseline=...)`` adds these columns; the statistics are :mod:`birsweep.stats`, the same the
sweeper's confirmation summary uses. The baseline is a label (``"baseline"``, or any label of ``add_labels``) or a
dict of column values (``{"variant": "baseline"}``, ``{"variant": "baseline", "trainer.iters": 500}``) that picks
the runs of exactly one label.

With several configurations the comparisons are a family: ``p_holm`` is Holm's adjusted p over the family (the
configurations with a p-value), and the verdict then asks the adjusted p to be below 0.05, so three variants
against one baseline do not get three chances at a lucky "beats". With one configuration ``p_holm`` = ``p`` and
the verdict is the interval's, as before.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Union

import pandas as pd

from birsweep.stats import family_verdict, holm, paired, verdict
from birsweep.tracking.record_fields import RunStatus

Baseline = Union[str, Mapping[str, Any]]
COLUMNS = ("n_pairs", "delta", "delta_ci_low", "delta_ci_high", "p", "p_holm", "verdict", "delta_note")


def baseline_label(runs: pd.DataFrame, baseline: Baseline) -> str:
    """The label ``baseline`` stands for; ValueError naming what exists when it matches no label, or several."""
    labels = list(dict.fromkeys(runs["label"].astype(str)))
    if isinstance(baseline, str):
        if baseline not in labels:
            raise ValueError(f"baseline {baseline!r} is not a label of these runs: {', '.join(labels)}")
        return baseline
    mask = pd.Series(True, index=runs.index)
    for key, value in baseline.items():
        if key not in runs.columns:
            raise ValueError(f"baseline key {key!r} is not a column of the runs")
        mask &= runs[key].astype(str) == str(value)
    found = list(dict.fromkeys(runs.loc[mask, "label"].astype(str)))
    if len(found) != 1:
        what = "no runs" if not found else f"{len(found)} configurations ({'; '.join(found)})"
        raise ValueError(f"baseline {dict(baseline)} matches {what}: give values that pick exactly one")
    return found[0]


def by_seed(group: pd.DataFrame, metric: str) -> Dict[Any, float]:
    """seed -> the metric's mean over the group's completed runs with that seed."""
    done = group[group["status"] == RunStatus.COMPLETED.value]
    values = pd.to_numeric(done[metric], errors="coerce")
    frame = pd.DataFrame({"seed": done["seed"], "v": values}).dropna()
    return {int(seed): float(v) for seed, v in frame.groupby("seed")["v"].mean().items()}


def against(runs: pd.DataFrame, baseline: Baseline, metric: str = "final_avg_acc") -> pd.DataFrame:
    """One row per label with :data:`COLUMNS`: that label minus the baseline, paired by seed (NaN for the
    baseline's own row, with ``delta_note`` saying so)."""
    base_label = baseline_label(runs, baseline)
    base = by_seed(runs[runs["label"].astype(str) == base_label], metric)
    rows: List[Dict[str, Any]] = []
    tests = {
        label: paired(by_seed(group, metric), base)
        for label, group in runs.groupby("label", sort=False)
        if str(label) != base_label
    }
    adjusted = dict(zip(tests, holm([d.p for d in tests.values()])))
    family = sum(1 for v in adjusted.values() if v == v) > 1  # NaN != NaN: only comparisons with a p count
    for label in runs["label"].drop_duplicates():
        if str(label) == base_label:
            rows.append({"label": label, **dict.fromkeys(COLUMNS), "delta_note": "the baseline"})
            continue
        d = tests[label]
        rows.append(
            {
                "label": label,
                "n_pairs": d.n,
                "delta": d.delta,
                "delta_ci_low": d.low,
                "delta_ci_high": d.high,
                "p": d.p,
                "p_holm": adjusted[label],
                "verdict": family_verdict(d, adjusted[label]) if family else verdict(d),
                "delta_note": d.note or None,
            }
        )
    out = pd.DataFrame(rows)
    for col in ("delta", "delta_ci_low", "delta_ci_high", "p", "p_holm"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    out["n_pairs"] = pd.to_numeric(out["n_pairs"], errors="coerce").astype("Int64")
    return out
