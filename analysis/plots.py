"""Comparison figures (matplotlib, object-oriented: no pyplot state, any backend; a Figure displays in Jupyter).

Runs: bars, per-task curves and accuracy matrices here; a study's figures live in :mod:`analysis.plots_study`
and are importable from here too. Accuracy axes span the plotted values, legends sit off the data.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.axes import PERCENT, fitted_limits, legend_below
from analysis.compare import METRIC_NAMES, METRICS, mean_matrix
from analysis.importance import param_importances  # noqa: F401 - part of this module's API
from analysis.labels import wrap, wrap_lines
from analysis.plots_study import (  # noqa: F401 - the Optuna figures, part of this module's API
    STATE_STYLE,
    plot_history,
    plot_importance,
    plot_intermediate,
    plot_parallel,
)
from birsweep.tracking.figures import accuracy_heatmap


def plot_task_curves(curves: pd.DataFrame, labels: Optional[Sequence[str]] = None, title: str = "") -> Figure:
    """Average accuracy (%) after each task per label, mean over seeds with a ± s.e.m. band; the y axis spans
    the plotted values (not 0–100) and the legend sits below the axes."""
    labels = list(labels) if labels is not None else list(dict.fromkeys(curves["label"]))
    legend_lines = sum(len(wrap_lines(label, 48, 3, " (n=10)")) for label in labels)
    fig = Figure(figsize=(7.5, 3.8 + 0.14 * legend_lines))
    ax = fig.add_subplot()
    lows, highs = [], []
    for i, label in enumerate(labels):
        c = curves[curves["label"] == label].sort_values("task")
        if c.empty:
            continue
        x, mean, err = c["task"].to_numpy(), 100 * c["mean"].to_numpy(), 100 * c["sem"].fillna(0).to_numpy()
        color = f"C{i % 10}"
        n = int(c["n"].max())
        ax.plot(x, mean, marker="o", ms=3, color=color, label=wrap(label, 48, 3, f" (n={n})"))
        ax.fill_between(x, mean - err, mean + err, color=color, alpha=0.2, linewidth=0)
        lows += list(mean - err)
        highs += list(mean + err)
    ax.set_xlabel("after task")
    ax.set_ylabel("average accuracy over tasks seen (%)")
    ax.set_ylim(*fitted_limits(lows, highs, bounds=PERCENT))
    if len(curves):
        ax.set_xticks(sorted(curves["task"].unique()))
    ax.grid(alpha=0.3)
    legend_below(ax)
    ax.set_title(title or "average accuracy after each task (mean ± s.e.m. over seeds)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_metric_bars(table: pd.DataFrame, top: int = 12) -> Figure:
    """Final average accuracy, forgetting and BWT per label: mean (dot) ± s.e.m. (bar), each panel's axis fitted
    to its values so that close results look different (a bar from 0 would hide them)."""
    t = table.head(top)
    names = [wrap(label, 40, 4, f" (n={n})") for label, n in zip(t["label"], t["n_completed"])]
    lines = sum(name.count("\n") + 1 for name in names)
    fig = Figure(figsize=(11, 1.3 + 0.22 * max(lines, 4)))
    axes = fig.subplots(1, 3, sharey=True)
    y = np.arange(len(t))
    for ax, m in zip(axes, METRICS):
        mean = 100 * t[f"{m}_mean"].to_numpy(dtype=float)
        err = 100 * np.nan_to_num(t[f"{m}_sem"].to_numpy(dtype=float))
        for i in range(len(t)):
            ax.errorbar(mean[i], y[i], xerr=err[i], fmt="o", color=f"C{i % 10}", ms=6, capsize=3, elinewidth=1.2)
        bounds = PERCENT if m == "final_avg_acc" else (None, None)
        lo, hi = fitted_limits(mean - err, mean + err, bounds=bounds, min_span=0.5)
        ax.set_xlim(lo, hi)
        if lo < 0 < hi:
            ax.axvline(0, color="black", linewidth=0.6)
        ax.set_title(f"{METRIC_NAMES[m]} (%)", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_yticks(y, names, fontsize=7)
    axes[0].set_ylim(len(t) - 0.5, -0.5)  # best first, at the top
    fig.tight_layout()
    return fig


def plot_matrices(tasks: pd.DataFrame, labels: Sequence[str], ncols: int = 3) -> Figure:
    """Mean accuracy matrix over seeds, one heatmap per label."""
    labels = list(labels)
    n = max(len(labels), 1)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.9 * nrows))
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax, label in zip(axes, labels):
        sub = tasks[tasks["label"] == label]
        n_runs = sub["run_dir"].nunique()
        matrix = mean_matrix(sub)
        accuracy_heatmap(
            [[None if np.isnan(a) else a for a in row] for row in matrix],
            ax=ax,
            title=wrap(label, 45, 3, f" (n={n_runs})"),
            colorbar=False,
        )
    for ax in axes[len(labels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
