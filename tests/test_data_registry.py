"""A new data set is one module and one YAML file: registered, composed, checked, loaded and trained on."""

import importlib
import json
import pickle
import sys

import pytest
import torch
from omegaconf import OmegaConf

from birsweep import schema
from birsweep.config_check import check_config
from birsweep.data import sources
from birsweep.data.sources import DataSource, data_source, load_source, register_source, source_names
from birsweep.errors import ConfigError
from birsweep.train.loop.run import train
from tests.helpers import ROOT, make_cfg

# where the test's YAML lives: Hydra's own way to add a config folder (conf/ stays as it is)
SEARCHPATH = f"hydra.searchpath=[file://{ROOT / 'tests' / 'conf'}]"


@pytest.fixture
def toy(monkeypatch):
    """tests/toy_source.py registered and its YAML found; a config of it from overrides. Undone after."""
    source_names()  # the built-in data sets first, so the copy below holds them
    monkeypatch.setattr(sources, "_REGISTRY", dict(sources._REGISTRY))
    monkeypatch.delitem(sys.modules, "tests.toy_source", raising=False)
    importlib.import_module("tests.toy_source")
    schema.register_configs()

    yield lambda *overrides: make_cfg([SEARCHPATH, "data=toy", *overrides])
    monkeypatch.undo()
    schema.register_configs()
    assert "toy" not in make_cfg().data  # the schema is back to the built-in data sets


def test_the_built_in_data_sets_are_registered_with_their_facts():
    assert set(source_names()) == {"cifar10", "cifar100", "mnist", "fashion_mnist", "digits", "synthetic"}
    assert data_source("cifar100").shape == (3, 32, 32) and data_source("cifar100").conv_problem() is None
    assert data_source("fashion_mnist").conv_problem() == "grey-scale and small"
    assert data_source("synthetic").shape is None  # its own section sets it: data.synthetic.shape
    assert sorted(p.stem for p in (ROOT / "conf" / "data").glob("*.yaml")) == sorted(source_names())


def test_a_name_is_registered_once():
    toy = DataSource("digits", lambda root, download, options: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(ValueError, match="registered twice"):
        register_source(toy)


def test_the_new_data_set_is_composed_and_checked(toy):
    cfg = toy("debug=tiny")  # the YAML's protocol, and the command line wins over debug=tiny's data
    assert cfg.data.name == "toy" and cfg.data.n_tasks == 2 and dict(cfg.data.toy) == {"per_class": 20}
    assert cfg.model.name == "bir_mlp"  # selected by its YAML
    assert OmegaConf.get_type(cfg.data) is schema.DataConfig  # composed at run time, yet found by name
    assert pickle.loads(pickle.dumps(cfg)) == cfg  # as a launcher sends it to a job
    check_config(cfg)
    with pytest.raises(ConfigError) as err:
        check_config(toy("data.toy.per_class=0"))
    assert str(err.value) == "data.toy.per_class=0 is out of range [1, inf)"  # its own section's declaration
    with pytest.raises(ConfigError, match="data=toy is grey-scale and small: use model=bir_mlp"):
        check_config(toy("model=bir_conv"))


def test_an_unregistered_name_is_refused_with_the_registered_ones():
    with pytest.raises(ConfigError) as err:
        check_config(make_cfg(["data.name=toy"]))
    assert str(err.value).startswith("data.name='toy' is not one of ") and "digits" in str(err.value)


def test_the_new_data_set_loads_and_trains_end_to_end(toy, tmp_path):
    cfg = toy("debug=tiny", "trainer.iters=10", "trainer.log_every=5", "trainer.threads=1", "eval_gen.enabled=false")
    check_config(cfg)
    arrays = load_source(cfg.data)
    assert arrays.train_x.shape == (80, 1, 6, 6) and torch.equal(torch.bincount(arrays.test_y), torch.tensor([5] * 4))
    train(cfg, str(tmp_path / "run"))
    rec = json.loads((tmp_path / "run" / "results.json").read_text())
    assert rec["status"] == "completed" and rec["config"]["data"]["name"] == "toy"
    assert len(rec["acc_matrix"]) == 2 and all(len(row) == 2 for row in rec["acc_matrix"])
    assert rec["acc_matrix"][0][0] > 0.5  # the bars are learnt: above the 0.5 of guessing between two classes
    assert OmegaConf.select(cfg, "data.toy.per_class") == 20
