"""The ``method`` group end to end: every method runs and is named in its record, the methods with extra state
resume to the numbers of an uninterrupted run, and a variant on a method without BI-R replay stops at start. (Every
method through a real ``launch.py -m``: tests/test_report_methods.py's comparison on split digits.)"""

from __future__ import annotations

import pytest

from birsweep.config_check import check_config
from birsweep.errors import ConfigError
from birsweep.tracking import record
from birsweep.train.loop.callbacks import RunCallback, TaskEnd
from birsweep.train.loop.run import train
from tests.helpers import TINY, cli, make_cfg

METHODS = ("bir_si", "bir", "gr", "lwf", "si", "ewc", "none", "joint")
SHORT = [*TINY, "trainer.iters=12", "trainer.log_every=6"]
# loss keys a method logs from task 2 on (its replay or regulariser is really there)
FROM_TASK_2 = {
    "bir_si": {"distil_r", "si_penalty"},
    "bir": {"distil_r"},
    "gr": {"pred_r", "gen_recon_r"},
    "lwf": {"distil_r"},
    "si": {"si_penalty"},
    "ewc": {"ewc_penalty"},
    "none": set(),
    "joint": set(),
}


@pytest.mark.parametrize("method", METHODS)
def test_each_method_runs_and_is_named_in_its_record(method, tmp_path):
    cfg = make_cfg([*SHORT, f"method={method}"])
    train(cfg, str(tmp_path))
    rec = record.load(tmp_path)
    assert rec["status"] == "completed" and len(rec["avg_acc"]) == 5
    assert rec["config"]["method"]["name"] == method
    assert rec["config"]["experiment_name"] == f"synthetic-{method}-baseline"
    first, last = rec["losses"][0], rec["losses"][-1]
    assert not (FROM_TASK_2[method] & set(first)), first
    assert FROM_TASK_2[method] <= set(last), last
    if FROM_TASK_2[method] - {"si_penalty"}:
        assert all(last[k] > 0 for k in FROM_TASK_2[method] - {"si_penalty"})


def test_method_settings_come_from_the_protocol():
    digits = {m: make_cfg(["data=digits", f"method={m}"]) for m in ("si", "ewc", "bir", "bir_si")}
    assert digits["si"].model.si_c == 0.1 and digits["ewc"].method.ewc_lambda == 1e5
    assert digits["bir"].model.dg_prop == 0.8 and digits["bir"].model.si_c == 0
    cifar = {m: make_cfg([f"method={m}"]) for m in ("si", "ewc", "bir", "bir_si")}
    assert cifar["si"].model.si_c == 1.0 and cifar["ewc"].method.ewc_lambda == 1.0
    assert cifar["bir"].model.dg_prop == 0.7 and cifar["bir_si"].model.dg_prop == 0.6
    assert cifar["bir_si"].model.si_c == 1e8 and cifar["ewc"].method.fisher_n == 1000


class _StopAfter(RunCallback):
    def __init__(self, task: int):
        self.task = task

    def on_task_end(self, end: TaskEnd) -> None:
        if end.task == self.task:
            raise KeyboardInterrupt


@pytest.mark.parametrize("method", ["ewc", "gr", "joint"])
def test_a_stopped_run_resumes_to_the_uninterrupted_numbers(method, tmp_path):
    cfg = make_cfg([*SHORT, f"method={method}"])
    train(cfg, str(tmp_path / "full"))
    with pytest.raises(KeyboardInterrupt):
        train(cfg, str(tmp_path / "cut"), [_StopAfter(2)])
    assert record.load(tmp_path / "cut")["tasks_done"] == 2
    train(cfg, str(tmp_path / "cut"))
    a, b = record.load(tmp_path / "full"), record.load(tmp_path / "cut")
    assert b["status"] == "completed" and a["acc_matrix"] == b["acc_matrix"] and a["losses"] == b["losses"]


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (["variant=repulsion", "method=ewc"], "variant.repulsion acts on the BI-R model's replayed samples"),
        (["variant=contrastive", "method=gr"], "which method=gr does not have"),
        (["method.ewc_lambda=1"], "method.ewc_lambda=1.0 is a key of method=ewc, which method=bir_si does not read"),
        (["method=none", "method.feedback=false"], "method.feedback=false is a key of method=bir"),
        (["method.kind=bi_r"], "method.kind='bi_r' is not a registered method"),
        (["method=lwf", "trainer.precision=bf16"], "apply to BI-R's step; method=lwf"),
    ],
)
def test_combinations_a_method_cannot_run_are_refused(overrides, fragment):
    with pytest.raises(ConfigError, match=fragment):
        check_config(make_cfg(overrides))


def test_a_variant_on_a_method_without_bir_replay_stops_with_one_line(tmp_path):
    out = cli(*TINY, "method=ewc", "variant=repulsion", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert out.returncode == 2 and len(errors) == 1 and "method=ewc" in errors[0], out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "run" / record.RESULTS).exists()
