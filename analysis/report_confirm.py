"""The report's first section, "Does the variant beat the baseline?": a sentence that answers, a table per
configuration and a figure of Δ with its 95 % interval (statistics: :mod:`birsweep.stats`, the sweep's own).

Sources, in this order: the confirmation runs of each sweep (``hydra.sweeper.confirm``: the search's best
configurations and the baseline on the same fresh seeds, test accuracy); otherwise, when the runs hold exactly one
configuration of ``variant=baseline``, every configuration against it (a grid over seeds, say).
"""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING, List, Optional, Tuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.baseline import by_seed
from analysis.compare import add_labels, compare
from birsweep.stats import LEVEL, paired, sentence

if TYPE_CHECKING:
    from analysis.report_html import Report

ANCHOR, HEADING = "baseline", "Does the variant beat the baseline?"
BASELINE = "baseline"  # the baseline's label: the confirmation arm's name, or the variant's


def _comparisons(runs: pd.DataFrame) -> List[Tuple[str, pd.DataFrame]]:
    """(title, runs labelled so that the baseline's label is ``baseline``) for every comparison the runs hold.

    A comparison is the confirmation arms planned against one baseline (``confirm_baseline``, the baseline's key;
    older records: one sweep dir): several studies that share a baseline dir (``confirm.baseline_dir``) make one
    comparison, their arms named ``<variant> trial <n>``."""
    out: List[Tuple[str, pd.DataFrame]] = []
    if "confirm_arm" in runs and runs["confirm_arm"].notna().any():
        confirm = runs[runs["confirm_arm"].notna()]
        sweep = confirm["sweep_dir"].fillna("").astype(str)
        key = confirm["confirm_baseline"] if "confirm_baseline" in confirm else pd.Series(None, index=confirm.index)
        for _, frame in confirm.groupby(key.fillna(sweep).astype(str), sort=False):
            arms = frame[frame["confirm_arm"].astype(str) != BASELINE]
            studies = sorted(set(sweep[arms.index]) - {""})
            label = frame["confirm_arm"].astype(str)
            if len(studies) > 1:  # trial numbers repeat across studies: name each arm by its variant too
                label = label.where(label == BASELINE, frame["variant"].astype(str) + " " + label)
            described = add_labels(frame.drop(columns=["label"], errors="ignore"))["label"]
            frame = frame.assign(
                label=label,
                described=described,
                rank=frame["confirm_rank"].astype(float).replace(0.0, np.nan),  # the baseline (rank 0) goes last
            )
            out.append((f"confirmation in {', '.join(studies) or 'these runs'}", frame))
        return out
    base = runs[runs["variant"].astype(str) == BASELINE]["label"].unique() if "variant" in runs else []
    if len(base) == 1:
        frame = runs.assign(described=runs["label"], label=runs["label"].replace({base[0]: BASELINE}), rank=np.nan)
        out.append(("every configuration against the baseline", frame))
    return out


def _answer(frame: pd.DataFrame, table: pd.DataFrame) -> str:
    """The sentence for the configurations that matter most: each study's best (rank 1), else the best mean; with
    several, each verdict is the family's (Holm)."""
    others = table[table["label"] != BASELINE]
    if others.empty:
        return "Only the baseline ran: nothing to compare."
    ranked = others.sort_values(["rank", "final_avg_acc_mean"], ascending=[True, False], na_position="last")
    best = ranked[ranked["rank"] == 1] if (ranked["rank"] == 1).any() else ranked.head(1)
    base = by_seed(frame[frame["label"] == BASELINE], "final_avg_acc")
    lines = []
    for _, row in best.iterrows():
        d = paired(by_seed(frame[frame["label"] == row["label"]], "final_avg_acc"), base)
        name = f"{row['label']} = {row['described']}" if row["described"] != row["label"] else str(row["label"])
        holm = "" if len(best) == 1 else f", Holm-adjusted p={row['p_holm']:.3g} over {_family(table)}"
        lines.append(sentence(name, d, word=str(row["verdict"])) + f" (test accuracy; paired by seed{holm}).")
    return " ".join(lines)


def _pct(value: float, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:+.2f}" if signed else f"{100 * value:.2f}"


def _table(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "configuration": table["label"],
            "settings": table["described"],
            "seeds": table["n_completed"],
            "test accuracy (%) mean ± sd": [
                f"{_pct(m)} ± {_pct(s)}" if not math.isnan(s) else _pct(m)
                for m, s in zip(table["final_avg_acc_mean"], table["final_avg_acc_sd"])
            ],
            "s.e.m.": [_pct(v) for v in table["final_avg_acc_sem"]],
            "Δ vs baseline (points)": [_pct(v, signed=True) for v in table["delta"]],
            f"{100 * LEVEL:.0f}% CI": [
                "–" if math.isnan(lo) else f"[{_pct(lo, True)}, {_pct(hi, True)}]"
                for lo, hi in zip(table["delta_ci_low"], table["delta_ci_high"])
            ],
            "p (paired t)": ["–" if math.isnan(p) else f"{p:.3g}" for p in table["p"]],
            f"p adjusted (Holm, {_family(table)})": ["–" if math.isnan(p) else f"{p:.3g}" for p in table["p_holm"]],
            "pairs": [("–" if pd.isna(n) else int(n)) for n in table["n_pairs"]],
            "answer": [v if isinstance(v, str) else "baseline" for v in table["verdict"]],
        }
    )


def _family(table: pd.DataFrame) -> str:
    m = int(table["p"].notna().sum())
    return f"{m} comparison{'s' if m != 1 else ''}"


def plot_deltas(table: pd.DataFrame, title: str = "") -> Figure:
    """Δ to the baseline (points) with its interval, one row per configuration; the x-axis fits the data and 0."""
    t = table[table["label"] != BASELINE]
    fig = Figure(figsize=(7.5, 1.4 + 0.45 * max(len(t), 1)))
    ax = fig.add_subplot()
    y = np.arange(len(t))
    delta = 100 * t["delta"].to_numpy(dtype=float)
    low, high = 100 * t["delta_ci_low"].to_numpy(dtype=float), 100 * t["delta_ci_high"].to_numpy(dtype=float)
    has_ci = ~np.isnan(low)
    err = np.vstack([np.where(has_ci, delta - low, 0), np.where(has_ci, high - delta, 0)])
    ax.errorbar(delta, y, xerr=err, fmt="o", color="tab:blue", capsize=4, label=f"Δ, {100 * LEVEL:.0f}% CI")
    ax.axvline(0, color="black", linewidth=0.8)
    values = np.concatenate([delta, low[has_ci], high[has_ci], [0.0]])
    values = values[~np.isnan(values)]
    lo, hi = float(values.min()), float(values.max())
    pad = 0.1 * (hi - lo) if hi > lo else 0.5
    ax.set_xlim(lo - pad, hi + pad)
    labels = [f"{a}\n{textwrap.shorten(str(d), 40)}" if d != a else a for a, d in zip(t["label"], t["described"])]
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_ylim(len(t) - 0.5, -0.5)
    ax.set_xlabel("test accuracy minus the baseline's, paired by seed (points)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or "difference to the baseline", fontsize=10)
    fig.tight_layout()
    return fig


def confirm_section(rep: Report, runs: pd.DataFrame, tasks: Optional[pd.DataFrame] = None) -> None:
    """Write the section into ``rep`` from the labelled runs frame (``tasks`` unused: a report section's shape)."""
    rep.section(ANCHOR, HEADING)
    comparisons = _comparisons(runs)
    if not comparisons:
        rep.text(
            "Cannot tell: these runs hold no confirmation stage (hydra.sweeper.confirm.top_k > 0 runs one) and no "
            "single variant=baseline configuration to set the others against.",
            "note",
        )
        return
    rep.text(
        f"Test accuracy per configuration over seeds (mean ± sd, s.e.m.); Δ = mean of the per-seed differences to "
        f"the baseline, {100 * LEVEL:.0f}% confidence interval from Student's t on those differences, p from the "
        "paired t-test. 'beats': the whole interval lies above 0; 'does not beat': below 0, or equal on every seed. "
        "Several configurations against one baseline are a family: their p is also adjusted (Holm), and the answer "
        "then needs the adjusted p below 0.05.",
        "note",
    )
    for i, (title, frame) in enumerate(comparisons):
        if len(comparisons) > 1:
            rep.h3(title)
        table = compare(frame, baseline=BASELINE)
        extra = frame.groupby("label", sort=False).agg(described=("described", "first"), rank=("rank", "min"))
        table = table.merge(extra, left_on="label", right_index=True, how="left")
        table = table.sort_values(["rank", "final_avg_acc_mean"], ascending=[True, False], na_position="last")
        rep.text(_answer(frame, table))
        rep.table(_table(table))
        if (table["label"] != BASELINE).any():
            rep.figure(
                f"baseline-delta-{i}",
                plot_deltas(table),
                f"Δ test accuracy to the baseline per configuration with its {100 * LEVEL:.0f}% interval "
                f"(no bar: fewer than two paired seeds).",
            )
