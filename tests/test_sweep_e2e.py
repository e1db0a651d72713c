"""Real sweeps through ``python launch.py -m``: pruning across processes with joblib and slots refilled at once,
failures recorded with their reason, a killed sweep resumed, SQLite and journal storages, optuna-dashboard."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import optuna
import pytest
import yaml

from birsweep.sweep.search.storage import open_storage
from tests.gate import gate, open_gate, wait_until_reached
from tests.helpers import assert_records_agree, load_study, run_sweep, states

LR = "trainer.lr=tag(log, interval(1e-6, 1e-2))"
GOOD, BAD = 3e-3, 1e-6


def enqueue(storage, name, *params_list):
    study = optuna.create_study(study_name=name, storage=open_storage(storage), direction="maximize")
    for params in params_list:
        study.enqueue_trial(params)


@pytest.mark.slow  # a real sweep: over 10 s (make test-all)
def test_joblib_sweep_prunes_across_processes_and_refills_slots(tmp_path):
    storage = f"sqlite:///{tmp_path}/sweep/optuna.db"
    # trial 0 waits after its first task (tests/gate.py) until trial 2 has started: slot-filling starts 2 as soon
    # as 1 ends, while 0 still runs; 2 and 3 learn nothing (tiny lr) and are pruned by the job-side median pruner
    # after task 2
    enqueue(
        storage,
        "e2e",
        {"trainer.lr": GOOD, "trainer.iters": 30},
        {"trainer.lr": GOOD, "trainer.iters": 30},
        {"trainer.lr": BAD, "trainer.iters": 30},
        {"trainer.lr": BAD, "trainer.iters": 30},
    )
    gates = tmp_path / "gates"
    gates.mkdir()
    proc = run_sweep(
        tmp_path,
        "hydra/launcher=joblib",
        LR,
        "trainer.iters=choice(20, 30)",
        "hydra.sweeper.study_name=e2e",
        "hydra.sweeper.n_trials=5",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.pruner.n_startup_trials=1",
        "hydra.sweeper.pruner.n_warmup_steps=2",
        *gate(gates, task=1, jobs="0"),
        wait=False,
    )
    try:
        log = (tmp_path / "launch.out").read_text
        wait_until_reached(gates, "0", lambda: proc.poll() is None, log)
        deadline = time.monotonic() + 600
        while not (tmp_path / "sweep" / "2" / "results.json").exists():  # trial 2 has started training
            assert proc.poll() is None and time.monotonic() < deadline, log()[-3000:]
            time.sleep(0.05)
        open_gate(gates, "0")
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = subprocess.CompletedProcess(proc.args, proc.returncode, log(), "")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    study = load_study(storage, "e2e")
    trials = study.trials
    assert len(trials) == 5 and states(study).get("RUNNING", 0) == 0
    assert [t.state.name for t in trials[:4]] == ["COMPLETE", "COMPLETE", "PRUNED", "PRUNED"]
    assert trials[2].last_step == 2 and trials[3].last_step == 2
    assert_records_agree(study, tmp_path / "sweep")
    assert trials[2].datetime_start < trials[0].datetime_complete, "slot freed by trial 1 not refilled at once"
    # one torch thread per job
    cfg = yaml.safe_load((tmp_path / "sweep" / "2" / ".hydra" / "config.yaml").read_text())
    assert cfg["trainer"]["threads"] == 1 and cfg["optuna"]["trial_number"] == 2
    results = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert results["counts"]["PRUNED"] >= 2 and results["best_trial"] in (0, 1, 4)
    assert results["best_value"] == pytest.approx(study.best_value)
    assert set(results["best_params"]) == {"trainer.lr", "trainer.iters"}
    csv_lines = (tmp_path / "sweep" / "trials.csv").read_text().splitlines()
    assert len(csv_lines) == 6 and "state" in csv_lines[0] and "params_trainer.lr" in csv_lines[0]
    assert "Optuna study 'e2e' (maximize)" in out.stdout and "optuna-dashboard sqlite:///" in out.stdout


@pytest.mark.slow  # a real sweep: over 10 s (make test-all)
@pytest.mark.parametrize("store", ["sqlite", "journal"])
def test_failed_trials_are_recorded_and_the_sweep_goes_on(tmp_path, store):
    storage = f"sqlite:///{tmp_path}/sweep/optuna.db" if store == "sqlite" else str(tmp_path / "study.log")
    nan, missing = {"trainer.lr": 1e30, "data.name": "synthetic"}, {"trainer.lr": 1e-3, "data.name": "mnist"}
    ok = {"trainer.lr": 1e-3, "data.name": "synthetic"}
    enqueue(storage, "fail", ok, nan, missing, ok)
    out = run_sweep(
        tmp_path,
        "trainer.lr=tag(log, interval(1e-4, 1e30))",
        "data.name=choice(synthetic, mnist)",
        "data.root=/nonexistent",
        "data.download=false",
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.study_name=fail",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.max_failure_rate=0.5",
        in_process=True,  # launch.py's command line in this process: the subject is the sweep's rule
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    study = load_study(storage, "fail")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL", "FAIL", "COMPLETE"]
    assert study.trials[1].user_attrs["fail_reason"].startswith("NonFiniteLossError: loss ")
    assert "became nan" in study.trials[1].user_attrs["fail_reason"]
    assert study.trials[2].user_attrs["fail_reason"].startswith("DataNotFoundError: MNIST not found at /nonexistent")
    assert_records_agree(study, tmp_path / "sweep")
    assert "failed: #1 NonFiniteLossError" in out.stdout


@pytest.mark.slow  # a real sweep: over 10 s (make test-all)
def test_too_many_failures_stop_the_sweep(tmp_path):
    out = run_sweep(
        tmp_path,
        "trainer.lr=tag(log, interval(1e29, 1e30))",
        "hydra.sweeper.study_name=bad",
        "hydra.sweeper.n_trials=10",
        "hydra.sweeper.max_failure_rate=0.25",
        in_process=True,  # launch.py's command line in this process: the subject is the sweep's rule
    )
    assert out.returncode == 1
    assert "error: 4 of 4 trials failed, more than max_failure_rate=0.25; the sweep stops" in out.stderr
    study = load_study(f"sqlite:///{tmp_path}/sweep/optuna.db", "bad")
    assert states(study) == {"FAIL": 4}
    assert (tmp_path / "sweep" / "optimization_results.yaml").exists()


def test_bad_sweeper_config_is_one_line(tmp_path):
    out = run_sweep(tmp_path, "trainer.lr=tag(log, interval(0, 1))", in_process=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert (
        out.stderr.strip().splitlines()[-1]
        == "error: trainer.lr: tag(log, interval(0.0, 1.0)) needs a lower bound above 0"
    )
    out = run_sweep(tmp_path, LR, "hydra.sweeper.storage=study.txt", in_process=True)
    assert out.returncode == 2 and "is neither a database URL" in out.stderr.strip().splitlines()[-1]
    out = run_sweep(tmp_path, "trainer.lr=0.1", in_process=True)
    assert out.returncode == 2 and "error: nothing to search" in out.stderr


def _descendants(pid):
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout.split("\n")
    children = {}
    for line in out:
        if line.strip():
            p, pp = map(int, line.split())
            children.setdefault(pp, []).append(p)
    found, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            found.append(c)
            todo.append(c)
    return found


@pytest.mark.slow  # a killed sweep and its re-run: over 10 s (make test-all)
@pytest.mark.parametrize("store", ["journal", "sqlite"])
def test_a_killed_sweep_resumes_to_exactly_n_trials(tmp_path, store):
    """SIGKILL the sweep once trial 0 is done and trials 1 and 2 wait in both joblib slots, after their first task
    (tests/gate.py): the re-run fails them as stale, runs each again with its parameters, and stops at 6 trials not
    cut short."""
    storage = str(tmp_path / "study.log") if store == "journal" else f"sqlite:///{tmp_path}/study.db"
    args = [
        "hydra/launcher=joblib",
        LR,
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.study_name=kill",
        "hydra.sweeper.n_trials=6",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.retry_failed=true",
    ]
    gates = tmp_path / "gates"
    gates.mkdir()
    proc = run_sweep(tmp_path, *args, *gate(gates, task=1, jobs="[12]"), wait=False)
    workers = []
    try:
        for job in ("1", "2"):  # 2 starts in the slot 0 left: 0 is done
            wait_until_reached(gates, job, lambda: proc.poll() is None, (tmp_path / "launch.out").read_text)
        workers = _descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)  # the sweep process only: its joblib workers are orphaned
        proc.wait(timeout=30)
        killed = load_study(storage, "kill")
        running = [t.number for t in killed.trials if t.state.name == "RUNNING"]
        assert running == [1, 2] and len(killed.trials) == 3, states(killed)
        out = run_sweep(tmp_path, *args)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    finally:
        for pid in workers:  # orphans of the killed sweep, should their watcher not have ended them
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    study = load_study(storage, "kill")
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED", "FAIL")]
    cut_short = [t for t in finished if t.state.name == "FAIL" and t.user_attrs.get("retryable")]
    assert (
        len(finished) - len(cut_short) == 6
        and states(study).get("RUNNING", 0) == 0
        and states(study).get("WAITING", 0) == 0
    ), (
        states(study),
        [(t.number, t.state.name, t.user_attrs) for t in study.trials],
        out.stdout[-2000:],
    )
    for number in running:  # failed as stale (their jobs never got past the gate)
        t = study.trials[number]
        assert t.state.name == "FAIL" and t.user_attrs["fail_reason"].startswith("left RUNNING: its sweep")
        retry = [r for r in study.trials if r.user_attrs.get("retry_of") == number]
        assert len(retry) == 1 and retry[0].params == t.params  # retry_failed: same parameters again
    # jobs are numbered on by trial number: every job dir is a trial's, the re-run's trials come after the killed
    dirs = {int(p.name) for p in (tmp_path / "sweep").iterdir() if p.name.isdigit()}
    assert dirs <= {t.number for t in study.trials} and max(dirs) == study.trials[-1].number > max(running)
    assert_records_agree(study, tmp_path / "sweep")
    assert "left RUNNING" in out.stderr + out.stdout


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("store", ["sqlite", "journal"])
def test_optuna_dashboard_opens_the_storage(tmp_path, store):
    pytest.importorskip("optuna_dashboard")
    storage = f"sqlite:///{tmp_path}/d.db" if store == "sqlite" else str(tmp_path / "d.log")
    study = optuna.create_study(study_name="dash", storage=open_storage(storage), direction="maximize")
    study.add_trial(
        optuna.create_trial(
            value=0.5, params={"x": 0.1}, distributions={"x": optuna.distributions.FloatDistribution(0, 1)}
        )
    )
    port = _free_port()
    exe = os.path.join(os.path.dirname(sys.executable), "optuna-dashboard")
    log = open(tmp_path / "dashboard.log", "w")
    dash = subprocess.Popen([exe, storage, "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=log)
    try:
        body, deadline = None, time.time() + 180  # a generous bound: it starts in seconds on quiet cores
        while time.time() < deadline and dash.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as r:
                    body = json.loads(r.read())
                break
            except OSError:
                time.sleep(0.5)
        assert body is not None, f"optuna-dashboard did not answer: {(tmp_path / 'dashboard.log').read_text()[-2000:]}"
        names = [s["study_name"] for s in body["study_summaries"]]
        assert names == ["dash"]
    finally:
        dash.terminate()
        dash.wait(timeout=30)
        log.close()
