"""benchmarks/gpu_check.py, the one-command GPU check: its CPU mode at tiny sizes runs every part (so the check cannot
rot without a GPU), a failing part is reported and the command exits 1, the random-draw tape the agreement part
rests on, and the wheel pins a bare GPU machine installs (benchmarks/gpu_wheels.txt)."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import pytest
import torch

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_agree  # type: ignore[import-not-found]  # noqa: E402
import gpu_check  # type: ignore[import-not-found]  # noqa: E402


def _pins():
    lines = (ROOT / "benchmarks" / "gpu_wheels.txt").read_text().splitlines()
    return [line.split("==") for line in lines if line and not line.startswith("#")]


def test_the_wheel_pins_are_the_versions_this_project_runs_with():
    pins = _pins()
    assert {name.lower() for name, _ in pins} >= {"hydra-core", "omegaconf", "optuna", "sqlalchemy", "kornia"}
    assert {name: version for name, version in pins} == {name: importlib.metadata.version(name) for name, _ in pins}


def test_the_tape_hands_a_float64_run_the_draws_a_float32_run_made():
    tape = gpu_agree.Tape()
    with tape:
        a = torch.randn(3, 4)
        k = torch.randint(0, 5, (6,))
        torch.empty(2).normal_()
    played = gpu_agree.Tape(tape.values)
    with played:
        b = torch.randn(3, 4, dtype=torch.float64)
        j = torch.randint(0, 5, (6,))
        torch.empty(2, dtype=torch.float64).normal_()
    assert played.at == 3 and b.dtype == torch.float64
    assert torch.equal(b, a.double()) and torch.equal(j, k)
    with pytest.raises(RuntimeError, match="other random tensors"), gpu_agree.Tape(tape.values):
        torch.randn(5)


def test_a_failing_part_is_reported_the_others_run_and_the_command_exits_1(tmp_path, monkeypatch, capsys):
    out = tmp_path / "check.json"
    argv = ["gpu_check.py", "--device", "cpu", "--tiny", "--parts", "paper,nosuch", "--json", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_:
        gpu_check.main()
    assert exit_.value.code == 1
    results = json.loads(out.read_text())
    assert results["parts"]["paper"]["ok"] and results["parts"]["paper"]["pflop"] > 0
    assert not results["parts"]["nosuch"]["ok"] and "KeyError" in results["parts"]["nosuch"]["error"]
    assert results["failed"] == ["nosuch"] and results["env"]["torch"] == torch.__version__
    printed = capsys.readouterr().out
    assert "| paper | FLOPs |" in printed and "failed: nosuch" in printed


@pytest.mark.slow  # five launch.py processes and three compiled graphs: 69-96 CPU s, 104-190 s at load 5-12
def test_the_cpu_mode_runs_every_part_at_tiny_sizes(tmp_path):
    out = tmp_path / "check.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--tiny", "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    parts = results["parts"]
    assert list(parts) == list(gpu_check.PARTS) and results["failed"] == []
    agree = parts["agree"]["rows"]
    assert [r["mode"] for r in agree] == ["eager", "compiled", "batched K=2"]
    for r in agree:
        assert r["loss_rel"] <= gpu_agree.LOSS_TOL and r["param_rel"] <= gpu_agree.PARAM_TOL
    speed = parts["speed"]["rows"]
    assert {r["variant"] for r in speed} == set(gpu_check.VARIANTS) and all(r["it_per_s"] > 0 for r in speed)
    assert any(r["mode"] == "step" and r["compiles"] >= 1 and "generated_kernels" in r for r in speed)
    resume = parts["resume"]
    assert resume["equal"] and resume["max_diff"] == 0 and resume["tasks_at_kill"] < resume["n_tasks"]
    assert resume["status_at_kill"] == "running"
    assert [r["k"] for r in parts["study"]["rows"]] == [1, 4]
    assert all(r["completed"] == r["trials"] and r["per_hour"] > 0 for r in parts["study"]["rows"])
    assert parts["paper"]["pflop"] > 0 and parts["paper"]["extrapolated_s"]["off"] > 0
    assert "| resume | SIGKILL after task 1, resumed |" in done.stdout
