"""The run record: ``results.json`` and ``metrics.csv`` in the run's output dir, rewritten atomically after each
task and at the end, so a crash or kill always leaves a consistent record behind."""
from __future__ import annotations

import csv
import io
import os
import time
from typing import Any, Dict, List, Optional

from birsweep.io import write_json, write_text
from birsweep.tracking import metrics as M

RESULTS = "results.json"
METRICS = "metrics.csv"
STATUSES = ("running", "completed", "failed", "pruned")


def _rounded(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(float(value), 6)


class RunRecord:
    def __init__(self, run_dir: str, n_tasks: int, config: Dict[str, Any], env: Dict[str, Any]):
        self.run_dir, self.n_tasks = run_dir, n_tasks
        self.data: Dict[str, Any] = {
            "status": "running",
            "error": None,
            "run_dir": os.path.abspath(run_dir),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "finished_at": None,
            "n_tasks": n_tasks,
            "tasks_done": 0,
            "acc_matrix": [],
            "avg_acc": [],
            "final_avg_acc": None,
            "final_task_acc": None,
            "forgetting": None,
            "bwt": None,
            "objective": None,
            "losses": [],
            "timings": {"tasks_s": [], "train_s": 0.0},
            "class_order": None,
            "trial": None,
            "env": env,
            "config": config,
        }

    # --- updates --------------------------------------------------------------------------------------------------
    def add_losses(self, row: Dict[str, float]) -> None:
        self.data["losses"].append({k: (v if isinstance(v, int) else _rounded(v)) for k, v in row.items()})

    def add_task(self, accuracies: List[float], seconds: float) -> None:
        """Append the row 'after task t': accuracies of tasks 1..t, None for tasks not seen yet."""
        t = len(accuracies)
        row = [_rounded(a) for a in accuracies] + [None] * (self.n_tasks - t)
        self.data["acc_matrix"].append(row)
        self.data["tasks_done"] = t
        self.data["timings"]["tasks_s"].append(round(seconds, 3))
        self.data["timings"]["train_s"] = round(sum(self.data["timings"]["tasks_s"]), 3)
        matrix = self.data["acc_matrix"]
        self.data["avg_acc"] = [_rounded(a) for a in M.average_accuracy(matrix)]
        self.data["forgetting"] = _rounded(M.forgetting(matrix))
        self.data["bwt"] = _rounded(M.backward_transfer(matrix))
        if t == self.n_tasks:
            self.data["final_task_acc"] = row
            self.data["final_avg_acc"] = self.data["avg_acc"][-1]
            self.data["objective"] = self.data["final_avg_acc"]

    def finish(self, status: str, error: Optional[str] = None) -> None:
        assert status in STATUSES, status
        self.data["status"] = status
        self.data["error"] = error
        self.data["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.save()

    # --- files ----------------------------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return os.path.join(self.run_dir, RESULTS)

    def save(self) -> None:
        write_json(self.path, self.data)
        write_text(os.path.join(self.run_dir, METRICS), self.metrics_csv())

    def metrics_csv(self) -> str:
        """One row per finished task: average accuracy, per-task accuracies and time."""
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["task", "avg_acc", *[f"acc_task_{k + 1}" for k in range(self.n_tasks)], "seconds"])
        for t, row in enumerate(self.data["acc_matrix"]):
            cells = ["" if a is None else a for a in row]
            writer.writerow([t + 1, self.data["avg_acc"][t], *cells, self.data["timings"]["tasks_s"][t]])
        return buf.getvalue()

    # --- resume ---------------------------------------------------------------------------------------------------
    def restore(self, saved: Dict[str, Any]) -> None:
        """Take over the training history of a checkpoint (accuracies, losses, timings)."""
        for key in ("acc_matrix", "avg_acc", "forgetting", "bwt", "losses", "tasks_done", "final_task_acc",
                    "final_avg_acc", "objective"):
            self.data[key] = saved[key]
        self.data["timings"]["tasks_s"] = list(saved["timings"]["tasks_s"])
        self.data["timings"]["train_s"] = saved["timings"]["train_s"]
        self.data["resumed_from_task"] = saved["tasks_done"]

    def history(self) -> Dict[str, Any]:
        keys = ("acc_matrix", "avg_acc", "forgetting", "bwt", "losses", "tasks_done", "final_task_acc",
                "final_avg_acc", "objective", "timings")
        return {k: self.data[k] for k in keys}
