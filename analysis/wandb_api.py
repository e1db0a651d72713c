"""W&B runs -> the same DataFrames as the local records (:func:`analysis.load_runs`, :func:`analysis.load_tasks`).

The logger puts the record's names in the W&B run (config = the resolved config, summary = ``status``,
``final_avg_acc``, ``forgetting``, ``bwt``, ``trial_number``, ``params.<name>``, timings, ...; history =
``acc/avg`` and ``acc/task_<k>`` per task), so a W&B run is turned back into a record-shaped dict and through
the same row builder: the columns cannot drift apart. W&B's own fields are added as ``wandb_*`` columns.

``load_wandb`` reads the W&B API and needs network and a login (``wandb login`` or ``WANDB_API_KEY``);
``load_wandb_offline`` reads offline run files (``<job>/wandb/offline-run-*``) before ``wandb sync``.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Optional

import pandas as pd

from analysis.diagnostics import MEASURED_PREFIXES
from analysis.runs import IDENTITY, OUTCOME, TRIAL, _frame, _task_base, run_row, task_rows
from birsweep.tracking.gen_figures import from_summary
from birsweep.tracking.record import RESULTS
from birsweep.tracking.record_fields import OUTCOME_KEYS

SUMMARY_KEYS = OUTCOME_KEYS  # the record's outcome, as the logger puts it in the summary
TIMING_KEYS = ("train_s", "total_s", "it_per_s", "data_s", "features_s")


class WandbUnavailable(RuntimeError):
    """The W&B API cannot be used here (offline mode, no login, no network)."""


def record_from_wandb(
    config: Dict[str, Any], summary: Dict[str, Any], history: Optional[Iterable[Dict[str, Any]]] = None
) -> Dict[str, Any]:
    """A record-shaped dict (as ``results.json``) from what the logger sent to W&B."""
    config = {k: v for k, v in (config or {}).items() if not k.startswith("_")}
    run_dir = config.pop("run_dir", None) or summary.get("run_dir")
    data: Dict[str, Any] = {"config": config, "run_dir": run_dir}
    for key in SUMMARY_KEYS:
        data[key] = summary.get(key)
    data["timings"] = {k: summary[k] for k in TIMING_KEYS if k in summary}
    data["env"] = {"git_commit": summary.get("git_commit")}
    data["_measured"] = {k: v for k, v in summary.items() if k.startswith(MEASURED_PREFIXES)}  # record_columns
    data["generator_eval"] = from_summary(summary)  # gen/* -> the record's generator_eval (without the curves)
    if summary.get("trial_number") is not None:
        params = {k[len("params.") :]: v for k, v in summary.items() if k.startswith("params.")}
        data["trial"] = {"study_name": summary.get("study_name"), "number": summary["trial_number"], "params": params}
    if history is not None:
        per_task = {}
        for row in history:
            if row.get("acc/avg") is not None and row.get("task") is not None:
                per_task[int(row["task"])] = row
        n = int(data.get("n_tasks") or max(per_task, default=0))
        data["n_tasks"] = n
        data["acc_matrix"], data["avg_acc"], tasks_s, val_avg = [], [], [], []
        for t in sorted(per_task):
            row = per_task[t]
            data["acc_matrix"].append([row.get(f"acc/task_{k + 1}") if k < t else None for k in range(n)])
            data["avg_acc"].append(row["acc/avg"])
            tasks_s.append(row.get("time/task_s"))
            val_avg.append(row.get("val/acc_avg"))
        data["timings"]["tasks_s"] = tasks_s
        if any(v is not None for v in val_avg):
            data["val_avg_acc"] = val_avg
    return data


def _wandb_columns(run: Dict[str, Any]) -> Dict[str, Any]:
    return {f"wandb_{k}": (tuple(v) if isinstance(v, list) else v) for k, v in run.items()}


def _frames(items: List[Dict[str, Any]], tasks: bool) -> pd.DataFrame:
    rows: List[Dict[str, Any]] = []
    for item in items:
        data, extra = item["data"], item["wandb"]
        if tasks:
            base = _task_base(run_row(data))
            rows += [{**r, **extra} for r in task_rows(data, base)]
        else:
            rows.append({**run_row(data), **extra})
    if tasks:
        df = _frame(rows, IDENTITY + ["status", "final_avg_acc"] + TRIAL + ["task", "reached", "avg_acc"])
        if "val_avg_acc" in df.columns:  # numbers or NaN, as load_tasks gives it
            df["val_avg_acc"] = pd.to_numeric(df["val_avg_acc"], errors="coerce").astype(float)
        return df
    return _frame(rows, IDENTITY + OUTCOME + TRIAL)


def load_wandb(
    project: str, filters: Optional[Dict[str, Any]] = None, entity: Optional[str] = None, tasks: bool = False, api=None
) -> pd.DataFrame:
    """Runs of a W&B project (``entity/project`` or ``project`` with ``entity``), optionally filtered with W&B's
    MongoDB-style ``filters`` (e.g. ``{"group": "repulsion-digits"}``, ``{"config.variant.name": "recon"}``,
    ``{"summary_metrics.status": "completed"}``) -> the :func:`load_runs` columns plus ``wandb_*``;
    ``tasks=True`` gives the :func:`load_tasks` long format instead. Online only."""
    mode = os.environ.get("WANDB_MODE", "").lower()
    if api is None and mode in ("offline", "disabled", "dryrun"):
        raise WandbUnavailable(
            f"analysis.load_wandb reads the W&B server, but WANDB_MODE={mode}: unset it (and log in), or read "
            "the local records with analysis.load_runs(<sweep dir>) / offline W&B files with "
            "analysis.load_wandb_offline(<sweep dir>); `wandb sync <dir>` uploads offline runs"
        )
    if api is None:
        try:
            import wandb

            api = wandb.Api(timeout=30)
            if not getattr(api, "api_key", None):
                raise WandbUnavailable("no W&B API key")
        except WandbUnavailable:
            raise WandbUnavailable(
                "analysis.load_wandb needs a W&B login: run `wandb login` or set WANDB_API_KEY "
                "(local records: analysis.load_runs(<sweep dir>))"
            ) from None
        except Exception as err:  # noqa: BLE001
            raise WandbUnavailable(
                f"cannot reach the W&B API ({type(err).__name__}: {err}); local records: "
                "analysis.load_runs(<sweep dir>)"
            ) from err
    path = project if "/" in project or entity is None else f"{entity}/{project}"
    try:
        runs = list(api.runs(path, filters=filters or {}))
    except Exception as err:  # noqa: BLE001
        raise WandbUnavailable(f"W&B API query for {path!r} failed ({type(err).__name__}: {err})") from err
    items = []
    for run in runs:
        summary = dict(run.summary._json_dict) if hasattr(run.summary, "_json_dict") else dict(run.summary)
        history = [row for row in run.scan_history() if row.get("acc/avg") is not None] if tasks else None
        data = record_from_wandb(dict(run.config), summary, history)
        if data.get("started_at") is None:
            data["started_at"] = getattr(run, "created_at", None)
        items.append(
            {
                "data": data,
                "wandb": _wandb_columns(
                    {
                        "id": run.id,
                        "name": run.name,
                        "state": run.state,
                        "group": run.group,
                        "job_type": run.job_type,
                        "tags": list(run.tags or []),
                        "url": run.url,
                    }
                ),
            }
        )
    return _frames(items, tasks)


def load_wandb_offline(path: str, tasks: bool = False) -> pd.DataFrame:
    """The same frames from offline W&B run files under ``path`` (before, or instead of, ``wandb sync``)."""
    from analysis.wandb_offline import find_runs, read_run

    items = []
    for run_path in find_runs(path):
        run = read_run(run_path)
        data = record_from_wandb(run["config"], run["summary"], run["history"] if tasks else None)
        job = os.path.dirname(os.path.dirname(os.path.abspath(run_path)))  # <job dir>/wandb/offline-run-*
        if os.path.isfile(os.path.join(job, RESULTS)):  # beside its record (logger.dir null): the run's dir now,
            data["_path"] = os.path.join(job, RESULTS)  # as load_runs gives it for a copied or moved tree
        items.append(
            {
                "data": data,
                "wandb": _wandb_columns(
                    {
                        **{k: run["run"].get(k) for k in ("id", "name", "group", "job_type", "tags")},
                        "state": "finished" if run["exit_code"] == 0 else ("failed" if run["exit_code"] else "running"),
                        "dir": os.path.dirname(run["path"]),
                    }
                ),
            }
        )
    return _frames(items, tasks)
