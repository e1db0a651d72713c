"""The W&B logger against real offline runs: what the .wandb file holds must match the run record."""

from __future__ import annotations

import glob
import json
import logging
import os

import numpy as np
import pytest
import torch
from PIL import Image

from analysis.wandb_offline import find_runs, history_of, read_run
from birsweep.errors import ConfigError, RunPruned
from birsweep.loggers.wandb_logger import WandbLogger
from birsweep.loggers.wandb_names import run_name
from birsweep.loggers.wandb_samples import generate
from birsweep.models.bir import BIRNet
from birsweep.schema import TrialConfig
from birsweep.tracking import record as run_record
from birsweep.tracking.record import RunRecord
from birsweep.train.loop.callbacks import RunCallback
from birsweep.train.loop.run import train
from tests.helpers import SMALL_WANDB, make_cfg

WANDB = SMALL_WANDB  # 3 tasks of 2 classes keep each offline run short


@pytest.fixture(autouse=True)
def _offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-default"))  # must stay unused: runs go to the job dir
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE")  # conftest disables W&B; here logger.mode decides
    # train() is called directly (not through app.run, which applies trainer.threads): one thread, as the
    # W&B service process shares the cores
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def only_run(job_dir) -> dict:
    runs = find_runs(str(job_dir))
    assert len(runs) == 1, runs
    assert runs[0].startswith(os.path.join(str(job_dir), "wandb", "offline-run-"))
    return read_run(runs[0], wait=60)


def results(job_dir) -> dict:
    return run_record.load(job_dir)


class RaiseAt(RunCallback):
    """Stands in for the sweeper's trial handle (listed before the logger): raise after task ``task``."""

    def __init__(self, task: int, exc: BaseException):
        self.task, self.exc = task, exc

    def on_task_end(self, end):
        if end.task == self.task:
            raise self.exc


def assert_mirrors(wb: dict, rec: dict) -> None:
    """Every loss row, every per-task accuracy and the summary of the record are in the W&B run."""
    by_step = {}
    for row in wb["history"]:
        by_step.setdefault(row["_step"], {}).update(row)
    for loss in rec["losses"]:
        row = by_step[loss["step"]]
        assert row["task"] == loss["task"]
        for key, value in loss.items():
            if key not in ("task", "iter", "step"):
                assert row[f"train/{key}"] == value, (loss["step"], key)
    acc_rows = [row for row in wb["history"] if "acc/avg" in row]
    assert [r["task"] for r in acc_rows] == list(range(1, rec["tasks_done"] + 1))
    for t, row in enumerate(acc_rows):
        assert row["acc/avg"] == pytest.approx(rec["avg_acc"][t])
        for k in range(t + 1):
            assert row[f"acc/task_{k + 1}"] == pytest.approx(rec["acc_matrix"][t][k])
        assert f"acc/task_{t + 2}" not in row
        assert row["time/task_s"] == pytest.approx(rec["timings"]["tasks_s"][t])
    for key in ("status", "final_avg_acc", "forgetting", "bwt", "tasks_done", "error"):
        assert wb["summary"][key] == (pytest.approx(rec[key]) if isinstance(rec[key], float) else rec[key]), key


def test_offline_run_mirrors_the_record(tmp_path):
    cfg = make_cfg(WANDB + ["logger.tags=[mine]"])
    job = tmp_path / "job"
    train(cfg, str(job), [WandbLogger(cfg)])
    rec, wb = results(job), only_run(job)
    assert rec["status"] == "completed"
    assert wb["exit_code"] == 0
    assert wb["run"]["name"] == "bir_si-baseline-s0"
    assert wb["run"]["group"] == cfg.experiment_name == "synthetic-bir_si-baseline"
    assert wb["run"]["job_type"] == "baseline"
    assert wb["run"]["project"] == "birsweep"
    assert set(wb["run"]["tags"]) == {"mine", "baseline", "synthetic"}
    assert len(rec["losses"]) == 9  # 3 tasks x 30 its, every 10
    assert_mirrors(wb, rec)
    # the resolved config as the record holds it
    config = dict(wb["config"])
    assert config.pop("run_dir") == rec["run_dir"]
    assert config == rec["config"]
    # losses are charted against the global iteration
    assert [s for s, _ in history_of(wb, "train/loss")] == [row["step"] for row in rec["losses"]]
    # the accuracy matrix as a table and a heatmap image
    files = os.path.dirname(wb["path"]) + "/files"
    table_path = os.path.join(files, wb["summary"]["acc_matrix/path"])
    with open(table_path) as f:
        table = json.load(f)
    assert table["columns"] == ["after_task"] + [f"task_{k}" for k in range(1, 4)]
    assert [row[1:] for row in table["data"]] == rec["acc_matrix"]
    heatmap = Image.open(os.path.join(files, wb["summary"]["acc_matrix_heatmap/path"]))
    assert heatmap.size[0] > 200 and heatmap.size[1] > 150
    assert wb["summary"]["train_s"] == pytest.approx(rec["timings"]["train_s"])
    assert not os.path.exists(tmp_path / "wandb-default")


def test_sweep_job_groups_by_study_masks_the_storage_password_and_records_the_trial(tmp_path):
    cfg = make_cfg(WANDB + ["variant=repulsion", "seed=3"])
    cfg.optuna = TrialConfig(
        storage="postgresql://alice:hunter2secret@db.example:5432/optuna",
        study_name="rep-study",
        trial_number=7,
        params={"variant.repulsion.lamda_rep": 1e-5, "variant.rep_f": 12.0},
    )
    job = tmp_path / "job"
    train(cfg, str(job), [WandbLogger(cfg)])
    wb = only_run(job)
    assert wb["run"]["group"] == "rep-study"
    assert wb["run"]["job_type"] == "repulsion"
    assert wb["run"]["name"] == "bir_si-repulsion-s3-t7"
    assert "sweep" in wb["run"]["tags"]
    assert wb["summary"]["trial_number"] == 7 and wb["summary"]["study_name"] == "rep-study"
    assert wb["summary"]["params.variant.repulsion.lamda_rep"] == pytest.approx(1e-5)
    assert wb["summary"]["params.variant.rep_f"] == 12.0
    assert wb["config"]["optuna"]["storage"] == "postgresql://alice:***@db.example:5432/optuna"
    for path in glob.glob(str(job / "wandb" / "**" / "*"), recursive=True):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                assert b"hunter2secret" not in f.read(), path


def test_pruned_run_is_finished_with_its_status_and_every_finished_task(tmp_path):
    cfg = make_cfg(WANDB)
    job = tmp_path / "job"
    with pytest.raises(RunPruned):
        train(cfg, str(job), [RaiseAt(2, RunPruned("pruned after task 2")), WandbLogger(cfg)])
    rec, wb = results(job), only_run(job)
    assert rec["status"] == "pruned" and rec["tasks_done"] == 2
    assert wb["exit_code"] == 0
    assert wb["summary"]["status"] == "pruned"
    assert "pruned" in wb["run"]["tags"]
    # task 2 ended in the handle before the logger saw it: sent at the end all the same
    assert_mirrors(wb, rec)
    assert wb["summary"]["final_avg_acc"] is None


def test_failure_before_start_still_gives_one_finished_failed_run(tmp_path):
    cfg = make_cfg(WANDB[:] + ["data=mnist", f"data.root={tmp_path / 'nodata'}", "data.download=false"])
    job = tmp_path / "job"
    with pytest.raises(Exception):
        train(cfg, str(job), [WandbLogger(cfg)])
    wb = only_run(job)
    assert not (job / "results.json").exists()  # a run that never started writes no record (docs/faults.md)
    assert wb["exit_code"] == 1
    assert wb["summary"]["status"] == "failed" and wb["summary"]["error"].startswith("DataNotFoundError")
    assert "failed" in wb["run"]["tags"]


def test_wandb_failures_warn_and_training_goes_on(tmp_path, monkeypatch, caplog):
    import wandb

    def broken_init(**kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(wandb, "init", broken_init)
    cfg = make_cfg(WANDB)
    with caplog.at_level(logging.WARNING):
        train(cfg, str(tmp_path / "a"), [WandbLogger(cfg)])
    assert results(tmp_path / "a")["status"] == "completed"
    assert "W&B init failed (OSError: No space left on device)" in caplog.text
    monkeypatch.undo()

    # a failure in the middle of the run: the logger gives up, the run is still finished, training completes
    logger = WandbLogger(cfg)
    calls = {"n": 0}

    class FlakyLog(RunCallback):
        def on_losses(self, step, task, values):
            calls["n"] += 1
            if calls["n"] == 4:
                logger.run.log = _raise  # the next W&B call fails

    def _raise(*args, **kwargs):
        raise ConnectionError("service went away")

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        train(cfg, str(tmp_path / "b"), [FlakyLog(), logger])
    assert results(tmp_path / "b")["status"] == "completed"
    assert "W&B log failed (ConnectionError: service went away)" in caplog.text
    assert logger.broken and logger.run is None
    wb = only_run(tmp_path / "b")
    assert wb["exit_code"] == 1  # W&B's copy is marked as broken; the record is the source of truth
    assert len(history_of(wb, "train/loss")) == 3


def test_interrupted_then_resumed_job_logs_the_whole_history(tmp_path):
    cfg = make_cfg(WANDB)
    job = tmp_path / "job"
    with pytest.raises(KeyboardInterrupt):
        train(cfg, str(job), [RaiseAt(2, KeyboardInterrupt()), WandbLogger(cfg)])
    first = find_runs(str(job))
    assert len(first) == 1 and read_run(first[0], wait=60)["exit_code"] == 1
    train(cfg, str(job), [WandbLogger(cfg)])
    rec = results(job)
    assert rec["status"] == "completed" and rec["resumed_from_task"] == 2
    second = [r for r in find_runs(str(job)) if r not in first]
    assert len(second) == 1
    assert_mirrors(read_run(second[0], wait=60), rec)


def test_disabled_mode_and_bad_name_format(tmp_path, monkeypatch):
    cfg = make_cfg(WANDB + ["logger.mode=disabled"])
    train(cfg, str(tmp_path / "job"), [WandbLogger(cfg)])
    assert results(tmp_path / "job")["status"] == "completed"
    assert not os.path.exists(tmp_path / "job" / "wandb") or not find_runs(str(tmp_path / "job"))
    # WANDB_MODE in the environment wins over logger.mode (how tests and CI keep W&B off)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    cfg = make_cfg(WANDB)
    assert WandbLogger(cfg).mode == "disabled"
    train(cfg, str(tmp_path / "job2"), [WandbLogger(cfg)])
    assert results(tmp_path / "job2")["status"] == "completed" and not find_runs(str(tmp_path / "job2"))
    with pytest.raises(ConfigError, match="logger.samples_per_class=0 must be at least 1"):
        WandbLogger(make_cfg(WANDB + ["logger.samples_per_class=0"]))
    with pytest.raises(ConfigError, match=r"unknown field \{trail\}"):
        WandbLogger(make_cfg(WANDB + ["logger.name_format='{variant}{trail}'"]))
    assert (
        run_name(make_cfg(WANDB + ["logger.name_format='{experiment}/{data}-{seed}'", "seed=4"]))
        == "synthetic-bir_si-baseline/synthetic-4"
    )


def _started_logger(cfg, tmp_path, n_tasks, class_order):
    record = RunRecord(str(tmp_path / "job"), n_tasks, {"seed": 0}, {})
    record.data["class_order"] = class_order
    logger = WandbLogger(cfg)
    logger.on_start(record.view())
    return logger, record


def test_replayed_images_for_pixel_models_leave_the_run_rng_alone(tmp_path):
    cfg = make_cfg(WANDB + ["logger.samples_per_class=3"])
    class_order = [[3, 7], [0, 9], [1, 2], [4, 5], [6, 8]]
    logger, record = _started_logger(cfg, tmp_path, 5, class_order)
    model = BIRNet(64, 10, 3, 32, 32, 8, 0.5, bce=True)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    logger.on_model(2, model, (1, 8, 8))
    assert torch.equal(state, torch.get_rng_state())
    logger.on_end(record.view())
    wb = only_run(tmp_path / "job")
    row = [r for r in wb["history"] if "samples/replay/path" in r][0]
    assert row["task"] == 2
    assert "3, 7, 0, 9" in row["samples/replay/caption"]
    grid = np.asarray(Image.open(os.path.join(os.path.dirname(wb["path"]), "files", row["samples/replay/path"])))
    # 4 classes x 3 samples of 8x8 pixels shown 4x larger (32 px) with a 1 px border
    assert grid.shape[:2] == (4 * 33 + 1, 3 * 33 + 1)
    # the same samples again: the logger's generator is seeded by seed and task
    a = generate(model, torch.arange(4), int(logger.cfg.seed), 2)
    b = generate(model, torch.arange(4), int(logger.cfg.seed), 2)
    assert torch.equal(a, b) and a.shape == (4, 64) and 0 <= float(a.min()) and float(a.max()) <= 1


def test_hidden_replay_logs_class_prior_statistics(tmp_path):
    cfg = make_cfg(
        WANDB
        + [
            "model=bir_conv",
            "model.encoder.weights=random",
            "data.synthetic.shape=[3,32,32]",
            "data.synthetic.n_classes=20",
            "data.n_tasks=4",
        ]
    )
    logger, record = _started_logger(cfg, tmp_path, 4, [[i, i + 1, i + 2, i + 3, i + 4] for i in range(0, 20, 5)])
    model = BIRNet(1024, 20, 3, 32, 32, 6, 0.6)
    logger.on_model(3, model, (3, 32, 32))
    logger.on_end(record.view())
    wb = only_run(tmp_path / "job")
    row = [r for r in wb["history"] if "samples/prior/path" in r][0]
    assert "15 classes" in row["samples/prior/caption"]
    assert os.path.getsize(os.path.join(os.path.dirname(wb["path"]), "files", row["samples/prior/path"])) > 10_000


def test_training_loop_sends_the_model_after_each_task(tmp_path):
    cfg = make_cfg(WANDB)
    job = tmp_path / "job"
    train(cfg, str(job), [WandbLogger(cfg)])
    wb = only_run(job)
    assert [r["task"] for r in wb["history"] if "samples/replay/path" in r] == [1, 2, 3]
    assert_mirrors(wb, results(job))


def test_logging_never_changes_the_run_numbers(tmp_path):
    """Sample grids are drawn from the logger's own generator: the same seed gives the same record with W&B."""
    cfg = make_cfg(WANDB)
    train(cfg, str(tmp_path / "with"), [WandbLogger(cfg)])
    train(cfg, str(tmp_path / "without"), [])
    a, b = results(tmp_path / "with"), results(tmp_path / "without")
    assert a["acc_matrix"] == b["acc_matrix"] and a["losses"] == b["losses"]
