"""The job side: the training core reports the average accuracy after each task to its Optuna trial (opened from
the job's config, as in a separate process) and stops when the rebuilt pruner says so; SQLite and journal."""

import subprocess

import optuna
import pytest
from optuna.trial import TrialState

from birsweep.app import run
from birsweep.errors import RunPruned
from birsweep.sweep.alive.owner import Owner
from birsweep.sweep.job.trial import SweepGoneError, TrialClosedError
from birsweep.sweep.search.override_text import format_value
from birsweep.sweep.search.storage import open_storage
from birsweep.tracking import record
from tests.helpers import TINY, make_cfg  # Hydra's plugin scan stores the optuna/trial group (hydra_plugins)

MEDIAN = {"_target_": "birsweep.sweep.search.pruners.MedianPruner", "n_startup_trials": 1, "n_warmup_steps": 2}


@pytest.fixture(params=["sqlite", "journal"])
def storage(request, tmp_path):
    return f"sqlite:///{tmp_path}/s.db" if request.param == "sqlite" else str(tmp_path / "s.log")


def new_study(storage):
    return optuna.create_study(study_name="st", storage=open_storage(storage), direction="maximize")


def job_cfg(storage, number, pruner=None, owner=None, *extra):
    overrides = (
        TINY
        + list(extra)
        + [
            "+optuna=trial",
            f"optuna.storage={format_value(storage)}",
            "optuna.study_name=st",
            f"optuna.trial_number={number}",
            f"optuna.pruner={format_value(pruner)}",
            "optuna.params={trainer.lr:0.001}",
        ]
    )
    if owner:
        overrides.append(f"optuna.owner={format_value(owner)}")
    return make_cfg(overrides)


def read(run_dir):
    return record.load(run_dir)


def test_a_job_reports_every_task_to_its_trial(storage, tmp_path):
    study = new_study(storage)
    trial = study.ask()
    objective = run(job_cfg(storage, trial.number), str(tmp_path / "job"))
    rec = read(tmp_path / "job")
    frozen = study.trials[0]
    assert rec["status"] == "completed" and objective == rec["final_avg_acc"]
    assert [frozen.intermediate_values[t] for t in range(1, 6)] == pytest.approx(rec["avg_acc"])
    assert frozen.state == TrialState.RUNNING  # the sweeper, not the job, tells the end
    assert frozen.user_attrs["run_dir"] == str((tmp_path / "job").resolve())
    assert rec["trial"] == {"study_name": "st", "number": 0, "params": {"trainer.lr": 0.001}, "storage": storage}


def test_the_rebuilt_pruner_stops_a_weak_job_after_task_2(storage, tmp_path):
    study = new_study(storage)
    study.add_trial(optuna.create_trial(value=1.0, intermediate_values={t: 1.0 for t in range(1, 6)}))
    trial = study.ask()
    with pytest.raises(RunPruned, match="pruned after task 2"):
        run(job_cfg(storage, trial.number, MEDIAN), str(tmp_path / "job"))
    rec = read(tmp_path / "job")
    assert rec["status"] == "pruned" and rec["tasks_done"] == 2
    assert study.trials[1].last_step == 2 and study.trials[1].intermediate_values[2] == pytest.approx(rec["avg_acc"][1])


def test_the_last_task_is_never_pruned(tmp_path):
    storage = f"sqlite:///{tmp_path}/s.db"
    study = new_study(storage)
    study.add_trial(optuna.create_trial(value=0.0, intermediate_values={t: 0.0 for t in range(1, 6)}))
    trial = study.ask()
    pruner = {**MEDIAN, "n_warmup_steps": 5}  # the first step the pruner may judge is the last task
    study.add_trial(optuna.create_trial(value=1.0, intermediate_values={t: 1.0 for t in range(1, 6)}))
    run(job_cfg(storage, trial.number, pruner), str(tmp_path / "job"))
    assert read(tmp_path / "job")["status"] == "completed"


def test_a_job_whose_trial_was_closed_stops(tmp_path):
    storage = f"sqlite:///{tmp_path}/s.db"
    study = new_study(storage)
    trial = study.ask()
    study.tell(trial, state=TrialState.FAIL)
    with pytest.raises(TrialClosedError, match="is already FAIL"):
        run(job_cfg(storage, trial.number), str(tmp_path / "job"))
    rec = read(tmp_path / "job")
    assert rec["status"] == "failed" and rec["error"].startswith("TrialClosedError: trial 0 of study 'st'")


def test_a_job_whose_sweep_is_gone_stops(tmp_path):
    storage = f"sqlite:///{tmp_path}/s.db"
    study = new_study(storage)
    trial = study.ask()
    gone = subprocess.Popen(["true"])
    gone.wait()
    owner = Owner(Owner.current().host, gone.pid, "1").encode()
    assert Owner.decode(owner).alive() is False and Owner.current().alive() is True
    with pytest.raises(SweepGoneError, match=r"the sweep that launched trial 0 \(pid \d+ on .*\) is gone"):
        run(job_cfg(storage, trial.number, None, owner), str(tmp_path / "job"))
    assert read(tmp_path / "job")["status"] == "failed"
    assert Owner("another-host", 1, "").alive() is None  # cannot tell: the heartbeat decides


def test_a_job_for_a_missing_trial_fails_clearly(tmp_path):
    storage = f"sqlite:///{tmp_path}/s.db"
    new_study(storage)
    with pytest.raises(Exception, match="no trial 7 in study 'st'"):
        run(job_cfg(storage, 7), str(tmp_path / "job"))
