"""The report's BI-R ablations (upstream ``compare_CIFAR100_bir.py``; docs/method.md, Ablations): final average
accuracy, mean ± s.e.m. over seeds, in upstream's two groups (additions to standard GR | ablations from BI-R), as a
table and as bars with one dot per seed, with upstream's reference lines: the base network trained on the last task
only (``ablation=only_last``) and chance level. Runs are those of the ``ablation`` group (``method.ablation`` of
their config); the section appears when there are any.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.compare import sem
from analysis.report_html import Report
from birsweep.tracking.record import try_load
from birsweep.tracking.record_fields import RunStatus

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
ONLY_LAST = "only_last"  # upstream's "Only last task" (--replay=none --only-last): a line across the bars


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


def classes_trained(runs: pd.DataFrame) -> Optional[int]:
    """How many classes the runs were trained on, from a record's class order (chance is one over it)."""
    for run_dir in runs["run_dir"].dropna() if "run_dir" in runs else []:
        data, _ = try_load(str(run_dir))
        order = ((data or {}).get("class_order") or [])[: (data or {}).get("n_tasks") or None]
        if order:
            return sum(len(classes) for classes in order)
    return None


def references(of_data: pd.DataFrame, n_classes: Optional[int] = None) -> Dict[str, Optional[float]]:
    """Upstream's lines for one data set's ablation runs: the only-last-task runs' mean and s.e.m. and their count,
    and chance level (one over ``n_classes``, the classes trained); None where there is nothing to draw them from."""
    chance = 1.0 / n_classes if n_classes else None
    out: Dict[str, Optional[float]] = {"only_last": None, "only_last_sem": None, "only_last_n": None, "chance": chance}
    if ABLATION_KEY not in of_data:
        return out
    done = of_data[(of_data[ABLATION_KEY] == ONLY_LAST) & (of_data["status"] == RunStatus.COMPLETED.value)]
    values = pd.to_numeric(done["final_avg_acc"], errors="coerce").dropna()
    if not values.empty:
        out["only_last"], out["only_last_sem"], out["only_last_n"] = float(values.mean()), sem(values), len(values)
    return out


def plot_ablation_bars(
    table: pd.DataFrame, title: str = "", lines: Optional[Dict[str, Optional[float]]] = None
) -> Figure:
    """Upstream's bar plot: one panel per group, bars = mean (%), error bars = s.e.m., dots = seeds; ``lines``
    (:func:`references`): the only-last-task mean as a dashed line with its ± s.e.m. band, chance level dotted."""
    lines = lines or {}
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
        only_last, spread, chance = lines.get("only_last"), lines.get("only_last_sem"), lines.get("chance")
        if only_last is not None:
            ax.axhline(100 * only_last, color="grey", linestyle="--", linewidth=1, label="only last task")
            if spread is not None and not pd.isna(spread):
                ax.axhspan(100 * (only_last - spread), 100 * (only_last + spread), color="grey", alpha=0.15, lw=0)
        if chance is not None:
            ax.axhline(100 * chance, color="black", linestyle=":", linewidth=1, label="chance")
        ax.set_xticks(range(len(names)), names)
        ax.set_title(group, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    if any(lines.get(key) is not None for key in ("only_last", "chance")):
        axes[0].legend(fontsize=8, loc="upper left")
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
        "replay (s-GR), right the ablations from BI-R; the bars show the same with one dot per seed, the dashed line "
        "the base network trained on the last task only (ablation=only_last) and the dotted line chance level.",
        "note",
    )
    for data, part in table.groupby("data", sort=True):
        if table["data"].nunique() > 1:
            rep.h3(str(data))
        rep.table(_two_groups(part))
        of_data = runs[(runs["data"] == data) & runs[ABLATION_KEY].notna()]
        lines = references(of_data, classes_trained(of_data))
        rep.text(_reference_text(lines), "note")
        rep.figure(
            f"ablations-{data}",
            plot_ablation_bars(part, title=f"{data}: final average accuracy", lines=lines),
            "Final average accuracy per ablation (bars: mean, error bars: ± s.e.m., dots: seeds; dashed: only the "
            "last task trained, ± s.e.m. shaded; dotted: chance).",
        )


def _reference_text(lines: Dict[str, Optional[float]]) -> str:
    only_last, spread, n = lines["only_last"], lines["only_last_sem"], lines["only_last_n"]
    if only_last is None:
        text = "Only last task: no completed runs (ablation=only_last)"
    elif spread is None or pd.isna(spread):
        text = f"Only last task: {100 * only_last:.2f} % (n={n})"
    else:
        text = f"Only last task: {100 * only_last:.2f} ± {100 * spread:.2f} % (n={n})"
    chance = lines["chance"]
    return text + ("" if chance is None else f"; chance level: {100 * chance:.2f} %") + "."


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
