"""Hand-edited run records (issue 19, item 3): a record whose field has the wrong type or shape, or lacks a field,
is skipped by every reader with a warning naming the file and the field; the report and the notebook are still
written from the good records (birsweep/tracking/record_check.py, README "Faults")."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict

import pytest

import analysis
from birsweep.tracking import record
from birsweep.train.loop.run import train
from tests.helpers import ROOT, TINY, make_cfg

QUICK = [*TINY, "trainer.iters=6", "trainer.log_every=3", "trainer.threads=1", "eval_gen.enabled=false"]


def _set(key: str, value: Any) -> Callable[[Dict[str, Any]], None]:
    return lambda data: data.__setitem__(key, value)


def _short_row(data: Dict[str, Any]) -> None:
    data["acc_matrix"][1] = data["acc_matrix"][1][:2]


def _string_loss(data: Dict[str, Any]) -> None:
    data["losses"][0]["loss"] = "0.7"


def _string_seed(data: Dict[str, Any]) -> None:
    data["config"]["seed"] = "1"


# what an operator might do to a results.json -> the field the warning must name
EDITS = {
    "string_final_avg_acc": (_set("final_avg_acc", "0.9"), "field 'final_avg_acc' must be a number or null"),
    "string_acc_matrix": (_set("acc_matrix", "[[0.9]]"), "field 'acc_matrix' must be a list"),
    "short_row": (_short_row, "field 'acc_matrix' row 2 has 2 entries, not n_tasks=5"),
    "missing_acc_matrix": (lambda data: data.pop("acc_matrix"), "field 'acc_matrix' is missing"),
    "string_loss": (_string_loss, "field 'losses[0].loss' must be a number"),
    "string_seed": (_string_seed, "field 'config.seed' must be an integer or null"),
    "unknown_status": (_set("status", "done"), "field 'status' must be one of 'running'"),
}


@pytest.fixture(scope="module")
def good_runs(tmp_path_factory) -> Path:
    """Two real tiny runs (seeds 0 and 1) in ``<root>/s0`` and ``<root>/s1``."""
    root = tmp_path_factory.mktemp("good-runs")
    for seed in (0, 1):
        train(make_cfg([*QUICK, f"seed={seed}"]), str(root / f"s{seed}"))
    return root


def _with_edits(good_runs: Path, where: Path, names) -> Dict[str, Path]:
    """The good runs copied under ``where``, plus one copy of s0 per edit, its record edited by hand."""
    shutil.copytree(good_runs, where)
    edited = {}
    for name in names:
        shutil.copytree(good_runs / "s0", where / name)
        path = where / name / record.RESULTS
        data = json.loads(path.read_text())
        EDITS[name][0](data)
        path.write_text(json.dumps(data, indent=2))
        edited[name] = path
    return edited


@pytest.mark.parametrize("name", list(EDITS))
def test_every_loader_skips_an_edited_record_naming_file_and_field(good_runs, tmp_path, name):
    path = _with_edits(good_runs, tmp_path / "runs", [name])[name]
    field = EDITS[name][1]
    data, reason = record.try_load(path, whole=True)
    assert data is None and reason is not None and reason.startswith(f"run record {path}: {field}")
    assert "\n" not in reason
    for loader in (analysis.load_runs, analysis.load_tasks, analysis.load_losses):
        with pytest.warns(UserWarning, match=re.escape(f"skipping run record {path}: {field}")):
            frame = loader(tmp_path / "runs")
        assert set(frame["run_dir"]) == {str(tmp_path / "runs" / "s0"), str(tmp_path / "runs" / "s1")}  # copies
    runs = analysis.load_runs(tmp_path / "runs")
    assert runs["final_avg_acc"].dtype == float and runs["tasks_done"].tolist() == [5, 5]


def test_a_record_the_run_wrote_passes_every_check(good_runs):
    for seed in (0, 1):
        data, reason = record.try_load(good_runs / f"s{seed}", whole=True)
        assert reason is None and data is not None and data["status"] == "completed"


def test_the_report_is_written_without_the_edited_records(good_runs, tmp_path):
    """What the operator ran: ``python -m analysis.report DIR`` over good runs and hand-edited ones."""
    edited = _with_edits(good_runs, tmp_path / "runs", list(EDITS))
    html = tmp_path / "report.html"
    rep = subprocess.run(
        [sys.executable, "-m", "analysis.report", str(tmp_path / "runs"), "-o", str(html)],
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rep.returncode == 0, rep.stderr[-3000:]
    assert html.is_file() and "(2 runs" in rep.stdout, rep.stdout
    for name, path in edited.items():
        assert f"skipping run record {path}: {EDITS[name][1]}" in rep.stderr, rep.stderr
    assert "Traceback" not in rep.stderr


@pytest.mark.slow
def test_the_notebook_runs_without_the_edited_records(good_runs, tmp_path, monkeypatch):
    from tests.test_notebook import execute

    _with_edits(good_runs, tmp_path / "runs", ["string_final_avg_acc", "string_acc_matrix"])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))  # this checkout
    text, _, _ = execute(tmp_path / "runs", monkeypatch)  # asserts that no cell raised
    assert "2 runs" in text and "'completed': 2" in text
