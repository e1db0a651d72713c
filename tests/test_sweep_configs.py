"""The sweeper's config groups: every sampler and pruner option builds, hparams_search presets compose, bad
settings give one clear line."""

import optuna
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution

from birsweep.errors import ConfigError
from birsweep.sweep.config import OptunaSweeperConfig, check_settings
from birsweep.sweep.search import pruners
from birsweep.sweep.search.factory import build_pruner, build_sampler
from birsweep.sweep.search.grammar import parse_search_space
from tests.helpers import ROOT, compose_with_hydra

SAMPLERS = {
    "tpe": optuna.samplers.TPESampler,
    "random": optuna.samplers.RandomSampler,
    "grid": optuna.samplers.GridSampler,
    "cmaes": optuna.samplers.CmaEsSampler,
    "gp": optuna.samplers.GPSampler,
    "qmc": optuna.samplers.QMCSampler,
}
PRUNERS = {
    "median": pruners.MedianPruner,
    "percentile": pruners.PercentilePruner,
    "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "nop": optuna.pruners.NopPruner,
}


def options(group):
    return sorted(p.stem for p in (ROOT / "conf" / group).glob("*.yaml"))


def settings_from(cfg, **extra):
    kwargs = {k: v for k, v in OmegaConf.to_container(cfg.hydra.sweeper, resolve=True).items() if not k.startswith("_")}
    kwargs.update(extra)
    return OptunaSweeperConfig(**kwargs)


def test_the_option_lists_are_complete():
    assert options("hydra/sweeper/sampler") == sorted(SAMPLERS)
    assert options("hydra/sweeper/pruner") == sorted(PRUNERS)
    assert options("hparams_search") == [
        "contrastive",
        "demo",
        "fmnist_contrastive",
        "fmnist_recon",
        "fmnist_repulsion",
        "recon",
        "repulsion",
    ]


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_builds_seeded(name):
    if name == "cmaes":
        pytest.importorskip("cmaes")
    cfg = compose_with_hydra(["hydra/sweeper=optuna", f"hydra/sweeper/sampler={name}", "seed=7"])
    assert cfg.hydra.sweeper.sampler.seed == 7  # seeded from the run's seed
    space = parse_search_space({"a": "choice(1, 2, 3)", "b": "range(0, 4)"})
    sampler, target = build_sampler(cfg.hydra.sweeper.sampler, space, cfg.hydra.sweeper.n_trials)
    assert type(sampler) is SAMPLERS[name]
    assert target == (12 if name == "grid" else 20)  # the grid caps n_trials at its size


def test_tpe_is_the_default_and_the_same_seed_proposes_the_same_trials():
    cfg = compose_with_hydra(["hydra/sweeper=optuna"])
    assert cfg.hydra.sweeper.sampler._target_ == "optuna.samplers.TPESampler"
    assert cfg.hydra.sweeper.pruner._target_ == "birsweep.sweep.search.pruners.MedianPruner"
    proposals = []
    for _ in range(2):
        study = optuna.create_study(sampler=instantiate(cfg.hydra.sweeper.sampler))
        proposals.append([study.ask({"x": FloatDistribution(0, 1)}).params["x"] for _ in range(3)])
    assert proposals[0] == proposals[1]


@pytest.mark.parametrize("name", sorted(PRUNERS))
def test_every_pruner_builds_from_its_config(name):
    cfg = compose_with_hydra(["hydra/sweeper=optuna", f"hydra/sweeper/pruner={name}", "data=synthetic"])
    as_dict = OmegaConf.to_container(cfg.hydra.sweeper.pruner, resolve=True)
    assert type(build_pruner(as_dict)) is PRUNERS[name]  # what a job rebuilds from its optuna.pruner
    if name == "hyperband":
        assert as_dict["max_resource"] == 5  # the number of tasks


def test_pruner_none_never_prunes_and_bad_pruners_are_refused():
    assert type(build_pruner(None)) is optuna.pruners.NopPruner
    with pytest.raises(ConfigError, match="cannot build the pruner 'optuna.pruners.NoSuch'"):
        build_pruner({"_target_": "optuna.pruners.NoSuch"})
    with pytest.raises(ConfigError, match="is not an optuna pruner"):
        build_pruner({"_target_": "optuna.samplers.RandomSampler"})


@pytest.mark.parametrize("name", ["repulsion", "recon", "contrastive"])
def test_hparams_search_presets(name):
    cfg = compose_with_hydra([f"hparams_search={name}", "experiment=demo"])
    sw = cfg.hydra.sweeper
    assert cfg.variant.name == name and sw._target_ == "hydra_plugins.birsweep_optuna_sweeper.OptunaSweeper"
    assert sw.study_name == f"{name}-digits" and sw.direction == "maximize"
    assert cfg.hydra.sweep.dir == f"multirun/{name}-digits"
    assert OmegaConf.to_container(cfg.hydra.sweep, resolve=False)["subdir"] == "${hydra.job.num}"
    assert sw.sampler._target_.endswith("TPESampler") and sw.pruner._target_.endswith("MedianPruner")
    space = parse_search_space(OmegaConf.to_container(sw.params, resolve=True))
    keys = set(space.searched)
    expected = {
        "repulsion": {
            "variant.repulsion.lamda_rep",
            "variant.rep_f",
            "variant.use_rep_f",
            "variant.repulsion.divergence",
        },
        "recon": {
            "variant.recon.lamda_rep",
            "variant.recon.lamda_atr",
            "variant.recon.average",
            "variant.use_rep_f",
            "variant.rep_f",
        },
        "contrastive": {
            "variant.contrastive.c_temp",
            "variant.contrastive.c_lr",
            "variant.contrastive.c_drop",
            "variant.contrastive.c_scores",
        },
    }[name]
    assert keys == expected and not space.fixed
    assert str(cfg.hydra.mode) == "RunMode.MULTIRUN" and cfg.data.val_fraction == 0.1  # no -m; validation
    if "variant.rep_f" in keys:  # f only where it is used
        assert str(space.conditions["variant.rep_f"]) == "variant.use_rep_f=true"
    for key, dist in {**space.distributions, **space.conditional}.items():  # every key exists in the typed config
        assert OmegaConf.select(cfg, key, throw_on_missing=True) is not None
        if key.endswith(("lamda_rep", "lamda_atr", "c_temp", "c_lr")):
            assert isinstance(dist, FloatDistribution) and dist.log
        if key.endswith(("use_rep_f", "average", "c_scores")):
            assert dist == CategoricalDistribution([True, False])


@pytest.mark.parametrize(
    "setting, fragment",
    [
        ({"direction": "up"}, "hydra.sweeper.direction='up' is not one of maximize, minimize"),
        ({"n_trials": 0}, "hydra.sweeper.n_trials=0 must be a whole number"),
        ({"n_jobs": "two"}, "hydra.sweeper.n_jobs='two' must be a whole number"),
        ({"max_failure_rate": 1.5}, "max_failure_rate=1.5 is out of range [0, 1]"),
        ({"dispatch": "fast"}, "hydra.sweeper.dispatch='fast' is not one of auto, slots, batch"),
        ({"job_threads": 0}, "hydra.sweeper.job_threads=0 must be auto, null"),
        ({"study_name": ""}, "hydra.sweeper.study_name is empty"),
        ({"grace_period": 10, "heartbeat_interval": 30}, "grace_period must be longer than heartbeat_interval"),
    ],
)
def test_bad_settings_give_one_clear_line(setting, fragment):
    cfg = compose_with_hydra(["hydra/sweeper=optuna"])
    with pytest.raises(ConfigError) as err:
        check_settings(settings_from(cfg, **setting))
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_unknown_sampler_and_ungriddable_space_are_refused():
    space = parse_search_space({"a": "interval(0, 1)"})
    with pytest.raises(ConfigError, match=r"^unknown sampler 'optuna.samplers.NoSuchSampler': choose hydra/sweeper"):
        build_sampler({"_target_": "optuna.samplers.NoSuchSampler"}, space, 20)
    with pytest.raises(ConfigError, match="is not an optuna sampler"):
        build_sampler({"_target_": "optuna.pruners.NopPruner"}, space, 20)
    grid = compose_with_hydra(["hydra/sweeper=optuna", "hydra/sweeper/sampler=grid"]).hydra.sweeper.sampler
    with pytest.raises(ConfigError, match="the grid sampler needs a finite set of values: give a as choice"):
        build_sampler(grid, space, 20)


def test_the_demo_preset_searches_where_the_term_acts_and_confirms_against_the_baseline():
    cfg = compose_with_hydra(["hparams_search=demo", "experiment=demo"])
    sw = cfg.hydra.sweeper
    assert cfg.variant.name == "repulsion" and cfg.data.name == "digits" and cfg.data.val_fraction == 0.1
    assert (sw.study_name, sw.n_trials, sw.n_jobs) == ("demo-repulsion-digits", 8, 2)
    assert dict(sw.confirm) == {"top_k": 1, "seeds": 3, "baseline": "variant=baseline", "baseline_dir": None}
    space = parse_search_space(OmegaConf.to_container(sw.params, resolve=True))
    lamda = space.distributions["variant.repulsion.lamda_rep"]
    assert (lamda.low, lamda.high, lamda.log) == (0.01, 3.0, True)  # below 0.01 the term barely moves the network
    rep_f = space.conditional["variant.rep_f"]
    assert rep_f.low == 1000.0 and rep_f.log  # below ~1000 no replayed digit passes p(c0) < f·p(c1)
    assert str(space.conditions["variant.rep_f"]).startswith("variant.use_rep_f")
