"""Optuna studies -> DataFrames with the same column names as :func:`analysis.load_runs`.

``load_study(storage, study_name)``: one row per trial: ``study_name``, ``trial_number``, ``trial_state``,
``trial_value``, ``params.<name>``, ``intermediate.<step>`` (the average accuracy reported after each task),
``last_step``, ``datetime_start``, ``datetime_complete``, ``duration_s``, ``run_dir`` (the job that ran it, as
the sweeper recorded it: the written path, where :func:`analysis.load_runs` gives the dir a record lies in now) and the
other user attributes as ``user_attrs.<name>``. Join with the runs on ``["study_name", "trial_number"]``.

``storage`` is a database URL (``sqlite:///...``, ``postgresql://...``), a SQLite file, a journal file, or a sweep
dir, where the storage is found: an SQLite file (``*.db``) or journal file in it, else the ``optuna.storage`` of
its jobs.
"""

from __future__ import annotations

import glob
import os
from typing import Any, Dict, List, Optional, Tuple

import pandas as pd

from analysis.runs import iter_records, record_dir, trial_info
from birsweep.secrets import mask_url
from birsweep.sweep.search import storage as storages

JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def storage_url(spec: str) -> str:
    """The database URL or journal path ``spec`` stands for (:func:`birsweep.sweep.search.storage.parse`)."""
    return storages.normalise(spec)


def open_storage(spec: str) -> Any:
    """What optuna's functions take as ``storage``; FileNotFoundError for a path that holds no study."""
    return storages.open_storage(spec)


def find_storages(path: str) -> List[str]:
    """Storages a sweep dir (or a tree of them) points at: database/journal files in it and its jobs' config."""
    found: List[str] = []
    if os.path.isfile(path):
        return [storage_url(path)]
    for pattern in ("*" + s for s in SQLITE_SUFFIXES + JOURNAL_SUFFIXES):
        for file in sorted(glob.glob(os.path.join(path, pattern)) + glob.glob(os.path.join(path, "*", pattern))):
            if "/.hydra/" in file or not (storages.is_sqlite_file(file) or storages.is_journal_file(file)):
                continue  # Hydra's job logs end with .log too
            found.append(storage_url(file))
    for record in iter_records(path):
        storage = ((record.get("config") or {}).get("optuna") or {}).get("storage")
        if storage and "***" not in str(storage) and storage != "???":
            try:
                found.append(storage_url(_in_this_tree(str(storage), record)))
            except storages.StorageNotFoundError:  # the study's file was moved or deleted
                continue
    return list(dict.fromkeys(found))


def _in_this_tree(storage: str, record: Dict[str, Any]) -> str:
    """A record names its study's file where the sweep wrote it (an absolute path). When the tree was copied, cloned
    or moved since, that is the same file beside the record now, not the original, which may still exist and hold
    another state: the two run dirs' common tail is what moved, and the file is looked up under the new root."""
    file = storages.sqlite_file(storage) if storage.startswith("sqlite:///") else storage
    if "://" in file or not record.get("run_dir") or not record.get("_path"):
        return storage  # a database server, or a record that does not say where it was written
    old = os.path.abspath(str(record["run_dir"])).split(os.sep)
    new = record_dir(record).split(os.sep)
    common = 0
    while common < min(len(old), len(new)) - 1 and old[-1 - common] == new[-1 - common]:
        common += 1
    old_root, new_root = os.sep.join(old[: len(old) - common]), os.sep.join(new[: len(new) - common])
    inside = os.path.relpath(os.path.abspath(file), old_root or os.sep)
    if common == 0 or old_root == new_root or inside.startswith(os.pardir):
        return storage  # not moved, or the file lay outside what moved
    moved = os.path.join(new_root, inside)
    return moved if os.path.exists(moved) else storage


def study_names(path: str) -> List[str]:
    """The study names a sweep's records mention."""
    names = []
    for record in iter_records(path):
        name = trial_info(record)["study_name"]
        if name:
            names.append(name)
    return list(dict.fromkeys(names))


def find_studies(path: str) -> List[Tuple[str, str]]:
    """(storage, study_name) pairs that hold studies under ``path``: every study in every storage found."""
    import optuna

    out = []
    for storage in find_storages(path):
        try:
            for summary in optuna.get_all_study_summaries(open_storage(storage), include_best_trial=False):
                out.append((storage, summary.study_name))
        except Exception:  # noqa: BLE001 - an unreadable file is not a study
            continue
    return list(dict.fromkeys(out))


def load_study(storage: str, study_name: Optional[str] = None) -> pd.DataFrame:
    """The trials of one study (the only one in the storage when ``study_name`` is None)."""
    import optuna

    if os.path.isdir(storage):
        studies = find_studies(storage)
        if study_name is not None:
            studies = [s for s in studies if s[1] == study_name]
        if not studies:
            raise FileNotFoundError(
                f"no Optuna study{' ' + repr(study_name) if study_name else ''} found in "
                f"{storage} (looked for *.db / journal files and the jobs' optuna.storage)"
            )
        if len({s[1] for s in studies}) > 1:
            raise ValueError(
                f"{storage} holds several studies ({', '.join(sorted({s[1] for s in studies}))}): pass study_name"
            )
        storage, study_name = studies[0]
    store = open_storage(storage)
    if study_name is None:
        names = [s.study_name for s in optuna.get_all_study_summaries(store, include_best_trial=False)]
        if len(names) != 1:
            raise ValueError(
                f"storage {mask_url(storage)} holds {len(names)} studies ({', '.join(names)}): pass study_name"
            )
        study_name = names[0]
    study = optuna.load_study(study_name=study_name, storage=store)
    rows = [trial_row(study_name, t) for t in study.get_trials(deepcopy=False)]
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=["study_name", "trial_number", "trial_state", "trial_value"])
    front = ["study_name", "trial_number", "trial_state", "trial_value", "run_dir"]
    params = sorted(c for c in df.columns if c.startswith("params."))
    inter = sorted((c for c in df.columns if c.startswith("intermediate.")), key=lambda c: int(c.split(".")[1]))
    rest = [c for c in df.columns if c not in front + params + inter]
    df = df[[c for c in front if c in df.columns] + params + inter + rest]
    df["trial_number"] = df["trial_number"].astype("Int64")
    df.attrs["direction"] = study.direction.name.lower()
    df.attrs["storage"] = storage
    return df


def trial_row(study_name: str, trial) -> Dict[str, Any]:
    row: Dict[str, Any] = {
        "study_name": study_name,
        "trial_number": trial.number,
        "trial_state": trial.state.name,
        "trial_value": trial.value,
        "run_dir": trial.user_attrs.get("run_dir"),
    }
    for key, value in trial.params.items():
        row[f"params.{key}"] = value
    for step, value in sorted(trial.intermediate_values.items()):
        row[f"intermediate.{step}"] = value
    row["last_step"] = trial.last_step
    row["datetime_start"] = trial.datetime_start
    row["datetime_complete"] = trial.datetime_complete
    if trial.datetime_start is not None and trial.datetime_complete is not None:
        row["duration_s"] = (trial.datetime_complete - trial.datetime_start).total_seconds()
    else:
        row["duration_s"] = None
    for key, value in trial.user_attrs.items():
        if key != "run_dir":
            row[f"user_attrs.{key}"] = value
    return row


def intermediate_long(trials: pd.DataFrame) -> pd.DataFrame:
    """``intermediate.<step>`` columns -> one row per trial x step (``step``, ``value``)."""
    cols = [c for c in trials.columns if c.startswith("intermediate.")]
    keep = ["study_name", "trial_number", "trial_state"]
    long = trials[keep + cols].melt(id_vars=keep, var_name="step", value_name="value").dropna(subset=["value"])
    long["step"] = long["step"].str.split(".").str[1].astype(int)
    return long.sort_values(["trial_number", "step"]).reset_index(drop=True)
