"""The report's method comparison (upstream ``compare_CIFAR100.py``): final average accuracy per continual-learning
method, mean ± s.e.m. over seeds, and the average accuracy after each task as one line per method.

Rows are grouped by data set and method (``method.name`` of each run's config; a variant other than baseline is
named beside its method). The section appears when the runs hold more than one method.
"""

from __future__ import annotations

from typing import List

import pandas as pd

from analysis.compare import sem, task_curves
from analysis.plots import plot_task_curves
from analysis.report_html import Report
from birsweep.methods.method_registry import label_of, report_rank
from birsweep.tracking.record_fields import RunStatus

METHOD_KEY = "method.name"


def method_label(method: str, variant: str, data: str, several_data: bool) -> str:
    name = label_of(method)  # the method's label in the registry (birsweep/methods/method_registry.py)
    if variant and variant != "baseline":
        name += f" + {variant}"
    return f"{data}: {name}" if several_data else name


def _order(frame: pd.DataFrame) -> pd.DataFrame:
    key = frame["method"].map(report_rank)  # the registry's order: upstream's, the upper bound last
    return frame.assign(_rank=key).sort_values(["data", "_rank", "label"], kind="stable").drop(columns="_rank")


def labelled(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that name their method, with ``method`` and a ``label`` per data set, method and variant."""
    if METHOD_KEY not in runs:
        return runs.iloc[0:0].assign(method=[], label=[])
    named = runs[runs[METHOD_KEY].notna()].copy()
    if "method.ablation" in named:  # BI-R ablations have their own section (analysis/report_ablations.py)
        named = named[named["method.ablation"].isna()]
    several = named["data"].nunique() > 1
    named["method"] = named[METHOD_KEY].astype(str)
    named["label"] = [
        method_label(m, str(v), str(d), several) for m, v, d in zip(named["method"], named["variant"], named["data"])
    ]
    return named


def method_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per data set and method: completed runs, seeds, final average accuracy mean and s.e.m. (fractions)."""
    named = labelled(runs)
    done = named[named["status"] == RunStatus.COMPLETED.value]
    rows = []
    for (data, method, label), group in done.groupby(["data", "method", "label"], sort=False):
        values = pd.to_numeric(group["final_avg_acc"], errors="coerce")
        rows.append(
            {
                "data": data,
                "method": method,
                "label": label,
                "n": int(values.notna().sum()),
                "seeds": ",".join(str(s) for s in sorted(group["seed"].dropna().unique())),
                "mean": float(values.mean()),
                "sem": sem(values),
            }
        )
    table = pd.DataFrame(rows, columns=["data", "method", "label", "n", "seeds", "mean", "sem"])
    return _order(table).reset_index(drop=True) if len(table) else table


def method_curves(runs: pd.DataFrame, tasks: pd.DataFrame) -> pd.DataFrame:
    """Average accuracy after each task per method label (``label``, ``task``, ``mean``, ``sem``, ``n``)."""
    named = labelled(runs)
    done = named[named["status"] == RunStatus.COMPLETED.value][["run_dir", "label"]]
    return task_curves(tasks.drop(columns=["label"], errors="ignore").merge(done, on="run_dir", how="inner"))


def add_methods_section(rep: Report, runs: pd.DataFrame, tasks: pd.DataFrame) -> None:
    """Append the section to the report ``rep`` when the runs compare more than one method."""
    table = method_table(runs)
    if table.empty or table["method"].nunique() < 2:
        return
    rep.section("methods", "Methods")
    rep.text(
        "Final average accuracy over all tasks (%), mean ± s.e.m. over seeds (completed runs), as the original "
        "paper's comparison prints it; the figure shows the average accuracy on the tasks seen so far after each "
        "task, one line per method (band: ± s.e.m.).",
        "note",
    )
    shown = pd.DataFrame(
        {
            "method": table["label"],
            "final average accuracy (%)": [_pm(m, s) for m, s in zip(table["mean"], table["sem"])],
            "n": table["n"],
            "seeds": table["seeds"],
        }
    )
    rep.table(shown)
    labels: List[str] = list(table["label"])
    rep.figure(
        "methods-per-task",
        plot_task_curves(method_curves(runs, tasks), labels, title="average accuracy after each task, per method"),
        "Average accuracy on the tasks seen so far after each task, per method (mean ± s.e.m. over seeds).",
    )


def _pm(mean: float, err: float) -> str:
    if pd.isna(mean):
        return "–"
    return f"{100 * mean:.2f}" if pd.isna(err) else f"{100 * mean:.2f} ± {100 * err:.2f}"
