"""Liveness across hosts by heartbeats in the study storage (docs/sweeps.md), with fake clocks: the sweep's view of
a job (JobWatch), a job's view of its sweep (TrialHandle), the job's own heartbeat, the SLURM launcher's bounded
wait and its hand-over to submitit on SIGUSR2. No cluster needed; tests/test_sweep_slurm.py runs the real thing."""

import logging
import os
import signal
import subprocess
import time

import optuna
import pytest

from birsweep.app import run
from birsweep.errors import ConfigError
from birsweep.sweep.alive.beat import Beating
from birsweep.sweep.alive.claims import Claims
from birsweep.sweep.alive.in_flight import InFlight
from birsweep.sweep.alive.job_beat import JobBeat
from birsweep.sweep.alive.liveness import (
    DEFAULT_JOB_LOST_AFTER,
    JOB_HEARTBEAT,
    JobWatch,
    Silence,
    TrialWatch,
    sweep_gone,
    watch_jobs,
)
from birsweep.sweep.config import OptunaSweeperConfig, check_settings
from birsweep.sweep.job.trial import SweepGoneError, TrialHandle
from birsweep.sweep.search.outcome import close_record
from birsweep.sweep.search.override_text import format_value
from birsweep.sweep.search.storage import open_storage
from birsweep.tracking import record
from birsweep.train.loop import checkpoint
from tests.helpers import TINY, make_cfg, run_sweep


class Clock:
    def __init__(self, t=1000.0, step=0.0):
        self.t, self.step = t, step

    def __call__(self):
        self.t += self.step
        return self.t


# --- pure logic -------------------------------------------------------------------------------------------------------
def test_silence_counts_from_the_last_change_by_the_observers_clock():
    s = Silence()
    assert s.observe(None, 10.0) == 0.0  # first look: nothing yet
    assert s.observe(None, 25.0) == 15.0
    assert s.observe(5.0, 30.0) == 0.0  # a beat (its value is another host's clock: only its change counts)
    assert s.observe(5.0, 100.0) == 70.0
    assert s.observe(-1e9, 101.0) == 0.0  # a clock far behind still beats: the value changed


def test_a_beating_job_is_alive_and_a_silent_one_lost_after_the_bound():
    w = JobWatch(lost_after=60, started=0.0)
    for t in range(0, 300, 10):  # beats every 10 s while RUNNING
        assert w.observe(float(t), job_beat=f"beat{t}", queue_state="RUNNING") is None
    assert w.observe(340.0, "beat290", "RUNNING") is None  # 50 s silent: within the bound
    why = w.observe(351.0, "beat290", "RUNNING")
    assert why is not None and "job heartbeat stopped for 61 s" in why and "RUNNING" in why


def test_a_queued_job_is_never_lost_and_one_slurm_forgot_is():
    w = JobWatch(lost_after=60, started=0.0)
    for t in range(0, 3600, 30):  # an hour in the queue, no beat: fine
        assert w.observe(float(t), None, "PENDING") is None
    # last seen queued at 3570 s; then no longer listed (no accounting, squeue failed): the bound runs from there
    assert w.observe(3620.0, None, None) is None
    why = w.observe(3640.0, None, None)
    assert why is not None and "no job heartbeat for 70 s" in why and "unknown" in why


def test_a_requeued_job_stays_alive_while_it_waits_for_a_node():
    w = JobWatch(lost_after=60, started=0.0)
    assert w.observe(10.0, 1.0, "RUNNING") is None
    for t in range(20, 600, 20):  # preempted or timed out, requeued: no beats while pending
        assert w.observe(float(t), 1.0, "REQUEUED" if t < 100 else "PENDING") is None
    assert w.observe(650.0, 2.0, "RUNNING") is None  # running again and beating


def test_a_job_slurm_lists_as_ended_without_a_result_is_lost_after_the_grace():
    w = JobWatch(lost_after=600, started=0.0, ended_grace=30)
    assert w.observe(0.0, 1.0, "RUNNING") is None
    assert w.observe(5.0, 1.0, "CANCELLED") is None  # its result may still be on the way
    why = w.observe(36.0, 1.0, "CANCELLED")
    assert why is not None and "SLURM lists the job as CANCELLED" in why


def test_the_sweep_counts_as_gone_once_its_heartbeat_stops_changing():
    s = Silence()
    assert sweep_gone(s, 1.0, 0.0, 600) is None
    assert sweep_gone(s, 2.0, 500.0, 600) is None
    assert sweep_gone(s, 2.0, 1100.0, 600) is None  # exactly the bound: not yet
    why = sweep_gone(s, 2.0, 1101.0, 600)
    assert why is not None and "has not changed for 601 s" in why
    assert sweep_gone(Silence(), 2.0, 1e9, None) is None  # no bound given: never judged


def test_the_poll_keeps_the_bound_and_spares_slurm():
    assert TrialWatch(lambda n: None, 300).poll_s == 10.0
    assert TrialWatch(lambda n: None, 20).poll_s == 2.0
    assert TrialWatch(lambda n: None, 3).poll_s == 1.0


def test_job_lost_after_must_exceed_the_heartbeat_interval():
    with pytest.raises(ConfigError, match="job_lost_after=20.0 must be longer than heartbeat_interval=30"):
        check_settings(OptunaSweeperConfig(study_name="s", job_lost_after=20.0))
    check_settings(OptunaSweeperConfig(study_name="s"))  # the defaults hold


def test_job_lost_after_reaches_slurm_launchers_only(monkeypatch):
    from birsweep.sweep.alive import slurm_launcher

    slurm = slurm_launcher.SlurmLauncher(submitit_folder="x")
    watch_jobs(slurm, None, lambda n: None)
    assert slurm._watch.lost_after == DEFAULT_JOB_LOST_AFTER == 300.0  # null: the SLURM default
    watch_jobs(slurm, 60.0, lambda n: None)
    assert slurm._watch.lost_after == 60.0
    watch_jobs(object(), None, lambda n: None)  # other launchers: nothing to watch, nothing refused

    class JoblibLauncher:
        pass

    with pytest.raises(ConfigError, match=r"job_lost_after=60 applies to SLURM jobs only .* JoblibLauncher's"):
        watch_jobs(JoblibLauncher(), 60.0, lambda n: None)


def test_job_lost_after_with_a_local_launcher_stops_the_sweep_in_one_line(tmp_path):
    out = run_sweep(tmp_path, "trainer.lr=interval(1e-3, 1e-2)", "hydra.sweeper.job_lost_after=60", in_process=True)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert lines[-1].startswith("error: hydra.sweeper.job_lost_after=60 applies to SLURM jobs only"), lines[-1]
    assert "BasicLauncher" in lines[-1] and not (tmp_path / "sweep").exists()


# --- against a real storage -------------------------------------------------------------------------------------------
def new_trial(tmp_path):
    storage = f"sqlite:///{tmp_path}/s.db"
    study = optuna.create_study(study_name="st", storage=open_storage(storage), direction="maximize")
    return storage, study, study.ask()


def test_the_job_beats_its_heartbeat_into_the_storage_until_it_stops(tmp_path):
    storage, study, trial = new_trial(tmp_path)
    beat = JobBeat(storage, "st", trial.number, interval=3600, job_id="17_0")
    beat.beat()
    first = study.trials[0].user_attrs[JOB_HEARTBEAT]
    assert study.trials[0].user_attrs["job_id"] == "17_0"  # which SLURM job runs the trial (scancel, sacct)
    beat.beat()
    assert study.trials[0].user_attrs[JOB_HEARTBEAT] > first
    with JobBeat(storage, "st", trial.number, interval=0.05) as running:
        for _ in range(600):  # poll: the thread's first beat comes at once, then every interval
            seen = study.trials[0].user_attrs[JOB_HEARTBEAT]
            if seen > first:
                break
            running._stop.wait(0.05)
    assert seen > first
    JobBeat(storage, "st", 99, interval=1).beat()  # no such trial: not an error, the sweep judges


class _Counter(Beating):
    def __init__(self, interval, on_entry):
        super().__init__(interval)
        self.beat_on_entry, self.beats = on_entry, 0

    def beat(self):
        self.beats += 1


@pytest.mark.parametrize("on_entry", [True, False])
def test_every_heartbeat_is_the_one_beating_thread(on_entry):
    assert all(issubclass(cls, Beating) for cls in (InFlight, JobBeat, Claims))  # one thread, three heartbeats
    with _Counter(3600, on_entry) as slow:
        for _ in range(100 if on_entry else 4):  # up to 5 s for the first beat on a busy machine; 0.2 s for none
            if slow.beats:
                break
            slow._stop.wait(0.05)
    assert slow.beats == int(on_entry)  # the job beats at its start; the sweep's trials were marked when asked
    with _Counter(0.01, on_entry) as fast:
        for _ in range(500):
            if fast.beats >= 3:
                break
            fast._stop.wait(0.01)
    stopped = fast.beats
    assert stopped >= 3
    time.sleep(0.1)
    assert fast.beats <= stopped + 1  # the thread ends at exit (at most the beat under way lands)


def job_cfg(storage, number, lost_after):
    return make_cfg(
        TINY
        + [
            "trainer.iters=5",  # the tasks' ends are what counts here, not their training
            "+optuna=trial",
            f"optuna.storage={format_value(storage)}",
            "optuna.study_name=st",
            f"optuna.trial_number={number}",
            "optuna.owner=another-host|1|",  # pid check cannot tell: only the heartbeat decides
            f"optuna.sweep_lost_after={lost_after}",
        ]
    )


def test_a_job_on_another_host_stops_at_a_task_end_once_its_sweeps_heartbeat_is_stale(tmp_path):
    storage, study, trial = new_trial(tmp_path)
    trial.set_user_attr("heartbeat", 12345.0)  # the sweep's last beat; it never changes again
    cfg = job_cfg(storage, trial.number, 250)
    handle = TrialHandle.from_config(cfg)
    handle.clock = Clock(step=100.0)  # each look at the trial is 100 s later
    with pytest.raises(SweepGoneError, match=r"is gone \(its heartbeat has not changed for 300 s"):
        run(cfg, str(tmp_path / "job"), [handle])
    rec = record.load(tmp_path / "job")
    # looks: start (0 s), after task 1 (100 s), 2 (200 s), 3 (300 s > 250): stops after task 3, checkpoint kept
    assert rec["status"] == "failed" and rec["tasks_done"] == 3 and "SweepGoneError" in rec["error"]
    assert checkpoint._read(checkpoint.path_in(str(tmp_path / "job")))["tasks_done"] == 3


def test_a_job_whose_sweep_beats_runs_to_the_end(tmp_path):
    storage, study, trial = new_trial(tmp_path)
    cfg = job_cfg(storage, trial.number, 250)
    handle = TrialHandle.from_config(cfg)
    clock = Clock(step=100.0)

    def beating_clock():  # the sweep beats between two looks of the job
        trial.set_user_attr("heartbeat", clock.t)
        return clock()

    handle.clock = beating_clock
    run(cfg, str(tmp_path / "job"), [handle])
    assert record.load(tmp_path / "job")["status"] == "completed"


def test_a_failed_trials_running_record_is_closed(tmp_path):
    storage, study, trial = new_trial(tmp_path)
    run_dir = tmp_path / "job"
    rec = record.RunRecord(str(run_dir), 5, {}, {})
    rec.save()
    trial.set_user_attr("run_dir", str(run_dir))
    close_record(study, trial.number, "SLURM job 7_0: no job heartbeat for 301 s")
    closed = record.load(run_dir)
    assert closed["status"] == "failed" and closed["error"] == "TrialFailed: SLURM job 7_0: no job heartbeat for 301 s"
    close_record(study, trial.number, "again")  # a closed record stays as it is
    assert record.load(run_dir)["error"] == closed["error"]


# --- the SLURM launcher, without a cluster ----------------------------------------------------------------------------
class FakeJob:
    """A submitit job that never finishes as far as submitit can tell (state UNKNOWN: no accounting)."""

    job_id = "42_0"
    state = "UNKNOWN"

    def __init__(self):
        self.cancelled = False

    def done(self):
        return False

    def cancel(self, check=True):
        self.cancelled = True


def test_the_launcher_gives_up_on_a_vanished_job_within_the_bound(monkeypatch):
    from birsweep.sweep.alive import slurm_launcher

    clock = Clock()
    monkeypatch.setattr(slurm_launcher.time, "monotonic", clock)
    monkeypatch.setattr(slurm_launcher.SlurmLauncher, "_pause", lambda self, s: setattr(clock, "t", clock.t + s))
    states = iter(["PENDING"] * 30 + ["RUNNING"] * 5 + [None] * 1000)  # queued 5 min, ran, then SLURM forgot it
    monkeypatch.setattr(slurm_launcher, "queue_state", lambda job_id: next(states))
    beats = iter([None] * 31 + [1.0, 2.0, 3.0] + [3.0] * 1000)
    launcher = slurm_launcher.SlurmLauncher(submitit_folder="x")
    launcher.watch_trials(TrialWatch(lambda number: next(beats), lost_after=100))
    job = FakeJob()
    start = clock.t
    ret = launcher._await(job, 3, ["a=1"])
    assert job.cancelled and ret.status.name == "FAILED"
    assert isinstance(ret._return_value, slurm_launcher.JobLostError)
    assert "SLURM job 42_0: its job heartbeat stopped for 1" in str(ret._return_value)
    # 5 min queued + beats until ~330 s + the 100 s bound, give or take a poll
    assert 430 <= clock.t - start <= 450, clock.t - start
    assert launcher.__getstate__()["_watch"] is None  # the sweep's storage handle is not pickled into the job


def test_a_stopping_sweep_stops_waiting_and_cancels_its_jobs(monkeypatch):
    from birsweep.sweep.alive import slurm_launcher

    monkeypatch.setattr(slurm_launcher, "queue_state", lambda job_id: "RUNNING")
    launcher = slurm_launcher.SlurmLauncher(submitit_folder="x")
    launcher.watch_trials(TrialWatch(lambda number: 1.0, lost_after=3600))
    launcher.stop_waiting()  # as the sweeper does on Ctrl-C with trials in flight
    job = FakeJob()
    ret = launcher._await(job, 0, [])
    assert job.cancelled and "the sweep stopped" in str(ret._return_value)


def test_sacct_failures_are_reported_once(tmp_path, monkeypatch, caplog):
    submitit = pytest.importorskip("submitit")
    from birsweep.sweep.alive.slurm_launcher import quiet_sacct_watcher

    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "sacct").write_text("#!/bin/sh\necho 'sacct: error: accounting storage is disabled' >&2\nexit 1\n")
    (fake / "sacct").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    original = submitit.slurm.slurm.SlurmJob.watcher
    monkeypatch.setattr(submitit.slurm.slurm.SlurmJob, "watcher", original)  # put back after the test
    watcher = quiet_sacct_watcher()
    assert quiet_sacct_watcher() is watcher and watcher is not original  # installed once
    watcher.register_job("5")
    with caplog.at_level(logging.DEBUG):
        for _ in range(4):  # four polls
            watcher.update()
        states = [watcher.get_state("5", mode="cache")] * watcher.num_calls
    assert states == ["UNKNOWN"] * 4 and watcher.num_calls == 4
    lines = [r.getMessage() for r in caplog.records if "sacct" in r.getMessage()]
    assert len(lines) == 1 and "accounting storage is disabled" in lines[0] and "not shown again" in lines[0], lines


def test_an_interrupted_job_hands_sigusr2_to_submitits_handler():
    from birsweep.sweep.alive.slurm_launcher import hand_to_submitit

    called = []
    previous = signal.signal(signal.SIGUSR2, lambda signum, frame: called.append(signum))
    try:
        hand_to_submitit(signal.SIGUSR2)
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert called == [signal.SIGUSR2]


def test_a_refused_requeue_is_tried_again_and_a_lasting_refusal_raises():
    from birsweep.sweep.alive.slurm_launcher import REQUEUE_TRIES, hand_to_submitit

    calls = []

    def refuse_once(signum, frame):
        calls.append(signum)
        if len(calls) == 1:
            raise subprocess.CalledProcessError(1, ["scontrol", "requeue", "7"])

    previous = signal.signal(signal.SIGUSR2, refuse_once)
    try:
        hand_to_submitit(signal.SIGUSR2, pause_s=0)
        assert calls == [signal.SIGUSR2] * 2  # refused, then requeued
        calls.clear()
        signal.signal(signal.SIGUSR2, lambda signum, frame: (calls.append(signum), 1 / 0))
        with pytest.raises(ZeroDivisionError):
            hand_to_submitit(signal.SIGUSR2, pause_s=0)
        assert len(calls) == REQUEUE_TRIES
    finally:
        signal.signal(signal.SIGUSR2, previous)


def test_a_failed_jobs_reason_names_the_exception_it_raised():
    from birsweep.sweep.alive.slurm_launcher import gist

    trace = "Traceback (most recent call last):\n  File 'x.py', line 1\nsubprocess.CalledProcessError: scontrol failed"
    err = RuntimeError(f"Job (task=0) failed during processing with trace:\n----------------------\n{trace}")
    assert gist(err) == (
        "Job (task=0) failed during processing with trace: subprocess.CalledProcessError: scontrol failed"
    )
    assert gist(RuntimeError("cancelled")) == "cancelled" and gist(RuntimeError("")) == "RuntimeError"
