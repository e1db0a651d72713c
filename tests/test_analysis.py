"""analysis: records, studies and W&B runs -> DataFrames with one set of column names."""

from __future__ import annotations

import math
import os

import numpy as np
import optuna
import pandas as pd
import pytest

import analysis
from analysis.runs import flatten
from analysis.study import load_study
from analysis.wandb_api import WandbUnavailable, load_wandb, load_wandb_offline, record_from_wandb
from analysis.wandb_offline import find_runs, read_run
from birsweep.tracking import record as run_record
from birsweep.tracking.record import RunRecord
from birsweep.tracking.record_fields import RunStatus
from tests.test_analysis_fixtures import ITERS, N_TASKS, grid_sweep  # noqa: F401 - fixture

optuna.logging.set_verbosity(optuna.logging.WARNING)


def records(sweep):
    out = {}
    for job in sorted(os.listdir(sweep)):
        data, _ = run_record.try_load(os.path.join(sweep, job))
        if data is not None:
            out[os.path.join(str(sweep), job)] = data
    return out


# --- records ----------------------------------------------------------------------------------------------------------
def test_load_runs_one_row_per_job_with_the_record_values(grid_sweep):
    runs = analysis.load_runs(grid_sweep)
    recs = records(grid_sweep)
    assert len(runs) == 4 == len(recs)
    assert list(runs["job"]) == [0, 1, 2, 3]
    assert list(runs["variant"]) == ["baseline", "baseline", "repulsion", "repulsion"]
    assert list(runs["seed"]) == [0, 1, 0, 1]
    assert (runs["status"] == "completed").all()
    assert (runs["sweep_dir"] == str(grid_sweep)).all()
    for _, row in runs.iterrows():
        rec = recs[row["run_dir"]]
        for key in ("final_avg_acc", "forgetting", "bwt", "tasks_done", "n_tasks"):
            assert row[key] == rec[key], key
        assert row["train_s"] == rec["timings"]["train_s"]
        assert row["git_commit"] == rec["env"]["git_commit"]
        # the flattened config, dotted names
        assert row["variant.repulsion.enabled"] == (row["variant"] == "repulsion")
        assert row["trainer.iters"] == ITERS and row["data.n_tasks"] == N_TASKS
        assert row["trainer.betas"] == (0.9, 0.999)
        assert f"seed={row['seed']}" in row["overrides"] and f"variant={row['variant']}" in row["overrides"]
    # not a study: the trial columns are there, empty
    assert runs["trial_number"].isna().all() and runs["study_name"].isna().all()
    assert not any(c.startswith("optuna.") for c in runs.columns)


def test_load_tasks_long_format(grid_sweep):
    tasks = analysis.load_tasks(grid_sweep)
    recs = records(grid_sweep)
    assert len(tasks) == 4 * N_TASKS
    assert list(tasks["task"][:N_TASKS]) == [1, 2, 3]
    for _, row in tasks.iterrows():
        rec, t = recs[row["run_dir"]], int(row["task"])
        assert row["reached"]
        assert row["avg_acc"] == pytest.approx(rec["avg_acc"][t - 1])
        for k in range(1, N_TASKS + 1):
            value = row[f"acc_task_{k}"]
            if k <= t:
                assert value == pytest.approx(rec["acc_matrix"][t - 1][k - 1])
            else:
                assert math.isnan(value)
    assert {"variant", "seed", "status", "trial_number"} <= set(tasks.columns)


def test_runs_that_stopped_early_keep_every_task_row_and_single_run_dirs_load(tmp_path):
    rec = RunRecord(
        str(tmp_path / "run"),
        4,
        {
            "variant": {"name": "recon"},
            "seed": 5,
            "experiment_name": "x",
            "optuna": {"study_name": "s", "trial_number": 2, "params": {"variant.recon.lamda_rep": 0.5}},
        },
        {},
    )
    rec.add_task([0.9], 1.0)
    rec.add_task([0.7, 0.8], 1.0)
    rec.finish(RunStatus.PRUNED, "pruned by the study's pruner")
    runs = analysis.load_runs(tmp_path / "run")  # a single run dir
    assert len(runs) == 1
    row = runs.iloc[0]
    assert (row["status"], row["trial_state"], row["trial_number"], row["study_name"]) == ("pruned", "PRUNED", 2, "s")
    assert row["params.variant.recon.lamda_rep"] == 0.5 and pd.isna(row["final_avg_acc"])
    assert pd.isna(row["sweep_dir"]) and pd.isna(row["job"])
    tasks = analysis.load_tasks(tmp_path)
    assert len(tasks) == 4
    assert list(tasks["reached"]) == [True, True, False, False]
    assert tasks["avg_acc"].tolist()[:2] == [0.9, 0.75] and tasks["avg_acc"][2:].isna().all()
    assert tasks["acc_task_2"].tolist()[1] == 0.8


def test_flatten_and_missing_dirs(tmp_path):
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": {}, "optuna": {"x": 1}}, skip=("optuna",)) == {
        "a.b": 1,
        "a.c": (1, 2),
        "d": None,
    }
    with pytest.raises(FileNotFoundError):
        analysis.load_runs(tmp_path / "nope")
    assert analysis.load_runs(tmp_path).empty
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / run_record.RESULTS).write_text("{not json")
    with pytest.warns(UserWarning, match="skipping .*broken"):
        assert analysis.load_runs(tmp_path).empty


# --- comparisons ------------------------------------------------------------------------------------------------------
def test_compare_is_mean_and_sem_over_seeds(grid_sweep):
    runs = analysis.add_labels(analysis.load_runs(grid_sweep))
    assert sorted(set(runs["label"])) == ["baseline", "repulsion"]  # differ only by variant: plain names
    table = analysis.compare(runs).set_index("label")
    for variant in ("baseline", "repulsion"):
        vals = np.array(
            [r["final_avg_acc"] for r in records(grid_sweep).values() if r["config"]["variant"]["name"] == variant]
        )
        assert table.loc[variant, "final_avg_acc_mean"] == pytest.approx(vals.mean())
        assert table.loc[variant, "final_avg_acc_sem"] == pytest.approx(vals.std(ddof=1) / math.sqrt(2))
        assert table.loc[variant, "n_runs"] == 2 and table.loc[variant, "seeds"] == "0,1"
    curves = analysis.task_curves(analysis.load_tasks(grid_sweep), runs)
    assert len(curves) == 2 * N_TASKS and (curves["n"] == 2).all()


def test_labels_name_what_differs():
    base = {
        "status": "completed",
        "seed": 0,
        "final_avg_acc": 0.5,
        "forgetting": 0.1,
        "bwt": -0.1,
        "run_dir": "x",
        "trainer.iters": 100,
        "paths.cache_dir": "c",
    }
    runs = pd.DataFrame(
        [
            {**base, "experiment": "demo", "variant": "baseline", "model.replay": "generative", "paths.cache_dir": "a"},
            {**base, "experiment": "demo-finetune", "variant": "baseline", "model.replay": "none"},
            {
                **base,
                "experiment": "rep",
                "variant": "repulsion",
                "variant.rep_f": 2.0,
                "variant.repulsion.lamda_rep": 1e-5,
            },
            {
                **base,
                "experiment": "rep",
                "variant": "repulsion",
                "variant.rep_f": 3.5,
                "variant.repulsion.lamda_rep": 1e-5,
            },
        ]
    )
    labels = analysis.add_labels(runs)["label"].tolist()
    # the experiment goes in front when one variant ran under several experiments
    assert labels[:2] == ["demo / baseline", "demo-finetune / baseline"]
    assert labels[2] == "rep / repulsion (rep_f=2)" and labels[3] == "rep / repulsion (rep_f=3.5)"
    assert analysis.add_labels(runs, by=["variant"])["label"].tolist() == ["baseline"] * 2 + ["repulsion"] * 2


# --- Optuna studies ---------------------------------------------------------------------------------------------------
def _make_study(storage, name="s", values=(0.5, 0.7, None, 0.6)):
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    for i, value in enumerate(values):
        trial = study.ask(
            {
                "variant.rep_f": optuna.distributions.FloatDistribution(1, 50),
                "variant.repulsion.divergence": optuna.distributions.CategoricalDistribution(["js", "kl"]),
            }
        )
        trial.set_user_attr("run_dir", f"/runs/{i}")
        for step in (1, 2):
            trial.report(0.9 - 0.1 * step + 0.01 * i, step)
        if value is None:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            trial.report(value, 3)
            study.tell(trial, value)
    return study


def test_load_study_from_url_file_dir_and_journal(tmp_path):
    db = tmp_path / "sweep" / "optuna.db"
    db.parent.mkdir()
    study = _make_study(f"sqlite:///{db}")
    for spec in (f"sqlite:///{db}", str(db), str(db.parent)):
        trials = load_study(spec) if spec != str(db.parent) else analysis.load_study(spec)
        assert list(trials["trial_number"]) == [0, 1, 2, 3]
        assert list(trials["trial_state"]) == ["COMPLETE", "COMPLETE", "PRUNED", "COMPLETE"]
        # optuna gives a pruned trial its last reported value
        assert trials["trial_value"].tolist() == pytest.approx([0.5, 0.7, 0.72, 0.6])
        assert trials["params.variant.rep_f"].tolist() == [t.params["variant.rep_f"] for t in study.trials]
        assert trials["intermediate.1"].tolist() == pytest.approx([0.8, 0.81, 0.82, 0.83])
        assert trials["intermediate.3"].tolist()[:2] == [0.5, 0.7] and pd.isna(trials["intermediate.3"][2])
        assert trials["run_dir"].tolist() == [f"/runs/{i}" for i in range(4)]
        assert trials.attrs["direction"] == "maximize"
    long = analysis.intermediate_long(trials)
    assert len(long) == 3 + 3 + 2 + 3
    best = analysis.best_trial(None, trials)
    assert best["trial_number"] == 1
    # a journal file (NFS-safe storage)
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    journal = tmp_path / "journal.log"
    _make_study(JournalStorage(JournalFileBackend(str(journal))), name="j")
    assert load_study(str(journal))["trial_state"].tolist()[2] == "PRUNED"
    # two studies in one storage: the name must be given
    _make_study(f"sqlite:///{db}", name="other", values=(0.1,))
    with pytest.raises(ValueError, match="pass study_name"):
        load_study(str(db))
    assert len(load_study(str(db), "other")) == 1
    with pytest.raises(FileNotFoundError):
        load_study(str(tmp_path / "nothing-here.db"))
    assert not (tmp_path / "nothing-here.db").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no Optuna study"):
        load_study(str(tmp_path / "empty"))


# --- W&B --------------------------------------------------------------------------------------------------------------
def test_every_job_has_an_offline_wandb_run_matching_its_record(grid_sweep):
    for run_dir, rec in records(grid_sweep).items():
        runs = find_runs(run_dir)
        assert len(runs) == 1 and runs[0].startswith(os.path.join(run_dir, "wandb", "offline-run-"))
        wb = read_run(runs[0], wait=60)
        assert wb["exit_code"] == 0
        assert wb["run"]["job_type"] == rec["config"]["variant"]["name"]
        assert wb["summary"]["final_avg_acc"] == rec["final_avg_acc"]
        assert [row["acc/avg"] for row in wb["history"] if "acc/avg" in row] == rec["avg_acc"]
        assert [row["train/loss"] for row in wb["history"] if "train/loss" in row] == [
            row["loss"] for row in rec["losses"]
        ]


def test_wandb_frames_have_the_record_columns_and_values(grid_sweep):
    runs, tasks = analysis.load_runs(grid_sweep), analysis.load_tasks(grid_sweep)
    wruns = load_wandb_offline(str(grid_sweep)).sort_values("job").reset_index(drop=True)
    wtasks = load_wandb_offline(str(grid_sweep), tasks=True).sort_values(["job", "task"]).reset_index(drop=True)
    assert [c for c in wruns.columns if not c.startswith("wandb_")] == list(runs.columns)
    assert [c for c in wtasks.columns if not c.startswith("wandb_")] == list(tasks.columns)
    pd.testing.assert_frame_equal(wruns[runs.columns], runs, check_dtype=False)
    pd.testing.assert_frame_equal(wtasks[tasks.columns], tasks, check_dtype=False)
    assert set(wruns["wandb_state"]) == {"finished"}


class FakeApiRun:
    """What wandb.Api().runs() yields, filled from an offline run (the API itself needs network)."""

    def __init__(self, offline):
        self.config, self.summary, self._history = offline["config"], offline["summary"], offline["history"]
        run = offline["run"]
        self.id, self.name, self.group, self.job_type, self.tags = (
            run["id"],
            run["name"],
            run["group"],
            run["job_type"],
            run["tags"],
        )
        self.state, self.url = "finished", f"https://example.invalid/{run['id']}"

    def scan_history(self, keys=None):
        return iter(self._history)


class FakeApi:
    def __init__(self, runs):
        self._runs, self.calls = runs, []

    def runs(self, path, filters=None):
        self.calls.append((path, filters))
        return self._runs


def test_load_wandb_through_the_api_gives_the_same_columns(grid_sweep):
    offline = [read_run(r) for r in find_runs(str(grid_sweep))]
    api = FakeApi([FakeApiRun(o) for o in offline])
    df = load_wandb("birsweep", {"group": "x"}, entity="me", api=api)
    assert api.calls == [("me/birsweep", {"group": "x"})]
    runs = analysis.load_runs(grid_sweep)
    assert [c for c in df.columns if not c.startswith("wandb_")] == list(runs.columns)
    df = df.sort_values("job").reset_index(drop=True)
    assert df["final_avg_acc"].tolist() == runs["final_avg_acc"].tolist()
    assert df["wandb_url"].str.startswith("https://example.invalid/").all()
    tasks = load_wandb("me/birsweep", api=api, tasks=True)
    assert len(tasks) == 4 * N_TASKS


def test_load_wandb_offline_gives_a_clear_error_without_touching_the_network(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "offline")
    with pytest.raises(WandbUnavailable, match="online only|WANDB_MODE=offline"):
        load_wandb("birsweep")
    monkeypatch.setenv("WANDB_MODE", "disabled")
    with pytest.raises(WandbUnavailable, match="analysis.load_runs"):
        analysis.load_wandb("birsweep", {"group": "g"})


def test_record_from_wandb_handles_trials():
    data = record_from_wandb(
        {"seed": 1, "variant": {"name": "recon"}, "run_dir": "/r/3", "_wandb": {}},
        {"status": "pruned", "trial_number": 3, "study_name": "st", "params.x.y": 2.0, "n_tasks": 2},
        [{"task": 1, "acc/avg": 0.9, "acc/task_1": 0.9, "time/task_s": 1.5}],
    )
    assert data["trial"] == {"study_name": "st", "number": 3, "params": {"x.y": 2.0}}
    assert data["acc_matrix"] == [[0.9, None]] and data["run_dir"] == "/r/3" and "run_dir" not in data["config"]


def test_wandb_report_builds_without_network(grid_sweep, monkeypatch):
    pytest.importorskip("wandb_workspaces")
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces.reports.v2 import interface

    def no_network():
        raise AssertionError("building a report must not call the W&B API")

    monkeypatch.setattr(interface, "_get_api", no_network)
    report = analysis.wandb_report(
        "birsweep", "my-team", params=["variant.repulsion.lamda_rep", "variant.rep_f"], sweep=str(grid_sweep)
    )
    assert isinstance(report, wr.Report) and report.entity == "my-team" and report.project == "birsweep"
    assert report.title == "birsweep: synthetic-bir_si-baseline"  # no study: the first experiment names the group
    grids = [b for b in report.blocks if isinstance(b, wr.PanelGrid)]
    panels = [type(p).__name__ for g in grids for p in g.panels]
    for kind in (
        "BarPlot",
        "LinePlot",
        "MediaBrowser",
        "WeavePanelSummaryTable",
        "ScatterPlot",
        "ParameterImportancePlot",
        "ParallelCoordinatesPlot",
        "RunComparer",
    ):
        assert kind in panels, kind
    assert panels.count("LinePlot") == 1 + N_TASKS
    assert all(rs.project == "birsweep" and rs.entity == "my-team" for g in grids for rs in g.runsets)
    assert "synthetic-bir_si-baseline" in grids[0].runsets[0].filters
    line = [p for g in grids for p in g.panels if isinstance(p, wr.LinePlot)][0]
    assert (line.x, line.y, line.groupby_rangefunc) == ("task", ["acc/avg"], "stderr")
    monkeypatch.setenv("WANDB_MODE", "offline")
    with pytest.raises(RuntimeError, match="needs the W&B server"):
        analysis.wandb_report("birsweep", "my-team", group="g", save=True)


def test_load_wandb_without_a_login_says_so(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    with pytest.raises(WandbUnavailable, match="API key|wandb login"):
        load_wandb("birsweep")
