"""Shared fixtures: caches and W&B in temp dirs, tiny configs; the helpers themselves live in tests/helpers.py."""

from __future__ import annotations

import os

import pytest
import torch

from tests.helpers import TINY, make_cfg


def _threads_per_worker() -> int:
    """The cores shared out among pytest-xdist's workers (2 workers on 2 cores: 1 each), at most 2: the tiny
    models gain nothing from more, and an oversubscribed core slows every worker."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, min(2, (os.cpu_count() or 1) // workers))


THREADS = _threads_per_worker()
torch.set_num_threads(THREADS)
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))  # the launch.py processes the tests start inherit it


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
