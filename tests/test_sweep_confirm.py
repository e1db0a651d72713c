"""The confirmation stage (``hydra.sweeper.confirm``): settings checked on compose and at start, the plan (top-k
distinct trials, fresh seeds, job overrides), a real sweep whose summary and YAML equal a hand computation from the
records, and a sweep killed during confirmation that a re-run completes without redoing what was done."""

from __future__ import annotations

import json
import os
import signal
import statistics
from pathlib import Path

import optuna
import pytest
import yaml
from hydra.errors import ConfigCompositionException
from scipy import stats as sps

import analysis
from birsweep.errors import ConfigError
from birsweep.sweep.config import ConfirmConfig, check_confirm
from birsweep.sweep.confirm.plan import Arm, ConfirmJob, fresh_seeds, make_plan, search_seeds, top_trials
from birsweep.sweep.search.grammar import parse_search_space
from tests.gate import gate, wait_until_reached
from tests.helpers import compose_with_hydra, load_study, run_sweep

optuna.logging.set_verbosity(optuna.logging.WARNING)


# --- settings -------------------------------------------------------------------------------------------------------
def test_the_option_is_typed_off_by_default_and_misspelt_keys_fail_on_compose():
    sw = compose_with_hydra(["hydra/sweeper=optuna"]).hydra.sweeper
    assert sw.confirm == {"top_k": 0, "seeds": 3, "baseline": "variant=baseline", "baseline_dir": None}
    sw = compose_with_hydra(
        ["hydra/sweeper=optuna", 'hydra.sweeper.confirm={top_k: 2, seeds: 5, baseline: ["variant=baseline"]}']
    ).hydra.sweeper
    assert sw.confirm.top_k == 2 and sw.confirm.seeds == 5 and list(sw.confirm.baseline) == ["variant=baseline"]
    for bad, message in (
        ("hydra.sweeper.confirm.topk=2", "Key 'topk' not in 'ConfirmConfig'"),
        ("hydra.sweeper.confirm.seeds=three", "Value 'three' of type 'str' could not be converted to Integer"),
    ):
        with pytest.raises(ConfigCompositionException) as err:
            compose_with_hydra(["hydra/sweeper=optuna", bad])
        assert message in str(err.value.__cause__)


@pytest.mark.parametrize(
    "setting, fragment",
    [
        ({"top_k": 3, "seeds": 5, "baseline": ["variant=baseline", "model.si_c=0"]}, None),
        ({"top_k": -1}, "hydra.sweeper.confirm.top_k=-1 must be a whole number of at least 0"),
        ({"seeds": 0}, "hydra.sweeper.confirm.seeds=0 must be a whole number of at least 1"),
        ({"baseline": ""}, "hydra.sweeper.confirm.baseline='' must be an override string or a list of them"),
        ({"baseline": []}, "must be an override string or a list of them"),
        ({"baseline": 3}, "must be an override string or a list of them"),
        ({"baseline": "variant=choice(baseline,recon)"}, "is not a fixed override (a search, not a value)"),
        ({"baseline": "variant="}, None),  # Hydra's grammar: an empty value is a value
        ({"baseline": "variant"}, "'variant' is not a fixed override (bad sweep parameter 'variant': missing EQUAL"),
    ],
)
def test_value_checks(setting, fragment):
    if fragment is None:
        check_confirm(ConfirmConfig(**setting))
        return
    with pytest.raises(ConfigError) as err:
        check_confirm(ConfirmConfig(**setting))
    assert fragment in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("hydra.sweeper.confirm.seeds=0", "error: hydra.sweeper.confirm.seeds=0 must be a whole number of at least 1"),
        (
            'hydra.sweeper.confirm.baseline="variant=nosuch"',
            "error: hydra.sweeper.confirm.baseline='variant=nosuch' does not make a valid run (",
        ),
        (  # composes, but is no valid run: the search's repulsion term stays on under the baseline's name
            'hydra.sweeper.confirm.baseline="variant.name=baseline"',
            "error: hydra.sweeper.confirm.baseline='variant.name=baseline' does not make a valid run (variant.name=",
        ),
    ],
)
def test_a_bad_confirm_value_stops_the_sweep_in_one_line_before_anything_is_written(tmp_path, override, fragment):
    out = run_sweep(
        tmp_path,
        "variant=repulsion",
        "trainer.lr=interval(1e-3, 1e-2)",
        "hydra.sweeper.confirm.top_k=1",
        override,
        in_process=True,
    )
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert lines[-1].startswith(fragment), lines[-1]
    assert not (tmp_path / "sweep").exists()


# --- the plan -------------------------------------------------------------------------------------------------------
def _study(values, params):
    study = optuna.create_study(direction="maximize")
    dist = {k: optuna.distributions.CategoricalDistribution([1, 2, 3, 4]) for k in params[0]}
    for value, p in zip(values, params):
        state = optuna.trial.TrialState.COMPLETE if value is not None else optuna.trial.TrialState.PRUNED
        study.add_trial(optuna.trial.create_trial(params=p, distributions=dist, value=value, state=state))
    return study


def test_top_k_ranks_complete_trials_by_the_objective_one_per_parameter_set():
    study = _study(
        [0.5, 0.9, None, 0.9, 0.7, 0.8],
        [{"a": 1}, {"a": 2}, {"a": 3}, {"a": 2}, {"a": 4}, {"a": 3}],  # trial 3 repeats 1's set; 2 was pruned
    )
    assert [t.number for t in top_trials(study, 3)] == [1, 5, 4]
    assert [t.number for t in top_trials(study, 10)] == [1, 5, 4, 0]
    space = parse_search_space({"a": "choice(1,2,3,4)"}, ["variant=repulsion"])
    plan = make_plan(ConfirmConfig(top_k=2, seeds=3, baseline=["variant=baseline"]), study, space, job_seed=7)
    assert [(a.name, a.rank, a.params, a.overrides) for a in plan.arms] == [
        ("trial 1", 1, {"a": 2}, ["a=2"]),
        ("trial 5", 2, {"a": 3}, ["a=3"]),
        ("baseline", 0, None, ["variant=baseline"]),
    ]
    assert plan.seeds == [8, 9, 10] and plan.search_seeds == [7] and len(plan.jobs) == 9
    short = make_plan(ConfirmConfig(top_k=9), study, space, job_seed=0)
    assert "only 4 distinct complete trials" in short.note and len(short.arms) == 5
    assert make_plan(ConfirmConfig(top_k=2), _study([None], [{"a": 1}]), space, 0).arms == []


def test_fresh_seeds_lie_above_every_seed_the_search_used():
    study = _study([0.5, 0.6], [{"seed": 3}, {"seed": 1}])
    assert search_seeds(0, study.trials) == [0, 1, 3]
    assert fresh_seeds([0, 1, 3], 3) == [4, 5, 6] and fresh_seeds([0], 1) == [1]


def test_a_jobs_overrides_replace_clashing_keys_and_name_its_run_dir():
    arm = Arm("trial 4", 1, {"variant.rep_f": 2.5, "seed": 3}, ["variant.rep_f=2.5", "seed=3"])
    job = ConfirmJob(arm, 11)
    got = job.overrides(["variant=repulsion", "seed=0", "trainer.iters=20"], "/s", ["trainer.threads=1"], "k1")
    assert got == [
        "variant=repulsion",
        "trainer.iters=20",
        "variant.rep_f=2.5",
        "trainer.threads=1",
        "seed=11",
        "+confirm=run",
        "confirm.arm=trial 4",
        "confirm.rank=1",
        "confirm.params={variant.rep_f:2.5,seed:3}",
        "confirm.seed=11",
        "confirm.baseline=k1",
        "hydra.sweep.subdir=confirm/trial_4/seed_11",
    ]
    assert job.run_dir("/s") == os.path.join("/s", "confirm", "trial_4", "seed_11")
    base = ConfirmJob(Arm("baseline", 0, None, ["variant=baseline"]), 2).overrides(["variant=repulsion", "x.y=1"], "/s")
    assert base[:3] == ["x.y=1", "variant=baseline", "seed=2"] and "confirm.params=null" in base
    assert "confirm.baseline=null" in base


def test_a_shared_baseline_lives_under_baseline_dir_by_its_key(tmp_path):
    study = _study([0.5, 0.9], [{"a": 1}, {"a": 2}])
    space = parse_search_space({"a": "choice(1,2)"}, ["variant=repulsion"])
    shared = str(tmp_path / "campaign" / "baseline")
    plan = make_plan(ConfirmConfig(top_k=1, seeds=2, baseline_dir=shared), study, space, 0, key="abc")
    sweep = str(tmp_path / "campaign" / "repulsion")
    dirs = [job.run_dir(sweep) for job in plan.jobs]
    assert dirs == [
        os.path.join(sweep, "confirm", "trial_1", "seed_1"),
        os.path.join(sweep, "confirm", "trial_1", "seed_2"),
        os.path.join(shared, "abc", "seed_1"),
        os.path.join(shared, "abc", "seed_2"),
    ]
    base = plan.jobs[-1]
    assert base.subdir(sweep) == "../baseline/abc/seed_2"  # Hydra joins it to the sweep dir
    assert os.path.normpath(os.path.join(sweep, base.subdir(sweep))) == dirs[-1]
    assert "confirm.baseline=abc" in base.overrides(["variant=repulsion"], sweep, key=plan.key)


def test_the_baseline_key_follows_what_the_baseline_computes_not_where_it_writes():
    from omegaconf import OmegaConf

    from birsweep.sweep.confirm.plan import baseline_key

    cfg = OmegaConf.create({"variant": {"name": "baseline"}, "trainer": {"iters": 5}, "seed": 1, "paths": {"a": 1}})
    same = OmegaConf.create({"variant": {"name": "baseline"}, "trainer": {"iters": 5}, "seed": 2, "paths": {"a": 2}})
    other = OmegaConf.create({"variant": {"name": "baseline"}, "trainer": {"iters": 6}, "seed": 1, "paths": {"a": 1}})
    assert baseline_key(cfg) == baseline_key(same) != baseline_key(other)
    assert len(baseline_key(cfg)) == 12


# --- a real sweep ---------------------------------------------------------------------------------------------------
SEARCH = [
    "variant=repulsion",
    "variant.repulsion.lamda_rep=tag(log, interval(1e-3, 10.0))",
    "seed=choice(2, 4)",  # a searched seed: the fresh seeds lie above every seed a trial drew
    "data.n_tasks=2",
    "trainer.iters=10",
    "hydra.sweeper.study_name=confirm",
    "hydra.sweeper.n_trials=3",
    'hydra.sweeper.confirm={top_k: 2, seeds: 3, baseline: "variant=baseline"}',
]


def _records(root: Path):
    return {p.parent.relative_to(root).as_posix(): json.loads(p.read_text()) for p in root.rglob("results.json")}


@pytest.mark.slow  # a real sweep: over 10 s (make test-all)
def test_a_sweep_confirms_its_top_2_and_the_baseline_on_3_fresh_seeds(tmp_path):
    out = run_sweep(tmp_path, *SEARCH, in_process=True)  # launch.py's command line in this process
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    sweep = tmp_path / "sweep"
    study = load_study(f"sqlite:///{sweep}/optuna.db", "confirm")
    assert len(study.trials) == 3, "confirmation runs are not Optuna trials"
    records = _records(sweep)
    search = {k: r for k, r in records.items() if not k.startswith("confirm/")}
    confirm = {k: r for k, r in records.items() if k.startswith("confirm/")}
    used = {r["config"]["seed"] for r in search.values()}
    seeds = list(range(max(used | {0}) + 1, max(used | {0}) + 4))
    best = sorted((t for t in study.trials if t.value is not None), key=lambda t: (-t.value, t.number))[:2]
    arms = {f"trial {t.number}": (rank, t.params) for rank, t in enumerate(best, 1)} | {"baseline": (0, None)}
    assert len(confirm) == 9 and set(seeds).isdisjoint(used)
    scores = {}
    for arm, (rank, params) in arms.items():
        for seed in seeds:
            rec = confirm[f"confirm/{arm.replace(' ', '_')}/seed_{seed}"]
            assert rec["status"] == "completed" and rec["trial"] is None
            key = rec["confirm"].pop("baseline")  # the baseline's key: one for every run of the stage
            assert isinstance(key, str) and len(key) == 12
            assert rec["confirm"] == {"arm": arm, "rank": rank, "params": params, "seed": seed}
            assert rec["config"]["seed"] == seed
            assert rec["config"]["variant"]["name"] == ("baseline" if arm == "baseline" else "repulsion")
            scores.setdefault(arm, []).append(rec["final_avg_acc"])  # the test set's accuracy
    # optimization_results.yaml: the numbers a hand computation from the records gives
    block = yaml.safe_load((sweep / "optimization_results.yaml").read_text())["confirmation"]
    assert block["seeds"] == seeds and block["runs_completed"] == block["runs_planned"] == 9
    base = scores["baseline"]
    for entry in block["arms"]:
        mine = scores[entry["arm"]]
        assert entry["scores"] == mine and entry["n"] == 3
        assert entry["mean"] == pytest.approx(statistics.mean(mine), rel=1e-5)
        assert entry["sd"] == pytest.approx(statistics.stdev(mine), rel=1e-5, abs=1e-9)
        assert entry["sem"] == pytest.approx(statistics.stdev(mine) / 3**0.5, rel=1e-5, abs=1e-9)
        if entry["arm"] == "baseline":
            assert "vs_baseline" not in entry
            continue
        diffs = [a - b for a, b in zip(mine, base)]
        vs = entry["vs_baseline"]
        assert vs["n"] == 3 and vs["delta"] == pytest.approx(statistics.mean(diffs), rel=1e-5, abs=1e-9)
        if statistics.stdev(diffs) > 0:
            test = sps.ttest_rel(mine, base)
            ci = test.confidence_interval(0.95)
            assert vs["p"] == pytest.approx(float(test.pvalue), rel=1e-4)
            assert (vs["ci_low"], vs["ci_high"]) == pytest.approx((float(ci.low), float(ci.high)), rel=1e-4)
        else:  # equal differences on every seed: no interval is invented
            assert vs["p"] is None and vs["ci_low"] is None and vs["note"]
        # the printed summary: the same numbers
        line = f"{entry['arm']} (#{entry['rank']})"
        shown = next(x for x in out.stdout.splitlines() if x.strip().startswith(line))
        assert f"{100 * statistics.mean(mine):.2f} ± {100 * statistics.stdev(mine):.2f} sd" in shown
        assert f"Δ {100 * statistics.mean(diffs):+.2f} points" in entry["answer"] and entry["answer"] in out.stdout
    # the DataFrames
    runs = analysis.load_runs(sweep)
    confirmed = runs[runs["confirm_arm"].notna()]
    assert len(confirmed) == 9 and set(confirmed["confirm_seed"]) == set(seeds)
    assert (confirmed["sweep_dir"] == str(sweep)).all() and (confirmed["seed"] == confirmed["confirm_seed"]).all()
    assert sorted(set(confirmed["confirm_rank"])) == [0, 1, 2] and runs["confirm_arm"].isna().sum() == 3
    # the report opens with the answer, from the same numbers
    info = analysis.build_report([str(sweep)], str(tmp_path / "report.html"))
    page = (tmp_path / "report.html").read_text()
    assert page.index('id="baseline"') < page.index('id="variants"') and "baseline-delta-0.png" in str(info["figures"])
    first = block["arms"][0]
    assert f"{first['arm']} = repulsion" in page and f"Δ {100 * first['vs_baseline']['delta']:+.2f} points" in page


@pytest.mark.slow
def test_a_sweep_killed_during_confirmation_completes_on_a_rerun_without_redoing_runs(tmp_path):
    """SIGKILL the sweep while its second confirmation run waits in task 2 (tests/gate.py), the first one done."""
    args = [
        "variant=repulsion",
        "variant.repulsion.lamda_rep=tag(log, interval(1e-3, 10.0))",
        "hydra.sweeper.study_name=killconfirm",
        "hydra.sweeper.n_trials=1",
        "hydra.sweeper.confirm.top_k=1",
        "hydra.sweeper.confirm.seeds=2",
    ]
    sweep, gates = tmp_path / "sweep" / "confirm", tmp_path / "gates"
    gates.mkdir()
    midway = "trial_0/seed_2"  # the jobs run arm by arm, seed by seed: trial_0/seed_1 is done by then
    held = gate(gates, task=2, at="mid", jobs=f"confirm/{midway}")
    proc = run_sweep(tmp_path, *args, *held, wait=False)  # basic launcher: the jobs run in the sweep's process
    try:
        wait_until_reached(gates, f"confirm/{midway}", lambda: proc.poll() is None, (tmp_path / "launch.out").read_text)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    records = _records(sweep)
    done = {k for k, r in records.items() if r["status"] == "completed"}
    assert done == {"trial_0/seed_1"} and records[midway]["status"] == "running", records
    assert records[midway]["tasks_done"] == 1
    before = {k: (sweep / k / "results.json").read_bytes() for k in done}
    out = run_sweep(tmp_path, *args, in_process=True)  # the same command again, in this process
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    after = _records(sweep)
    assert len(after) == 4 and all(r["status"] == "completed" for r in after.values())
    for k, content in before.items():  # completed runs were not run again
        assert (sweep / k / "results.json").read_bytes() == content
    assert after[midway]["resumed_from_task"] == 1  # the interrupted run went on from its checkpoint
    assert f"{len(done)} already completed" in out.stdout + out.stderr
    block = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())["confirmation"]
    assert block["runs_completed"] == 4 and all(None not in a["scores"] for a in block["arms"])


def test_the_summary_of_a_partly_run_stage_pairs_only_what_completed_and_says_so():
    from birsweep.sweep.confirm.summary import block, lines

    study = _study([0.9, 0.8], [{"a": 1}, {"a": 2}])
    space = parse_search_space({"a": "choice(1,2,3,4)"})
    plan = make_plan(ConfirmConfig(top_k=1, seeds=3), study, space, job_seed=0)
    scores = {"trial 0": {1: 0.52, 2: 0.61, 3: None}, "baseline": {1: 0.50, 2: 0.60, 3: 0.70}}
    data = block(plan, scores)
    arm, base = data["arms"]
    assert data["runs_completed"] == 5 and data["runs_planned"] == 6 and data["seeds"] == [1, 2, 3]
    assert arm["scores"] == [0.52, 0.61, None] and arm["n"] == 2 and arm["mean"] == pytest.approx(0.565)
    vs = arm["vs_baseline"]
    assert vs["n"] == 2 and vs["delta"] == pytest.approx(0.015)
    # ttest_rel([0.52, 0.61], [0.50, 0.60]): t = 3, 1 degree of freedom
    assert vs["p"] == pytest.approx(0.20483276469913345, rel=1e-5)
    assert (vs["ci_low"], vs["ci_high"]) == pytest.approx((-0.04853102368087352, 0.07853102368087354), rel=1e-5)
    assert vs["verdict"] == "cannot tell" and "seeds without a pair left out: 3" in vs["note"]
    assert base["n"] == 3 and "vs_baseline" not in base
    text = "\n".join(lines(data))
    assert "(5/6 runs completed; search seeds 0)" in text and "trial 0 (#1)     56.50 ± 6.36 sd" in text
    assert "trial 0 vs the baseline: cannot tell, Δ +1.50 points (95% CI [-4.85, +7.85], p=0.205, 2 seeds)" in text
    assert lines({"note": "no complete trial to confirm", "arms": []}) == ["confirmation: no complete trial to confirm"]
