"""Comparisons across runs: labels for configurations, mean ± sd / s.e.m. over seeds, Δ to a baseline paired by seed
(:mod:`analysis.baseline`), curves and mean matrices."""

from __future__ import annotations

import math
from typing import List, Optional, Sequence

import numpy as np
import pandas as pd

from analysis.baseline import Baseline, against
from analysis.diagnostics import MEASURED_PREFIXES
from analysis.labels import compact
from analysis.runs import CONFIRM, IDENTITY, OUTCOME, TRIAL
from birsweep.config_keys import is_result_neutral
from birsweep.sweep.labels import short_names
from birsweep.tracking.gen_figures import COLUMN_PREFIX as GEN_COLUMNS
from birsweep.tracking.record_fields import RunStatus

METRICS = ("final_avg_acc", "forgetting", "bwt")
METRIC_NAMES = {"final_avg_acc": "final average accuracy", "forgetting": "forgetting", "bwt": "BWT"}
# besides the result-neutral keys, labels leave out the seed (runs of one configuration are averaged over seeds),
# the variant's name (the label starts with it) and the task (every compared run trained)
NOT_IN_LABELS = {"seed", "variant.name", "task"}
NOT_CONFIG = set(IDENTITY + OUTCOME + TRIAL + CONFIRM) | {"label"}


def config_columns(runs: pd.DataFrame) -> List[str]:
    return [
        c
        for c in runs.columns
        if c not in NOT_CONFIG
        and not c.startswith(("params.", "intermediate.", "wandb_", "user_attrs.", GEN_COLUMNS, *MEASURED_PREFIXES))
    ]


def _varying(frame: pd.DataFrame, cols: Sequence[str]) -> List[str]:
    out = []
    for c in cols:
        if c in NOT_IN_LABELS or is_result_neutral(c):
            continue
        if frame[c].astype(str).nunique(dropna=False) > 1:
            out.append(c)
    return out


def add_labels(runs: pd.DataFrame, by: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """A ``label`` column naming each configuration, so runs that differ only by seed share it.

    Default: the variant (with the experiment in front when several experiments are mixed), followed by the
    settings that differ between runs of that variant, e.g. ``repulsion (lamda_rep=1e-05, rep_f=20)``.
    ``by=["variant"]`` (any columns) labels by those columns alone, e.g. to pool the trials of a study.
    """
    runs = runs.copy()
    if runs.empty:
        runs["label"] = pd.Series(dtype=str)
        return runs
    if by:
        runs["label"] = runs[list(by)].astype(str).agg(" / ".join, axis=1)
        return runs
    # the experiment goes in front when a variant ran under several experiments (e.g. demo vs demo-finetune);
    # an experiment name that only follows the variant (the default ${data.name}-${variant.name}) adds nothing
    several = (
        "experiment" in runs
        and (runs.groupby(runs["variant"].astype(str))["experiment"].nunique(dropna=False) > 1).any()
    )
    base = runs["variant"].astype(str)
    if several:
        base = runs["experiment"].astype(str) + " / " + base
    runs["label"] = base
    cols = config_columns(runs)
    for name, group in runs.groupby(base, sort=False):
        varying = _varying(group, cols)
        if not varying:
            continue
        short = short_names(varying)
        rows = list(group[varying].itertuples(index=False, name=None))
        # 4 significant digits read well, but must not pool two settings into one configuration
        fmt = compact if len({_key(r, compact) for r in rows}) == len({_key(r, _exact) for r in rows}) else _exact
        drawn = _unsampled(group, varying)
        runs.loc[group.index, "label"] = [
            f"{name} ("
            + ", ".join(
                f"{short[c]}={UNSAMPLED.format(fmt(v)) if skip else fmt(v)}"
                for c, v, skip in zip(varying, values, skips)
            )
            + ")"
            for values, skips in zip(rows, drawn)
        ]
    return runs


UNSAMPLED = "– (default {})"  # a study's conditional parameter this trial did not sample: it ran with the default


def _unsampled(group: pd.DataFrame, varying: Sequence[str]) -> List[tuple]:
    """Per row, per varying column: whether it is a parameter the row's study searched (some trial sampled it)
    but this trial did not (a ``when(...)`` parameter whose condition was off), so its value is the default. A
    confirmation run (``confirm_arm`` "trial N") carries the flags of trial N of its sweep: the same configuration,
    so it shares that trial's label."""

    def flags_of(row: pd.Series) -> tuple:
        flags = []
        for c in varying:
            col = f"params.{c}"
            searched = col in group and row.get("study_name") is not None and pd.notna(row.get("study_name"))
            if searched:
                same = group[group["study_name"] == row["study_name"]]
                searched = bool(same[col].notna().any()) and pd.isna(row[col])
            flags.append(searched)
        return tuple(flags)

    def searched_trial(row: pd.Series) -> Optional[pd.Series]:
        arm = row.get("confirm_arm")
        if not isinstance(arm, str) or not arm.startswith("trial ") or "sweep_dir" not in group:
            return None
        number = arm.removeprefix("trial ")
        match = group[(group["sweep_dir"] == row["sweep_dir"]) & (group["trial_number"].astype(str) == number)]
        return match.iloc[0] if len(match) else None

    out = []
    for _, row in group.iterrows():
        trial = searched_trial(row) if "trial_number" in group else None
        out.append(flags_of(trial if trial is not None else row))
    return out


def _key(values: tuple, fmt) -> tuple:
    return tuple(fmt(v) for v in values)


def _exact(value) -> str:
    """Every digit of a float (``str`` gives the shortest that reads back the same); missing as ``compact``."""
    text = compact(value)
    return text if text == compact(None) else str(value)


def sem(values: pd.Series) -> float:
    values = pd.to_numeric(values, errors="coerce").dropna()
    n = len(values)
    return float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")


def sd(values: pd.Series) -> float:
    values = pd.to_numeric(values, errors="coerce").dropna()
    return float(values.std(ddof=1)) if len(values) > 1 else float("nan")


def compare(
    runs: pd.DataFrame, completed_only: bool = True, baseline: Optional[Baseline] = None, metric: str = "final_avg_acc"
) -> pd.DataFrame:
    """One row per label: runs, seeds, and mean / sd / s.e.m. over seeds of final average accuracy, forgetting and
    BWT, best first. Runs that did not complete are counted (``n_runs``) but left out of the means.

    ``baseline`` (a label, or a dict of column values picking one configuration, e.g. ``{"variant": "baseline"}``)
    adds ``metric`` minus the baseline's, paired by seed: ``n_pairs``, ``delta``, ``delta_ci_low``/``_high`` (95 %,
    Student t), ``p`` (paired t-test), ``verdict`` and ``delta_note`` (:mod:`analysis.baseline`)."""
    if "label" not in runs:
        runs = add_labels(runs)
    rows = []
    for label, group in runs.groupby("label", sort=False):
        done = group[group["status"] == RunStatus.COMPLETED.value] if completed_only else group
        row = {
            "label": label,
            "variant": group["variant"].iloc[0],
            "n_runs": len(group),
            "n_completed": int((group["status"] == RunStatus.COMPLETED.value).sum()),
            "seeds": ",".join(str(s) for s in sorted(done["seed"].dropna().unique())),
        }
        for m in METRICS:
            values = pd.to_numeric(done[m], errors="coerce") if m in done else pd.Series(dtype=float)
            row[f"{m}_mean"] = float(values.mean()) if values.notna().any() else float("nan")
            row[f"{m}_sd"] = sd(values)
            row[f"{m}_sem"] = sem(values)
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    if baseline is not None:
        table = table.merge(against(runs, baseline, metric), on="label", how="left")
    return table.sort_values("final_avg_acc_mean", ascending=False, na_position="last").reset_index(drop=True)


def task_curves(tasks: pd.DataFrame, runs: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Average accuracy after each task per label: ``label``, ``task``, ``mean``, ``sem``, ``n`` (runs that
    reached the task)."""
    if "label" not in tasks:
        labels = add_labels(runs)[["run_dir", "label"]] if runs is not None else None
        if labels is None:
            raise ValueError("task_curves needs the runs (for labels) or a 'label' column")
        tasks = tasks.merge(labels, on="run_dir", how="left")
    reached = tasks[tasks["avg_acc"].notna()]
    out = reached.groupby(["label", "task"], sort=False)["avg_acc"].agg(mean="mean", sem=sem, n="count").reset_index()
    out["task"] = out["task"].astype(int)
    return out.sort_values(["label", "task"]).reset_index(drop=True)


def mean_matrix(tasks: pd.DataFrame) -> np.ndarray:
    """Mean accuracy matrix over the runs in ``tasks`` (rows after task t, NaN where unseen or not reached)."""
    cols = sorted((c for c in tasks.columns if c.startswith("acc_task_")), key=lambda c: int(c.rsplit("_", 1)[1]))
    stacked = tasks.groupby("task")[cols].mean()
    n = len(cols)
    matrix = np.full((n, n), np.nan)
    for t, row in stacked.iterrows():
        matrix[int(t) - 1] = row.to_numpy(dtype=float)
    return matrix


def best_trial(runs: Optional[pd.DataFrame], trials: Optional[pd.DataFrame] = None, direction: str = "maximize"):
    """The best completed trial as a row: from ``trials`` (a :func:`load_study` frame) when given, else the best
    completed run of ``runs`` (a sweep's trials, or any runs); None when nothing completed."""
    if trials is not None:
        frame, value, done = trials, "trial_value", trials["trial_state"] == "COMPLETE"
    elif runs is not None:
        frame, value, done = runs, "final_avg_acc", runs["status"] == RunStatus.COMPLETED.value
    else:
        raise ValueError("best_trial needs the runs or the study's trials")
    done = frame[done & frame[value].notna()]
    if done.empty:
        return None
    values = done[value].astype(float)
    return done.loc[values.idxmax() if direction == "maximize" else values.idxmin()]
