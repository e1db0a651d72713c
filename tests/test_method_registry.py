"""A new method is one module and one YAML file (tests/toy_method.py, tests/conf/method/toy_rehearsal.yaml): composed,
checked, trained, checkpointed and found in the report's methods table; and every built-in method is registered."""

import importlib
import sys
from dataclasses import dataclass

import pytest
from hydra import compose, initialize_config_dir

from analysis.report import build_report
from analysis.report_methods import method_table
from analysis.runs import load_runs
from birsweep import schema
from birsweep.config_check import check_config
from birsweep.errors import ConfigError
from birsweep.methods import method_registry
from birsweep.methods.method_api import NoKeys
from birsweep.methods.method_registry import MethodSpec, method_specs, register_method
from birsweep.train.loop import checkpoint
from birsweep.train.loop.run import train
from tests.helpers import CONF, ROOT, TINY, make_cfg
from tests.test_analysis_report import Page

SEARCHPATH = f"hydra.searchpath=[file://{ROOT / 'tests' / 'conf'}]"  # where the test's method YAML lives


@pytest.fixture
def with_toy_method(monkeypatch):
    """tests/toy_method.py registered and its YAML on Hydra's search path; undone after."""
    method_specs()  # the built-in methods first, so the copy below holds them
    monkeypatch.setattr(method_registry, "_REGISTRY", dict(method_registry._REGISTRY))
    monkeypatch.delitem(sys.modules, "tests.toy_method", raising=False)
    importlib.import_module("tests.toy_method")
    schema.register_configs()

    def cfg(*overrides):
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            return compose("config", overrides=[SEARCHPATH, *overrides])

    yield cfg
    monkeypatch.undo()
    schema.register_configs()
    assert "memory_per_task" not in make_cfg().method  # the schema is back to the built-in methods


def test_the_built_in_methods_are_registered_in_the_reports_order():
    names = [spec.name for spec in method_specs()]
    assert names == ["none", "lwf", "ewc", "si", "gr", "bir", "bir_si", "joint"]
    for name in names:  # each has its YAML, which selects it
        assert make_cfg([f"method={name}"]).method.kind == name


def test_the_new_method_is_composed_and_checked_with_one_line(with_toy_method):
    cfg = with_toy_method(*TINY, "method=toy_rehearsal")
    assert cfg.method.kind == "toy_rehearsal" and cfg.method.memory_per_task == 10
    check_config(cfg)
    with pytest.raises(ConfigError, match=r"method.memory_per_task=0 is out of range \[1, inf\)"):
        check_config(with_toy_method(*TINY, "method=toy_rehearsal", "method.memory_per_task=0"))
    with pytest.raises(ConfigError, match="method.memory_per_task=5 is a key of method=toy_rehearsal"):
        check_config(with_toy_method(*TINY, "method=none", "method.memory_per_task=5"))
    with pytest.raises(ConfigError, match="toy_rehearsal replays nothing to label"):  # its own rule
        check_config(with_toy_method(*TINY, "method=toy_rehearsal", "method.targets=hard"))


@dataclass
class Clashing:
    memory_per_task: int = 3


def test_a_key_belongs_to_one_method(with_toy_method):
    with pytest.raises(ValueError, match="method.memory_per_task is already a key of toy_rehearsal"):
        register_method(MethodSpec("other", "Other", Clashing, lambda tk: None, order=1))
    register_method(MethodSpec("other", "Other", NoKeys, lambda tk: None, order=1))  # a method without keys is fine


@pytest.mark.slow  # two tiny runs and a report: about 10 s alone, more on a shared machine
def test_the_new_method_trains_and_is_in_the_reports_methods_table(with_toy_method, tmp_path):
    short = [*TINY, "trainer.max_tasks=3", "eval_gen.enabled=false", "diagnostics.enabled=false"]
    for method in ("toy_rehearsal", "none"):
        cfg = with_toy_method(*short, f"method={method}")
        check_config(cfg)
        assert 0.0 <= train(cfg, str(tmp_path / method)) <= 1.0
    state = checkpoint._read(checkpoint.path_in(str(tmp_path / "toy_rehearsal")))["method"]
    assert [len(m) for m in state["memory"]] == [10, 10, 10]  # its own state, saved after each task
    table = method_table(load_runs(str(tmp_path)))
    assert list(table["label"]) == ["None", "Toy rehearsal"]  # the registry's label and order
    build_report([str(tmp_path)], out=str(tmp_path / "report.html"))
    page = Page()
    page.feed((tmp_path / "report.html").read_text())
    assert "methods" in page.ids and "Toy rehearsal" in page.cells
