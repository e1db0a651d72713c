"""Seed statistics against values written down from scipy.stats.ttest_rel (scipy 1.17), and
``analysis.compare(runs, baseline=...)`` on hand-made frames: Δ paired by seed, its 95 % interval, p, sd beside sem."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import analysis
from birsweep.stats import paired, sentence, spread, t_interval_p, verdict

# a configuration and a baseline on seeds 1..4; scipy.stats.ttest_rel(A, B) and its confidence_interval(0.95)
A = {1: 0.912, 2: 0.905, 3: 0.921, 4: 0.899}
B = {1: 0.901, 2: 0.903, 3: 0.910, 4: 0.897}
AB = dict(delta=0.006500000000000006, sd=0.005196152422706636, p=0.08756365243457159)
AB_CI = (-0.001768238039666855, 0.014768238039666867)
# worse on every one of three seeds: ttest_rel(C, D)
C, D = {7: 0.80, 8: 0.82, 9: 0.79}, {7: 0.84, 8: 0.85, 9: 0.845}
CD = dict(delta=-0.04166666666666663, p=0.029080453274228167, low=-0.0729247140635454, high=-0.010408619269787853)


def test_spread_is_mean_sd_and_sem_with_n_minus_1():
    s = spread(A.values())
    assert s.n == 4 and s.mean == pytest.approx(0.9092500000000001, abs=1e-15)
    assert s.sd == pytest.approx(0.009464847243000465, rel=1e-12)
    assert s.sem == pytest.approx(0.004732423621500233, rel=1e-12)
    one = spread([0.5, float("nan"), None])
    assert one.n == 1 and one.mean == 0.5 and math.isnan(one.sd) and math.isnan(one.sem)
    assert spread([]).n == 0 and math.isnan(spread([]).mean)


def test_paired_equals_scipys_ttest_rel():
    d = paired(A, B)
    assert d.n == 4 and d.seeds == [1, 2, 3, 4] and d.note == ""
    assert d.delta == pytest.approx(AB["delta"], rel=1e-12) and d.sd == pytest.approx(AB["sd"], rel=1e-12)
    assert d.p == pytest.approx(AB["p"], rel=1e-9)
    assert (d.low, d.high) == pytest.approx(AB_CI, rel=1e-9)
    assert verdict(d) == "cannot tell"  # the interval holds 0
    worse = paired(C, D)
    assert worse.delta == pytest.approx(CD["delta"], rel=1e-12) and worse.p == pytest.approx(CD["p"], rel=1e-9)
    assert (worse.low, worse.high) == pytest.approx((CD["low"], CD["high"]), rel=1e-9)
    assert verdict(worse) == "does not beat"
    better = paired(D, C)  # the mirror image: the whole interval above 0
    assert (better.low, better.high) == pytest.approx((-CD["high"], -CD["low"]), rel=1e-9)
    assert verdict(better) == "beats" and better.p == pytest.approx(CD["p"], rel=1e-9)
    assert sentence("trial 3", better) == (
        "trial 3 beats the baseline: Δ +4.17 points (95% CI [+1.04, +7.29], p=0.0291, 3 seeds)"
    )


def test_too_few_pairs_give_nan_with_a_note_never_an_invented_interval():
    one = paired({1: 0.9, 2: 0.8}, {1: 0.85, 3: 0.7})
    assert one.n == 1 and one.delta == pytest.approx(0.05) and one.seeds == [1]
    assert math.isnan(one.low) and math.isnan(one.high) and math.isnan(one.p)
    assert "one paired seed" in one.note and "seeds without a pair left out: 2, 3" in one.note
    assert verdict(one) == "cannot tell" and "no interval, p n/a, 1 seed" in sentence("x", one)
    none = paired({1: 0.9}, {2: 0.9})
    assert none.n == 0 and math.isnan(none.delta) and "no seed run by both" in none.note
    assert sentence("x", none) == "x vs the baseline: cannot tell, no seed was run by both"
    # equal on every seed (an inert term): no spread, no t statistic; it does not beat the baseline
    same = paired({1: 0.5, 2: 0.6}, {1: 0.5, 2: 0.6})
    assert same.n == 2 and same.delta == 0.0 and same.sd == 0.0 and math.isnan(same.p) and math.isnan(same.low)
    assert "no spread" in same.note and verdict(same) == "does not beat"
    assert math.isnan(t_interval_p([]).delta)


def _runs(*rows):
    """A runs frame as load_runs gives it: label, variant, seed, status, the metrics."""
    frame = pd.DataFrame(rows, columns=["variant", "lamda", "seed", "status", "final_avg_acc"])
    frame["forgetting"], frame["bwt"] = 0.1, -0.1
    frame["seed"] = frame["seed"].astype("Int64")
    return frame


def _grid():
    rows = [("baseline", None, s, "completed", B[s]) for s in B]
    rows += [("repulsion", 1e-5, s, "completed", A[s]) for s in A]
    rows += [("repulsion", 1e-3, s, "completed", D[s]) for s in D]  # seeds 7..9: no baseline pair
    rows.append(("repulsion", 1e-5, 5, "failed", None))  # not completed: counted, not compared
    return analysis.add_labels(_runs(*rows))


def test_compare_against_a_baseline_label_or_config_values():
    runs = _grid()
    assert set(runs["label"]) == {"baseline", "repulsion (lamda=1e-05)", "repulsion (lamda=0.001)"}
    by_label = analysis.compare(runs, baseline="baseline").set_index("label")
    by_values = analysis.compare(runs, baseline={"variant": "baseline"}).set_index("label")
    pd.testing.assert_frame_equal(by_label, by_values)
    row = by_label.loc["repulsion (lamda=1e-05)"]
    assert row["n_runs"] == 5 and row["n_completed"] == 4 and row["n_pairs"] == 4
    assert row["delta"] == pytest.approx(AB["delta"], rel=1e-12) and row["p"] == pytest.approx(AB["p"], rel=1e-9)
    assert (row["delta_ci_low"], row["delta_ci_high"]) == pytest.approx(AB_CI, rel=1e-9)
    assert row["verdict"] == "cannot tell" and pd.isna(row["delta_note"])
    assert row["final_avg_acc_sd"] == pytest.approx(0.009464847243000465, rel=1e-9)
    assert row["final_avg_acc_sem"] == pytest.approx(0.004732423621500233, rel=1e-9)
    unpaired = by_label.loc["repulsion (lamda=0.001)"]
    assert unpaired["n_pairs"] == 0 and math.isnan(unpaired["delta"]) and math.isnan(unpaired["p"])
    assert "no seed run by both" in unpaired["delta_note"]
    base = by_label.loc["baseline"]
    assert pd.isna(base["n_pairs"]) and math.isnan(base["delta"]) and base["delta_note"] == "the baseline"
    plain = analysis.compare(runs)  # without a baseline: no Δ columns, sd beside sem
    assert "delta" not in plain and {"final_avg_acc_sd", "forgetting_sd", "bwt_sd"} <= set(plain.columns)


def test_holm_adjusts_a_family_step_down_and_keeps_its_order():
    from birsweep.stats import holm

    got = holm([0.01, 0.04, float("nan"), 0.03])
    assert got[0] == pytest.approx(0.03) and got[1] == pytest.approx(0.06) and got[3] == pytest.approx(0.06)
    assert math.isnan(got[2])  # no test: not a member of the family
    assert holm([0.2]) == [0.2] and holm([0.6, 0.7]) == [1.0, 1.0]


def test_three_variants_against_one_baseline_are_judged_as_a_family():
    diffs = {  # per-seed differences to the baseline
        "repulsion": [0.01, 0.0, 0.02, 0.005, 0.015],  # alone: p = 0.047, its interval just above 0
        "recon": [0.01, -0.01, 0.02, 0.0, 0.005],
        "contrastive": [-0.01, 0.01, 0.0, -0.005, 0.0],
    }
    rows = [("baseline", None, s, "completed", 0.5) for s in range(5)]
    for variant, d in diffs.items():
        rows += [(variant, 1.0, s, "completed", 0.5 + d[s]) for s in range(5)]
    table = analysis.compare(analysis.add_labels(_runs(*rows)), baseline="baseline").set_index("label")
    rep = table.loc["repulsion"]
    assert rep["delta_ci_low"] > 0 and rep["p"] == pytest.approx(0.0474, abs=5e-4)
    assert rep["p_holm"] == pytest.approx(3 * rep["p"])  # the smallest of three p-values
    assert rep["verdict"] == "cannot tell"  # three chances at a lucky interval: the family's p says so
    ps = table.drop("baseline")["p"].sort_values()
    assert table.loc[ps.index[1], "p_holm"] == pytest.approx(max(3 * ps.iloc[0], 2 * ps.iloc[1]))
    assert table.loc[ps.index[2], "p_holm"] == pytest.approx(min(1.0, max(2 * ps.iloc[1], ps.iloc[2])))


def test_two_runs_of_one_seed_are_averaged_before_pairing():
    runs = analysis.add_labels(
        _runs(
            ("baseline", None, 1, "completed", 0.50),
            ("baseline", None, 2, "completed", 0.60),
            ("repulsion", 1.0, 1, "completed", 0.52),
            ("repulsion", 1.0, 1, "completed", 0.56),  # seed 1 twice: 0.54 against 0.50
            ("repulsion", 1.0, 2, "completed", 0.61),
        )
    )
    row = analysis.compare(runs, baseline="baseline").set_index("label").loc["repulsion"]
    assert row["n_pairs"] == 2 and row["delta"] == pytest.approx((0.04 + 0.01) / 2)


@pytest.mark.parametrize(
    "baseline, fragment",
    [
        ("nope", "baseline 'nope' is not a label of these runs: baseline, repulsion"),
        ({"variant": "finetune"}, "matches no runs"),
        ({"variant": "repulsion"}, "matches 2 configurations"),
        ({"colour": "red"}, "baseline key 'colour' is not a column"),
    ],
)
def test_a_baseline_that_picks_no_single_configuration_is_refused(baseline, fragment):
    runs = _grid()
    if baseline == "nope":
        runs = runs[runs["lamda"].isna() | (runs["lamda"] == 1e-5)].assign(label=lambda f: f["variant"])
    with pytest.raises(ValueError) as err:
        analysis.compare(runs, baseline=baseline)
    assert fragment in str(err.value)
