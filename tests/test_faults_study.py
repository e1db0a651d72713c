"""Studies under faults (docs/sweeps.md): sweeps started together on one new SQLite file, leaked passwords,
joblib launches racing, a killed sweep's workers, W&B without a network."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from subprocess import PIPE

import optuna
import pytest

from birsweep.sweep.search.storage import open_storage
from tests.gate import gate, wait_until_reached
from tests.helpers import ROOT, SMALL_WANDB, SWEEP, TINY, cli, launch, load_study, run_sweep, states


def _open_after(barrier: mp.synchronize.Barrier, url: str) -> None:
    barrier.wait()
    open_storage(url)


@pytest.mark.parametrize("n_procs, rounds", [(2, 1), (6, 2)], ids=["two", "six-twice"])
def test_storage_schema_created_once_by_processes_racing(tmp_path: Path, n_procs: int, rounds: int) -> None:
    """Processes opening one new SQLite file at the same moment all succeed (the schema is made under a lock).
    Forked from this one, they start with optuna imported: the race, not the imports, takes the time."""
    ctx = mp.get_context("fork")
    open_storage(f"sqlite:///{tmp_path}/warm.db")  # SQLAlchemy's and alembic's lazy imports, done once, inherited
    for attempt in range(rounds):  # a fresh file each round: the race is only at creation
        url = f"sqlite:///{tmp_path}/new{attempt}.db"
        barrier = ctx.Barrier(n_procs)
        procs = [ctx.Process(target=_open_after, args=(barrier, url)) for _ in range(n_procs)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=300)
        assert [p.exitcode for p in procs] == [0] * n_procs
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


# --- passwords (docs/sweeps.md: "Passwords") --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://u:pw@host/db", "postgresql://u:***@host/db"),
        ("postgresql://u:p@ss@host/db", "postgresql://u:***@host/db"),
        ("postgresql://u:p/ss:w@rd@host:5432/db", "postgresql://u:***@host:5432/db"),
        ("cannot open 'postgresql://u:p@ss@host/db': refused", "cannot open 'postgresql://u:***@host/db': refused"),
        ("postgresql://u@host/db?password=pw&sslmode=off", "postgresql://u@host/db?password=***&sslmode=off"),
        ("postgresql://host/db?user=u&pass=p@w", "postgresql://host/db?user=u&pass=***"),
        ("mysql://host/db?PWD=x;y", "mysql://host/db?PWD=***;y"),
        ("host=h password=secret user=u", "host=h password=*** user=u"),
        ("postgresql://u@host:5432/db", "postgresql://u@host:5432/db"),
        ("sqlite:////tmp/a:b/optuna.db", "sqlite:////tmp/a:b/optuna.db"),
        ("https://example.com:443/x", "https://example.com:443/x"),
    ],
)
def test_mask_url(text: str, masked: str) -> None:
    from birsweep.secrets import mask_url

    assert mask_url(text) == masked


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("hydra.sweeper.storage=postgresql://u:pw@h/db", True),
        ("hydra.sweeper.storage=postgresql://u@h/db?password=pw", True),
        ("hydra.sweeper.storage=postgresql://u:${oc.env:PW}@h/db", False),
        ("hydra.sweeper.storage=${oc.env:STUDY_DB}", False),
        ("hydra.sweeper.storage=sqlite:////tmp/x.db", False),
        ("variant.rep_f=interval(1,30)", False),
    ],
)
def test_literal_password(value: str, literal: bool) -> None:
    from birsweep.secrets import literal_password

    assert literal_password(value) is literal


PASSWORD = "Zq7s3cr3t"


@pytest.mark.parametrize(
    "storage",
    [
        f"postgresql://user:{PASSWORD}@127.0.0.1:9/db",
        f"postgresql://user@127.0.0.1:9/db?password={PASSWORD}",
        f"postgresql://user:{PASSWORD}@x/y:z@127.0.0.1:9/db",
    ],
    ids=["literal", "query", "special-characters"],
)
def test_a_literal_password_is_refused_before_anything_is_written(tmp_path: Path, storage: str) -> None:
    out = cli(
        "hydra/sweeper=optuna", *TINY, f"hydra.sweeper.storage={storage}", "logger=wandb", cwd=tmp_path, multirun=True
    )
    assert out.returncode == 2, out.stderr[-2000:]
    errors = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: ") and "${oc.env:STUDY_DB}" in errors[0], errors
    assert PASSWORD not in out.stdout + out.stderr
    assert list(tmp_path.iterdir()) == [], list(tmp_path.rglob("*"))  # nothing written, not even a dir


@pytest.fixture(scope="module")
def env_storage_sweep(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One sweep for two tests: its storage URL (with a password) from an environment variable, W&B offline and
    not silenced by the environment (logger.silent, the default, alone keeps it quiet)."""
    base = tmp_path_factory.mktemp("env-storage")
    # pysqlite ignores the query (with a warning that does not quote it): a URL with a password, without a server
    db = f"sqlite:///{base}/study.db?password={PASSWORD}"
    out = launch(
        *SWEEP,
        *SMALL_WANDB,
        "variant=repulsion",
        "variant.rep_f=interval(1,30)",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.storage=${oc.env:STUDY_DB}",
        f"hydra.sweep.dir={base / 'sweep'}",
        cwd=base,
        multirun=True,
        wandb_dir=base,
        env_extra={"STUDY_DB": db, "WANDB_SILENT": "false"},
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return base, out


@pytest.mark.slow
def test_the_environment_variable_form_writes_no_password(env_storage_sweep) -> None:
    base, out = env_storage_sweep
    assert list((base / "sweep").rglob("*.wandb")), "no offline W&B run written"
    assert PASSWORD not in out.stdout + out.stderr
    grep = subprocess.run(["grep", "-rl", PASSWORD, str(base)], capture_output=True, text=True)
    assert grep.stdout == "", grep.stdout
    assert not [p for p in base.rglob("*") if PASSWORD in p.name]
    (name,) = [s.study_name for s in optuna.get_all_study_summaries(f"sqlite:///{base}/study.db")]
    assert sum(states(load_study(f"sqlite:///{base}/study.db", name)).values()) == 2


# --- W&B without a network ----------------------------------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the socket is: connections are refused


@pytest.mark.slow
def test_wandb_online_without_a_server_goes_on_offline_after_init_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    out = launch(
        *SMALL_WANDB,
        "logger.mode=online",
        "logger.init_timeout=5",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
        wandb_dir=tmp_path,
        env_extra={"WANDB_BASE_URL": f"http://127.0.0.1:{_closed_port()}", "WANDB_API_KEY": "0123456789" * 4},
        timeout=900,
    )
    elapsed = time.monotonic() - started
    assert out.returncode == 0, out.stderr[-3000:]
    rec = json.loads((tmp_path / "run" / "results.json").read_text())
    assert rec["status"] == "completed" and len(rec["acc_matrix"]) == 3
    text = out.stdout + out.stderr
    assert text.count("W&B online init failed") == 1, text[-3000:]
    assert list((tmp_path / "run" / "wandb").glob("offline-run-*/*.wandb")), "the run was not logged offline"
    assert elapsed < 120, f"{elapsed:.0f} s: init was not bounded (W&B's own stall is about 130 s per run)"


@pytest.mark.slow
def test_a_sweep_console_shows_tagged_trial_lines_and_no_wandb_banners(env_storage_sweep) -> None:
    _, out = env_storage_sweep
    lines = (out.stdout + out.stderr).splitlines()
    assert not [line for line in lines if line.startswith("wandb:")], "\n".join(lines[-40:])
    for number in (0, 1):
        assert any(f"[trial {number}] " in line for line in lines), "\n".join(lines[-40:])
        concluded = [line for line in lines if f"trial {number} COMPLETE" in line or f"trial {number} PRUNED" in line]
        assert concluded and not any("[trial " in line for line in concluded), concluded


# --- joblib launches from several threads -----------------------------------------------------------------------
def test_joblib_executor_setup_is_serialized_across_threads() -> None:
    """tests/joblib_race.py widens the window in which joblib sets up a new executor: unguarded, the other threads
    fail with the AttributeError trials met under load; guarded (as the sweeper's slots mode is), none does."""
    script = [sys.executable, str(ROOT / "tests" / "joblib_race.py")]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    runs = [subprocess.Popen(s, stdout=PIPE, stderr=PIPE, text=True, env=env) for s in (script, [*script, "guard"])]
    (bare, bare_err), (guarded, guarded_err) = [r.communicate(timeout=300) for r in runs]  # side by side
    assert runs[0].returncode == 1 and "_temp_folder_manager" in bare, bare + bare_err
    assert runs[1].returncode == 0 and guarded.strip() == "ok", guarded + guarded_err


def _processes_with(marker: str) -> list:
    """Pids of this user's processes whose environment holds ``marker`` (loky workers' command lines do not name
    the sweep, their environment is inherited from it)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(entry))
        except OSError:  # gone meanwhile, or another user's
            continue
    return found


@pytest.mark.slow
def test_joblib_workers_die_with_a_killed_sweep(tmp_path: Path) -> None:
    marker = f"BIRSWEEP_TEST_MARK={uuid.uuid4().hex}"
    key, value = marker.split("=")
    gates = tmp_path / "gates"
    gates.mkdir()
    proc = run_sweep(
        tmp_path,
        "hydra/launcher=joblib",
        "variant=repulsion",
        "variant.rep_f=interval(1,30)",
        "hydra.sweeper.n_trials=6",
        "hydra.sweeper.n_jobs=2",
        *gate(gates, task=1, at="mid"),  # both jobs held in their first task (tests/gate.py): workers busy
        env_extra={key: value},
        wait=False,
    )
    try:
        for job in ("0", "1"):
            wait_until_reached(gates, job, lambda: proc.poll() is None, (tmp_path / "launch.out").read_text)
        workers = [pid for pid in _processes_with(marker) if pid != proc.pid]
        assert workers, "no joblib workers found"
        os.kill(proc.pid, signal.SIGKILL)  # the sweep only, as the OOM killer or a lost login shell would
        proc.wait(timeout=60)
        deadline = time.monotonic() + 90  # loky's idle workers waited 300 s before; the watcher polls every 1 s
        while _processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _processes_with(marker) == [], "workers of the killed sweep still alive"
    finally:
        for pid in _processes_with(marker):
            os.kill(pid, signal.SIGKILL)
