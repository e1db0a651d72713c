"""SIGTERM sent again and again while a job's trial handle writes to SQLite: the run's stop exception is raised
between storage calls, never inside one (where it could leave a transaction and its lock behind), each stop is
prompt, and the study is consistent (every trial closed, the database intact)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

import optuna

from birsweep.sweep.search.storage import open_storage
from tests.helpers import ROOT, launch_env

STORAGE_CODE = ("/optuna/", "/sqlalchemy/", "/sqlite3/")
ROUNDS = 15


def _wait_for(path, proc, timeout=300.0):
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()[0]
        time.sleep(0.005)


def test_repeated_sigterm_during_trial_writes_stops_promptly_with_a_consistent_store(tmp_path):
    db = tmp_path / "s.db"
    study = optuna.create_study(study_name="s", storage=open_storage(f"sqlite:///{db}"))
    for _ in range(ROUNDS):
        study.ask()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.trial_writer", str(db), str(ROUNDS)],
        cwd=str(ROOT),
        env=launch_env(tmp_path / "cache"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for r in range(ROUNDS):
            _wait_for(tmp_path / f"s.db.ready{r}", proc)
            time.sleep(0.02 + 0.007 * r)  # into the writes, at a different point each round
            stopped, sent = tmp_path / f"s.db.stopped{r}", time.time()
            while not stopped.exists():  # the signal, again and again, until the run has stopped
                assert proc.poll() is None and time.time() - sent < 60, "no prompt stop: " + proc.communicate()[0]
                proc.send_signal(signal.SIGTERM)
                time.sleep(0.002)
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, out
    places = [line.split("raised in ", 1)[1] for line in out.splitlines() if line.startswith("raised in ")]
    assert len(places) == ROUNDS, out
    inside = [p for p in places if any(part in p for part in STORAGE_CODE)]
    assert not inside, f"the stop signal was raised inside storage code: {inside}"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    trials = optuna.load_study(study_name="s", storage=open_storage(f"sqlite:///{db}")).trials
    assert [t.state.name for t in trials] == ["FAIL"] * ROUNDS
