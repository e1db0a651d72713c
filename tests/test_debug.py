"""The debug config group: every option composes, passes the checks and sets what it promises; it overrides the
experiment and search presets, the command line overrides it."""

import pytest
from omegaconf import OmegaConf

from birsweep.config_check import check_config
from tests.helpers import ROOT, TINY, make_cfg

EXPECTED = {
    "tiny": {
        "data.name": "synthetic",
        "model.name": "bir_mlp",
        "logger.name": "none",
        "trainer.iters": 30,
        "trainer.log_every": 10,
        "trainer.progress": False,
        "model.fc_units": 64,
        "model.h_dim": 64,
        "model.z_dim": 16,
        "data.n_tasks": 5,
    },
    "fast": {
        "data.name": "digits",
        "model.name": "bir_mlp",
        "logger.name": "none",
        "trainer.iters": 300,
        "trainer.lr": 0.001,
        "trainer.batch_size": 128,
        "model.fc_units": 400,
        "data.n_tasks": 5,
    },
    "cifar_shapes": {
        "data.name": "synthetic",
        "model.name": "bir_conv",
        "logger.name": "none",
        "model.encoder.weights": "random",
        "data.synthetic.shape": [3, 32, 32],
        "data.synthetic.n_classes": 100,
        "data.n_tasks": 10,
        "data.synthetic.train_per_class": 300,
        "trainer.iters": 20,
        "trainer.batch_size": 256,
        "trainer.lr": 1e-4,
        "trainer.progress": False,
    },
}


def value(cfg, key):
    got = OmegaConf.select(cfg, key)
    return OmegaConf.to_container(got) if OmegaConf.is_config(got) else got


def test_every_debug_option_is_tested():
    assert sorted(p.stem for p in (ROOT / "conf" / "debug").glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_debug_option_composes_and_sets_its_values(name):
    cfg = make_cfg([f"debug={name}"])
    check_config(cfg)
    assert {k: value(cfg, k) for k in EXPECTED[name]} == EXPECTED[name]


def test_tiny_is_the_override_list_the_tests_used_before():
    """debug=tiny composes to exactly the config of the old test-local list, so records keep their numbers."""
    old = [
        "data=synthetic",
        "trainer.iters=30",
        "trainer.log_every=10",
        "trainer.progress=false",
        "model.fc_units=64",
        "model.h_dim=64",
        "model.z_dim=16",
        "logger=none",
    ]
    for extra in ([], ["variant=repulsion", "seed=3"], ["trainer.iters=150", "trainer.log_every=50"]):
        a = OmegaConf.to_container(make_cfg(old + extra), resolve=True)
        b = OmegaConf.to_container(make_cfg(TINY + extra), resolve=True)
        assert a == b, extra


def test_debug_overrides_presets_and_the_command_line_overrides_debug():
    demo = make_cfg(["experiment=demo", *TINY])
    assert demo.data.name == "synthetic" and demo.trainer.iters == 30 and demo.experiment_name == "demo"
    search = make_cfg(["hparams_search=repulsion", *TINY])
    assert search.variant.name == "repulsion" and search.trainer.iters == 30
    cli = make_cfg([*TINY, "trainer.iters=7", "data=digits", "logger=wandb"])
    assert (cli.trainer.iters, cli.data.name, cli.logger.name, cli.model.h_dim) == (7, "digits", "wandb", 64)
