"""A nearly full disk (issue 19, item 4): the run's record is closed as ``failed`` with the reason, and a log file
that cannot be written is one line, not a "--- Logging error ---" traceback per log line (README "Faults";
birsweep/tracking/reserve.py, birsweep/log_writes.py). The run goes onto a real 2 MB tmpfs filled as the operator
filled it; skipped where mounting is not permitted (not root, a container without the capability)."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from birsweep.log_writes import report_log_write_errors_once
from tests.helpers import TINY, cli, launch


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
