"""The report's section "Did exaggeration separate competing memories?" (docs/analysis.md, Diagnostics).

Runs are grouped by variant: ``baseline`` when no loss term is enabled (no ``participation_<term>`` column has a
value), else the run's variant name; a run whose terms never fired trained as the baseline does and is shown as
``<variant> (inert)``. Per group, over its completed runs (seeds and trials): mean ± sd of the last task's
competing-pair confusion rate, their latent separation (prior-mode SKL, posterior-mean distance) and the replay
accuracy on old classes, beside the final average accuracy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List

import numpy as np
import pandas as pd

from analysis.diagnostics import load_diagnostics

if TYPE_CHECKING:
    from analysis.report_html import Report

MEASURES = [
    ("diag_pair_rate", "top-pair confusion rate (%)", 100.0, "lower: the competing classes are confused less"),
    ("diag_pair_skl", "prior-mode SKL", 1.0, "higher: their prior modes lie further apart"),
    ("diag_pair_distance", "posterior-mean distance", 1.0, "higher: their test samples' codes lie further apart"),
    ("diag_replay_acc", "replay accuracy, old classes (%)", 100.0, "higher: replayed samples are recognisable"),
]
BASELINE = "baseline"


def variant_groups(runs: pd.DataFrame) -> pd.Series:
    """``baseline`` for runs without an enabled term, ``<variant> (inert)`` when none of its terms fired, else the
    variant name."""
    terms = [c for c in runs.columns if c.startswith("participation_")]
    enabled = runs[terms].notna().any(axis=1) if terms else pd.Series(False, index=runs.index)
    inert = _inert(runs)
    names = runs["variant"].astype(str)
    group = names.where(enabled, BASELINE)
    return group.where(~(enabled & inert), names + " (inert)")


def _fmt(mean: float, sd: float, scale: float) -> str:
    if pd.isna(mean):
        return "–"
    return f"{scale * mean:.3g} ± {scale * sd:.2g}" if not pd.isna(sd) else f"{scale * mean:.3g}"


def group_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd per group over completed runs: ``<measure>_mean``, ``<measure>_sd``, ``runs``; baseline first."""
    done = runs[runs["status"] == "completed"].copy()
    done["group"] = variant_groups(done)
    cols = [m for m, *_ in MEASURES if m in done.columns] + ["final_avg_acc"]
    stats = done.groupby("group")[cols].agg(["mean", "std"])
    stats.columns = [f"{c}_{'sd' if s == 'std' else s}" for c, s in stats.columns]
    stats["runs"] = done.groupby("group").size()
    order = sorted(stats.index, key=lambda g: (g != BASELINE, g))
    return stats.loc[order].reset_index()


def _figure(table: pd.DataFrame):
    from matplotlib.figure import Figure

    shown = [m for m in MEASURES if f"{m[0]}_mean" in table.columns]
    fig = Figure(figsize=(3.0 * max(len(shown), 1), 1.4 + 0.45 * max(len(table), 2)))
    axes = np.atleast_1d(fig.subplots(1, max(len(shown), 1), sharey=True))
    y = np.arange(len(table))
    for ax, (col, name, scale, _) in zip(axes, shown):
        mean = scale * table[f"{col}_mean"].to_numpy(dtype=float)
        sd = scale * np.nan_to_num(table[f"{col}_sd"].to_numpy(dtype=float))
        for i in range(len(table)):  # points, not bars: the axis fits the data and need not start at 0
            ax.errorbar(mean[i], y[i], xerr=sd[i], fmt="o", color=f"C{i % 10}", capsize=3)
        finite = mean[np.isfinite(mean)]
        if finite.size:  # the axis fits the data, so small differences show
            lo, hi = float(np.min(finite - sd[np.isfinite(mean)])), float(np.max(finite + sd[np.isfinite(mean)]))
            pad = 0.15 * (hi - lo) if hi > lo else 0.1 * abs(hi) + 1e-3
            ax.set_xlim(lo - pad, hi + pad)
        ax.set_title(name, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, [str(g)[:30] for g in table["group"]], fontsize=8)
    axes[0].set_ylim(len(table) - 0.5, -0.5)
    fig.tight_layout()
    return fig


def _inert(runs: pd.DataFrame) -> pd.Series:
    """Completed runs with a term that never fired. An unfinished run is not judged: replay terms cannot fire in
    task 1, so a run stopped (or still running) after it would read as inert."""
    if "inert_terms" not in runs:
        return pd.Series(False, index=runs.index)
    done = runs["status"] == "completed" if "status" in runs else pd.Series(True, index=runs.index)
    return runs["inert_terms"].map(lambda v: isinstance(v, tuple) and len(v) > 0) & done


def _inert_note(runs: pd.DataFrame) -> str:
    if "inert_terms" not in runs:
        return "These records do not say which loss terms fired (written before participation was kept)."
    inert = runs[_inert(runs)]
    completed = int((runs["status"] == "completed").sum()) if "status" in runs else len(runs)
    if inert.empty:
        return "Every enabled loss term acted on some samples in every completed run."
    terms = sorted({t for v in inert["inert_terms"] for t in v})
    trials = inert["trial_number"].dropna()
    which = f" (trials {', '.join(f'#{int(n)}' for n in trials)})" if len(trials) else ""
    return (
        f"Inactive terms: {len(inert)} of {completed} completed runs{which} had a loss term that never fired "
        f"({', '.join(terms)}). Such a term adds exactly 0 and no gradient, so these runs trained as the baseline "
        "does: their results equal the baseline's with the same seed, bit for bit. They are shown as "
        "'(inert)' and are not evidence for or against the variant."
    )


def diagnostics_section(rep: Report, runs: pd.DataFrame, pairs: pd.DataFrame) -> None:
    """Append the section to ``rep``: the variant against the baseline on (b)-(d), over seeds, and the inert note."""
    rep.section("diagnostics", "Did exaggeration separate competing memories?")
    rep.text(_inert_note(runs), "note")
    if "diag_pair_rate" not in runs or runs["diag_pair_rate"].notna().sum() == 0:
        rep.text("No diagnostics in these records (diagnostics.enabled=false, or records from before).", "note")
        return
    rep.text(
        "After the last task: the most confused pairs of old classes (symmetric confusion rate on the test set), "
        "how far apart their memories lie in the latent space (symmetric KL between the classes' prior modes; "
        "distance between the mean posterior means of their test samples), and whether the model's replay of each "
        "old class is recognised as that class. Mean ± sd over the completed runs of each group (seeds, trials); "
        "baseline = no loss term enabled. " + " ".join(f"{name}: {why}." for _, name, _, why in MEASURES),
        "note",
    )
    table = group_table(runs)
    shown = pd.DataFrame({"group": table["group"], "runs": table["runs"]})
    for col, name, scale, _ in MEASURES + [("final_avg_acc", "final average accuracy (%)", 100.0, "")]:
        if f"{col}_mean" in table:
            shown[name] = [_fmt(m, s, scale) for m, s in zip(table[f"{col}_mean"], table[f"{col}_sd"])]
    rep.table(shown)
    rep.figure("diagnostics-groups", _figure(table), "Competing memories after the last task, per group (mean ± sd).")
    curves = _pair_rate_curves(runs, pairs)
    if curves is not None:
        rep.figure("diagnostics-pair-rate", curves, "Mean top-pair confusion rate after each task, per group.")


def _pair_rate_curves(runs: pd.DataFrame, pairs: pd.DataFrame):
    if pairs.empty:
        return None
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    done = runs[runs["status"] == "completed"].assign(group=lambda f: variant_groups(f))
    per_run = pairs.groupby(["run_dir", "task"], as_index=False)["rate"].mean()
    per_run = per_run.merge(done[["run_dir", "group"]], on="run_dir")
    if per_run.empty:
        return None
    fig = Figure(figsize=(6.5, 3.4))
    ax = fig.add_subplot()
    groups: List[str] = sorted(per_run["group"].unique(), key=lambda g: (g != BASELINE, g))
    for i, group in enumerate(groups):
        curve = per_run[per_run["group"] == group].groupby("task")["rate"].agg(["mean", "std"])
        x, m = curve.index.to_numpy(dtype=float), 100 * curve["mean"].to_numpy(dtype=float)
        sd = 100 * np.nan_to_num(curve["std"].to_numpy(dtype=float))
        ax.plot(x, m, marker="o", color=f"C{i % 10}", label=group)
        ax.fill_between(x, m - sd, m + sd, color=f"C{i % 10}", alpha=0.15)
    ax.set_xlabel("after task")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("top-pair confusion rate (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def diagnostics_report_section(rep: Report, runs: pd.DataFrame, tasks: pd.DataFrame) -> None:
    """The section as the report's list runs it: the pairs frame read from the report's sources."""
    diagnostics_section(rep, runs, load_diagnostics(rep.paths))
