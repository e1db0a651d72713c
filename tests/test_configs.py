"""Every config group option and every experiment composes and passes the checks; bad input fails clearly."""
import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigKeyError, ValidationError

from birsweep.config_check import check_config
from birsweep.errors import ConfigError
from tests.conftest import ROOT, make_cfg


def options(group):
    return sorted(p.stem for p in (ROOT / "conf" / group).glob("*.yaml"))


@pytest.mark.parametrize("group", ["data", "model", "variant", "trainer", "logger", "experiment"])
def test_every_option_composes(group):
    assert options(group), f"conf/{group} is empty"
    for name in options(group):
        cfg = make_cfg([f"{group}={name}"])
        check_config(cfg)
        if group in ("data", "model", "variant", "logger"):
            assert cfg[group].name == name


def test_mnist_like_data_select_the_splitmnist_protocol():
    cfg = make_cfg(["data=fashion_mnist"])
    assert cfg.model.name == "bir_mlp" and cfg.model.recon == "bce" and cfg.model.dg_prop == 0.8
    assert (cfg.trainer.lr, cfg.trainer.batch_size, cfg.trainer.iters) == (0.001, 128, 2000)
    assert (cfg.model.fc_units, cfg.model.h_dim, cfg.model.z_dim) == (400, 400, 100)
    # the command line still wins over the data's protocol
    assert make_cfg(["data=digits", "trainer.lr=0.5"]).trainer.lr == 0.5


def test_defaults_are_the_paper_baseline():
    cfg = make_cfg()
    paper = make_cfg(["experiment=paper_baseline"])
    for c in (cfg, paper):
        assert c.data.name == "cifar100" and c.data.n_tasks == 10
        assert c.model.dg_prop == 0.6 and c.model.si_c == 1e8 and c.model.si_epsilon == 0.1
        assert c.trainer.iters == 5000 and c.trainer.batch_size == 256 and c.trainer.lr == 1e-4
        assert c.model.distill_temp == 2.0 and c.model.z_dim == 100 and c.model.fc_units == 2000


@pytest.mark.parametrize("override, fragment", [
    ("model.dg_prop=1.5", "model.dg_prop=1.5 is out of range [0.0, 1.0)"),
    ("trainer.iters=0", "trainer.iters=0 is out of range"),
    ("trainer.precision=fp8", "trainer.precision='fp8' is not one of 32, bf16"),
    ("model.recon=l1", "model.recon='l1' is not one of mse, bce"),
    ("data.name=imagenet", "data.name='imagenet' is not one of"),
    ("trainer.device=tpu", "trainer.device='tpu' is not one of auto, cpu, cuda"),
    ("model.encoder.weights=/no/such/file.pt", "no such file"),
])
def test_bad_values_give_one_clear_line(override, fragment):
    with pytest.raises(ConfigError) as err:
        check_config(make_cfg([override]))
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_variant_names_must_describe_the_terms_and_terms_need_replay():
    with pytest.raises(ConfigError, match="variant.name=baseline but variant.repulsion is on"):
        check_config(make_cfg(["variant.repulsion.enabled=true"]))
    check_config(make_cfg(["variant.repulsion.enabled=true", "variant.name=rep-only"]))
    with pytest.raises(ConfigError, match="model.replay=none switches off"):
        check_config(make_cfg(["variant=recon", "model.replay=none"]))
    with pytest.raises(ConfigError, match="variant.repulsion.eps=0.0 is out of range"):
        check_config(make_cfg(["variant=repulsion", "variant.repulsion.eps=0"]))


def test_conv_model_on_grey_digits_is_refused():
    with pytest.raises(ConfigError, match="use model=bir_mlp"):
        check_config(make_cfg(["data=digits", "model=bir_conv"]))


@pytest.mark.parametrize("override", ["trainer.iterz=3", "model.dg_prop=abc", "seed=many"])
def test_unknown_keys_and_wrong_types_fail_at_composition(override):
    with pytest.raises((ConfigCompositionException, ConfigKeyError, ValidationError)):
        make_cfg([override])
