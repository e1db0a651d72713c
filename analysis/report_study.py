"""The report's section on Optuna studies: counts, best trial, history, importances, parallel coordinates,
intermediate values and the trials table, parameters by their short names."""

from __future__ import annotations

import pandas as pd

from analysis.compare import best_trial
from analysis.importance import param_importances
from analysis.labels import compact, param_names
from analysis.plots_study import plot_history, plot_importance, plot_intermediate, plot_parallel, unfinished
from analysis.report_html import Report, num, slug
from analysis.report_runs import relative_dir
from analysis.study import load_study
from birsweep.secrets import mask_url

TRIAL_COLUMNS = ("trial_number", "trial_state", "trial_value", "last_step")


def trials_table(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials as shown: objective in %, parameters by short name with compact values."""
    params = [c for c in trials.columns if c.startswith("params.")]
    shown = trials[[c for c in trials.columns if c in TRIAL_COLUMNS] + params].copy()
    shown["trial_value"] = [num(v, pct=True) for v in shown["trial_value"]]
    for c in params:
        shown[c] = [compact(v) for v in shown[c]]
    short = param_names(params)
    return shown.rename(columns={**short, "trial_value": "objective (%)"})


def best_run_dir(runs: pd.DataFrame, study: str, number: int, written: object) -> str:
    """The trial's run dir as the runs table gives it (where its record lies now, after a copy too) when one run
    of the given dirs claims the trial; else (none, or two copies or two studies of one name) the dir the study's
    trial names, the one it was written to."""
    if {"study_name", "trial_number", "run_dir"} <= set(runs.columns):
        found = set(runs.loc[(runs["study_name"] == study) & (runs["trial_number"] == number), "run_dir"])
        if len(found) == 1:
            return str(found.pop())
    return written if isinstance(written, str) else ""


def study_section(rep: Report, storage: str, name: str, runs: pd.DataFrame) -> None:
    trials = load_study(storage, name)
    direction = trials.attrs.get("direction", "maximize")
    key = slug(name)
    rep.h3(f"Study {name}", anchor=f"study-{key}")
    counts = trials["trial_state"].value_counts().to_dict() if len(trials) else {}
    rep.text(
        f"storage {mask_url(storage)}; direction {direction}; {len(trials)} trials: "
        + ", ".join(f"{v} {k.lower()}" for k, v in sorted(counts.items()))
    )
    running = unfinished(trials)
    if running:
        rep.text(
            f"{running} trial{'' if running == 1 else 's'} still running, not shown in the figures (no result yet).",
            "note",
        )
    best = best_trial(runs, trials, direction)
    if best is not None:
        where = best_run_dir(runs, name, int(best["trial_number"]), best.get("run_dir"))
        rep.text(
            f"Best trial: #{int(best['trial_number'])} with objective {100 * float(best['trial_value']):.2f}%"
            + (f" (run dir {relative_dir(where, rep.paths)})" if where else "")
        )
        short = param_names(c for c in trials.columns if c.startswith("params."))
        rep.table(pd.DataFrame({"best parameter": list(short.values()), "value": [compact(best[c]) for c in short]}))
    else:
        rep.text("No complete trial yet: no best parameters.", "note")
    rep.figure(
        f"study-{key}-history",
        plot_history(trials, direction, f"optimisation history: {name}"),
        "Objective per finished trial (pruned trials at their last reported value) and the best so far; "
        "the axis spans the values shown.",
    )
    importances, why = param_importances(storage, name)
    if importances:
        rep.figure(
            f"study-{key}-importance",
            plot_importance(importances, f"parameter importance: {name}"),
            "Importance of each searched parameter for the objective (Optuna's default evaluator, complete trials).",
        )
        short = param_names(importances)
        rep.table(
            pd.DataFrame(
                {"parameter": [short[k] for k in importances], "importance": [f"{v:.3f}" for v in importances.values()]}
            )
        )
    else:
        rep.text(f"Parameter importance not shown: {why}.", "note")
    rep.figure(
        f"study-{key}-parallel",
        plot_parallel(trials, direction),
        "Parallel coordinates of the complete trials, coloured by the objective.",
    )
    if any(c.startswith("intermediate.") for c in trials.columns):
        rep.figure(
            f"study-{key}-intermediate",
            plot_intermediate(trials, f"intermediate values: {name}"),
            "Average accuracy after each task as reported to the pruner; pruned trials dashed.",
        )
    rep.table(trials_table(trials))


def studies_section(rep: Report, runs: pd.DataFrame, tasks: pd.DataFrame) -> None:
    rep.section("studies", "Optuna studies")
    if not rep.studies:
        rep.text(
            "No Optuna study found (no *.db or journal file in the given dirs, no optuna.storage in the jobs' "
            "configs); pass one with --study STORAGE[::NAME].",
            "note",
        )
    for storage, name in rep.studies:
        study_section(rep, storage, name, runs)
