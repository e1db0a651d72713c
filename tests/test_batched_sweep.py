"""``hydra.sweeper.trials_per_job``: several trials per job, each with its own Optuna trial, record and run dir."""

from __future__ import annotations

import optuna
import pytest
from hydra.core.utils import JobReturn, JobStatus
from optuna.trial import TrialState

from birsweep.sweep.search.batches import group, outcomes_of
from birsweep.sweep.search.storage import open_storage
from tests.helpers import assert_records_agree, load_study, record_of, run_sweep, states

LR = "trainer.lr=tag(log, interval(1e-6, 1e-2))"
GOOD, BAD = 3e-3, 1e-6


def test_trials_group_by_everything_but_their_per_trial_values():
    asked = [
        (0, {"trainer.lr": 0.1, "model.fc_units": 64}, ["a"]),
        (1, {"trainer.lr": 0.2, "model.fc_units": 32}, ["b"]),
        (2, {"trainer.lr": 0.3, "model.fc_units": 64}, ["c"]),
        (3, {"model.fc_units": 64}, ["d"]),  # lr not sampled (conditional): keeps the job's value, so apart
    ]
    jobs = group(asked)
    assert [numbers for numbers, _ in jobs] == [[0, 2], [1], [3]]
    # the repulsion and recon terms' weights and rep_f are per-trial values; their switches and divergence are not
    terms = [
        (0, {"variant.rep_f": 2.0, "variant.repulsion.lamda_rep": 0.1, "variant.repulsion.divergence": "js"}, ["a"]),
        (1, {"variant.rep_f": 5.0, "variant.repulsion.lamda_rep": 0.3, "variant.repulsion.divergence": "js"}, ["b"]),
        (2, {"variant.rep_f": 5.0, "variant.repulsion.lamda_rep": 0.3, "variant.repulsion.divergence": "kl"}, ["c"]),
    ]
    assert [numbers for numbers, _ in group(terms)] == [[0, 1], [2]]
    first, lone = jobs[0][1], jobs[1][1]
    assert first[0] == "a" and first[-1].startswith("optuna.batch=[{number:0,params:{trainer.lr:0.1,")
    assert lone == ["b"]  # a lone trial's job is the job it has with trials_per_job=1


def test_a_batch_job_returns_one_outcome_per_trial():
    ret = JobReturn(status=JobStatus.COMPLETED, _return_value={"4": {"state": "COMPLETE", "value": 0.5}})
    ret._return_value["5"] = {"state": "PRUNED", "value": None, "reason": "pruned after task 2"}
    got = outcomes_of(ret, [4, 5, 6])
    assert got[4].state == TrialState.COMPLETE and got[4].value == 0.5
    assert got[5].state == TrialState.PRUNED
    assert got[6].state == TrialState.FAIL and "left this trial out" in (got[6].reason or "")
    nan = JobReturn(status=JobStatus.COMPLETED, _return_value={"1": {"state": "COMPLETE", "value": float("nan")}})
    assert outcomes_of(nan, [1, 2])[1].state == TrialState.FAIL
    failed = JobReturn(status=JobStatus.FAILED, _return_value=RuntimeError("boom"))
    assert {o.state for o in outcomes_of(failed, [1, 2]).values()} == {TrialState.FAIL}


@pytest.mark.slow  # a real sweep: over 10 s (make test-all)
def test_a_study_with_four_trials_per_job(tmp_path):
    out = run_sweep(
        tmp_path,
        LR,
        "model.distill_temp=interval(1.0, 3.0)",
        "trainer.threads=1",
        "hydra.sweeper.study_name=k4",
        "hydra.sweeper.n_trials=5",
        "hydra.sweeper.trials_per_job=4",
        "hydra.sweeper.sampler.seed=1",
        "hydra/sweeper/pruner=nop",
        in_process=True,  # launch.py's command line in this process: the subject is the sweep's rule
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "as one batch" in out.stdout + out.stderr
    study = load_study(f"sqlite:///{tmp_path}/sweep/optuna.db", "k4")
    assert states(study) == {"COMPLETE": 5}
    assert_records_agree(study, tmp_path / "sweep")
    finals = set()
    for t in study.trials:
        rec = record_of(t, tmp_path / "sweep")
        assert rec is not None and rec["trial"]["params"] == t.params
        assert rec["config"]["trainer"]["lr"] == t.params["trainer.lr"]
        assert rec["config"]["model"]["distill_temp"] == t.params["model.distill_temp"]
        finals.add(rec["losses"][-1]["loss"])  # distinct values (accuracies of 40 samples may tie)
    assert len(finals) == 5
    # two jobs (trials 0-3 and 4): Hydra's job files only in the first trial's dir of each
    assert sorted(p.parent.name for p in (tmp_path / "sweep").glob("*/.hydra")) == ["0", "4"]


@pytest.mark.slow  # a real sweep: over 10 s (make test-all)
def test_a_pruned_trial_leaves_its_batch(tmp_path):
    storage = f"sqlite:///{tmp_path}/sweep/optuna.db"
    study = optuna.create_study(study_name="prune", storage=open_storage(storage), direction="maximize")
    for lr in (GOOD, GOOD, BAD, GOOD):  # job 1: trials 0, 1 complete; job 2: trial 2 pruned, 3 goes on
        study.enqueue_trial({"trainer.lr": lr})
    out = run_sweep(
        tmp_path,
        LR,
        "trainer.threads=1",
        "hydra.sweeper.study_name=prune",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.trials_per_job=2",
        "hydra.sweeper.pruner.n_startup_trials=1",
        "hydra.sweeper.pruner.n_warmup_steps=2",
        in_process=True,  # launch.py's command line in this process: the subject is the sweep's rule
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    study = load_study(storage, "prune")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE", "PRUNED", "COMPLETE"]
    assert study.trials[2].last_step == 2 and study.trials[3].last_step == 5
    assert_records_agree(study, tmp_path / "sweep")


@pytest.mark.slow  # a real sweep: over 10 s (make test-all)
def test_sigterm_stops_a_sweep_mid_batch(tmp_path):
    """SIGTERM to a sweep whose job trains two trials in its process: both records say interrupted, both Optuna
    trials fail (retryable), and no further job starts."""
    import signal

    from birsweep.tracking import record
    from tests.gate import gate, wait_until_reached

    gates = tmp_path / "gates"
    gates.mkdir()
    proc = run_sweep(
        tmp_path,
        LR,
        "trainer.threads=1",
        "hydra.sweeper.study_name=stop",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.trials_per_job=2",
        *gate(gates, task=1, jobs="0"),  # the job (trials 0 and 1) waits at task 1's end (tests/gate.py)
        wait=False,
    )
    try:
        wait_until_reached(gates, "0", lambda: proc.poll() is None, (tmp_path / "launch.out").read_text)
        proc.send_signal(signal.SIGTERM)  # at a task's end: its storage writes defer the stop (train/loop/signals.py)
        assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    for n in (0, 1):
        rec = record.load(tmp_path / "sweep" / str(n))
        assert rec["status"] == "interrupted" and "SIGTERM" in rec["error"]
    study = load_study(f"sqlite:///{tmp_path}/sweep/optuna.db", "stop")
    assert [t.state.name for t in study.trials] == ["FAIL", "FAIL"]


@pytest.mark.slow  # a real sweep: over 10 s (make test-all)
def test_trials_the_batched_trainer_does_not_take_share_a_job_one_after_another(tmp_path):
    out = run_sweep(
        tmp_path,
        LR,
        "variant=contrastive",
        "trainer.threads=1",
        "hydra.sweeper.study_name=seq",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.trials_per_job=2",
        "hydra/sweeper/pruner=nop",
        in_process=True,  # launch.py's command line in this process: the subject is the sweep's rule
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "run one after another in this job: the contrastive term is not batched" in out.stdout + out.stderr
    study = load_study(f"sqlite:///{tmp_path}/sweep/optuna.db", "seq")
    assert states(study) == {"COMPLETE": 2}
    assert_records_agree(study, tmp_path / "sweep")
    assert sorted(p.parent.name for p in (tmp_path / "sweep").glob("*/.hydra")) == ["0"]
