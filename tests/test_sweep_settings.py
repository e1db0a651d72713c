"""The sweeper's settings and dispatch, as tables: typed keys checked when the config is composed, value checks,
launcher -> mode / slots / thread override, storage specs and short parameter names (no trials run)."""

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import OmegaConfBaseException

from birsweep.errors import ConfigError
from birsweep.sweep.config import OptunaSweeperConfig, check_settings
from birsweep.sweep.labels import format_params, short_names
from birsweep.sweep.search.dispatch import (
    LauncherKind,
    Plan,
    joblib_pool_size,
    plan,
    threads_override,
    user_set_threads,
)
from birsweep.sweep.search.storage import StorageNotFoundError, parse
from tests.helpers import compose_with_hydra


# --- settings ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "override, message",
    [
        ("hydra.sweeper.n_trails=3", "Key 'n_trails' not in 'OptunaSweeperConfig'"),
        ("hydra.sweeper.n_trials=many", "Value 'many' of type 'str' could not be converted to Integer"),
        ("hydra.sweeper.max_failure_rate=half", "Value 'half' of type 'str' could not be converted to Float"),
        ("hydra.sweeper.retry_failed=perhaps", "Value 'perhaps' is not a valid bool"),
    ],
)
def test_a_misspelt_key_or_a_wrong_type_fails_on_compose(override, message):
    with pytest.raises(ConfigCompositionException) as err:
        compose_with_hydra(["hydra/sweeper=optuna", override])
    cause = err.value.__cause__
    assert isinstance(cause, OmegaConfBaseException) and message in str(cause)


def test_the_yaml_extends_the_typed_config_and_keeps_its_subgroups():
    sw = compose_with_hydra(["hydra/sweeper=optuna", "hydra/sweeper/sampler=random", "experiment=demo"]).hydra.sweeper
    defaults = OptunaSweeperConfig()
    assert sw.n_trials == defaults.n_trials == 20 and sw.heartbeat_interval == 30.0 and sw.job_threads == "auto"
    assert sw._target_ == defaults._target_ and sw._recursive_ is False
    assert sw.sampler._target_ == "optuna.samplers.RandomSampler"
    assert sw.pruner._target_ == "birsweep.sweep.search.pruners.MedianPruner"
    assert sw.study_name == "demo" and sw.storage is None and sw.params is None
    assert compose_with_hydra(["hydra/sweeper=optuna", "hydra.sweeper.job_threads=2"]).hydra.sweeper.job_threads == 2


GOOD = dict(study_name="s")


@pytest.mark.parametrize(
    "setting, fragment",
    [
        ({}, None),
        ({"direction": "MINIMIZE"}, None),
        ({"job_threads": None}, None),
        ({"job_threads": 4, "max_failure_rate": 0.0, "n_jobs": 8}, None),
        ({"max_failure_rate": 1.0, "dispatch": "batch"}, None),
        ({"direction": "up"}, "hydra.sweeper.direction='up' is not one of maximize, minimize"),
        ({"study_name": ""}, "hydra.sweeper.study_name is empty"),
        ({"study_name": "  "}, "hydra.sweeper.study_name is empty"),
        ({"n_trials": 0}, "hydra.sweeper.n_trials=0 must be a whole number of at least 1"),
        ({"n_trials": True}, "hydra.sweeper.n_trials=True must be a whole number"),
        ({"n_jobs": 1.5}, "hydra.sweeper.n_jobs=1.5 must be a whole number"),
        ({"max_failure_rate": -0.1}, "max_failure_rate=-0.1 is out of range [0, 1]"),
        ({"max_failure_rate": 1.5}, "max_failure_rate=1.5 is out of range [0, 1]"),
        ({"dispatch": "serial"}, "hydra.sweeper.dispatch='serial' is not one of auto, slots, batch"),
        ({"job_threads": 0}, "hydra.sweeper.job_threads=0 must be auto, null or a number of at least 1"),
        ({"job_threads": "all"}, "hydra.sweeper.job_threads='all' must be auto"),
        ({"heartbeat_interval": 0, "grace_period": 10}, "grace_period must be longer than heartbeat_interval"),
        ({"heartbeat_interval": 30, "grace_period": 30}, "grace_period must be longer than heartbeat_interval"),
    ],
)
def test_value_checks(setting, fragment):
    settings = OptunaSweeperConfig(**{**GOOD, **setting})
    if fragment is None:
        check_settings(settings)
        return
    with pytest.raises(ConfigError) as err:
        check_settings(settings)
    assert fragment in str(err.value) and "\n" not in str(err.value)


# --- dispatch ---------------------------------------------------------------------------------------------------------
BASIC = LauncherKind("BasicLauncher", frozenset({"BasicLauncher", "Launcher", "Plugin"}), "hydra._internal.x")
JOBLIB = LauncherKind("JoblibLauncher", frozenset({"JoblibLauncher", "Launcher"}), "hydra_plugins.joblib", 4)
JOBLIB_ALL = LauncherKind("JoblibLauncher", frozenset({"JoblibLauncher", "Launcher"}), "hydra_plugins.joblib", -1)
SUBMITIT_LOCAL = LauncherKind(
    "LocalLauncher",
    frozenset({"LocalLauncher", "BaseSubmititLauncher", "Launcher"}),
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher",
)
SLURM = LauncherKind(
    "SlurmLauncher",
    frozenset({"SlurmLauncher", "BaseSubmititLauncher", "Launcher"}),
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher",
)
RAY = LauncherKind("RayLauncher", frozenset({"RayLauncher", "Launcher"}), "hydra_plugins.ray")


@pytest.mark.parametrize(
    "launcher, dispatch, n_jobs, expected",
    [
        (BASIC, "auto", 1, Plan("serial", 1)),
        (
            BASIC,
            "auto",
            3,
            Plan(
                "serial",
                1,
                (
                    "the basic launcher runs one job at a time: n_jobs=3 has no effect "
                    "(hydra/launcher=joblib runs trials side by side)",
                ),
            ),
        ),
        (BASIC, "batch", 3, Plan("batch", 3)),
        (JOBLIB, "auto", 2, Plan("slots", 2)),
        (JOBLIB, "batch", 2, Plan("batch", 2)),
        (
            JOBLIB,
            "auto",
            6,
            Plan(
                "slots",
                4,
                (
                    "joblib runs 4 jobs at a time (hydra.launcher.n_jobs, -1 = one per "
                    "CPU): 4 trials in flight, not hydra.sweeper.n_jobs=6",
                ),
            ),
        ),
        (
            JOBLIB_ALL,
            "slots",
            8,
            Plan(
                "slots",
                2,
                (
                    "joblib runs 2 jobs at a time (hydra.launcher.n_jobs, -1 = one per "
                    "CPU): 2 trials in flight, not hydra.sweeper.n_jobs=8",
                ),
            ),
        ),
        (SUBMITIT_LOCAL, "auto", 3, Plan("slots", 3)),
        (SLURM, "auto", 16, Plan("slots", 16)),
        (RAY, "auto", 5, Plan("batch", 5)),
    ],
)
def test_dispatch_plan(launcher, dispatch, n_jobs, expected):
    assert plan(launcher, dispatch, n_jobs, cpus=2) == expected


@pytest.mark.parametrize("launcher", [BASIC, RAY])
def test_slots_need_jobs_in_other_processes(launcher):
    with pytest.raises(ConfigError, match=f"dispatch=slots needs a launcher .* not {launcher.name}$"):
        plan(launcher, "slots", 2)


def test_launcher_kind_of_an_instance():
    class Launcher:
        pass

    class JoblibLauncher(Launcher):
        joblib = {"n_jobs": 3}

    kind = LauncherKind.of(JoblibLauncher())
    assert kind.name == "JoblibLauncher" and {"JoblibLauncher", "Launcher"} <= kind.names
    assert kind.joblib_n_jobs == 3 and kind.out_of_process and kind.side_by_side_here
    assert LauncherKind.of(Launcher()).joblib_n_jobs is None


@pytest.mark.parametrize(
    "job_threads, launcher, has_trainer, user_set, expected",
    [
        ("auto", JOBLIB, True, False, "trainer.threads=1"),
        ("auto", SUBMITIT_LOCAL, True, False, "trainer.threads=1"),
        ("auto", SLURM, True, False, None),  # jobs on other machines: their own cores
        ("auto", BASIC, True, False, None),
        (3, BASIC, True, False, "trainer.threads=3"),
        (3, JOBLIB, True, True, None),  # the user chose
        ("auto", JOBLIB, False, False, None),  # a task without a trainer
        (None, JOBLIB, True, False, None),
    ],
)
def test_thread_override(job_threads, launcher, has_trainer, user_set, expected):
    assert threads_override(job_threads, launcher, has_trainer, user_set) == expected


@pytest.mark.parametrize(
    "configured, arguments, expected",
    [
        (None, [], False),
        (None, ["trainer.lr=0.1"], False),
        (2, [], True),
        (None, ["trainer.threads=2"], True),
        (None, ["+trainer.threads=2"], True),
        (None, ["trainer.threads_x=2"], False),
    ],
)
def test_user_set_threads(configured, arguments, expected):
    assert user_set_threads(configured, arguments) is expected


def test_joblib_pool_size_follows_joblibs_meaning():
    assert joblib_pool_size(3, cpus=8) == 3
    assert joblib_pool_size(-1, cpus=8) == 8 and joblib_pool_size(-2, cpus=8) == 7
    assert joblib_pool_size(None, cpus=2) == 2 and joblib_pool_size(-9, cpus=2) == 1


# --- storage specs ----------------------------------------------------------------------------------------------------
def test_storage_specs(tmp_path, monkeypatch):
    import optuna

    monkeypatch.chdir(tmp_path)
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    optuna.create_study(storage=f"sqlite:///{sweep / 'optuna.db'}", study_name="s")
    journal = tmp_path / "study.jsonl"
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.create_study(storage=JournalStorage(JournalFileBackend(str(journal))), study_name="j")
    (tmp_path / "notes.txt").write_text("hello")
    db_url = f"sqlite:///{sweep / 'optuna.db'}"
    table = {
        "postgresql://u:p@h/db": ("rdb", "postgresql://u:p@h/db"),
        "sqlite:///rel/x.db": ("rdb", f"sqlite:///{tmp_path / 'rel' / 'x.db'}"),
        "sqlite:////abs/x.db": ("rdb", "sqlite:////abs/x.db"),
        "new/study.log": ("journal", str(tmp_path / "new" / "study.log")),  # made by the sweeper
        str(sweep / "optuna.db"): ("rdb", db_url),  # a plain path to an SQLite file
        "sweep": ("rdb", db_url),  # a sweep dir holding optuna.db
        "study.jsonl": ("journal", str(journal)),  # a journal, whatever its suffix
    }
    for spec, (kind, location) in table.items():
        parsed = parse(spec)
        assert (parsed.kind, parsed.location) == (kind, location), spec
    for bad, why in (
        ("study.txt", "does not exist"),
        ("notes.txt", "holds no study"),
        ("new.db", "does not exist"),
        (".", "holds no study"),
    ):
        with pytest.raises(StorageNotFoundError, match=f"^storage .* is neither a database URL .* it {why}"):
            parse(bad)
    assert issubclass(StorageNotFoundError, ConfigError) and issubclass(StorageNotFoundError, FileNotFoundError)


# --- short parameter names --------------------------------------------------------------------------------------------
def test_short_names_and_formatted_params():
    assert short_names(["variant.rep_f", "trainer.lr", "seed"]) == {
        "variant.rep_f": "rep_f",
        "trainer.lr": "lr",
        "seed": "seed",
    }
    ambiguous = short_names(["variant.recon.lamda_rep", "variant.repulsion.lamda_rep", "trainer.lr"])
    assert ambiguous == {
        "variant.recon.lamda_rep": "recon.lamda_rep",
        "variant.repulsion.lamda_rep": "repulsion.lamda_rep",
        "trainer.lr": "lr",
    }
    # a key that is another's tail keeps its full name; the other gets one component more
    assert short_names(["lr", "trainer.lr", "a.x.y", "b.x.y"]) == {
        "lr": "lr",
        "trainer.lr": "trainer.lr",
        "a.x.y": "a.x.y",
        "b.x.y": "b.x.y",
    }
    params = {"variant.rep_f": 12.345678, "variant.use_rep_f": True, "variant.repulsion.divergence": "js"}
    assert format_params(params) == "rep_f=12.35 use_rep_f=True divergence=js"
    assert format_params(params, width=20) == "rep_f=12.35 use_r..."
