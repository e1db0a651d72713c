"""Every study preset composes with every pruner and sampler option, and what it composes builds: a setting that
belongs to one pruner lives in that pruner's config, never in a preset (``hydra/sweeper/pruner=nop`` once failed
with the presets: their median settings were merged into a pruner that takes none)."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from birsweep.errors import ConfigError
from birsweep.sweep.search.factory import build_pruner, build_sampler
from birsweep.sweep.search.grammar import parse_search_space
from tests.helpers import ROOT, compose_with_hydra


def _options(group: str):
    return sorted(p.stem for p in Path(ROOT, "conf", group).glob("*.yaml"))


PRESETS = _options("hparams_search")


@pytest.mark.parametrize("pruner", _options("hydra/sweeper/pruner"))
@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_builds_with_every_pruner(preset, pruner):
    cfg = compose_with_hydra([f"hparams_search={preset}", f"hydra/sweeper/pruner={pruner}"])
    node = OmegaConf.to_container(cfg.hydra.sweeper.pruner, resolve=True)
    assert type(build_pruner(node)).__name__.lower().startswith(pruner.replace("_", ""))


@pytest.mark.parametrize("sampler", _options("hydra/sweeper/sampler"))
@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_builds_with_every_sampler(preset, sampler):
    cfg = compose_with_hydra([f"hparams_search={preset}", f"hydra/sweeper/sampler={sampler}"])
    space = parse_search_space(OmegaConf.to_container(cfg.hydra.sweeper.params, resolve=True))
    try:
        built, n_trials = build_sampler(cfg.hydra.sweeper.sampler, space, cfg.hydra.sweeper.n_trials)
    except ConfigError as err:  # a grid needs a finite space: refused in one line that says so
        assert sampler == "grid" and "grid" in str(err), err
        return
    assert type(built).__name__.lower().startswith(sampler)
    assert 0 < n_trials <= cfg.hydra.sweeper.n_trials
