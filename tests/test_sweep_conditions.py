"""Conditional search spaces: ``key: when(other=value, <sweep>)`` in ``hydra.sweeper.params``."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from birsweep.errors import ConfigError
from birsweep.sweep.search.ask import ask
from birsweep.sweep.search.grammar import Condition, parse_condition, parse_search_space
from birsweep.sweep.search.storage import open_storage
from birsweep.tracking import record
from tests.helpers import SWEEP, TINY, cli, load_study

REP = {
    "variant.use_rep_f": "choice(true, false)",
    "variant.rep_f": "when(variant.use_rep_f=true, interval(1.0, 50.0))",
}


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "when(variant.use_rep_f=true, interval(1.0, 50.0))",
            (Condition("variant.use_rep_f", True), "interval(1.0, 50.0)"),
        ),
        ("when( a.b = kl , choice(1, 2))", (Condition("a.b", "kl"), "choice(1, 2)")),
        ("when(n=3, int(interval(1, 4)))", (Condition("n", 3), "int(interval(1, 4))")),
        ("interval(0, 1)", None),
        ("whenever", None),
        ("'when(a=1, interval(0,1))'", None),  # quoted: a plain string
    ],
)
def test_conditions_parse(text, expected):
    assert parse_condition("key", text) == expected


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"x": "choice(1, 2)", "y": "when(x=1 interval(0, 1))"}, "write a condition as when(other.key=value, <sweep>)"),
        ({"x": "choice(1, 2)", "y": "when(x=[, interval(0, 1))"}, "the condition of"),
        ({"x": "choice(1, 2)", "y": "when(x=1, 0.5)"}, "needs a sweep inside"),
        ({"x": "interval(0, 1)", "y": "when(x=1, interval(0, 1))"}, "needs x searched as choice(...)"),
        ({"y": "when(x=1, interval(0, 1))"}, "needs x searched as choice(...)"),
        ({"x": "choice(true, false)", "y": "when(x=1, interval(0, 1))"}, "can never hold: x is one of true, false"),
    ],
)
def test_bad_conditions_give_one_clear_line(params, fragment):
    with pytest.raises(ConfigError) as err:
        parse_search_space(params)
    assert fragment in str(err.value) and "\n" not in str(err.value) and str(err.value).startswith("y:")


def test_a_conditional_parameter_is_in_the_overrides_only_when_sampled():
    space = parse_search_space({**REP, "seed": 1})
    assert space.distributions == {"variant.use_rep_f": CategoricalDistribution([True, False])}
    assert space.conditional == {"variant.rep_f": FloatDistribution(1.0, 50.0)}
    assert space.searched == ["variant.use_rep_f", "variant.rep_f"]
    assert space.active({"variant.use_rep_f": False}) == {}
    assert space.active({"variant.use_rep_f": 1}) == {}  # 1 is not true
    assert space.overrides({"variant.use_rep_f": False}) == ["seed=1", "variant.use_rep_f=false"]
    assert space.overrides({"variant.use_rep_f": True, "variant.rep_f": 3.5}) == [
        "seed=1",
        "variant.use_rep_f=true",
        "variant.rep_f=3.5",
    ]
    # the command line replaces a conditional parameter: fixed, or searched in every trial
    assert parse_search_space(REP, ["variant.rep_f=20"]).fixed == ["variant.rep_f=20"]
    again = parse_search_space(REP, ["variant.rep_f=int(interval(1, 5))"])
    assert again.conditional == {} and again.distributions["variant.rep_f"] == IntDistribution(1, 5)


def test_optuna_stores_a_conditional_parameter_only_where_its_condition_holds():
    space = parse_search_space(REP)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(12):
        trial, params = ask(study, space)
        on = params["variant.use_rep_f"]
        seen.add(on)
        assert ("variant.rep_f" in trial.params) is on and set(params) == set(trial.params)
        study.tell(trial, 0.5)
    assert seen == {True, False}


@pytest.mark.slow  # a sweep: over 10 s on a loaded core (make test-all)
def test_the_preset_samples_rep_f_only_with_use_rep_f_and_jobs_keep_the_default(tmp_path):
    storage = f"sqlite:///{tmp_path}/sweep/optuna.db"
    study = optuna.create_study(study_name="cond", storage=open_storage(storage), direction="maximize")
    study.enqueue_trial({"variant.use_rep_f": False})
    study.enqueue_trial({"variant.use_rep_f": True})
    out = cli(  # launch.py's command line in this process: the subject is the search space
        *SWEEP,
        "hparams_search=repulsion",
        *TINY,
        "trainer.iters=10",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        "hydra.sweeper.study_name=cond",
        "hydra.sweeper.n_trials=2",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    off, on = load_study(storage, "cond").trials
    assert off.params["variant.use_rep_f"] is False and "variant.rep_f" not in off.params
    assert on.params["variant.use_rep_f"] is True and 1.0 <= on.params["variant.rep_f"] <= 50.0
    off_cfg = record.load(tmp_path / "sweep" / "0")["config"]["variant"]
    on_cfg = record.load(tmp_path / "sweep" / "1")["config"]["variant"]
    assert off_cfg["use_rep_f"] is False and off_cfg["rep_f"] == 20.0  # the variant's default
    assert on_cfg["use_rep_f"] is True and on_cfg["rep_f"] == on.params["variant.rep_f"]
