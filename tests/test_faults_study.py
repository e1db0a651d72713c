"""Studies under faults (docs/sweeps.md): sweeps started together on one new SQLite file, leaked passwords,
joblib launches racing, a killed sweep's workers, W&B without a network."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path

import pytest

from tests.helpers import load_study, run_sweep, states


def _open_after(barrier: mp.synchronize.Barrier, url: str) -> None:
    from birsweep.sweep.storage import open_storage

    barrier.wait()
    open_storage(url)


def test_storage_schema_created_once_by_processes_racing(tmp_path: Path) -> None:
    """Processes opening one new SQLite file at the same moment all succeed (the schema is made under a lock)."""
    ctx = mp.get_context("spawn")
    for attempt in range(2):  # a fresh file each round: the race is only at creation
        url = f"sqlite:///{tmp_path}/new{attempt}.db"
        barrier = ctx.Barrier(6)
        procs = [ctx.Process(target=_open_after, args=(barrier, url)) for _ in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=300)
        assert [p.exitcode for p in procs] == [0] * 6
        with sqlite3.connect(f"{tmp_path}/new{attempt}.db") as db:
            assert db.execute("SELECT COUNT(*) FROM alembic_version").fetchone()[0] == 1


@pytest.mark.slow
def test_two_sweeps_started_at_once_on_one_new_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    procs = {}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        procs[name] = run_sweep(
            tmp_path / name,
            "variant=repulsion",
            "variant.rep_f=interval(1,30)",
            "hydra.sweeper.n_trials=3",
            f"hydra.sweeper.study_name=study-{name}",
            f"hydra.sweeper.storage=sqlite:///{db}",
            wait=False,
        )
    for name, proc in procs.items():
        assert proc.wait(timeout=900) == 0, (tmp_path / name / "launch.out").read_text()[-3000:]
    for name in ("a", "b"):
        study = load_study(f"sqlite:///{db}", f"study-{name}")
        assert len(study.trials) == 3 and states(study).get("RUNNING", 0) == 0, states(study)
