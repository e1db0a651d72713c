"""Studies on a real SLURM cluster through ``hydra/launcher=slurm_cpu``: a pruned study; a cancelled trial, a
requeued one and a killed sweep (liveness by heartbeats, docs/sweeps.md).

Needs a cluster: ``.ci/run`` starts a single-node one with accounting (``tests/slurm_cluster.sh``) and exports its
``SLURM_CONF``; elsewhere the test is skipped with the reason.
"""

import os
import shutil
import signal
import subprocess
import time

import pytest

from tests.gate import gate, open_gate, reached
from tests.helpers import assert_records_agree, load_study, record_of, run_sweep, states
from tests.test_sweep_e2e import BAD, GOOD, LR, enqueue

pytestmark = pytest.mark.slow  # one file, so one xdist worker: the tests take the single-node cluster in turn


def _cluster_or_skip() -> None:
    if not os.environ.get("SLURM_CONF") or shutil.which("sinfo") is None:
        pytest.skip("no SLURM cluster: run tests/slurm_cluster.sh start DIR and export SLURM_CONF")
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0 or not out.stdout.strip():
        pytest.skip(f"SLURM_CONF is set but sinfo does not answer: {out.stderr.strip()[:200]}")


def test_a_pruned_study_on_slurm(tmp_path):
    _cluster_or_skip()
    storage = f"sqlite:///{tmp_path}/sweep/optuna.db"  # the node is this host: SQLite on a local disk is shared
    enqueue(storage, "slurm", {"trainer.lr": GOOD}, {"trainer.lr": GOOD}, {"trainer.lr": BAD}, {"trainer.lr": BAD})
    out = run_sweep(
        tmp_path,
        "hydra/launcher=slurm_cpu",
        "hydra.launcher.timeout_min=20",
        LR,
        "hydra.sweeper.study_name=slurm",
        "hydra.sweeper.n_trials=5",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.pruner.n_startup_trials=1",
        "hydra.sweeper.pruner.n_warmup_steps=2",
        timeout=1500,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    study = load_study(storage, "slurm")
    counts = states(study)
    assert len(study.trials) == 5 and counts.get("RUNNING", 0) == 0, counts
    assert counts.get("PRUNED", 0) >= 1 and counts.get("FAIL", 0) == 0, counts
    assert_records_agree(study, tmp_path / "sweep")
    # every trial ran as a SLURM job that accounting saw complete
    job_dirs = list((tmp_path / "sweep" / ".submitit").iterdir())
    job_ids = sorted({d.name for d in job_dirs if d.name.isdigit()})
    assert len(job_ids) == 5, job_ids
    want = sorted(f"{j}|COMPLETED" for j in job_ids)
    for _ in range(120):  # a job's process ends a moment after it handed its result back
        sacct = subprocess.run(
            ["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", ",".join(job_ids)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if "RUNNING" not in sacct.stdout and "COMPLETING" not in sacct.stdout:
            break
        time.sleep(1)
    assert sorted(sacct.stdout.split()) == want, sacct.stdout


# --- liveness, cancel, requeue (docs/sweeps.md) ----------------------------------------------------------------------
# the jobs the test acts on wait at the end of their first task (tests/gate.py): running, beating, checkpointed
LIVENESS = ["hydra.sweeper.heartbeat_interval=5", "hydra.sweeper.job_lost_after=60", "hydra.sweeper.grace_period=120"]


def _wait_for(what, condition, timeout=600, poll=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = condition()
        except Exception:  # the storage or a record is being written: look again
            value = None
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def _trial(storage, name, number):
    trials = load_study(storage, name).trials
    return trials[number] if len(trials) > number else None


def _held(storage, name, number, gates):
    """The trial's SLURM job id once its job beats and waits at its gate (task 1 done: it has a checkpoint)."""
    t = _trial(storage, name, number)
    if t is None or t.state.name != "RUNNING" or "job_id" not in t.user_attrs or "job_heartbeat" not in t.user_attrs:
        return None
    return t.user_attrs["job_id"] if reached(gates, str(number)).exists() else None


def _queue_state(job_id):
    out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


def _job_logs(sweep_dir) -> str:
    """The tails of every job's submitit logs: what a failed assertion shows of the jobs' side."""
    tails = [f"== {p}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(sweep_dir.glob(".submitit/*/*_log.*"))]
    return "\n".join(tails)


def _no_accounting(tmp_path):
    """A PATH whose sacct fails as on a cluster without slurmdbd: submitit sees state UNKNOWN for every job."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "sacct").write_text("#!/bin/sh\necho 'sacct: error: accounting storage is disabled' >&2\nexit 1\n")
    (fake / "sacct").chmod(0o755)
    return {"PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}


def test_without_accounting_a_cancelled_trial_fails_and_a_signalled_one_requeues(tmp_path):
    _cluster_or_skip()
    storage, name, sweep_dir, gates = (
        f"sqlite:///{tmp_path}/sweep/optuna.db",
        "cancel",
        tmp_path / "sweep",
        tmp_path / "g",
    )
    gates.mkdir()
    good = {"trainer.lr": GOOD}
    enqueue(storage, name, good, good, good)  # 0: scancel; 1: SIGUSR2, requeued; 2: 1's twin, never interrupted
    proc = run_sweep(
        tmp_path,
        "hydra/launcher=slurm_cpu",
        "hydra.launcher.timeout_min=20",
        "hydra/sweeper/pruner=nop",
        LR,
        f"hydra.sweeper.study_name={name}",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.n_jobs=2",
        *LIVENESS,
        *gate(gates, task=1, jobs="[01]"),
        env_extra=_no_accounting(tmp_path),
        wait=False,
    )
    try:
        cancelled = _wait_for("trial 0 at its gate", lambda: _held(storage, name, 0, gates))
        signalled = _wait_for("trial 1 at its gate", lambda: _held(storage, name, 1, gates))
        subprocess.run(["scancel", cancelled], check=True, timeout=60)
        cancelled_at = time.time()
        subprocess.run(["scancel", "--signal=USR2", signalled], check=True, timeout=60)
        # the cancelled job stops at once: its record closed by its own SIGTERM handler, SLURM done with it
        closed = _wait_for("trial 0's record closed", lambda: record_of(_trial(storage, name, 0), sweep_dir), 120)
        _wait_for(
            "trial 0's record closed",
            lambda: record_of(_trial(storage, name, 0), sweep_dir)["status"] != "running",
            timeout=60,
        )
        stopped = _wait_for("job 0 gone", lambda: _queue_state(cancelled) not in ("RUNNING", "COMPLETING"), 60)
        assert closed and stopped and time.time() - cancelled_at < 60
        failed = _wait_for(
            "trial 0 FAIL", lambda: _trial(storage, name, 0).state.name == "FAIL" and time.time(), timeout=300
        )
        assert failed - cancelled_at < 60 + 30  # job_lost_after bounds it; SLURM's CANCELLED ends it sooner
        proc.wait(timeout=900)  # the requeued job passes its gate: it was reached once
    finally:
        if proc.poll() is None:
            proc.kill()
    out = (tmp_path / "launch.out").read_text()
    assert proc.returncode == 0, out[-4000:] + _job_logs(sweep_dir)
    study = load_study(storage, name)
    # the cancelled trial was cut short (its record says interrupted): it does not count, a fourth trial ran instead
    states_ = [t.state.name for t in study.trials]
    assert states_ == ["FAIL", "COMPLETE", "COMPLETE", "COMPLETE"], out[-4000:] + _job_logs(sweep_dir)
    t0, t1, t2 = study.trials[:3]
    assert t0.user_attrs.get("retryable") is True
    assert "SLURM job" in t0.user_attrs["fail_reason"] and cancelled in t0.user_attrs["fail_reason"]
    assert record_of(t0, sweep_dir)["status"] in ("interrupted", "failed")
    assert out.count("Bypassing sacct error") <= 1, out[-4000:]
    # the signalled job requeued itself (same job id), resumed from its checkpoint and ended as its twin did
    assert t1.user_attrs["job_id"] == signalled
    logs = "".join(p.read_text() for p in (sweep_dir / "1").glob("*.log"))
    assert "resuming" in logs and "after task" in logs, logs[-2000:]
    r1, r2 = record_of(t1, sweep_dir), record_of(t2, sweep_dir)
    assert r1["resumed_from_task"] == 1
    for key in ("acc_matrix", "avg_acc", "losses", "objective", "tasks_done"):
        assert r1[key] == r2[key], key
    assert t1.value == t2.value and sorted(t1.intermediate_values) == [1, 2, 3, 4, 5]


def test_a_killed_sweep_on_slurm_resumes_to_exactly_n_trials(tmp_path):
    _cluster_or_skip()
    storage, name, sweep_dir, gates = (
        f"sqlite:///{tmp_path}/sweep/optuna.db",
        "killed",
        tmp_path / "sweep",
        tmp_path / "g",
    )
    gates.mkdir()
    enqueue(storage, name, {"trainer.lr": GOOD}, {"trainer.lr": GOOD})
    args = [
        "hydra/launcher=slurm_cpu",
        "hydra.launcher.timeout_min=20",
        "hydra/sweeper/pruner=nop",
        LR,
        f"hydra.sweeper.study_name={name}",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.n_jobs=2",
        *LIVENESS,
    ]
    proc = run_sweep(tmp_path, *args, *gate(gates, task=1, jobs="0"), wait=False)
    try:
        orphan = _wait_for("trial 0 at its gate", lambda: _held(storage, name, 0, gates))
        os.kill(proc.pid, signal.SIGKILL)  # the sweep only: its SLURM jobs run on
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    running = [t.number for t in load_study(storage, name).trials if t.state.name == "RUNNING"]
    assert 0 in running
    open_gate(gates, "0")  # the orphan goes on to its next task end, where it learns its sweep is gone
    out = run_sweep(tmp_path, *args, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    study = load_study(storage, name)
    counts = states(study)
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED", "FAIL")]
    cut_short = [t for t in finished if t.state.name == "FAIL" and t.user_attrs.get("retryable")]  # not counted
    assert len(finished) - len(cut_short) == 3, counts
    assert counts.get("RUNNING", 0) == 0 and counts.get("WAITING", 0) == 0, counts
    assert study.trials[0].state.name in ("FAIL", "COMPLETE")  # closed as stale, or from its finished record
    # the orphaned job learnt its sweep was gone and stopped at a task end; no record says running
    _wait_for("the orphaned job to end", lambda: _queue_state(orphan) not in ("RUNNING", "COMPLETING"), 300)
    for t in study.trials:
        rec = record_of(t, sweep_dir)
        assert rec is None or rec["status"] != "running", (t.number, rec["status"])
