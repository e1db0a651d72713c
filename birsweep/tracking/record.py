"""The run record: ``results.json`` and ``metrics.csv`` in the run's output dir, rewritten atomically after each
task and at the end, so a crash or kill always leaves a consistent record behind.

This module is the only one that writes ``results.json`` and the one every reader goes through: ``load`` for a
record that must be there (a one-line error naming the file otherwise; every field's type and shape is checked,
birsweep/tracking/record_check.py), ``try_load`` for readers that skip bad records, ``mark_stale`` for the sweeper
closing a record its crashed sweep left ``running``. The names others read a record by (:class:`RunStatus`,
:class:`TrialInfo`, the key groups) are in :mod:`birsweep.tracking.record_fields`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import asdict
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from birsweep.errors import BirsweepError, StorageError
from birsweep.io import json_text, rewrite_in_place, write_json, write_text
from birsweep.tracking import metrics as M
from birsweep.tracking.record_check import record_problem
from birsweep.tracking.record_fields import HISTORY_KEYS, LATER_HISTORY_KEYS, VAL_KEYS, RunStatus, TrialInfo
from birsweep.tracking.reserve import MARGIN, RESERVE, SpaceReserve

RESULTS = "results.json"
METRICS = "metrics.csv"

# a read-only, live view of a record's content, as callbacks and readers get it
RecordView = Mapping[str, Any]
PathLike = Union[str, "os.PathLike[str]"]


class RecordError(BirsweepError):
    """A run record is missing, unreadable or not a run record."""


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _rounded(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(float(value), 6)


# --- reading ---------------------------------------------------------------------------------------------------------
def record_path(where: PathLike) -> str:
    """The record file of a run dir; a path that already names a ``.json`` file is taken as it is."""
    path = os.fspath(where)
    return path if path.endswith(".json") else os.path.join(path, RESULTS)


def load(where: PathLike, whole: bool = False) -> Dict[str, Any]:
    """The record in a run dir (or at a file path); :class:`RecordError` naming the file when there is none, or
    naming the file and the field when a field is of the wrong type or shape (birsweep/tracking/record_check.py).
    ``whole``: also require the fields every record has, as readers of whole records (the DataFrames) need."""
    path = record_path(where)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise RecordError(f"run record {path}: no such file") from None
    except OSError as err:
        raise RecordError(f"run record {path}: cannot read it ({err.strerror or err})") from None
    except ValueError as err:  # JSONDecodeError and bad UTF-8
        raise RecordError(f"run record {path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise RecordError(f"run record {path}: a JSON {type(data).__name__}, not an object")
    problem = record_problem(data, whole)
    if problem:
        raise RecordError(f"run record {path}: {problem}")
    return data


def try_load(where: PathLike, whole: bool = False) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """``(record, None)``, or ``(None, reason)`` for readers that skip a bad record; the reason names the file
    (and the field, for a field of the wrong type or shape)."""
    try:
        return load(where, whole), None
    except RecordError as err:
        return None, str(err)


def mark_stale(where: PathLike, reason: str, cause: str = "SweepStopped", status: RunStatus = RunStatus.FAILED) -> bool:
    """Close a record its run left ``running`` (the run's sweep died, or its job was lost: ``cause``) as ``status``
    (failed, or interrupted when a stop signal ended it) with ``reason``; any other record, or none, is left alone.
    True when the record was changed."""
    data, _ = try_load(where)
    if data is None or data["status"] != RunStatus.RUNNING:
        return False
    data.update(status=status.value, error=f"{cause}: {reason}", finished_at=_now())
    write_json(record_path(where), data)
    return True


# --- the live record of a run -----------------------------------------------------------------------------------------


class RunRecord:
    def __init__(
        self,
        run_dir: str,
        n_tasks: int,
        config: Dict[str, Any],
        env: Dict[str, Any],
        validation: bool = False,
        protocol_tasks: Optional[int] = None,
    ):
        """``n_tasks``: the tasks this run trains; ``protocol_tasks``: the protocol's (more when the run is limited to
        its first tasks by ``trainer.max_tasks``)."""
        self.run_dir, self.n_tasks, self.validation = run_dir, n_tasks, validation
        self.reserve = SpaceReserve(os.path.join(run_dir, RESERVE))  # room for the closing write
        self.data: Dict[str, Any] = {
            "status": RunStatus.RUNNING.value,
            "error": None,
            "run_dir": os.path.abspath(run_dir),
            "started_at": _now(),
            "finished_at": None,
            "n_tasks": n_tasks,
            "protocol_tasks": n_tasks if protocol_tasks is None else protocol_tasks,
            "tasks_done": 0,
            "acc_matrix": [],
            "avg_acc": [],
            "final_avg_acc": None,
            "final_task_acc": None,
            "forgetting": None,
            "bwt": None,
            "objective": None,
            "objective_split": "val" if validation else "test",
            **({"val_acc_matrix": [], "val_avg_acc": [], "val_final_avg_acc": None} if validation else {}),
            "losses": [],
            "participation": {},  # per enabled loss term: samples it acted on in each task done
            "inert_terms": [],  # enabled terms that acted on no sample in the tasks done
            "diagnostics": [],  # one entry per task done (birsweep/train/diagnostics.py), when enabled
            "timings": {"tasks_s": [], "train_s": 0.0},
            "class_order": None,
            "trial": None,
            "confirm": config.get("confirm"),  # {arm, rank, params, seed} in a sweep's confirmation stage
            "env": env,
            "config": config,
        }

    def view(self) -> RecordView:
        """The content, read-only and live: what callbacks get."""
        return MappingProxyType(self.data)

    @property
    def status(self) -> RunStatus:
        return RunStatus(self.data["status"])

    # --- updates --------------------------------------------------------------------------------------------------
    def add_losses(self, task: int, it: int, step: int, values: Mapping[str, float]) -> Dict[str, float]:
        """Append the losses logged at global iteration ``step``; returns the values as recorded (floats rounded to
        6 decimals), so whatever else reports them agrees with the record exactly."""
        kept = {k: (v if isinstance(v, int) else round(float(v), 6)) for k, v in values.items()}
        self.data["losses"].append({"task": task, "iter": it, "step": step, **kept})
        return kept

    def add_task(self, accuracies: List[float], seconds: float, val_accuracies: Optional[List[float]] = None) -> None:
        """Append the row 'after task t': accuracies of tasks 1..t, None for tasks not seen yet; with a validation
        split also the validation row, and the objective is the validation average."""
        t = len(accuracies)
        row = self._row(accuracies)
        self.data["acc_matrix"].append(row)
        self.data["tasks_done"] = t
        self.data["timings"]["tasks_s"].append(round(seconds, 3))
        self.data["timings"]["train_s"] = round(sum(self.data["timings"]["tasks_s"]), 3)
        matrix = self.data["acc_matrix"]
        self.data["avg_acc"] = [_rounded(a) for a in M.average_accuracy(matrix)]
        self.data["forgetting"] = _rounded(M.forgetting(matrix))
        self.data["bwt"] = _rounded(M.backward_transfer(matrix))
        if self.validation:
            if val_accuracies is None or len(val_accuracies) != t:
                raise ValueError("a record with a validation split needs the validation accuracy of every task")
            self.data["val_acc_matrix"].append(self._row(val_accuracies))
            self.data["val_avg_acc"] = [_rounded(a) for a in M.average_accuracy(self.data["val_acc_matrix"])]
        if t == self.n_tasks:
            self.data["final_task_acc"] = row
            self.data["final_avg_acc"] = self.data["avg_acc"][-1]
            if self.validation:
                self.data["val_final_avg_acc"] = self.data["val_avg_acc"][-1]
            self.data["objective"] = self.data["val_final_avg_acc" if self.validation else "final_avg_acc"]

    def set_terms(self, names: List[str]) -> None:
        """The run's enabled loss terms, before any task (a resume then takes over their history)."""
        self.data["participation"] = {name: [] for name in names}
        self.data["inert_terms"] = []

    def add_participation(self, counts: Mapping[str, int]) -> None:
        """Each term's participating samples in the task just trained; a term at 0 over every task is inert."""
        for name, per_task in self.data["participation"].items():
            per_task.append(int(counts.get(name, 0)))
        self.data["inert_terms"] = [n for n, per_task in self.data["participation"].items() if sum(per_task) == 0]

    def add_diagnostics(self, entry: Dict[str, Any]) -> None:
        self.data["diagnostics"].append(entry)

    def set_generator_eval(self, entry: Dict[str, Any]) -> None:
        """The generator's figures after the last task, or why they were skipped (birsweep/gen_eval/)."""
        self.data["generator_eval"] = entry

    def _row(self, accuracies: List[float]) -> List[Optional[float]]:
        return [_rounded(a) for a in accuracies] + [None] * (self.n_tasks - len(accuracies))

    def set_class_order(self, order: List[List[int]]) -> None:
        """The original labels of each task's classes."""
        self.data["class_order"] = order

    def set_timing(self, key: str, value: float) -> None:
        self.data["timings"][key] = value

    def set_trial(self, trial: TrialInfo) -> None:
        self.data["trial"] = asdict(trial)

    def finish(self, status: RunStatus, error: Optional[str] = None, save: bool = True) -> None:
        """Close the record; ``save=False`` for a run that ended before its record was first written."""
        self.data["status"] = RunStatus(status).value
        self.data["error"] = error
        self.data["finished_at"] = _now()
        if save:
            self.save(closing=True)

    # --- files ----------------------------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return os.path.join(self.run_dir, RESULTS)

    def save(self, closing: bool = False) -> None:
        """Write ``results.json`` and ``metrics.csv``, and hold back room for the closing write beside them
        (birsweep/tracking/reserve.py). The closing write (``closing``, from :meth:`finish`) may use that room: on a
        full disk it frees it and tries once more, so the record can still say how the run ended."""
        try:
            self._write()
        except OSError as err:
            if not (closing and self._close_on_full_disk()):
                raise self._storage_error(err) from err
        if closing:
            self.reserve.release()
        else:
            self.reserve.keep(2 * self._size_on_disk() + MARGIN)

    def _close_on_full_disk(self) -> bool:
        """The closing write found no room: free the reserve and write again; failing that (a disk full before
        there was room to reserve), rewrite results.json inside its own blocks. True when the record got written."""
        if self.reserve.release():
            try:
                self._write()
                return True
            except OSError:
                pass
        return rewrite_in_place(self.path, json_text(self.data))

    def _write(self) -> None:
        write_json(self.path, self.data)
        write_text(os.path.join(self.run_dir, METRICS), self.metrics_csv())

    def _size_on_disk(self) -> int:
        return sum(os.path.getsize(os.path.join(self.run_dir, name)) for name in (RESULTS, METRICS))

    def _storage_error(self, err: OSError) -> StorageError:
        return StorageError(
            f"cannot write the run record in {self.run_dir}: {err.strerror or err}; free space there or choose "
            "another hydra.run.dir"
        )

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
        for key in self._history_keys():
            if key in saved or key not in LATER_HISTORY_KEYS:
                self.data[key] = saved[key]
        self.data["timings"]["tasks_s"] = list(saved["timings"]["tasks_s"])
        self.data["timings"]["train_s"] = saved["timings"]["train_s"]
        self.data["resumed_from_task"] = saved["tasks_done"]

    def _history_keys(self) -> Tuple[str, ...]:
        """The training history a checkpoint carries (timings apart): what a resumed run takes over."""
        return HISTORY_KEYS + (VAL_KEYS if self.validation else ())

    def history(self) -> Dict[str, Any]:
        return {k: self.data[k] for k in (*self._history_keys(), "timings")}
