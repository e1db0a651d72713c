"""Shared fixtures: caches and W&B in temp dirs, tiny configs; the helpers themselves live in tests/helpers.py."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest
import torch

from tests.helpers import TINY, cli, make_cfg


def _threads_per_worker() -> int:
    """The cores shared out among pytest-xdist's workers (2 workers on 2 cores: 1 each), at most 2: the tiny
    models gain nothing from more, and an oversubscribed core slows every worker."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, min(2, (os.cpu_count() or 1) // workers))


THREADS = _threads_per_worker()
torch.set_num_threads(THREADS)
# the launch.py processes the tests start inherit it, a value set outside replaced; set, not defaulted: pytest-xdist's
# workers inherit the environment of the controller, which has no worker count and would hand its 2 threads to every
# process a worker starts, 2 workers x 2 threads on 2 cores (OpenMP oversubscribed, the slow tier's runs 2-4x slower)
os.environ["OMP_NUM_THREADS"] = str(THREADS)


def pytest_configure(config):
    """What every worker imports on first use anyway, once: torch._dynamo (~2 s, through the first optimizer's
    add_param_group even in eager mode), W&B's client and matplotlib. Imported with the worker, the first test to
    train, log or plot does not carry them in its duration."""
    if config.getoption("numprocesses", None) and not hasattr(config, "workerinput"):
        return  # pytest-xdist's controller runs no test
    for module in ("torch._dynamo", "wandb", "matplotlib.figure"):
        importlib.import_module(module)


# The files that take longest, longest first (measured with --durations, both tiers). pytest-xdist's --dist loadfile
# hands files out in collection order (the Makefile turns off its reordering by test count): started first, a long
# file runs beside the many short ones instead of alone at the end. A file missing here only starts later.
LONGEST_FIRST = (
    "test_sweep_slurm.py",  # mostly waits on SLURM: about 3 minutes
    "test_campaign.py",  # the slow tier's longest: a campaign stopped and resumed, ...
    "test_report_methods.py",
    "test_gpu_check.py",  # ... 8 methods through the report, the GPU check's CPU mode
    "test_analysis_report.py",  # builds the grid sweep (tests/test_analysis_fixtures.py) ...
    "test_analysis_sweep.py",  # ... while this builds the Optuna one on the other worker
    "test_whole_step.py",
    "test_notebook.py",
    "test_analysis.py",
    "test_sweep_e2e.py",
    "test_reference_numbers.py",
    "test_faults_study.py",
    "test_report_ablations.py",
    "test_faults_run.py",
    "test_batched.py",
    "test_batched_sweep.py",
    "test_sweep_confirm.py",
    "test_sweep_distinct.py",
    "test_signal_writes.py",
    "test_faults_records.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's tests keep their order


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """Caches in a per-session temp dir; W&B never touches the network."""
    cache = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("BIRSWEEP_CACHE_DIR", str(cache))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("WANDB_SILENT", "true")
    yield


@pytest.fixture
def tiny_cfg():
    """A fast, complete config on synthetic data (``debug=tiny``); extend with more overrides."""
    return lambda *extra: make_cfg(TINY + list(extra))


@pytest.fixture(scope="session")
def completed(tmp_path_factory) -> Path:
    """One uninterrupted ``debug=tiny`` run dir, made by launch.py's command line in this process: the reference the
    determinism, resume and fault tests compare with (copy it before changing it)."""
    base = tmp_path_factory.mktemp("completed")
    out = cli(*TINY, f"hydra.run.dir={base / 'run'}", cwd=base)
    assert out.returncode == 0, out.stderr
    return base / "run"
