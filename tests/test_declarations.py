"""Each key's range, choices and per-trial mark are declared once, beside its schema field (birsweep/declare.py)."""

import math

import pytest
from omegaconf import OmegaConf

from birsweep import schema
from birsweep.config_check import check_config, declared_choices, declared_ranges
from birsweep.errors import ConfigError
from birsweep.train.batched.keys import PER_TRIAL_KEYS
from tests.helpers import make_cfg

INF = math.inf


def test_the_schema_declares_the_ranges_and_choices_config_check_held():
    ranges, choices = declared_ranges(), declared_choices()
    assert ranges["data.val_fraction"] == (0.0, 1.0, True, False)
    assert ranges["model.distill_temp"] == (0.0, INF, False, False)
    assert ranges["model.fc_layers"] == (2, INF, True, False)
    assert ranges["model.encoder.pretrain.lr"] == (0.0, INF, False, False)
    assert ranges["trainer.max_tasks"] == (1, INF, True, False)
    assert ranges["eval_gen.n_generated"] == (2, INF, True, False)
    assert ranges["eval_gen.classifier.max_iters"] == (1, INF, True, False)
    assert ranges["variant.rep_f"] == (0.0, INF, False, False)
    assert ranges["variant.repulsion.eps"] == (0.0, INF, False, False)  # the terms' declarations join them
    assert ranges["method.ewc_lambda"] == (0.0, INF, True, False)  # the methods' declarations join them too
    assert choices["method.targets"] == ("soft", "hard")
    assert choices["trainer.compile"] == ("off", "forward", "step", "true", "false")
    assert choices["logger.mode"] == ("offline", "online", "disabled")
    assert choices["resume"] == ("auto", "true", "false")
    assert choices["variant.repulsion.divergence"] == ("js", "kl")


def test_every_declared_default_is_accepted_by_its_own_declaration():
    defaults = OmegaConf.structured(schema.Config)
    for key, (low, high, low_incl, high_incl) in declared_ranges().items():
        value = OmegaConf.select(defaults, key)
        if value is not None:
            assert (value >= low if low_incl else value > low) and (value <= high if high_incl else value < high), key
    for key, allowed in declared_choices().items():
        if key != "data.name":
            assert str(OmegaConf.select(defaults, key)).lower() in allowed, key


@pytest.mark.parametrize(
    "override, message",
    [
        ("eval_gen.n_generated=1", "eval_gen.n_generated=1 is out of range [2, inf)"),
        ("trainer.lr=0", "trainer.lr=0.0 is out of range (0.0, inf)"),
        ("resume=maybe", "resume='maybe' is not one of auto, true, false"),
        ("diagnostics.replay_per_class=-1", "diagnostics.replay_per_class=-1 is out of range [0, inf)"),
    ],
)
def test_a_declared_bound_is_checked_with_the_same_line(override, message):
    with pytest.raises(ConfigError) as err:
        check_config(make_cfg([override]))
    assert str(err.value) == message


def test_the_per_trial_keys_of_a_batched_job_are_the_declared_ones():
    assert set(PER_TRIAL_KEYS) == {
        "seed",
        "trainer.lr",
        "model.si_c",
        "model.distill_temp",
        "variant.rep_f",
        "variant.repulsion.lamda_rep",
        "variant.repulsion.eps",
        "variant.recon.lamda_rep",
        "variant.recon.lamda_atr",
        "variant.recon.eps",
    }
    assert len(PER_TRIAL_KEYS) == len(set(PER_TRIAL_KEYS))
