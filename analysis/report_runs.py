"""The report's sections on runs: configurations (table and bars), curves per task, accuracy matrices, runs."""

from __future__ import annotations

import os
from typing import List, Sequence

import pandas as pd

from analysis.compare import METRIC_NAMES, METRICS, compare, task_curves
from analysis.plots import plot_matrices, plot_metric_bars, plot_task_curves
from analysis.report_html import Report, num, pct
from birsweep.tracking.record_fields import RunStatus


def variants_table(table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`analysis.compare` table as shown: counts of runs, and the seeds only where a configuration has
    several completed runs (one run's seed is in the runs table; here it would read like a count)."""
    out = pd.DataFrame(
        {
            "configuration": table["label"],
            "variant": table["variant"],
            "runs (completed/all)": [f"{c}/{n}" for c, n in zip(table["n_completed"], table["n_runs"])],
        }
    )
    if (table["n_completed"] > 1).any():
        out["seeds of completed runs"] = table["seeds"].replace("", "–")
    for m in METRICS:
        out[f"{METRIC_NAMES[m]} (%)"] = [pct(a, b) for a, b in zip(table[f"{m}_mean"], table[f"{m}_sem"])]
    return out


def relative_dir(path: str, roots: Sequence[str]) -> str:
    """A run dir relative to the source dir it was found under (short enough to read), else as it is."""
    for root in roots:
        root = os.path.abspath(root)
        if os.path.isdir(root) and os.path.abspath(path).startswith(root + os.sep):
            return os.path.relpath(path, os.path.dirname(root))
    return path


def runs_table(runs: pd.DataFrame, roots: Sequence[str] = ()) -> pd.DataFrame:
    cols = {
        "configuration": runs["label"],
        "seed": runs["seed"],
        "status": runs["status"],
        "tasks": [f"{num(a)}/{num(b)}" for a, b in zip(runs["tasks_done"], runs["n_tasks"])],
    }
    for m in METRICS:
        cols[f"{METRIC_NAMES[m]} (%)"] = [num(v, pct=True) for v in runs[m]]
    if runs["trial_number"].notna().any():
        cols["trial"] = [num(v) for v in runs["trial_number"]]
    cols["train (s)"] = [num(v) for v in runs.get("train_s", pd.Series([None] * len(runs)))]
    cols["run dir"] = [relative_dir(p, roots) for p in runs["run_dir"]]
    return pd.DataFrame(cols)


def top_labels(runs: pd.DataFrame, top: int) -> List[str]:
    return list(compare(runs)["label"].head(top))


def _not_running(rep: Report, runs: pd.DataFrame, tasks: pd.DataFrame) -> pd.DataFrame:
    """The tasks of runs that are not still running (a killed run's record says running too), with a note."""
    running = runs.loc[runs["status"] == RunStatus.RUNNING.value, "run_dir"]
    if len(running):
        k = len(running)
        rep.text(f"{k} run{'' if k == 1 else 's'} still running (or killed), not shown.", "note")
    return tasks[~tasks["run_dir"].isin(set(running))]


def variants_section(rep: Report, runs: pd.DataFrame, tasks: pd.DataFrame) -> None:
    table = compare(runs)
    rep.section("variants", "Variants")
    rep.text(
        "Mean ± standard error of the mean over seeds (completed runs); runs that differ only by seed "
        "share a configuration. Accuracies in %, forgetting: drop from the best earlier accuracy, BWT: "
        "final minus just-learnt accuracy (negative = forgetting).",
        "note",
    )
    rep.table(variants_table(table))
    rep.figure(
        "variants-metrics",
        plot_metric_bars(table, top=rep.top),
        "Final average accuracy, forgetting and BWT per configuration (mean ± s.e.m.; n: completed runs); "
        "each axis spans the values shown, not 0–100.",
    )


def curves_section(rep: Report, runs: pd.DataFrame, tasks: pd.DataFrame) -> None:
    rep.section("curves", "Average accuracy after each task")
    labels = top_labels(runs, rep.top)
    rep.figure(
        "avg-acc-per-task",
        plot_task_curves(task_curves(_not_running(rep, runs, tasks)), labels),
        f"Average accuracy over the tasks seen after each task; band: ± s.e.m. over seeds; n: runs "
        f"(top {len(labels)} configurations; the axis spans the values shown).",
    )


def matrices_section(rep: Report, runs: pd.DataFrame, tasks: pd.DataFrame) -> None:
    rep.section("matrices", "Accuracy matrices")
    rep.figure(
        "acc-matrices",
        plot_matrices(_not_running(rep, runs, tasks), top_labels(runs, rep.top)),
        "Accuracy on task k (columns) after training task t (rows), mean over the configuration's runs.",
    )


def runs_section(rep: Report, runs: pd.DataFrame, tasks: pd.DataFrame) -> None:
    rep.section("runs", "Runs")
    rep.table(runs_table(runs.sort_values(["label", "seed"], kind="stable"), rep.paths))
