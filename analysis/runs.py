"""Run records (``results.json`` under single-run or multirun dirs) -> tidy pandas DataFrames.

Column names are shared by every source (records here, W&B in :mod:`analysis.wandb_api`):

* identity: ``run_dir`` (where the record lies now: a copied or moved tree's own dir, not the path the run was
  written to; the W&B API gives the written one), ``sweep_dir`` (the multirun dir, else null), ``job`` (Hydra job
  number), ``experiment``, ``variant``, ``seed``, ``data``, ``overrides`` (the job's command-line overrides, when
  Hydra kept them)
* outcome: ``status``, ``error``, ``tasks_done``, ``n_tasks``, ``final_avg_acc`` (test), ``val_final_avg_acc``
  (validation split, null without one), ``forgetting``, ``bwt``, ``objective`` and ``objective_split`` (``val`` or
  ``test``: which of the two the objective is), ``train_s``, ``total_s``, ``it_per_s``, ``started_at``,
  ``finished_at``, ``git_commit``
* loss terms and diagnostics (records that have them): ``inert_terms``, ``participation_<term>``, ``diag_task``,
  ``diag_pair_rate``, ``diag_pair_skl``, ``diag_pair_distance``, ``diag_replay_acc`` (:func:`record_columns`)
* the generator evaluation (records that have it): ``gen_ll``, ``gen_ll_sd``, ``gen_recon_error``,
  ``gen_recon_error_sd``, ``gen_is``, ``gen_fid``, ``gen_skipped``, ``gen_image_metrics_skipped``
* trial (in an Optuna sweep, else null): ``study_name``, ``trial_number``, ``trial_state``, ``params.<name>``
  (one column per searched parameter, named by its override key)
* confirmation (a run of a sweep's confirmation stage, else null): ``confirm_arm`` (``trial <n>`` or ``baseline``),
  ``confirm_seed``, ``confirm_rank`` (1 = the search's best; 0 for the baseline), ``confirm_baseline`` (the key
  of the baseline the run is set against: studies sharing ``confirm.baseline_dir`` share it)
* the resolved config, flattened with dotted names (``variant.repulsion.lamda_rep``, ``trainer.iters``, ...;
  lists as tuples); the ``optuna`` and ``confirm`` blocks are given by the columns above instead.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import pandas as pd

from birsweep.tracking.gen_figures import generator_columns
from birsweep.tracking.measured import from_flat, measured_columns
from birsweep.tracking.record import RESULTS, try_load
from birsweep.tracking.record_fields import OUTCOME_KEYS, RunStatus

SKIP_DIRS = {"wandb", ".hydra", "__pycache__", ".git", "media", "files"}
STATE_OF_STATUS = {s.value: s.trial_state for s in RunStatus}  # run status -> Optuna trial state name
IDENTITY = ["run_dir", "sweep_dir", "job", "experiment", "variant", "seed", "data", "overrides"]
# the record's outcome keys (the same list the W&B summary carries), then its timings and commit
OUTCOME = [*OUTCOME_KEYS, "train_s", "total_s", "it_per_s", "git_commit"]
TRIAL = ["study_name", "trial_number", "trial_state"]
CONFIRM = ["confirm_arm", "confirm_seed", "confirm_rank", "confirm_baseline"]
CONFIRM_DEPTH = 3  # <sweep dir>/confirm/<arm>/seed_<s>
ALWAYS = ("val_final_avg_acc", "objective_split")  # null for runs without a split and for older records
Paths = Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]


# --- discovery --------------------------------------------------------------------------------------------------------
def _as_list(paths: Paths) -> List[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


def find_records(paths: Paths) -> List[str]:
    """Every ``results.json`` under the given dirs (or the files themselves), sorted, without duplicates."""
    found = []
    for path in _as_list(paths):
        if os.path.isfile(path):
            found.append(os.path.abspath(path))
            continue
        if not os.path.isdir(path):
            raise FileNotFoundError(f"no such run or sweep dir: {path}")
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("offline-run-"))
            if RESULTS in files:
                found.append(os.path.abspath(os.path.join(root, RESULTS)))
    return sorted(dict.fromkeys(found), key=_natural)


def _natural(path: str):
    """Sort job dirs 0, 1, 2, ..., 10 rather than 0, 1, 10, 2."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in path.split(os.sep)]  # numbers before names


def read_records(paths: Paths) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """``(path, record)`` for every record under ``paths``; a bad one (not JSON, a field missing or of the wrong
    type or shape) is skipped with a warning naming the file and the field, so no frame sees a wrong type."""
    for path in find_records(paths):
        data, reason = try_load(path, whole=True)
        if data is None:
            warnings.warn(f"skipping {reason}", stacklevel=3)
            continue
        yield path, data


def iter_records(paths: Paths) -> Iterator[Dict[str, Any]]:
    """The records under ``paths``, each with its file as ``_path``; a bad one is skipped with a warning."""
    for path, data in read_records(paths):
        data["_path"] = path
        yield data


# --- flattening -------------------------------------------------------------------------------------------------------
def flatten(obj: Dict[str, Any], prefix: str = "", skip: Iterable[str] = ()) -> Dict[str, Any]:
    """Nested dicts -> one level with dotted keys; lists become tuples (hashable, comparable)."""
    out: Dict[str, Any] = {}
    skip = set(skip)
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if name in skip:
            continue
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + ".", skip))
        elif isinstance(value, list):
            out[name] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        elif isinstance(value, dict):
            out[name] = None
        else:
            out[name] = value
    return out


def _hydra_job(run_dir: str) -> Dict[str, Any]:
    """Job number, sweep dir and overrides from Hydra's files, when the run came from Hydra."""
    info: Dict[str, Any] = {"job": None, "sweep_dir": None, "overrides": None}
    parent = os.path.dirname(run_dir)
    above_confirm = os.path.normpath(os.path.join(run_dir, *[".."] * CONFIRM_DEPTH))
    if os.path.isfile(os.path.join(parent, "multirun.yaml")):
        info["sweep_dir"] = parent
        name = os.path.basename(run_dir)
        info["job"] = int(name) if name.isdigit() else None
    elif os.path.basename(os.path.dirname(parent)) == "confirm" and os.path.isfile(
        os.path.join(above_confirm, "multirun.yaml")
    ):  # a confirmation run (birsweep/sweep/confirm/plan.py)
        info["sweep_dir"] = above_confirm
    overrides = os.path.join(run_dir, ".hydra", "overrides.yaml")
    if os.path.isfile(overrides):
        from omegaconf import OmegaConf

        try:
            items = OmegaConf.to_container(OmegaConf.load(overrides))
            info["overrides"] = " ".join(str(o) for o in items or [])
        except Exception:  # noqa: BLE001 - a damaged Hydra file only loses this column
            pass
    return info


def trial_info(data: Dict[str, Any]) -> Dict[str, Any]:
    """Study name, trial number and parameters: the sweeper's entry in the record, else the job's config."""
    trial = data.get("trial") or {}
    optuna_cfg = (data.get("config") or {}).get("optuna") or {}
    number = trial.get("number", optuna_cfg.get("trial_number"))
    if number is not None and number < 0:
        number = None
    study = trial.get("study_name", optuna_cfg.get("study_name"))
    params = trial.get("params")
    if params is None:
        params = optuna_cfg.get("params")
    return {
        "study_name": study if number is not None else None,
        "trial_number": number,
        "params": dict(params or {}) if number is not None else {},
    }


def record_columns(data: Dict[str, Any]) -> Dict[str, Any]:
    """Participation, inert terms and the last task's diagnostics of one record (or of a W&B summary's copy;
    analysis/diagnostics.py has them task by task)."""
    if "participation" in data:
        return measured_columns(data)
    return from_flat(data.get("_measured") or {})


def record_dir(data: Dict[str, Any]) -> str:
    """The dir a record was read from (``_path``), else the one it was written to (a W&B copy has no file)."""
    return os.path.dirname(os.path.abspath(str(data["_path"]))) if data.get("_path") else str(data.get("run_dir") or "")


def run_row(data: Dict[str, Any]) -> Dict[str, Any]:
    """One record -> one row (see the module doc for the columns)."""
    config = data.get("config") or {}
    # the dir the record was read from: Hydra's files beside it, and the report's paths, are found there after a
    # copy to another machine, and two copies of one run are two rows, never one key
    run_dir = record_dir(data)
    row: Dict[str, Any] = {"run_dir": run_dir}
    row.update(_hydra_job(run_dir))
    row.update(
        {
            "experiment": config.get("experiment_name"),
            "variant": (config.get("variant") or {}).get("name"),
            "seed": config.get("seed"),
            "data": (config.get("data") or {}).get("name"),
        }
    )
    for key in OUTCOME:
        if key in data or key in ALWAYS:
            row[key] = data.get(key)
    timings = data.get("timings") or {}
    for key in ("train_s", "total_s", "it_per_s"):
        row[key] = timings.get(key)
    row["git_commit"] = (data.get("env") or {}).get("git_commit")
    trial = trial_info(data)
    row["study_name"], row["trial_number"] = trial["study_name"], trial["trial_number"]
    row["trial_state"] = STATE_OF_STATUS.get(str(data.get("status"))) if trial["trial_number"] is not None else None
    for key, value in trial["params"].items():
        row[f"params.{key}"] = value
    confirm = data.get("confirm") or {}
    row["confirm_arm"], row["confirm_seed"] = confirm.get("arm"), confirm.get("seed")
    row["confirm_rank"], row["confirm_baseline"] = confirm.get("rank"), confirm.get("baseline")
    row.update(record_columns(data))  # inert_terms, participation_<term>, the last task's diag_* summary
    row.update(generator_columns(data))  # gen_ll, gen_recon_error, gen_is, gen_fid, ... (generator evaluation)
    for key, value in flatten(config, skip=("optuna", "confirm")).items():
        row.setdefault(key, value)
    return row


def _frame(rows: List[Dict[str, Any]], first: Sequence[str]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=list(first))
    front = [c for c in first if c in df.columns]
    params = sorted(c for c in df.columns if c.startswith("params."))
    rest = [c for c in df.columns if c not in front and c not in params]
    df = df[front + params + rest]
    for col in (
        "seed",
        "trial_number",
        "job",
        "tasks_done",
        "n_tasks",
        "protocol_tasks",
        "confirm_seed",
        "confirm_rank",
    ):
        if col in df.columns:
            df[col] = df[col].astype("Int64")
    return df


def load_runs(path: Paths) -> pd.DataFrame:
    """Every run record under ``path`` (a run dir, a multirun dir, any tree of them, or a list) -> one row per run."""
    rows = [run_row(data) for data in iter_records(path)]
    return _frame(rows, IDENTITY + OUTCOME + TRIAL + CONFIRM)


def task_rows(data: Dict[str, Any], base: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """One row per task 1..n_tasks: average and per-task accuracies after it (NaN where not reached)."""
    base = base if base is not None else _task_base(run_row(data))
    n = int(data.get("n_tasks") or len(data.get("acc_matrix") or []))
    matrix, avg = data.get("acc_matrix") or [], data.get("avg_acc") or []
    val_avg = data.get("val_avg_acc") or []
    tasks_s = (data.get("timings") or {}).get("tasks_s") or []
    rows = []
    for t in range(n):
        reached = t < len(matrix)
        row = dict(base)
        row.update(
            {
                "task": t + 1,
                "reached": reached,
                "avg_acc": avg[t] if reached else None,
                "val_avg_acc": val_avg[t] if t < len(val_avg) else None,
                "task_s": tasks_s[t] if t < len(tasks_s) else None,
            }
        )
        for k in range(n):
            row[f"acc_task_{k + 1}"] = matrix[t][k] if reached else None
        rows.append(row)
    return rows


def _task_base(row: Dict[str, Any]) -> Dict[str, Any]:
    keep = IDENTITY + ["status", "final_avg_acc"] + TRIAL + CONFIRM
    base = {k: row.get(k) for k in keep}
    base.update({k: v for k, v in row.items() if k.startswith("params.")})
    return base


def load_tasks(path: Paths) -> pd.DataFrame:
    """Long format: one row per run x task (``task`` 1..n_tasks, ``reached``, ``avg_acc``, ``val_avg_acc``,
    ``acc_task_<k>``, ``task_s``) with the run's identity, status and trial columns. Tasks a pruned or failed run
    did not reach are kept with NaN accuracies, so every run has n_tasks rows."""
    rows: List[Dict[str, Any]] = []
    for data in iter_records(path):
        rows += task_rows(data)
    df = _frame(rows, IDENTITY + ["status", "final_avg_acc"] + TRIAL + ["task", "reached", "avg_acc"])
    if "task" in df.columns:
        df["task"] = df["task"].astype("Int64")
        for col in [c for c in df.columns if c.startswith("acc_task_")] + ["avg_acc", "val_avg_acc", "task_s"]:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df


def load_losses(path: Paths) -> pd.DataFrame:
    """Long format: one row per logged loss interval (``step`` = global iteration, ``task``, ``iter``, losses)."""
    rows: List[Dict[str, Any]] = []
    for data in iter_records(path):
        base = {k: v for k, v in _task_base(run_row(data)).items() if not k.startswith("params.")}
        for loss in data.get("losses") or []:
            rows.append({**base, **loss})
    return _frame(rows, IDENTITY + ["status"] + TRIAL + ["step", "task", "iter"])
