"""Diagnostics in the DataFrames and in the report: columns, long frames, the variant-vs-baseline section and the
note on runs whose term never fired."""

from __future__ import annotations

import pytest

import analysis
from analysis.report_diagnostics import _inert_note, group_table, variant_groups
from birsweep.tracking import record
from birsweep.train.loop.run import train
from tests.helpers import TINY, make_cfg

SHORT = [*TINY, "data.synthetic.n_classes=6", "data.n_tasks=3", "diagnostics.top_pairs=2"]
RUNS = {
    "base-0": ["seed=0"],
    "base-1": ["seed=1"],
    "recon-0": ["variant=recon", "seed=0"],
    "recon-1": ["variant=recon", "seed=1"],
    "inert-0": ["variant=repulsion", "variant.use_rep_f=true", "variant.rep_f=0.5", "seed=0"],
}


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("diag-runs")
    for name, overrides in RUNS.items():
        train(make_cfg(SHORT + overrides), str(root / name))
    return root


def test_load_runs_has_participation_inert_terms_and_the_last_tasks_diagnostics(runs_dir):
    runs = analysis.load_runs(runs_dir).set_index("run_dir")
    by_name = {path.rsplit("/", 1)[-1]: row for path, row in runs.iterrows()}
    inert, recon, base = by_name["inert-0"], by_name["recon-0"], by_name["base-0"]
    assert inert["inert_terms"] == ("repulsion",) and inert["participation_repulsion"] == 0
    assert recon["inert_terms"] in ((), ("recon_rep",))
    rec = record.load(runs_dir / "recon-0")
    assert recon["participation_recon_atr"] == sum(rec["participation"]["recon_atr"]) > 0
    assert base["inert_terms"] == () and "participation_repulsion" in runs.columns
    assert base["participation_repulsion"] != base["participation_repulsion"]  # NaN: the term is not enabled
    last = rec["diagnostics"][-1]
    assert recon["diag_task"] == 3
    assert recon["diag_pair_rate"] == pytest.approx(sum(p["rate"] for p in last["pairs"]) / len(last["pairs"]))
    assert recon["diag_replay_acc"] == pytest.approx(last["replay_acc_old"])
    # measured columns never split a configuration
    labels = analysis.add_labels(runs.reset_index())
    assert labels.loc[labels["run_dir"].str.endswith("base-0"), "label"].item() == "baseline"


def test_load_diagnostics_long_frames(runs_dir):
    pairs = analysis.load_diagnostics(runs_dir)
    rec = record.load(runs_dir / "recon-1")
    mine = pairs[pairs["run_dir"].str.endswith("recon-1")]
    expected = [(d["task"], p["rate"], p["skl"], p["distance"]) for d in rec["diagnostics"] for p in d["pairs"]]
    assert list(zip(mine["task"], mine["rate"], mine["skl"], mine["distance"])) == expected
    assert set(mine["task"]) == {2, 3} and mine["rank"].max() <= 2  # no old pair after the first task
    replay = analysis.load_diagnostics(runs_dir, kind="replay")
    mine = replay[replay["run_dir"].str.endswith("recon-1")]
    assert len(mine) == 2 + 4 + 6 and mine["replay_acc"].between(0, 1).all()
    assert mine[mine["task"] == 3]["old"].sum() == 4
    part = analysis.load_diagnostics(runs_dir, kind="participation")
    mine = part[part["run_dir"].str.endswith("recon-1") & (part["term"] == "recon_atr")]
    assert list(mine["count"]) == rec["participation"]["recon_atr"]
    with pytest.raises(ValueError, match="kind="):
        analysis.load_diagnostics(runs_dir, kind="nope")


def test_groups_put_inert_runs_apart_from_their_variant(runs_dir):
    runs = analysis.load_runs(runs_dir)
    groups = dict(zip(runs["run_dir"].str.rsplit("/", n=1).str[-1], variant_groups(runs)))
    assert groups == {
        "base-0": "baseline",
        "base-1": "baseline",
        "recon-0": "recon",
        "recon-1": "recon",
        "inert-0": "repulsion (inert)",
    }
    table = group_table(runs)
    assert list(table["group"]) == ["baseline", "recon", "repulsion (inert)"] and list(table["runs"]) == [2, 2, 1]
    recon = runs[runs["variant"] == "recon"]["diag_pair_skl"]
    row = table[table["group"] == "recon"].iloc[0]
    assert row["diag_pair_skl_mean"] == pytest.approx(recon.mean()) and row["diag_pair_skl_sd"] == pytest.approx(
        recon.std()
    )


def test_the_report_answers_the_question_and_notes_the_inert_run(runs_dir, tmp_path):
    info = analysis.build_report([str(runs_dir)], out=str(tmp_path / "report.html"))
    page = (tmp_path / "report.html").read_text()
    assert 'id="diagnostics"' in page and "Did exaggeration separate competing memories?" in page
    assert "1 of 5 completed runs had a loss term that never fired (repulsion)" in page
    assert "their results equal the baseline&#x27;s" in page
    assert "repulsion (inert)" in page and "top-pair confusion rate (%)" in page
    assert any(f.endswith("diagnostics-groups.png") for f in info["figures"])
    assert any(f.endswith("diagnostics-pair-rate.png") for f in info["figures"])


def test_a_run_stopped_after_task_1_is_not_called_inert(runs_dir):
    """Replay terms cannot fire in task 1: a run still running (or cut short) after it is not judged."""
    runs = analysis.load_runs(runs_dir)
    inert = runs["run_dir"].str.endswith("inert-0")
    recon = runs.index[runs["run_dir"].str.endswith("recon-0")][0]
    runs.at[recon, "inert_terms"], runs.at[recon, "status"] = ("recon_atr", "recon_rep"), "running"
    groups = variant_groups(runs)
    assert groups[recon] == "recon" and (groups[inert] == "repulsion (inert)").all()
    note = _inert_note(runs)
    assert note.startswith("Inactive terms: 1 of 4 completed runs had a loss term that never fired (repulsion)")
