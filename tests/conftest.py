"""Shared fixtures: caches and W&B in temp dirs, tiny configs; the helpers themselves live in tests/helpers.py."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import TINY, make_cfg

torch.set_num_threads(2)


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
