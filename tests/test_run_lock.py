"""One owner per run dir (docs/faults.md): two real processes into one ``hydra.run.dir``; the second stops with one
line naming the holder and writes nothing; a SIGKILLed holder leaves no stale lock."""

from __future__ import annotations

import fcntl
import json
import os
import signal
from pathlib import Path

import pytest

from birsweep.errors import ConfigError
from birsweep.run_lock import LOCK, acquire
from tests.gate import gate, wait_until_reached
from tests.helpers import TINY, launch, start


def _snapshot(run_dir: Path) -> dict:
    return {p.relative_to(run_dir): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


@pytest.mark.slow  # two launch.py processes, one of them training: about 10 s on quiet cores
def test_a_second_run_into_a_live_runs_dir_is_refused_and_writes_nothing(tmp_path):
    run_dir, gates = tmp_path / "r", tmp_path / "gates"
    gates.mkdir()
    args = [*TINY, "trainer.threads=1", f"hydra.run.dir={run_dir}", *gate(gates, task=1, at="mid")]
    first = start(*args, "seed=0", cwd=tmp_path)  # held in its first task (tests/gate.py) while the second tries
    try:
        wait_until_reached(gates, "r", lambda: first.poll() is None, (tmp_path / "launch.out").read_text)
        before = _snapshot(run_dir)
        second = launch(*TINY, "trainer.threads=1", f"hydra.run.dir={run_dir}", "seed=1", cwd=tmp_path)
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert second.returncode == 2, second.stderr
        assert len(lines) == 1 and lines[0].startswith("error: the run dir"), lines
        assert f"pid {first.pid}" in lines[0] and "hydra.run.dir" in lines[0]
        after = _snapshot(run_dir)
        assert {k for k in after if not str(k).endswith(".log")} == {k for k in before if not str(k).endswith(".log")}
        assert after[Path(".hydra/config.yaml")] == before[Path(".hydra/config.yaml")]  # seed 0's, not seed 1's
        assert json.loads((run_dir / "results.json").read_text())["config"]["seed"] == 0
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=60)
    with open(run_dir / LOCK) as f:  # the kernel released the dead holder's lock: the next run may take it
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_the_lock_names_its_holder_and_is_free_once_closed(tmp_path):
    held = acquire(str(tmp_path / "run"))
    with pytest.raises(ConfigError, match=rf"in use by pid {os.getpid()} on .*, started \d{{4}}-"):
        acquire(str(tmp_path / "run"))
    held.close()
    acquire(str(tmp_path / "run")).close()
