"""The run record's one home: loading with errors that name the file, the tolerant loader, closing stale records,
and the status words defined once."""

import json
import pickle

import pytest

from analysis.runs import STATE_OF_STATUS, load_runs
from birsweep.errors import BirsweepError, RunPruned
from birsweep.loggers.wandb_logger import EXIT_CODES
from birsweep.tracking import record
from birsweep.tracking.record import RecordError, RunRecord
from birsweep.tracking.record_fields import RunStatus, TrialInfo
from birsweep.train.loop.callbacks import TaskEnd


def finished(run_dir, status=RunStatus.COMPLETED, error=None) -> RunRecord:
    rec = RunRecord(str(run_dir), 2, {"seed": 0}, {})
    rec.add_task([0.9], 1.0)
    rec.add_task([0.7, 0.8], 2.0)
    rec.finish(status, error)
    return rec


@pytest.mark.parametrize(
    "content, why",
    [
        (None, "no such file"),
        ('{"status": "completed", "acc', "not valid JSON"),
        ("[1, 2]", "a JSON list, not an object"),
        ('{"acc_matrix": []}', "no 'status'"),
    ],
)
def test_load_names_the_file_and_what_is_wrong(tmp_path, content, why):
    if content is not None:
        (tmp_path / record.RESULTS).write_text(content)
    path = str(tmp_path / record.RESULTS)
    with pytest.raises(RecordError) as err:
        record.load(tmp_path)
    message = str(err.value)
    assert isinstance(err.value, BirsweepError) and "\n" not in message
    assert message.startswith(f"run record {path}: ") and why in message
    assert record.try_load(tmp_path) == (None, message)


def test_load_reads_back_what_the_record_wrote(tmp_path):
    rec = finished(tmp_path)
    for where in (tmp_path, str(tmp_path), rec.path):
        assert record.load(where) == json.loads(json.dumps(rec.data))
    data, reason = record.try_load(tmp_path)
    assert reason is None and data["status"] == "completed" and data["avg_acc"] == [0.9, 0.75]


def test_analysis_skips_a_bad_record_with_a_warning_naming_it(tmp_path):
    finished(tmp_path / "good")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / record.RESULTS).write_text("[]")
    with pytest.warns(UserWarning, match=r"skipping run record .*bad/results\.json: a JSON list"):
        runs = load_runs(tmp_path)
    assert list(runs["run_dir"]) == [str(tmp_path / "good")]


def test_mark_stale_fails_a_running_record_and_leaves_finished_ones_alone(tmp_path):
    running = RunRecord(str(tmp_path / "cut"), 2, {}, {})
    running.add_task([0.5], 1.0)
    running.save()
    assert record.mark_stale(tmp_path / "cut", "left RUNNING: its sweep stopped") is True
    cut = record.load(tmp_path / "cut")
    assert cut["status"] == "failed" and cut["error"] == "SweepStopped: left RUNNING: its sweep stopped"
    assert cut["finished_at"] is not None and cut["acc_matrix"] == running.data["acc_matrix"]

    done = finished(tmp_path / "done")
    before = (tmp_path / "done" / record.RESULTS).read_text()
    assert record.mark_stale(tmp_path / "done", "left RUNNING") is False
    assert (tmp_path / "done" / record.RESULTS).read_text() == before
    assert record.load(tmp_path / "done")["status"] == done.data["status"] == "completed"
    assert record.mark_stale(tmp_path / "none", "left RUNNING") is False  # no record: nothing to close
    assert not (tmp_path / "none").exists()


def test_the_status_enum_is_the_only_list_of_status_words(tmp_path):
    assert [s.value for s in RunStatus] == ["running", "completed", "failed", "pruned", "interrupted"]
    # every other table is keyed by the enum and covers each member
    assert set(STATE_OF_STATUS) == {s.value for s in RunStatus}
    assert STATE_OF_STATUS == {
        "running": "RUNNING",
        "completed": "COMPLETE",
        "failed": "FAIL",
        "pruned": "PRUNED",
        "interrupted": "FAIL",
    }
    assert set(EXIT_CODES) == set(RunStatus) and EXIT_CODES[RunStatus.PRUNED] == 0
    # the record stores the plain word, which compares equal to the member
    rec = finished(tmp_path, RunStatus.PRUNED, "pruned by the study's pruner")
    assert rec.data["status"] == "pruned" and type(rec.data["status"]) is str and rec.status is RunStatus.PRUNED
    assert '"status": "pruned"' in (tmp_path / record.RESULTS).read_text()
    with pytest.raises(ValueError):
        rec.finish("aborted")


def test_what_callbacks_return_is_what_the_record_keeps(tmp_path):
    rec = finished(tmp_path)
    rec.set_trial(TrialInfo(study_name="st", number=3, params={"trainer.lr": 0.001}, storage="sqlite:///s.db"))
    assert list(rec.data["trial"]) == ["study_name", "number", "params", "storage"]
    assert rec.data["trial"]["number"] == 3
    end = TaskEnd.of(rec.view(), 2)
    assert (end.task, end.n_tasks, end.avg_acc, end.accuracies, end.seconds) == (2, 2, 0.75, (0.7, 0.8), 2.0)
    assert rec.add_losses(1, 10, 10, {"loss": 0.1234567891}) == {"loss": 0.123457}
    assert rec.data["losses"][-1] == {"task": 1, "iter": 10, "step": 10, "loss": 0.123457}
    view = rec.view()
    with pytest.raises(TypeError):
        view["status"] = "failed"  # type: ignore[index]


def test_run_pruned_survives_the_trip_back_from_a_worker_process():
    err = pickle.loads(pickle.dumps(RunPruned("pruned after task 2: average accuracy 0.5000")))
    assert isinstance(err, RunPruned) and str(err) == "pruned after task 2: average accuracy 0.5000"


def test_the_sweeper_tells_pruned_for_a_job_that_raised_run_pruned():
    from hydra.core.utils import JobReturn, JobStatus
    from optuna.trial import TrialState

    from birsweep.sweep.search.outcome import outcome_of

    # as Hydra's run_job keeps a job's exception, pickled back from a joblib worker
    ret = JobReturn(status=JobStatus.FAILED, _return_value=RunPruned("pruned after task 2: average accuracy 0.5"))
    outcome = outcome_of(pickle.loads(pickle.dumps(ret)))
    assert outcome.state == TrialState.PRUNED and outcome.reason == "pruned after task 2: average accuracy 0.5"
    failed = outcome_of(JobReturn(status=JobStatus.FAILED, _return_value=ValueError("boom")))
    assert failed.state == TrialState.FAIL and failed.reason == "ValueError: boom"
