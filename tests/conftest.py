"""Shared fixtures: compose configs with the Hydra compose API; keep caches, data and W&B in temp dirs."""
from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from birsweep.schema import register_configs

ROOT = Path(__file__).resolve().parents[1]
CONF = str(ROOT / "conf")
register_configs()
torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """Caches in a per-session temp dir; W&B never touches the network."""
    cache = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("BIRSWEEP_CACHE_DIR", str(cache))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("WANDB_SILENT", "true")
    yield


def make_cfg(overrides: List[str] = ()) -> DictConfig:
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("config", overrides=list(overrides))


TINY = ["data=synthetic", "trainer.iters=30", "trainer.log_every=10", "trainer.progress=false",
        "model.fc_units=64", "model.h_dim=64", "model.z_dim=16", "logger=none"]


@pytest.fixture
def tiny_cfg():
    """A fast, complete config on synthetic data; extend with more overrides."""
    return lambda *extra: make_cfg(TINY + list(extra))
