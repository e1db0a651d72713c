"""Options that would silently cost a lot say so: bf16 on a CPU without bf16 units; benchmarks stand alone."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest
import torch

from birsweep import device
from birsweep.methods.si import SynapticIntelligence
from birsweep.models.bir import BIRNet
from birsweep.train.step.eager import TrainStep

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def flags(monkeypatch):
    """Pretend the CPU has the given feature flags; the once-per-process memory starts empty."""
    device.warn_slow_bf16.cache_clear()
    yield lambda *names: monkeypatch.setattr(device, "cpu_flags", lambda: set(names))
    device.warn_slow_bf16.cache_clear()


def _step(precision: str) -> TrainStep:
    model = BIRNet(8, 4, 3, 16, 16, 4)
    opt = torch.optim.Adam(model.parameters())
    return TrainStep(model, opt, SynapticIntelligence(model.si_parameters(), 1.0, 0.1), 8, 2.0, [], precision)


def test_bf16_without_bf16_units_warns_once(flags, caplog):
    flags("fpu", "avx2", "avx512f")
    with caplog.at_level(logging.WARNING, logger="birsweep.device"):
        _step("bf16")
        _step("bf16")
    warnings = [r.getMessage() for r in caplog.records if "trainer.precision=bf16" in r.getMessage()]
    assert len(warnings) == 1 and "avx512_bf16 or amx_bf16" in warnings[0] and "precision=32" in warnings[0]


@pytest.mark.parametrize(
    "cpu, precision",
    [
        (("avx2", "avx512f", "avx512_bf16"), "bf16"),  # bf16 units
        (("avx2", "amx_bf16"), "bf16"),
        (("avx2",), "32"),  # fp32: nothing to say
        ((), "bf16"),  # no /proc/cpuinfo (not Linux): nothing we can judge
        (("fp", "asimd", "bf16"), "bf16"),  # an ARM CPU
    ],
)
def test_no_warning_where_bf16_is_fine(flags, caplog, cpu, precision):
    flags(*cpu)
    with caplog.at_level(logging.WARNING, logger="birsweep.device"):
        _step(precision)
    assert not [r for r in caplog.records if "bf16" in r.getMessage()]


def test_benchmarks_do_not_import_the_tests():
    """tests/conftest.py sets the thread count on import: a benchmark importing it would ignore --threads."""
    for path in BENCHMARKS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not [n for n in names if n.split(".")[0] in ("tests", "conftest", "helpers")], path.name
