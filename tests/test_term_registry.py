"""A new loss term is one module and one YAML file: composed, checked, built, trained and logged."""

import importlib
import json
import pickle
import shutil
import sys

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from birsweep import schema
from birsweep.config_check import check_config
from birsweep.errors import ConfigError
from birsweep.methods import term_registry
from birsweep.methods.term_registry import TermSpec, register_term, term_ranges, term_specs
from birsweep.methods.variants import build_terms
from birsweep.models.bir import BIRNet
from birsweep.train.loop.run import train
from tests.helpers import ROOT, TINY, make_cfg

TERM_YAML = """\
defaults:
  - baseline
  - _self_
name: latent_norm
latent_norm:
  enabled: true
"""


@pytest.fixture
def conf_with_new_term(tmp_path, monkeypatch):
    """The conf dir plus conf/variant/latent_norm.yaml, and tests/latent_norm_term.py registered; undone after."""
    term_specs()  # the built-in terms first, so the copy below holds them
    monkeypatch.setattr(term_registry, "_REGISTRY", dict(term_registry._REGISTRY))
    monkeypatch.delitem(sys.modules, "tests.latent_norm_term", raising=False)
    importlib.import_module("tests.latent_norm_term")
    schema.register_configs()
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    (conf / "variant" / "latent_norm.yaml").write_text(TERM_YAML)

    def cfg(*overrides):
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            return compose("config", overrides=list(overrides))

    yield cfg
    monkeypatch.undo()
    schema.register_configs()
    assert "latent_norm" not in make_cfg().variant  # the schema is back to the built-in terms


def test_the_new_term_is_composed_with_its_defaults(conf_with_new_term):
    cfg = conf_with_new_term("variant=latent_norm")
    assert cfg.variant.name == "latent_norm"
    assert dict(cfg.variant.latent_norm) == {"enabled": True, "lamda": 0.5, "reduce": "mean"}
    assert list(cfg.variant)[-4:] == ["repulsion", "recon", "contrastive", "latent_norm"]  # after the built-ins
    assert conf_with_new_term().variant.latent_norm.enabled is False  # off unless switched on
    assert conf_with_new_term("variant.latent_norm.lamda=2").variant.latent_norm.lamda == 2.0
    with pytest.raises(ConfigCompositionException, match="lamdaa"):
        conf_with_new_term("variant.latent_norm.lamdaa=2")  # a misspelt key fails at compose
    with pytest.raises(ConfigCompositionException):
        conf_with_new_term("variant.latent_norm.lamda=heavy")  # a wrong type too


@pytest.mark.parametrize(
    "override, message",
    [
        ("variant.latent_norm.lamda=-1", "variant.latent_norm.lamda=-1.0 is out of range [0.0, inf)"),
        ("variant.latent_norm.reduce=median", "variant.latent_norm.reduce='median' is not one of mean, max"),
        ("variant.name=baseline", "variant.name=baseline but variant.latent_norm is on"),
    ],
)
def test_the_new_term_is_checked_with_one_line(conf_with_new_term, override, message):
    check_config(conf_with_new_term("variant=latent_norm"))
    with pytest.raises(ConfigError) as err:
        check_config(conf_with_new_term("variant=latent_norm", override))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_build_terms_builds_it_after_the_built_in_terms(conf_with_new_term):
    torch.manual_seed(0)
    model = BIRNet(6, 4, fc_units=16, h_dim=16, z_dim=3)
    assert build_terms(conf_with_new_term().variant, model, None) == []
    cfg = conf_with_new_term("variant=latent_norm", "variant.repulsion.enabled=true", "variant.latent_norm.lamda=3")
    terms = build_terms(cfg.variant, model, None)
    assert [t.name for t in terms] == ["repulsion", "latent_norm"]
    assert terms[1].weight == 3.0 and terms[1].in_replay


def test_a_training_run_logs_its_value_and_count(conf_with_new_term, tmp_path):
    cfg = conf_with_new_term(
        *TINY,
        "variant=latent_norm",
        "trainer.batch_size=32",
        "data.n_tasks=2",
        "trainer.iters=10",
        "trainer.log_every=5",
    )
    check_config(cfg)
    train(cfg, str(tmp_path / "run"))
    rec = json.loads((tmp_path / "run" / "results.json").read_text())
    assert rec["status"] == "completed" and rec["config"]["variant"]["latent_norm"]["enabled"] is True
    assert [row["task"] for row in rec["losses"]] == [1, 1, 2, 2]
    for row in rec["losses"]:
        if row["task"] == 1:
            assert "latent_norm" not in row  # no replay, no term
        else:
            assert row["latent_norm"] > 0 and row["latent_norm_n"] == 32  # every replayed sample takes part


def test_built_in_terms_declare_the_ranges_config_check_had():
    assert [s.name for s in term_specs()] == ["repulsion", "recon", "contrastive"]
    ranges = term_ranges()
    assert ranges["variant.repulsion.eps"] == (0.0, float("inf"), False, False)
    assert ranges["variant.contrastive.c_drop"] == (0.0, 1.0, True, False)
    assert ranges["variant.contrastive.proj_dim"] == (1, float("inf"), True, False)
    assert len(ranges) == 15
    for override, message in [
        ("variant.repulsion.divergence=jsd", "is not one of js, kl"),
        ("variant.recon.eps=0", "variant.recon.eps=0.0 is out of range (0.0, inf)"),
        ("variant.contrastive.c_hard_tau_plus=1", "is out of range [0.0, 1.0)"),
    ]:
        with pytest.raises(ConfigError) as err:
            check_config(make_cfg([override]))
        assert message in str(err.value)
    with pytest.raises(ConfigError, match="c_hard needs hard positives"):
        check_config(
            make_cfg(["variant=contrastive", "variant.contrastive.c_hard=true", "variant.contrastive.c_scores=true"])
        )


def test_registry_refuses_a_shared_key_or_a_second_term_of_the_same_name():
    spec = term_specs()[0]
    with pytest.raises(ValueError, match="shared variant key"):
        register_term(TermSpec("rep_f", spec.config, spec.build, order=99))
    with pytest.raises(ValueError, match="registered twice"):
        register_term(TermSpec("repulsion", term_specs()[1].config, spec.build, order=99))
    assert term_specs()[0] is spec


def test_a_composed_config_pickles_by_name():
    cfg = make_cfg(["variant=contrastive"])
    assert OmegaConf.get_type(cfg.variant) is schema.VariantConfig  # composed at run time, yet found by name
    back = pickle.loads(pickle.dumps(cfg))
    assert back == cfg and back.variant.contrastive.enabled is True
