"""An Optuna sweep seen through analysis: trial columns, joins with the study, W&B runs of every trial."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

import analysis
from analysis.wandb_offline import find_runs, read_run
from birsweep.tracking import record
from tests.test_analysis_fixtures import N_TASKS, optuna_sweep  # noqa: F401 - fixture

SEARCHED = ["variant.rep_f", "variant.repulsion.divergence", "variant.repulsion.lamda_rep", "variant.use_rep_f"]


def test_load_runs_has_one_row_per_trial_with_its_parameters(optuna_sweep):
    runs = analysis.load_runs(optuna_sweep)
    assert len(runs) == 3
    assert sorted(runs["trial_number"]) == [0, 1, 2]
    assert set(runs["variant.use_rep_f"]) == {True, False}  # both branches of rep_f below
    assert (runs["study_name"] == "rep-test").all() and (runs["variant"] == "repulsion").all()
    assert {"variant", "seed", "final_avg_acc", "status", "trial_number", "trial_state"} <= set(runs.columns)
    params = sorted(c for c in runs.columns if c.startswith("params."))
    assert set(params) - {"params.variant.rep_f"} == {f"params.{p}" for p in SEARCHED} - {"params.variant.rep_f"}
    for _, row in runs.iterrows():
        rec = record.load(row["run_dir"])
        assert row["status"] == rec["status"] and row["final_avg_acc"] == rec["final_avg_acc"]
        assert row["val_final_avg_acc"] == rec["val_final_avg_acc"] and row["objective_split"] == "val"
        for p in SEARCHED:
            if p not in rec["trial"]["params"]:  # rep_f is sampled only with use_rep_f: the default ran
                assert p == "variant.rep_f" and not rec["trial"]["params"]["variant.use_rep_f"] and row[p] == 20.0
                continue
            assert row[f"params.{p}"] == rec["trial"]["params"][p]
            # the job really ran with the sampled value: the flattened config agrees
            used, sampled = row[p], row[f"params.{p}"]
            assert used == (pytest.approx(sampled) if isinstance(sampled, float) else sampled), p
    tasks = analysis.load_tasks(optuna_sweep)
    assert len(tasks) == 3 * N_TASKS
    assert set(tasks["trial_number"]) == {0, 1, 2}


def test_study_trials_join_the_runs(optuna_sweep):
    runs = analysis.load_runs(optuna_sweep)
    trials = analysis.load_study(str(optuna_sweep))
    assert trials.attrs["storage"] == f"sqlite:///{optuna_sweep / 'optuna.db'}"
    joined = runs.merge(trials, on=["study_name", "trial_number"], suffixes=("", "_study"))
    assert len(joined) == 3
    assert (joined["trial_state"] == joined["trial_state_study"]).all()
    assert (joined["run_dir"] == joined["run_dir_study"]).all()
    done = joined[joined["trial_state"] == "COMPLETE"]
    assert (done["trial_value"] == done["val_final_avg_acc"]).all()  # the preset tunes on validation
    # the validation average reported after each task is the record's
    for _, row in joined.iterrows():
        avg = record.load(row["run_dir"])["val_avg_acc"]
        reported = [row[f"intermediate.{t}"] for t in range(1, len(avg) + 1)]
        assert reported == pytest.approx(avg)
    for p in SEARCHED:
        if f"params.{p}" in joined.columns:
            pd.testing.assert_series_equal(joined[f"params.{p}"], joined[f"params.{p}_study"], check_names=False)


def test_a_copied_sweep_reads_its_own_study_not_the_original_its_records_name(optuna_sweep, tmp_path):
    copy = tmp_path / "elsewhere" / "sweep"  # a clone or a move to another machine: the records keep the old paths
    shutil.copytree(optuna_sweep, copy)
    assert record.load(str(copy / "0"))["config"]["optuna"]["storage"] == f"sqlite:///{optuna_sweep / 'optuna.db'}"
    assert analysis.find_studies(str(copy)) == [(f"sqlite:///{copy / 'optuna.db'}", "rep-test")]
    trials = analysis.load_study(str(copy))
    assert trials.attrs["storage"] == f"sqlite:///{copy / 'optuna.db'}" and len(trials) == 3
    # the original is what the records name: read, it would give the same study twice in a report
    assert analysis.find_studies(str(optuna_sweep)) == [(f"sqlite:///{optuna_sweep / 'optuna.db'}", "rep-test")]


def test_a_copied_sweep_s_runs_are_where_they_lie_now_with_their_hydra_job(optuna_sweep, tmp_path):
    """The records name the dirs they were written to; after a copy to another machine those do not exist, so the
    frames give the copy's own dirs, and Hydra's job information is read there."""
    copy = tmp_path / "elsewhere" / "sweep"
    shutil.copytree(optuna_sweep, copy)
    assert record.load(str(copy / "1"))["run_dir"] == str(optuna_sweep / "1")  # as written
    runs = analysis.load_runs(copy)
    assert runs["run_dir"].tolist() == [str(copy / str(j)) for j in range(3)]
    assert runs["sweep_dir"].tolist() == [str(copy)] * 3 and runs["job"].tolist() == [0, 1, 2]
    assert all("hparams_search=repulsion" in o for o in runs["overrides"])
    assert set(analysis.load_tasks(copy)["run_dir"]) == set(runs["run_dir"])
    offline = analysis.load_wandb_offline(str(copy)).sort_values("job")
    assert offline["run_dir"].tolist() == runs["run_dir"].tolist() and offline["job"].tolist() == [0, 1, 2]


def test_every_trial_has_a_finished_offline_wandb_run_grouped_by_study(optuna_sweep):
    runs = analysis.load_runs(optuna_sweep)
    for _, row in runs.iterrows():
        found = find_runs(row["run_dir"])
        assert len(found) == 1
        wb = read_run(found[0], wait=60)
        assert wb["exit_code"] == 0 and wb["summary"]["status"] == row["status"]
        assert wb["run"]["group"] == "rep-test" and wb["run"]["job_type"] == "repulsion"
        assert wb["run"]["name"] == f"bir_si-repulsion-s0-t{row['trial_number']}"
        assert wb["summary"]["trial_number"] == row["trial_number"]
        for p in SEARCHED:
            if f"params.{p}" in wb["summary"]:
                assert wb["summary"][f"params.{p}"] == row[f"params.{p}"]
        assert [r["acc/avg"] for r in wb["history"] if "acc/avg" in r] == pytest.approx(
            analysis.load_tasks(row["run_dir"])["avg_acc"].dropna().tolist()
        )
