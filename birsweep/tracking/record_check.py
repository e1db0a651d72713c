"""What each field of a run record must hold, checked on every read (:func:`birsweep.tracking.record.load`).

A ``results.json`` edited by hand or damaged by a tool can be valid JSON and still hold the string ``"0.9"`` where a
number belongs, or an accuracy row one entry short. Readers (the DataFrames, the report, the notebook, the sweep)
index and compute on these fields, so such a record would end in a long pandas traceback far from its cause. The
check here refuses it at the door, naming the field, and readers that skip bad records skip it like malformed JSON.

The table below covers what a run record writes (birsweep/tracking/record.py); fields it does not name are left
alone, so a record from a later version still reads.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional

from birsweep.tracking.record_fields import RunStatus


class Kind:
    """A value's expected type: what it is in words, and the first problem of a value (None when it fits)."""

    def __init__(self, what: str, test: Callable[[Any], bool] = lambda v: True) -> None:
        self.what, self.test = what, test

    def problem(self, value: Any, path: str) -> Optional[str]:
        return None if self.test(value) else _wrong(path, self.what, value)


class _Optional(Kind):
    def __init__(self, kind: Kind) -> None:
        super().__init__(f"{kind.what} or null")
        self.kind = kind

    def problem(self, value: Any, path: str) -> Optional[str]:
        if value is None:
            return None
        return self.kind.problem(value, path) if self.kind.test(value) else _wrong(path, self.what, value)


class _Collection(Kind):
    """A list (items ``kind``) or an object (values ``kind``); a bad item is named by its index or key."""

    def __init__(self, container: type, kind: Kind) -> None:
        super().__init__("a list" if container is list else "an object", lambda v: isinstance(v, container))
        self.kind = kind

    def problem(self, value: Any, path: str) -> Optional[str]:
        if not self.test(value):
            return super().problem(value, path)
        items = enumerate(value) if isinstance(value, list) else value.items()
        for key, item in items:
            found = self.kind.problem(item, f"{path}[{key}]" if isinstance(value, list) else f"{path}.{key}")
            if found:
                return found
        return None


class _Fields(Kind):
    """An object whose named keys, where present, are of their kinds (every other key ``rest``, if given)."""

    def __init__(self, rest: Optional[Kind], named: Dict[str, Kind]) -> None:
        super().__init__("an object", lambda v: isinstance(v, dict))
        self.rest, self.named = rest, named

    def problem(self, value: Any, path: str) -> Optional[str]:
        if not self.test(value):
            return super().problem(value, path)
        for key, item in value.items():
            kind = self.named.get(key, self.rest)
            found = kind.problem(item, f"{path}.{key}") if kind is not None else None
            if found:
                return found
        return None


def optional(kind: Kind) -> Kind:
    return _Optional(kind)


def list_of(kind: Kind) -> Kind:
    return _Collection(list, kind)


def values_of(kind: Kind) -> Kind:
    """An object whose every value is ``kind``."""
    return _Collection(dict, kind)


def fields(rest: Optional[Kind] = None, **named: Kind) -> Kind:
    return _Fields(rest, named)


def one_of(*words: str) -> Kind:
    return Kind(f"one of {', '.join(repr(w) for w in words)}", lambda v: isinstance(v, str) and v in words)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _integer(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


NUMBER = Kind("a number", _number)
INTEGER = Kind("an integer", _integer)
COUNT = Kind("a whole number >= 0", lambda v: _integer(v) and v >= 0)
TEXT = Kind("a string", lambda v: isinstance(v, str))
MAPPING = Kind("an object", lambda v: isinstance(v, dict))


ACCURACY = optional(NUMBER)
ROW = list_of(ACCURACY)
MATRIX = list_of(ROW)
SCALAR = optional(NUMBER)
PAIR = fields(classes=list_of(INTEGER), rate=SCALAR, skl=SCALAR, distance=SCALAR)
DIAGNOSTICS = fields(
    task=INTEGER,
    classes=list_of(INTEGER),
    n_old=INTEGER,
    pairs=list_of(PAIR),
    replay_acc=list_of(ACCURACY),
    replay_acc_old=SCALAR,
    participation=values_of(INTEGER),
)

# field -> its kind: what birsweep/tracking/record.py writes (docs/analysis.md, "The run record")
FIELDS: Dict[str, Kind] = {
    "status": one_of(*(s.value for s in RunStatus)),
    "error": optional(TEXT),
    "run_dir": TEXT,
    "started_at": optional(TEXT),
    "finished_at": optional(TEXT),
    "n_tasks": COUNT,
    "protocol_tasks": COUNT,
    "tasks_done": COUNT,
    "acc_matrix": MATRIX,
    "avg_acc": ROW,
    "final_avg_acc": SCALAR,
    "final_task_acc": optional(ROW),
    "forgetting": SCALAR,
    "bwt": SCALAR,
    "objective": SCALAR,
    "objective_split": one_of("val", "test"),
    "val_acc_matrix": MATRIX,
    "val_avg_acc": ROW,
    "val_final_avg_acc": SCALAR,
    "losses": list_of(values_of(NUMBER)),
    "participation": values_of(list_of(INTEGER)),
    "inert_terms": list_of(TEXT),
    "diagnostics": list_of(DIAGNOSTICS),
    "timings": fields(rest=SCALAR, tasks_s=list_of(NUMBER)),
    "class_order": optional(list_of(list_of(INTEGER))),
    "trial": optional(fields(study_name=TEXT, number=INTEGER, params=MAPPING, storage=optional(TEXT))),
    "confirm": optional(
        fields(arm=optional(TEXT), rank=optional(INTEGER), seed=optional(INTEGER), baseline=optional(TEXT))
    ),
    "env": fields(git_commit=optional(TEXT)),
    "config": fields(
        seed=optional(INTEGER),
        optuna=optional(fields(trial_number=optional(INTEGER), study_name=optional(TEXT), params=optional(MAPPING))),
    ),
    "generator_eval": fields(
        ll=SCALAR,
        ll_sd=SCALAR,
        recon_error=SCALAR,
        recon_error_sd=SCALAR,
        skipped=optional(TEXT),
        image_metrics_skipped=optional(TEXT),
    ),
    "resumed_from_task": COUNT,
}
# what every run record has held since the first version: a reader of whole records (the DataFrames) needs them
WHOLE_RECORD = (
    "status",
    "error",
    "run_dir",
    "n_tasks",
    "tasks_done",
    "acc_matrix",
    "avg_acc",
    "final_avg_acc",
    "objective",
    "losses",
    "timings",
    "env",
    "config",
)


def _wrong(path: str, what: str, value: Any) -> str:
    return f"field '{path}' must be {what}, not {_shown(value)}"


def _shown(value: Any) -> str:
    """A wrong value, briefly: ``the string '0.9'``, ``a list of 3``, ``true``."""
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def _shape_problems(data: Mapping[str, Any]) -> List[str]:
    """The lengths the fields must agree on: a row per task done, an entry per task of the protocol."""
    problems: List[str] = []
    n, done = data.get("n_tasks"), data.get("tasks_done")
    if n is not None and done is not None and done > n:
        problems.append(f"field 'tasks_done' is {done}, more than n_tasks={n}")
    for matrix, average in (("acc_matrix", "avg_acc"), ("val_acc_matrix", "val_avg_acc")):
        rows = data.get(matrix)
        if rows is None:
            continue
        if done is not None and len(rows) != done:
            problems.append(f"field '{matrix}' has {len(rows)} rows, not one per task done (tasks_done={done})")
        if n is not None:
            problems += [
                f"field '{matrix}' row {t + 1} has {len(row)} entries, not n_tasks={n}"
                for t, row in enumerate(rows)
                if len(row) != n
            ]
        if average in data and len(data[average]) != len(rows):
            problems.append(f"field '{average}' has {len(data[average])} entries, not one per row of '{matrix}'")
    final = data.get("final_task_acc")
    if final is not None and n is not None and len(final) != n:
        problems.append(f"field 'final_task_acc' has {len(final)} entries, not n_tasks={n}")
    tasks_s = (data.get("timings") or {}).get("tasks_s")
    if tasks_s is not None and done is not None and len(tasks_s) != done:
        problems.append(f"field 'timings.tasks_s' has {len(tasks_s)} entries, not one per task done ({done})")
    return problems


def record_problem(data: Mapping[str, Any], whole: bool = False) -> Optional[str]:
    """The first thing wrong with a record's content, naming the field; None when it fits. ``whole``: the fields
    every record has (:data:`WHOLE_RECORD`) must be there, as readers of whole records need them."""
    if "status" not in data:
        return "no 'status', not a run record"
    for name in WHOLE_RECORD if whole else ():
        if name not in data:
            return f"field '{name}' is missing"
    for name, kind in FIELDS.items():
        found = kind.problem(data[name], name) if name in data else None
        if found:
            return found
    problems = _shape_problems(data)
    return problems[0] if problems else None
