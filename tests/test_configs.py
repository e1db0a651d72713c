"""Every config group option and every experiment composes and passes the checks; bad input fails clearly."""

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigKeyError, ValidationError

from birsweep.config_check import check_config
from birsweep.errors import ConfigError
from birsweep.loggers.wandb_names import run_name
from birsweep.naming import method_name
from tests.helpers import ROOT, compose_with_hydra, make_cfg


def options(group):
    return sorted(p.stem for p in (ROOT / "conf" / group).glob("*.yaml"))


@pytest.mark.parametrize("group", ["data", "model", "variant", "trainer", "logger", "experiment", "paths", "debug"])
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


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("model.dg_prop=1.5", "model.dg_prop=1.5 is out of range [0.0, 1.0)"),
        ("trainer.iters=0", "trainer.iters=0 is out of range"),
        ("trainer.precision=fp8", "trainer.precision='fp8' is not one of 32, bf16"),
        ("model.recon=l1", "model.recon='l1' is not one of mse, bce"),
        ("data.name=imagenet", "data.name='imagenet' is not one of"),
        ("trainer.device=tpu", "trainer.device='tpu' is not one of auto, cpu, cuda"),
        ("model.encoder.weights=/no/such/file.pt", "no such file"),
    ],
)
def test_bad_values_give_one_clear_line(override, fragment):
    with pytest.raises(ConfigError) as err:
        check_config(make_cfg([override]))
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_variant_names_must_describe_the_terms_and_terms_need_replay():
    with pytest.raises(ConfigError, match="variant.name=baseline but variant.repulsion is on"):
        check_config(make_cfg(["variant.repulsion.enabled=true"]))
    check_config(make_cfg(["variant.repulsion.enabled=true", "variant.name=rep-only"]))
    with pytest.raises(ConfigError, match="method=si does not have"):
        check_config(make_cfg(["variant=recon", "method=si"]))
    with pytest.raises(ConfigError, match="variant.repulsion.eps=0.0 is out of range"):
        check_config(make_cfg(["variant=repulsion", "variant.repulsion.eps=0"]))


def test_conv_model_on_grey_digits_is_refused():
    with pytest.raises(ConfigError, match="use model=bir_mlp"):
        check_config(make_cfg(["data=digits", "model=bir_conv"]))


@pytest.mark.parametrize("override", ["trainer.iterz=3", "model.dg_prop=abc", "seed=many"])
def test_unknown_keys_and_wrong_types_fail_at_composition(override):
    with pytest.raises((ConfigCompositionException, ConfigKeyError, ValidationError)):
        make_cfg([override])


@pytest.mark.parametrize(
    "overrides, method",
    [
        ([], "bir_si"),
        *[([f"method={m}"], m) for m in ("bir", "gr", "lwf", "si", "ewc", "none", "joint")],
    ],
)
def test_run_names_say_which_method_ran(overrides, method):
    cfg = make_cfg(["data=digits", "logger=wandb", *overrides])
    assert method_name(cfg) == method
    assert cfg.experiment_name == f"digits-{method}-baseline"
    assert run_name(cfg) == f"{method}-baseline-s0"
    run_dir = compose_with_hydra(["data=digits", *overrides]).hydra.run.dir
    assert run_dir.startswith(f"outputs/digits-{method}-baseline/")


def test_paths_hold_the_data_cache_and_output_roots(monkeypatch):
    cfg = compose_with_hydra()
    assert (cfg.paths.runs_dir, cfg.paths.sweeps_dir) == ("outputs", "multirun")
    assert cfg.hydra.run.dir.startswith("outputs/cifar100-bir_si-baseline/")
    assert cfg.hydra.sweep.dir.startswith("multirun/cifar100-bir_si-baseline/")
    moved = compose_with_hydra(["paths.runs_dir=/scratch/runs", "paths.sweeps_dir=/scratch/sweeps"])
    assert moved.hydra.run.dir.startswith("/scratch/runs/cifar100-bir_si-baseline/")
    assert moved.hydra.sweep.dir.startswith("/scratch/sweeps/cifar100-bir_si-baseline/")
    # a study's dir is fixed under the sweeps root, named by the study
    study = ["hparams_search=repulsion", "experiment=demo"]
    assert compose_with_hydra(study).hydra.sweep.dir == "multirun/repulsion-digits"
    assert compose_with_hydra([*study, "paths.sweeps_dir=/s"]).hydra.sweep.dir == "/s/repulsion-digits"
    monkeypatch.setenv("BIRSWEEP_DATA_DIR", "/d")
    monkeypatch.setenv("BIRSWEEP_CACHE_DIR", "/c")
    cfg = make_cfg()
    assert (cfg.paths.data_dir, cfg.data.root, cfg.paths.cache_dir) == ("/d", "/d", "/c")
