"""Comparison figures (matplotlib, object-oriented: no pyplot state, any backend; a Figure displays in Jupyter)."""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from analysis.compare import METRIC_NAMES, METRICS, mean_matrix
from birsweep.tracking.figures import accuracy_heatmap

STATE_STYLE = {
    "COMPLETE": ("tab:blue", "o"),
    "PRUNED": ("tab:orange", "x"),
    "FAIL": ("tab:red", "v"),
    "RUNNING": ("tab:gray", "."),
    "WAITING": ("tab:gray", "."),
}


def plot_task_curves(curves: pd.DataFrame, labels: Optional[Sequence[str]] = None, title: str = "") -> Figure:
    """Average accuracy (%) after each task per label, mean over seeds with a ± s.e.m. band."""
    labels = list(labels) if labels is not None else list(dict.fromkeys(curves["label"]))
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.add_subplot()
    for i, label in enumerate(labels):
        c = curves[curves["label"] == label].sort_values("task")
        if c.empty:
            continue
        x, mean, err = c["task"].to_numpy(), 100 * c["mean"].to_numpy(), 100 * c["sem"].fillna(0).to_numpy()
        color = f"C{i % 10}"
        n = int(c["n"].max())
        ax.plot(x, mean, marker="o", ms=3, color=color, label=f"{_clip(label)} (n={n})")
        ax.fill_between(x, mean - err, mean + err, color=color, alpha=0.2, linewidth=0)
    ax.set_xlabel("after task")
    ax.set_ylabel("average accuracy over tasks seen (%)")
    ax.set_ylim(0, 100)
    if len(curves):
        ax.set_xticks(sorted(curves["task"].unique()))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    ax.set_title(title or "average accuracy after each task (mean ± s.e.m. over seeds)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_metric_bars(table: pd.DataFrame, top: int = 12) -> Figure:
    """Final average accuracy, forgetting and BWT per label (mean ± s.e.m.)."""
    t = table.head(top)
    fig = Figure(figsize=(11, 1.3 + 0.4 * max(len(t), 2)))
    axes = fig.subplots(1, 3, sharey=True)
    y = np.arange(len(t))
    for ax, m in zip(axes, METRICS):
        mean = 100 * t[f"{m}_mean"].to_numpy(dtype=float)
        err = 100 * np.nan_to_num(t[f"{m}_sem"].to_numpy(dtype=float))
        ax.barh(y, np.nan_to_num(mean), xerr=err, color=[f"C{i % 10}" for i in range(len(t))], alpha=0.8)
        ax.set_title(f"{METRIC_NAMES[m]} (%)", fontsize=9)
        ax.axvline(0, color="black", linewidth=0.6)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, [_clip(s, 45) for s in t["label"]], fontsize=7)
    axes[0].invert_yaxis()
    fig.tight_layout()
    return fig


def plot_matrices(tasks: pd.DataFrame, labels: Sequence[str], ncols: int = 3) -> Figure:
    """Mean accuracy matrix over seeds, one heatmap per label."""
    labels = list(labels)
    n = max(len(labels), 1)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.6 * nrows))
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax, label in zip(axes, labels):
        sub = tasks[tasks["label"] == label]
        n_runs = sub["run_dir"].nunique()
        matrix = mean_matrix(sub)
        accuracy_heatmap(
            [[None if np.isnan(a) else a for a in row] for row in matrix],
            ax=ax,
            title=f"{_clip(label, 40)} (n={n_runs})",
            colorbar=False,
        )
    for ax in axes[len(labels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


# --- Optuna -----------------------------------------------------------------------------------------------------------
def _objective_points(trials: pd.DataFrame) -> pd.DataFrame:
    """Each trial's value: the final value when complete, else its last reported intermediate value."""
    inter = sorted((c for c in trials.columns if c.startswith("intermediate.")), key=lambda c: int(c.split(".")[1]))
    out = trials[["trial_number", "trial_state", "trial_value"]].copy()
    last = trials[inter].ffill(axis=1).iloc[:, -1] if inter else pd.Series(np.nan, index=trials.index)
    out["y"] = out["trial_value"].where(out["trial_value"].notna(), last)
    return out


def plot_history(trials: pd.DataFrame, direction: str = "maximize", title: str = "") -> Figure:
    """Objective per trial (pruned trials at their last reported value) and the best value so far."""
    fig = Figure(figsize=(7.5, 4))
    ax = fig.add_subplot()
    pts = _objective_points(trials).sort_values("trial_number")
    for state, (color, marker) in STATE_STYLE.items():
        p = pts[(pts["trial_state"] == state) & pts["y"].notna()]
        if len(p):
            label = state.lower() + (" (last reported)" if state == "PRUNED" else "")
            ax.scatter(p["trial_number"], 100 * p["y"].astype(float), color=color, marker=marker, s=28, label=label)
    done = pts[(pts["trial_state"] == "COMPLETE") & pts["trial_value"].notna()]
    if len(done):
        values = done["trial_value"].astype(float)
        best = values.cummax() if direction == "maximize" else values.cummin()
        ax.step(done["trial_number"], 100 * best, where="post", color="tab:green", label="best so far")
    failed = pts[(pts["trial_state"] == "FAIL")]
    if len(failed):
        ax.scatter(failed["trial_number"], np.zeros(len(failed)), color="tab:red", marker="v", s=28, label="failed")
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("objective: final average accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title or "optimisation history", fontsize=10)
    fig.tight_layout()
    return fig


def plot_intermediate(trials: pd.DataFrame, title: str = "") -> Figure:
    """Average accuracy reported after each task, per trial (pruned trials dashed)."""
    from analysis.study import intermediate_long

    fig = Figure(figsize=(7.5, 4))
    ax = fig.add_subplot()
    long = intermediate_long(trials)
    for _, group in long.groupby("trial_number"):
        state = group["trial_state"].iloc[0]
        color = STATE_STYLE.get(state, ("tab:gray", "."))[0]
        ax.plot(
            group["step"],
            100 * group["value"],
            color=color,
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
    ax.grid(alpha=0.3)
    if len(long):
        ax.legend(fontsize=7)
        ax.set_xticks(sorted(long["step"].unique()))
    ax.set_title(title or "intermediate values (what the pruner saw)", fontsize=10)
    fig.tight_layout()
    return fig


def param_importances(storage, study_name: str) -> Tuple[Optional[dict], str]:
    """Optuna's parameter importances for the objective (its default evaluator), or None and why not."""
    import warnings

    import optuna

    from analysis.study import open_storage

    study = optuna.load_study(study_name=study_name, storage=open_storage(storage))
    done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if len(done) < 2:
        return None, f"needs at least 2 complete trials ({len(done)} so far)"
    varied = {k for t in done for k in t.params if len({str(u.params.get(k)) for u in done}) > 1}
    if not varied:
        return None, "the complete trials share the same parameters"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "importances will be equal" when every value ties
            return dict(optuna.importance.get_param_importances(study)), ""
    except Exception as err:  # noqa: BLE001 - e.g. too few trials for the evaluator
        return None, f"{type(err).__name__}: {err}"


def plot_importance(importances: dict, title: str = "") -> Figure:
    names = list(importances)[::-1]
    values = [importances[n] for n in names]
    fig = Figure(figsize=(7.5, 0.9 + 0.4 * max(len(names), 2)))
    ax = fig.add_subplot()
    ax.barh(range(len(names)), values, color="tab:blue")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("importance for the objective (Optuna's default evaluator)")
    ax.set_xlim(0, max(1e-9, max(values)) * 1.15)
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
    fig = Figure(figsize=(max(6.5, 1.9 * len(axes_cols)), 4.2))
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
        fmt = (lambda v: f"{v:.2e}") if log else (lambda v: f"{v:.3g}")
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
    names = [c[len("params.") :] if c.startswith("params.") else "objective" for c in axes_cols]
    ax.set_xticks(range(len(axes_cols)), [_clip(n, 28) for n in names], fontsize=7)
    ax.set_ylim(-0.15, 1.15)
    ax.set_yticks([])
    ax.set_title(title or f"parallel coordinates of {len(done)} complete trials (colour: objective)", fontsize=10)
    fig.tight_layout()
    return fig


def _cmap(name: str):
    from matplotlib import colormaps

    return colormaps[name]


def _clip(text: str, width: int = 60) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"
