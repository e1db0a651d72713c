"""End-to-end training runs: the record, determinism, resume after a kill, failures. (The science check, BI-R + SI
keeping old classes where fine-tuning collapses on split digits: tests/test_report_methods.py.)"""

import os
import signal

import pytest
import torch

from birsweep.app import run
from birsweep.errors import NonFiniteLossError, ResumeError
from birsweep.tracking import record
from birsweep.train.loop.callbacks import RunCallback
from birsweep.train.loop.run import train
from tests.gate import gate, wait_until_reached
from tests.helpers import TINY, make_cfg, start


def load(run_dir):
    return record.load(run_dir)


@pytest.fixture(scope="module", autouse=True)
def held(request, tmp_path_factory):
    """A real `launch.py` held after task 2's checkpoint (tests/gate.py), the SIGKILL test's subject. Started with
    the module, so that its start (torch and Hydra imported afresh, ~6 s) runs beside the module's in-process tests
    instead of inside the one test that kills it (not at all when that test is not selected); its process group is
    killed at the module's end if that test did not kill it."""
    if not any(item.name == test_killed_process_resumes_from_its_checkpoint.__name__ for item in request.session.items):
        yield None
        return
    base = tmp_path_factory.mktemp("held")
    (base / "gates").mkdir()
    proc = start(*TINY, *gate(base / "gates", task=2), f"hydra.run.dir={base / 'cut'}", cwd=base)
    yield proc, base
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session (helpers.start)
        proc.wait()


def test_record_has_every_field(tiny_cfg, tmp_path):
    objective = run(tiny_cfg(), run_dir=str(tmp_path))
    rec = load(tmp_path)
    assert rec["status"] == "completed" and rec["error"] is None
    assert len(rec["acc_matrix"]) == 5 and all(len(r) == 5 for r in rec["acc_matrix"])
    assert rec["acc_matrix"][1][2:] == [None, None, None] and rec["acc_matrix"][1][1] is not None
    assert len(rec["avg_acc"]) == 5 and rec["final_avg_acc"] == rec["avg_acc"][-1] == pytest.approx(objective)
    assert rec["final_task_acc"] == rec["acc_matrix"][-1]
    assert rec["avg_acc"][0] == rec["acc_matrix"][0][0]
    assert rec["forgetting"] is not None and rec["bwt"] is not None
    assert rec["config"]["trainer"]["iters"] == 30 and rec["env"]["versions"]["torch"] == torch.__version__
    assert set(rec["timings"]) >= {"tasks_s", "train_s", "total_s", "it_per_s", "data_s", "features_s"}
    assert len(rec["class_order"]) == 5 and sorted(sum(rec["class_order"], [])) == list(range(10))
    # losses: every 10 iterations, replay terms from task 2 on, SI penalty once importance exists
    assert len(rec["losses"]) == 15 and rec["losses"][-1]["step"] == 150
    assert "distil_r" not in rec["losses"][0] and rec["losses"][3]["distil_r"] > 0
    assert rec["losses"][3]["si_penalty"] >= 0
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("task,avg_acc,acc_task_1") and len(lines) == 6
    assert lines[2].split(",")[1] == str(rec["avg_acc"][1])


def test_same_seed_same_numbers_other_seed_other_numbers(tiny_cfg, tmp_path, completed):
    b, c = tmp_path / "b", tmp_path / "c"
    train(tiny_cfg(), str(b))
    train(tiny_cfg("seed=1"), str(c))
    ra, rb, rc = load(completed), load(b), load(c)
    assert ra["acc_matrix"] == rb["acc_matrix"] and ra["losses"] == rb["losses"]
    assert ra["losses"] != rc["losses"] and ra["class_order"] != rc["class_order"]


class KillAfter(RunCallback):
    def __init__(self, task):
        self.task = task

    def on_task_end(self, end):
        if end.task == self.task:
            raise KeyboardInterrupt


def test_interrupted_run_resumes_to_the_same_record(tiny_cfg, tmp_path, completed):
    cut = str(tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        train(tiny_cfg(), cut, callbacks=[KillAfter(2)])
    partial = load(cut)
    assert partial["status"] == "interrupted" and partial["error"] == "interrupted by SIGINT"
    assert partial["tasks_done"] == 2
    train(tiny_cfg(), cut)  # resume=auto
    a, b = load(completed), load(cut)
    assert b["status"] == "completed" and b["resumed_from_task"] == 2
    for key in ("acc_matrix", "avg_acc", "final_avg_acc", "forgetting", "bwt", "losses"):
        assert a[key] == b[key], key


def test_resume_refuses_a_changed_config_and_a_missing_checkpoint(tiny_cfg, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        train(tiny_cfg(), str(tmp_path), callbacks=[KillAfter(1)])
    with pytest.raises(ResumeError, match="trainer.iters: 30 -> 31"):
        train(tiny_cfg("trainer.iters=31"), str(tmp_path))
    train(tiny_cfg("trainer.iters=31", "resume=false"), str(tmp_path))
    assert load(tmp_path)["status"] == "completed"
    with pytest.raises(ResumeError, match="no checkpoint"):
        train(tiny_cfg("resume=true"), str(tmp_path / "empty"))


def test_nan_loss_fails_with_its_reason(tiny_cfg, tmp_path, monkeypatch):
    import birsweep.methods.bir_losses as L

    real = L.recon_loss
    monkeypatch.setattr(L, "recon_loss", lambda x, r, bce: real(x, r, bce) * float("nan"))
    with pytest.raises(NonFiniteLossError, match="became nan in task 1"):
        train(tiny_cfg(), str(tmp_path))
    rec = load(tmp_path)
    assert rec["status"] == "failed" and "NonFiniteLossError" in rec["error"]


def test_bf16_autocast_runs_and_stays_close(tiny_cfg, tmp_path):
    a = train(tiny_cfg(), str(tmp_path / "fp32"))
    b = train(tiny_cfg("trainer.precision=bf16"), str(tmp_path / "bf16"))
    rec = load(tmp_path / "bf16")
    assert rec["status"] == "completed" and rec["config"]["trainer"]["precision"] == "bf16"
    assert abs(a - b) < 0.25 and load(tmp_path / "fp32")["losses"] != rec["losses"]


def test_killed_process_resumes_from_its_checkpoint(held, completed):
    """SIGKILL the held `launch.py` (the module's fixture); the run it was (`train`, what the same command runs
    again) resumes to the uninterrupted record. One real process: the resume runs in-process (the re-run command
    itself: test_faults_run.py's SIGTERM test). Last in the module: the process has had the module's time to start."""
    proc, base = held
    try:
        wait_until_reached(base / "gates", "cut", lambda: proc.poll() is None, (base / "launch.out").read_text)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    cut_dir = base / "cut"
    killed = load(cut_dir)
    assert killed["status"] == "running" and killed["tasks_done"] == 2
    train(make_cfg(TINY), str(cut_dir))
    a, b = load(completed), load(cut_dir)
    assert b["status"] == "completed" and b["resumed_from_task"] == 2  # resumed, not trained again
    assert a["acc_matrix"] == b["acc_matrix"] and a["losses"] == b["losses"]
