"""The report's BI-R ablations (upstream ``compare_CIFAR100_bir.py``; docs/method.md, Ablations): final average
accuracy, mean ± s.e.m. over seeds, in upstream's two groups (additions to standard GR | ablations from BI-R), as a
table and as bars with one dot per seed. Runs are those of the ``ablation`` group (``method.ablation`` of their
config); the section appears when there are any.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.compare import sem
from analysis.report_html import Report
from birsweep.tracking.record import RunStatus

ABLATION_KEY = "method.ablation"
# upstream's groups, order, short and long names (compare_CIFAR100_bir.py)
GROUPS: Dict[str, List[Tuple[str, str, str]]] = {
    "Additions to standard GR": [
        ("sgr", "s-GR", "s-GR"),
        ("sgr_feedback", "+ rtf", "+ replay-through-feedback"),
        ("sgr_conditional", "+ con", "+ conditional replay"),
        ("sgr_gating", "+ gat", "+ gating"),
        ("sgr_internal", "+ int", "+ internal replay"),
        ("sgr_distill", "+ dis", "+ distillation"),
    ],
    "Ablations from BI-R": [
        ("bir", "BI-R", "BI-R"),
        ("no_feedback", "- rtf", "- replay-through-feedback"),
        ("no_conditional", "- con", "- conditional replay"),
        ("no_gating", "- gat", "- gating"),
        ("no_internal", "- int", "- internal replay"),
        ("no_distill", "- dis", "- distillation"),
    ],
}
COLORS = ["black", "maroon", "red", "orangered", "goldenrod", "green"]  # upstream's, per position in a group


def ablation_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per data set and ablation in upstream's order: group, names, completed runs, seeds, the per-seed
    final average accuracies (``values``) and their mean and s.e.m. (fractions)."""
    columns = ["data", "group", "ablation", "short", "long", "n", "seeds", "values", "mean", "sem"]
    if ABLATION_KEY not in runs:
        return pd.DataFrame(columns=columns)
    done = runs[runs[ABLATION_KEY].notna() & (runs["status"] == RunStatus.COMPLETED.value)]
    rows = []
    for data, of_data in done.groupby("data", sort=True):
        for group, members in GROUPS.items():
            for ablation, short, long in members:
                runs_of = of_data[of_data[ABLATION_KEY] == ablation].sort_values("seed")
                if runs_of.empty:
                    continue
                values = pd.to_numeric(runs_of["final_avg_acc"], errors="coerce")
                rows.append(
                    {
                        "data": data,
                        "group": group,
                        "ablation": ablation,
                        "short": short,
                        "long": long,
                        "n": int(values.notna().sum()),
                        "seeds": ",".join(str(s) for s in runs_of["seed"]),
                        "values": [float(v) for v in values.dropna()],
                        "mean": float(values.mean()),
                        "sem": sem(values),
                    }
                )
    return pd.DataFrame(rows, columns=columns)


def plot_ablation_bars(table: pd.DataFrame, title: str = "") -> Figure:
    """Upstream's bar plot: one panel per group, bars = mean (%), error bars = s.e.m., dots = seeds."""
    groups = [g for g in GROUPS if (table["group"] == g).any()]
    fig = Figure(figsize=(4.2 * len(groups), 3.6), layout="constrained")
    axes = fig.subplots(1, len(groups), sharey=True, squeeze=False)[0]
    for ax, group in zip(axes, groups):
        part = table[table["group"] == group]
        names = [short for _, short, _ in GROUPS[group]]
        pos = [names.index(s) for s in part["short"]]
        alpha = 0.7 if group.startswith("Additions") else 1.0
        colors = [COLORS[p] for p in pos]
        errs = [0.0 if pd.isna(e) else 100 * e for e in part["sem"]]
        ax.bar(pos, 100 * part["mean"], yerr=errs, color=colors, alpha=alpha, capsize=3)
        for p, values in zip(pos, part["values"]):
            jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(1)
            ax.scatter(p + jitter, [100 * v for v in values], s=10, color="grey", edgecolor="white", zorder=3)
        ax.set_xticks(range(len(names)), names)
        ax.set_title(group, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("final average accuracy (%)")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def add_ablations_section(rep: Report, runs: pd.DataFrame, tasks: pd.DataFrame) -> None:
    """Append the section to the report ``rep`` when the runs hold BI-R ablations."""
    table = ablation_table(runs)
    if table.empty:
        return
    rep.section("ablations", "Ablations")
    rep.text(
        "BI-R's components one at a time (the original paper's compare_CIFAR100_bir.py): final average accuracy "
        "over all tasks (%), mean ± s.e.m. over seeds (completed runs), left the additions to standard generative "
        "replay (s-GR), right the ablations from BI-R; the bars show the same with one dot per seed.",
        "note",
    )
    for data, part in table.groupby("data", sort=True):
        if table["data"].nunique() > 1:
            rep.h3(str(data))
        rep.table(_two_groups(part))
        rep.figure(
            f"ablations-{data}",
            plot_ablation_bars(part, title=f"{data}: final average accuracy"),
            "Final average accuracy per ablation (bars: mean, error bars: ± s.e.m., dots: seeds).",
        )


def _two_groups(part: pd.DataFrame) -> pd.DataFrame:
    """Upstream's printout side by side: additions to s-GR | ablations from BI-R, row i = position i in a group."""
    cols: Dict[str, List[str]] = {}
    for group, members in GROUPS.items():
        rows = part[part["group"] == group].set_index("ablation")
        cols[group] = [long if a in rows.index else "" for a, _, long in members]
        cols[f"{group}: accuracy (%)"] = [_pm(rows.loc[a]) if a in rows.index else "" for a, _, _ in members]
    return pd.DataFrame(cols)


def _pm(row: pd.Series) -> str:
    text = f"{100 * row['mean']:.2f}" if pd.isna(row["sem"]) else f"{100 * row['mean']:.2f} ± {100 * row['sem']:.2f}"
    return f"{text} (n={row['n']})"
