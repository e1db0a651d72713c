"""Hydra's override grammar -> Optuna distributions, and sampled values -> override strings (pure functions)."""

import math

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from birsweep.errors import ConfigError
from birsweep.sweep.search.grammar import distribution, grid_values, parse_search_space
from birsweep.sweep.search.override_text import format_value, parse_override, quote


def dist(text):
    return distribution(parse_override(f"key={text}"))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("interval(0, 1)", FloatDistribution(0.0, 1.0)),
        ("interval(1, 10)", FloatDistribution(1.0, 10.0)),  # Hydra's interval is a float interval
        ("int(interval(1, 10))", IntDistribution(1, 10)),
        ("tag(log, interval(1e-8, 1.0))", FloatDistribution(1e-8, 1.0, log=True)),
        ("tag(log, int(interval(1, 1024)))", IntDistribution(1, 1024, log=True)),
        ("range(1, 5)", IntDistribution(1, 4)),  # end excluded, as in Hydra: 1, 2, 3, 4
        ("range(0, 10, 2)", IntDistribution(0, 8, step=2)),
        ("range(5, 1, -1)", IntDistribution(2, 5)),
        ("tag(log, range(1, 9))", IntDistribution(1, 8, log=True)),
        ("range(0.1, 1.0, 0.2)", FloatDistribution(0.1, 0.9, step=0.2)),
        ("float(range(1, 4))", FloatDistribution(1.0, 3.0, step=1.0)),
        ("shuffle(range(3))", CategoricalDistribution([0, 1, 2])),
        ("choice(js, kl)", CategoricalDistribution(["js", "kl"])),
        ("choice(true, false)", CategoricalDistribution([True, False])),
        ("choice(1, 2.5, abc)", CategoricalDistribution([1, 2.5, "abc"])),
        ("1,2,3", CategoricalDistribution([1, 2, 3])),  # Hydra's simple sweep form
        ("tag(note, choice(a, b))", CategoricalDistribution(["a", "b"])),  # tags other than log are ignored
    ],
)
def test_every_form_maps_to_its_distribution(text, expected):
    assert dist(text) == expected


@pytest.mark.parametrize("text", ["0.5", "js", "null", "[1,2]", "'tag(log, interval(0,1))'"])
def test_a_plain_value_is_fixed(text):
    assert dist(text) is None


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("interval(1, 1)", "is empty"),
        ("interval(2, 1)", "is empty"),
        ("tag(log, interval(0, 1))", "lower bound above 0"),
        ("tag(log, choice(1, 2))", "needs an interval or a range"),
        ("tag(log, range(0, 10, 2))", "needs step 1"),
        ("tag(log, range(0, 3))", "values above 0"),
        ("range(3, 3)", "has no values"),
        ("glob(*)", "glob(...) selects config group options"),
        ("choice([1,2], [3])", "must be strings, numbers or booleans"),
        ("choice(a, a)", "lists a value twice"),
    ],
)
def test_bad_sweeps_give_one_clear_line(text, fragment):
    with pytest.raises(ConfigError) as err:
        dist(text)
    assert fragment in str(err.value) and "\n" not in str(err.value) and str(err.value).startswith("key:")


def test_grammar_errors_name_the_parameter():
    with pytest.raises(ConfigError, match=r"^bad sweep parameter 'x=interval\(0,': ") as err:
        parse_search_space({"x": "interval(0,"})
    assert "\n" not in str(err.value)


def test_search_space_from_params_and_command_line():
    space = parse_search_space(
        {
            "variant.repulsion.lamda_rep": "tag(log, interval(1e-8, 1.0))",
            "variant.rep_f": "interval(1, 50)",
            "variant.use_rep_f": "choice(true, false)",
            "seed": 3,
            "trainer.lr": 0.001,
        },
        [
            "hparams_search=repulsion",
            "experiment=demo",
            "variant.rep_f=interval(5, 10)",
            "~logger.tags",
            "+extra=1",
            "trainer.lr=range(1, 3)",
        ],
    )
    assert space.distributions == {
        "variant.repulsion.lamda_rep": FloatDistribution(1e-8, 1.0, log=True),
        "variant.rep_f": FloatDistribution(5.0, 10.0),  # the command line wins over params
        "variant.use_rep_f": CategoricalDistribution([True, False]),
        "trainer.lr": IntDistribution(1, 2),
    }
    assert space.fixed == ["seed=3", "hparams_search=repulsion", "experiment=demo", "~logger.tags", "+extra=1"]
    overrides = space.overrides(
        {"variant.repulsion.lamda_rep": 1e-5, "variant.rep_f": 7.5, "variant.use_rep_f": False, "trainer.lr": 2}
    )
    assert overrides == [
        "seed=3",
        "hparams_search=repulsion",
        "experiment=demo",
        "~logger.tags",
        "+extra=1",
        "variant.repulsion.lamda_rep=1e-05",
        "variant.rep_f=7.5",
        "variant.use_rep_f=false",
        "trainer.lr=2",
    ]


def test_a_command_line_value_fixes_a_searched_parameter():
    space = parse_search_space(
        {"variant.rep_f": "interval(1, 50)", "variant.use_rep_f": "choice(true,false)"}, ["variant.rep_f=20"]
    )
    assert list(space.distributions) == ["variant.use_rep_f"] and space.fixed == ["variant.rep_f=20"]


@pytest.mark.parametrize(
    "value",
    [
        0,
        -3,
        1.5,
        1e-8,
        1e20,
        -0.25,
        math.inf,
        -math.inf,
        True,
        False,
        None,
        "js",
        "true",
        "1e-5",
        "null",
        "",
        "a b",
        "it's",
        'say "hi"',
        "back\\slash",
        "end\\",
        "x\\'y",
        "a,b",
        "${oc.env:HOME}",
        "sqlite:////t/a b/o.db",
        "interval(0,1)",
        [1, "a", None],
        {"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": 3},
        {"variant.rep_f": 2.5, "variant.use_rep_f": True, "variant.repulsion.divergence": "kl"},
    ],
)
def test_format_value_round_trips_through_hydras_parser(value):
    parsed = parse_override(f"k={format_value(value)}").value()
    assert parsed == value and type(parsed) is type(value)


def test_format_value_nan_and_quote():
    assert math.isnan(parse_override(f"k={format_value(math.nan)}").value())
    assert quote("it's") == "'it\\'s'"
    assert format_value("plain") == "plain" and format_value("true") == "'true'"


def test_grid_values():
    assert grid_values("a", dist("choice(js, kl)")) == ["js", "kl"]
    assert grid_values("a", dist("range(0, 10, 3)")) == [0, 3, 6, 9]
    assert grid_values("a", dist("range(0.1, 0.5, 0.1)")) == [0.1, 0.2, 0.3, 0.4]
    assert grid_values("a", dist("int(interval(2, 4))")) == [2, 3, 4]
    with pytest.raises(ConfigError, match="the grid sampler needs a finite set of values: give a as choice"):
        grid_values("a", dist("interval(0, 1)"))


def test_a_null_param_drops_what_an_extended_preset_searches():
    space = parse_search_space({"a.b": "choice(1, 2)", "a.c": None, "a.d": "interval(0.0, 1.0)"}, [])
    assert sorted(space.distributions) == ["a.b", "a.d"] and space.fixed == []
