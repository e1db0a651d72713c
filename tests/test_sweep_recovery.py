"""Trials a dead sweep left RUNNING: which are stale, how each is closed, and the retries (no training runs)."""

import json
import subprocess
import time

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from birsweep.sweep.alive.owner import Owner
from birsweep.sweep.alive.recovery import recover_stale
from birsweep.sweep.search.storage import open_storage
from birsweep.tracking import record as run_record

SPACE = {"x": FloatDistribution(0, 1)}


def dead_owner():
    p = subprocess.Popen(["true"])
    p.wait()
    return Owner(Owner.current().host, p.pid, "1").encode()


def recover(study, retry=True):
    recover_stale(study, Owner.current(), grace_period=60, retry_failed=retry)


def running(study, owner=None, heartbeat=None, record=None, tmp_path=None):
    t = study.ask(SPACE)
    if owner is not None:
        t.set_user_attr("owner", owner)
    if heartbeat is not None:
        t.set_user_attr("heartbeat", heartbeat)
    if record is not None:
        run_dir = tmp_path / f"job{t.number}"
        run_dir.mkdir()
        (run_dir / run_record.RESULTS).write_text(json.dumps(record))
        t.set_user_attr("run_dir", str(run_dir))
    return t.number


@pytest.mark.parametrize("store", ["sqlite", "journal"])
def test_stale_trials_are_closed_and_retried(tmp_path, store, monkeypatch):
    # an unmarked trial is judged once it is OWNERLESS_GRACE_S old: 0 here, rather than 5 s of waiting
    monkeypatch.setattr("birsweep.sweep.alive.recovery.OWNERLESS_GRACE_S", 0.0)
    storage = f"sqlite:///{tmp_path}/s.db" if store == "sqlite" else str(tmp_path / "s.log")
    study = optuna.create_study(study_name="r", storage=open_storage(storage), direction="maximize")
    dead = dead_owner()
    n_dead = running(study, owner=dead)
    n_live = running(study, owner=Owner.current().encode())  # alive (this process): left alone
    n_remote = running(study, owner="elsewhere|1|1", heartbeat=time.time())  # fresh heartbeat: left alone
    n_remote_old = running(study, owner="elsewhere|2|1", heartbeat=time.time() - 3600)
    n_done = running(
        study, owner=dead, tmp_path=tmp_path, record={"status": "completed", "objective": 0.75, "error": None}
    )
    n_pruned = running(study, owner=dead, tmp_path=tmp_path, record={"status": "pruned", "error": "pruned"})
    n_cut = running(study, owner=dead, tmp_path=tmp_path, record={"status": "running", "error": None})
    n_gone = running(
        study,
        owner=dead,
        tmp_path=tmp_path,
        record={"status": "failed", "error": "SweepGoneError: the sweep ... is gone"},
    )
    n_unmarked = running(study)  # asked, then the sweep died before marking it
    recover(study)

    by = {t.number: t for t in study.get_trials()}
    assert by[n_live].state == by[n_remote].state == TrialState.RUNNING
    assert by[n_done].state == TrialState.COMPLETE and by[n_done].value == 0.75
    assert by[n_pruned].state == TrialState.PRUNED
    failed = [n_dead, n_remote_old, n_cut, n_gone, n_unmarked]
    assert all(by[n].state == TrialState.FAIL for n in failed)
    assert by[n_dead].user_attrs["fail_reason"].startswith("left RUNNING: its sweep (pid ")
    assert by[n_remote_old].user_attrs["fail_reason"].startswith("left RUNNING: no heartbeat for 3")
    assert by[n_unmarked].user_attrs["fail_reason"] == "left RUNNING: its sweep stopped before marking it"
    # the job record that said "running" now agrees with Optuna
    rec = run_record.load(tmp_path / f"job{n_cut}")
    assert rec["status"] == "failed" and rec["error"].startswith("SweepStopped: left RUNNING")
    # retry_failed: each casualty once more, with its parameters, as WAITING trials
    waiting = [t for t in by.values() if t.state == TrialState.WAITING]
    assert sorted(t.user_attrs["retry_of"] for t in waiting) == sorted(failed)
    for t in waiting:
        assert t.system_attrs["fixed_params"] == by[t.user_attrs["retry_of"]].params
    # a second recovery does not queue them again
    recover(study)
    assert len(study.get_trials(states=(TrialState.WAITING,))) == len(failed)


def test_a_trial_killed_before_its_parameters_were_stored_is_not_retried_empty(tmp_path):
    study = optuna.create_study(study_name="r", storage=open_storage(f"sqlite:///{tmp_path}/s.db"))
    bare = study.ask()  # Optuna made the trial; the sweep died before any parameter was suggested
    bare.set_user_attr("owner", dead_owner())
    recover(study)
    by = {t.number: t for t in study.get_trials()}
    assert by[bare.number].state == TrialState.FAIL and by[bare.number].user_attrs["retryable"] is True
    assert study.get_trials(states=(TrialState.WAITING,)) == []  # a retry of nothing would be a fresh trial anyway


def test_without_retry_nothing_is_queued(tmp_path):
    study = optuna.create_study(study_name="r", storage=open_storage(f"sqlite:///{tmp_path}/s.db"))
    running(study, owner=dead_owner())
    recover(study, retry=False)
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL]


def test_a_trial_whose_job_was_stopped_by_a_signal_is_told_fail_retryable_and_queued_again(tmp_path):
    """Record ``interrupted`` <-> Optuna FAIL with ``retryable``: the sweeper's tell of a cancelled job agrees with
    what recovery makes of a stale one, so retry_failed queues both."""
    from birsweep.sweep.search.outcome import Outcome, tell

    study = optuna.create_study(study_name="i", storage=open_storage(f"sqlite:///{tmp_path}/s.db"))
    me = Owner.current().encode()
    cut = running(study, me, tmp_path=tmp_path, record={"status": "interrupted", "error": "interrupted by SIGTERM"})
    bad = running(study, me, tmp_path=tmp_path, record={"status": "failed", "error": "NonFiniteLossError: nan"})
    tell(study, cut, Outcome(TrialState.FAIL, reason="RunInterrupted: interrupted by SIGTERM"))
    tell(study, bad, Outcome(TrialState.FAIL, reason="NonFiniteLossError: nan"))
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL]
    assert trials[cut].user_attrs["retryable"] is True and "retryable" not in trials[bad].user_attrs
    assert "SIGTERM" in trials[cut].user_attrs["fail_reason"]
    recover(study)
    queued = study.get_trials(states=(TrialState.WAITING,))
    assert [t.user_attrs["retry_of"] for t in queued] == [cut]  # with its parameters
    assert queued[0].system_attrs["fixed_params"] == trials[cut].params
