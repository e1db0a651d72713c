"""A nearly full disk (issue 19, item 4): the run's record is closed as ``failed`` with the reason, a log file
that cannot be written is one line, not a "--- Logging error ---" traceback per log line, and a sweep stops at once
with one line and resumes once there is room (README "Faults"; birsweep/tracking/reserve.py, birsweep/log_writes.py,
birsweep/sweep/search/write_faults.py). The run goes onto a real 2 MB tmpfs filled as the operator
filled it; skipped where mounting is not permitted (not root, a container without the capability). A study file
replaced under a running sweep (a `git stash`, an rsync) is the same kind of fault: its writes fail."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from birsweep.log_writes import report_log_write_errors_once
from tests.gate import gate, open_gate, wait_until_reached
from tests.helpers import SWEEP, TINY, cli, launch, load_study, record_of, start


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs mounted at ``tmp_path/disk``, unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.mark.parametrize(  # 380 KB left (the checkpoint does not fit), 24 KB left
    "fill_kb, process", [(1668, False), (2024, True)], ids=["1668-in-process", "2024-a-real-process"]
)
def test_a_full_disk_closes_the_record_as_failed_with_one_error_line(
    small_disk: Path, tmp_path: Path, fill_kb: int, process: bool
):
    """launch.py on the full disk: a real process where the disk is fullest, its command line in-process else."""
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={small_disk / 'f'}", "bs=1K", f"count={fill_kb}"], check=True, capture_output=True
    )
    run_dir = small_disk / "run"
    args = [*TINY, f"hydra.run.dir={run_dir}"]
    out = launch(*args, "trainer.threads=1", cwd=tmp_path, timeout=300) if process else cli(*args, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "--- Logging error ---" not in out.stderr and "Traceback" not in out.stderr, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0], out.stderr
    assert len([line for line in out.stderr.splitlines() if line.strip()]) <= 2, out.stderr  # + the log file's
    record = json.loads((run_dir / "results.json").read_text())
    assert record["status"] == "failed" and "No space left on device" in record["error"], record["error"]
    assert record["finished_at"] is not None
    assert not (run_dir / ".results.json.reserve").exists()  # the space held for closing is given back


def test_a_log_file_that_cannot_be_written_is_reported_once(capfd):
    """/dev/full fails every write with ENOSPC, as a full disk does."""
    logger = logging.getLogger("birsweep.test.full")
    logger.propagate = False
    handler = logging.FileHandler("/dev/full")
    logger.addHandler(handler)
    try:
        report_log_write_errors_once(logger)
        for k in range(20):
            logger.warning("line %d", k)
    finally:
        logger.removeHandler(handler)
        handler.close()
    err = capfd.readouterr().err
    assert err.splitlines() == [
        "warning: cannot write the log file /dev/full (No space left on device); its later lines are dropped, the "
        "console still shows them"
    ]


def _leave_free(disk: Path, kb: int) -> None:
    free = shutil.disk_usage(disk).free // 1024
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={disk / 'f'}", "bs=1K", f"count={free - kb}"], check=True, capture_output=True
    )


@pytest.mark.slow
@pytest.mark.parametrize("free_kb", [40, 280], ids=["no-room-for-the-study", "no-room-for-a-checkpoint"])
def test_a_sweep_on_a_full_disk_stops_with_one_line_and_resumes_once_there_is_room(
    small_disk: Path, tmp_path: Path, free_kb: int
):
    """40 KB: the SQLite study cannot be created; 280 KB: the study is, trial 0's checkpoint does not fit. Each time
    one ``error:`` line, exit 1, nothing left that says it is running but a trial the next start closes; after the
    operator frees space the same command runs the study to its n_trials, the cut-short trial not counted."""
    _leave_free(small_disk, free_kb)
    sweep_dir, storage = small_disk / "sw", f"sqlite:///{small_disk}/sw/optuna.db"
    args = [*TINY, "hparams_search=repulsion", "hydra.sweeper.n_trials=1", f"hydra.sweep.dir={sweep_dir}"]
    out = launch(*args, "trainer.threads=1", cwd=tmp_path, multirun=True, timeout=300)  # its pid dies: stale later
    assert out.returncode == 1, out.stderr[-3000:]
    assert "Traceback" not in out.stderr and "--- Logging error ---" not in out.stderr, out.stderr[-3000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "full" in errors[0] and "run the same command again" in errors[0], out.stderr
    if free_kb > 100:  # trial 0 failed on the disk: FAIL, retryable, its record closed as failed with the reason
        (t0,) = load_study(storage, "repulsion-synthetic").trials
        assert t0.state.name == "FAIL" and t0.user_attrs["retryable"] is True, t0
        assert "No space left on device" in errors[0] and "trial 0" in errors[0]
        record = record_of(t0, sweep_dir)
        assert record is not None and record["status"] == "failed" and "No space left" in record["error"]
    (small_disk / "f").unlink()  # the operator makes room
    again = cli(*args, cwd=tmp_path, multirun=True)
    assert again.returncode == 0, again.stderr[-3000:]
    trials = load_study(storage, "repulsion-synthetic").trials
    counted = [t for t in trials if not (t.state.name == "FAIL" and t.user_attrs.get("retryable"))]
    assert [t.state.name for t in counted] == ["COMPLETE"], [(t.state.name, t.user_attrs) for t in trials]
    for t in trials:
        record = record_of(t, sweep_dir)
        assert record is None or record["status"] != "running", (t.number, record)


@pytest.mark.slow
def test_a_study_file_replaced_under_a_running_sweep_stops_with_one_line_and_resumes(tmp_path: Path):
    """While trial 0 is in task 2, the operator replaces optuna.db by a copy of itself (what `git stash` and
    `git stash pop` do to a committed study): the open SQLite connections now point at a moved file and every write
    through them fails ("attempt to write a readonly database"). The sweep stops with one line, exit 1, trial 0 a
    retryable FAIL; the same command again runs the study to its n_trials."""
    sweep_dir, gates = tmp_path / "sw", tmp_path / "gates"
    gates.mkdir()
    db, storage = sweep_dir / "optuna.db", f"sqlite:///{tmp_path}/sw/optuna.db"
    args = [*SWEEP, *TINY, "hparams_search=repulsion", "hydra.sweeper.n_trials=1", f"hydra.sweep.dir={sweep_dir}"]
    proc = start(*args, *gate(gates, task=2, at="mid"), cwd=tmp_path, multirun=True)
    try:
        wait_until_reached(gates, "0", lambda: proc.poll() is None, (tmp_path / "launch.out").read_text)
        moved = db.with_name("moved.db")
        db.rename(moved)
        shutil.copyfile(moved, db)
        open_gate(gates, "0")
        assert proc.wait(timeout=300) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
    output = (tmp_path / "launch.out").read_text()
    assert "Traceback" not in output, output[-4000:]
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "readonly database" in errors[0], output[-4000:]
    assert "make it writable again" in errors[0] and "run the same command again" in errors[0], errors
    again = cli(*args, cwd=tmp_path, multirun=True)
    assert again.returncode == 0, again.stderr[-3000:]
    trials = load_study(storage, "repulsion-synthetic").trials
    counted = [t for t in trials if not (t.state.name == "FAIL" and t.user_attrs.get("retryable"))]
    assert [t.state.name for t in counted] == ["COMPLETE"], [(t.state.name, t.user_attrs) for t in trials]
    assert trials[0].state.name == "FAIL", trials[0]
    for t in trials:
        record = record_of(t, sweep_dir)
        assert record is None or record["status"] != "running", (t.number, record)


def test_a_read_only_storage_deep_in_a_failure_is_named_retried_and_stops_the_sweep():
    """Optuna's StorageInternalError hides SQLite's reason: the run's record names it, and the sweep treats it as it
    treats a full disk (a retryable FAIL that stops the sweep at once with its own advice)."""
    import sqlite3

    import optuna
    from optuna.trial import TrialState

    from birsweep.errors import failure_text
    from birsweep.sweep.search.outcome import Outcome, Tally

    try:
        try:
            raise sqlite3.OperationalError("attempt to write a readonly database")
        except sqlite3.OperationalError as low:
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from low
    except optuna.exceptions.StorageInternalError as err:
        text = failure_text(err)
    assert text == (
        "StorageInternalError: An exception is raised during the commit. "
        "(caused by OperationalError: attempt to write a readonly database)"
    )
    assert failure_text(ValueError("x")) == "ValueError: x"
    tally = Tally()
    tally.add(3, Outcome(TrialState.FAIL, reason=text))
    line = tally.stop_reason(1.0, lambda: False)
    assert line is not None and line.startswith("trial 3 could not write to its storage (")
    assert "make it writable again" in line and "runs that trial again" in line
    full = Tally()
    full.add(0, Outcome(TrialState.FAIL, reason="StorageError: cannot write x: No space left on device"))
    assert "met a full disk" in str(full.stop_reason(1.0, lambda: False))
