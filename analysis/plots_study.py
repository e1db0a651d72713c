"""Figures of an Optuna study (a :func:`analysis.load_study` frame): history, intermediate values, parameter
importance and parallel coordinates.

Only finished trials are drawn: a RUNNING or WAITING trial has no result yet (its last report is a moving
target), so it is left out and the title says how many were; :func:`unfinished` counts them for the report.
Parameters are shown by their short names; the accuracy axes span the plotted values.
"""

from __future__ import annotations

from typing import Dict, List

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory

from analysis.axes import PERCENT, fitted_limits, legend_right
from analysis.labels import param_names, wrap

STATE_STYLE = {
    "COMPLETE": ("tab:blue", "o"),
    "PRUNED": ("tab:orange", "x"),
    "FAIL": ("tab:red", "v"),
}
UNFINISHED = ("RUNNING", "WAITING")


def unfinished(trials: pd.DataFrame) -> int:
    """How many trials are still running (or waiting): the figures leave them out."""
    return int(trials["trial_state"].isin(UNFINISHED).sum()) if len(trials) else 0


def finished(trials: pd.DataFrame) -> pd.DataFrame:
    return trials[~trials["trial_state"].isin(UNFINISHED)] if len(trials) else trials


def _with_note(title: str, trials: pd.DataFrame) -> str:
    k = unfinished(trials)
    return title + (f"\n({k} trial{'' if k == 1 else 's'} still running, not shown)" if k else "")


def _objective_points(trials: pd.DataFrame) -> pd.DataFrame:
    """Each trial's value: the final value when complete, else its last reported intermediate value."""
    inter = sorted((c for c in trials.columns if c.startswith("intermediate.")), key=lambda c: int(c.split(".")[1]))
    out = trials[["trial_number", "trial_state", "trial_value"]].copy()
    last = trials[inter].ffill(axis=1).iloc[:, -1] if inter else pd.Series(np.nan, index=trials.index)
    out["y"] = out["trial_value"].where(out["trial_value"].notna(), last)
    return out


def _stopped_after(trials: pd.DataFrame) -> pd.Series:
    """The task after which each trial last reported: its highest ``intermediate.<step>`` with a value."""
    inter = sorted((c for c in trials.columns if c.startswith("intermediate.")), key=lambda c: int(c.split(".")[1]))
    if not inter:
        return pd.Series(np.nan, index=trials.index)
    steps = np.array([int(c.split(".")[1]) for c in inter])
    has = trials[inter].notna().to_numpy()
    last = np.where(has.any(axis=1), steps[has.shape[1] - 1 - np.argmax(has[:, ::-1], axis=1)], -1)
    return pd.Series(np.where(last >= 0, last, np.nan), index=trials.index)  # steps are 1-based tasks


def plot_history(trials: pd.DataFrame, direction: str = "maximize", title: str = "") -> Figure:
    """The objective of each complete trial and the best value so far. A pruned trial has no final value: its last
    report was an average after an earlier task, on another scale (few classes learnt, so higher), so it is marked
    on the bottom edge with the task it stopped after; a failed one below it."""
    fig = Figure(figsize=(8.5, 4))
    ax = fig.add_subplot()
    finished_trials = finished(trials)
    pts = _objective_points(finished_trials).sort_values("trial_number")
    color, marker = STATE_STYLE["COMPLETE"]
    done = pts[(pts["trial_state"] == "COMPLETE") & pts["trial_value"].notna()]
    shown: List[float] = []
    if len(done):
        values = done["trial_value"].astype(float)
        ax.scatter(done["trial_number"], 100 * values, color=color, marker=marker, s=28, label="complete")
        shown = list(100 * values)
        best = values.cummax() if direction == "maximize" else values.cummin()
        ax.step(done["trial_number"], 100 * best, where="post", color="tab:green", label="best so far")
    ax.set_ylim(*fitted_limits(shown, bounds=PERCENT))
    edge = blended_transform_factory(ax.transData, ax.transAxes)
    pruned = finished_trials[finished_trials["trial_state"] == "PRUNED"]
    if len(pruned):  # no final value: on the bottom edge, with the task each stopped after
        color, marker = STATE_STYLE["PRUNED"]
        ax.scatter(
            pruned["trial_number"],
            np.full(len(pruned), 0.07),
            transform=edge,
            color=color,
            marker=marker,
            s=28,
            label="pruned (no final value; tN: stopped after task N)",
            clip_on=False,
        )
        for number, task in zip(pruned["trial_number"], _stopped_after(pruned)):
            if not np.isnan(task):
                ax.text(number, 0.1, f"t{int(task)}", transform=edge, fontsize=6, ha="center", color=color)
    failed = pts[pts["trial_state"] == "FAIL"]
    if len(failed):  # no value: marked on the bottom edge, whatever the range
        ax.scatter(
            failed["trial_number"],
            np.full(len(failed), 0.02),
            transform=edge,
            color=STATE_STYLE["FAIL"][0],
            marker="v",
            s=28,
            label="failed (no value)",
            clip_on=False,
        )
    if len(pts):  # the edge markers do not widen the axis (their y is in axes units): every trial's number must
        ax.set_xlim(pts["trial_number"].min() - 0.6, pts["trial_number"].max() + 0.6)
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("objective: final average accuracy (%)")
    ax.grid(alpha=0.3)
    legend_right(ax)
    ax.set_title(_with_note(title or "optimisation history", trials), fontsize=10)
    fig.tight_layout()
    return fig


def plot_intermediate(trials: pd.DataFrame, title: str = "") -> Figure:
    """Average accuracy reported after each task, per finished trial (pruned trials dashed)."""
    from analysis.study import intermediate_long

    fig = Figure(figsize=(8.5, 4))
    ax = fig.add_subplot()
    long = intermediate_long(finished(trials))
    for _, group in long.groupby("trial_number"):
        state = group["trial_state"].iloc[0]
        ax.plot(
            group["step"],
            100 * group["value"],
            color=STATE_STYLE.get(state, ("tab:gray", "."))[0],
            alpha=0.7,
            linestyle="--" if state == "PRUNED" else "-",
            marker=".",
            ms=4,
        )
    for state in ("COMPLETE", "PRUNED", "FAIL"):
        if (long["trial_state"] == state).any():
            ax.plot(
                [], [], color=STATE_STYLE[state][0], linestyle="--" if state == "PRUNED" else "-", label=state.lower()
            )
    ax.set_xlabel("task (step reported to the pruner)")
    ax.set_ylabel("average accuracy (%)")
    ax.set_ylim(*fitted_limits(100 * long["value"].astype(float) if len(long) else [], bounds=PERCENT))
    ax.grid(alpha=0.3)
    if len(long):
        legend_right(ax)
        ax.set_xticks(sorted(long["step"].unique()))
    ax.set_title(_with_note(title or "intermediate values (what the pruner saw)", trials), fontsize=10)
    fig.tight_layout()
    return fig


def plot_importance(importances: Dict[str, float], title: str = "") -> Figure:
    """Importance per parameter, by short name."""
    short = param_names(importances)
    keys = list(importances)[::-1]
    values = [importances[k] for k in keys]
    fig = Figure(figsize=(7.5, 0.9 + 0.4 * max(len(keys), 2)))
    ax = fig.add_subplot()
    ax.barh(range(len(keys)), values, color="tab:blue")
    ax.set_yticks(range(len(keys)), [wrap(short[k], 30, 2) for k in keys], fontsize=8)
    ax.set_xlabel("importance for the objective (Optuna's default evaluator)")
    ax.set_xlim(0, max(1e-9, max(values, default=0.0)) * 1.15)
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:.2f}", va="center", fontsize=7)
    ax.set_title(title or "parameter importance", fontsize=10)
    fig.tight_layout()
    return fig


def plot_parallel(trials: pd.DataFrame, direction: str = "maximize", title: str = "") -> Figure:
    """Parallel coordinates of the complete trials: one axis per searched parameter and the objective, lines
    coloured by the objective (logarithmic axes for positive parameters spanning two decades or more)."""
    done = trials[(trials["trial_state"] == "COMPLETE") & trials["trial_value"].notna()]
    params = [c for c in trials.columns if c.startswith("params.")]
    axes_cols = params + ["trial_value"]
    fig = Figure(figsize=(max(6.5, 1.9 * len(axes_cols)), 4.4))
    ax = fig.add_subplot()
    scaled, ticks = [], []
    for col in axes_cols:
        values = done[col]
        numeric = pd.to_numeric(values, errors="coerce")
        words = (numeric.isna() & values.notna()).any() or values.map(lambda v: isinstance(v, bool)).any()
        if col != "trial_value" and words:
            # a conditional parameter a trial did not sample is its own category
            labels = values.map(lambda v: "not sampled" if pd.isna(v) else str(v))
            cats = sorted(labels.unique())
            pos = labels.map({c: (i / max(len(cats) - 1, 1)) for i, c in enumerate(cats)})
            scaled.append(pos.to_numpy(dtype=float))
            ticks.append((cats[0], cats[-1]) if cats else ("", ""))
            continue
        x = numeric.to_numpy(dtype=float)  # NaN where a conditional parameter was not sampled: the line breaks
        if not np.isfinite(x).any():
            scaled.append(np.full_like(x, np.nan))
            ticks.append(("", ""))
            continue
        log = col != "trial_value" and np.nanmin(x) > 0 and np.nanmax(x) / np.nanmin(x) >= 100
        t = np.log10(x) if log else x
        lo, hi = (np.nanmin(t), np.nanmax(t)) if len(t) else (0.0, 1.0)
        scaled.append((t - lo) / (hi - lo) if hi > lo else np.full_like(t, 0.5))
        fmt = (lambda v: f"{v:.2e}") if log else (lambda v: f"{v:.4g}")
        if col == "trial_value":
            fmt = lambda v: f"{100 * v:.2f}"  # noqa: E731 - accuracy in %, as everywhere in the report
        ticks.append((fmt(np.nanmin(x)), fmt(np.nanmax(x))) if len(x) else ("", ""))
    if len(done):
        data = np.vstack(scaled).T
        value = done["trial_value"].astype(float).to_numpy()
        span = value.max() - value.min()
        shade = (value - value.min()) / span if span > 0 else np.full_like(value, 0.5)
        if direction != "maximize":
            shade = 1 - shade
        cmap = _cmap("viridis")
        for row, s in zip(data, shade):
            ax.plot(range(len(axes_cols)), row, color=cmap(s), alpha=0.8, linewidth=1.2)
    for i, (lo, hi) in enumerate(ticks):
        ax.axvline(i, color="black", linewidth=0.6)
        ax.text(i, -0.06, lo, ha="center", va="top", fontsize=7)
        ax.text(i, 1.06, hi, ha="center", va="bottom", fontsize=7)
    short = param_names(params)
    names = [short[c] for c in params] + ["objective (%)"]
    ax.set_xticks(range(len(axes_cols)), [wrap(n, 18, 3) for n in names], fontsize=7)
    ax.set_ylim(-0.15, 1.15)
    ax.set_yticks([])
    heading = title or f"parallel coordinates of {len(done)} complete trials (colour: objective)"
    ax.set_title(_with_note(heading, trials), fontsize=10)
    fig.tight_layout()
    return fig


def _cmap(name: str):
    from matplotlib import colormaps

    return colormaps[name]
