"""The report's ablations section: the two-group table (mean ± s.e.m. per ablation, upstream's order) by hand, and
``experiment=ablations_digits`` end to end through ``launch.py`` and the HTML report (the whole set, short runs)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.report import build_report
from analysis.report_ablations import ablation_table, plot_ablation_bars, references
from birsweep.tracking import record
from tests.helpers import launch
from tests.test_analysis_report import Page

ALL = (
    "bir,no_feedback,no_conditional,no_gating,no_internal,no_distill,"
    "sgr,sgr_feedback,sgr_conditional,sgr_gating,sgr_internal,sgr_distill,only_last"
)


def _runs() -> pd.DataFrame:
    rows = []
    for ablation, accs in {"no_gating": [0.5, 0.7, 0.6], "sgr": [0.2, 0.3], "bir": [0.9]}.items():
        for seed, acc in enumerate(accs):
            rows.append(
                {
                    "run_dir": f"{ablation}-{seed}",
                    "method.name": f"bir-{ablation}",
                    "method.ablation": ablation,
                    "variant": "baseline",
                    "data": "digits",
                    "seed": seed,
                    "status": "completed",
                    "final_avg_acc": acc,
                }
            )
    for seed, acc in enumerate([0.18, 0.2]):  # the reference line: method=none on the last task only
        rows.append(
            {**rows[0], "run_dir": f"ol-{seed}", "method.ablation": "only_last", "seed": seed, "final_avg_acc": acc}
        )
    rows.append({**rows[0], "run_dir": "failed", "status": "failed", "final_avg_acc": 0.0, "seed": 7})
    rows.append({**rows[0], "run_dir": "plain", "method.name": "bir", "method.ablation": None, "seed": 8})
    return pd.DataFrame(rows)


def test_the_ablation_table_is_mean_and_sem_per_ablation_in_upstreams_groups():
    table = ablation_table(_runs())
    assert list(table["ablation"]) == ["sgr", "bir", "no_gating"]  # s-GR's group first, then BI-R's, each in order
    assert list(table["short"]) == ["s-GR", "BI-R", "- gat"]
    gating = table.iloc[2]
    assert gating["group"] == "Ablations from BI-R" and gating["n"] == 3 and gating["seeds"] == "0,1,2"
    assert gating["mean"] == pytest.approx(0.6)  # the failed run and the plain method=bir run are left out
    assert gating["sem"] == pytest.approx(math.sqrt((0.1**2 + 0.1**2) / 2) / math.sqrt(3))
    assert gating["values"] == pytest.approx([0.5, 0.7, 0.6])
    assert math.isnan(table.iloc[1]["sem"])  # one seed: no error bar
    assert ablation_table(_runs().drop(columns=["method.ablation"])).empty


def test_the_reference_lines_are_the_only_last_runs_and_chance():
    runs = _runs()
    lines = references(runs[runs["data"] == "digits"], n_classes=10)
    assert lines["only_last"] == pytest.approx(0.19) and lines["only_last_n"] == 2
    assert lines["only_last_sem"] == pytest.approx(math.sqrt(0.01**2 * 2) / math.sqrt(2))
    assert lines["chance"] == pytest.approx(0.1)
    assert references(runs[runs["data"] == "cifar100"], None) == {
        "only_last": None,
        "only_last_sem": None,
        "only_last_n": None,
        "chance": None,
    }
    fig = plot_ablation_bars(ablation_table(_runs()), lines=lines)
    ys = {(line.get_linestyle(), round(float(line.get_ydata()[0]), 6)) for line in fig.axes[0].get_lines()}
    assert ("--", 19.0) in ys and (":", 10.0) in ys  # in %, dashed only-last, dotted chance


def _report(sweep, tmp_path) -> Page:
    info = build_report([str(sweep)], out=str(tmp_path / "report.html"))
    page = Page()
    page.feed((tmp_path / "report.html").read_text())
    assert "ablations" in page.ids and not page.errors
    assert "methods" not in page.ids  # ablation runs are not a method comparison
    assert any(f.endswith("ablations-digits.png") for f in info["figures"])
    return page


@pytest.mark.slow  # 26 short runs: over 10 s (make test-all)
def test_the_digits_ablations_run_end_to_end_through_the_report(tmp_path):
    """Every ablation and the only-last reference x seeds 0, 1, two tasks of 10 iterations each (the report's
    subject is the records, not their accuracy)."""
    out = launch(
        "experiment=ablations_digits",
        "seed=0,1",
        "trainer.iters=10",
        "trainer.max_tasks=2",
        "eval_gen.enabled=false",  # the ablations' tables read accuracies only
        f"paths.sweeps_dir={tmp_path / 'sweeps'}",
        cwd=tmp_path,
        multirun=True,
        timeout=3600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    sweep = tmp_path / "sweeps" / "ablations-digits"
    for ablation in ALL.split(","):
        name = {"bir": "bir-reference", "only_last": "only_last"}.get(ablation, f"bir-{ablation}")
        for seed in (0, 1):
            rec = record.load(sweep / f"{name}-s{seed}")
            assert rec["status"] == "completed" and rec["config"]["method"]["name"] == name
    page = _report(sweep, tmp_path)
    assert len([c for c in page.cells if c.endswith("(n=2)")]) == 12
    labels = ("+ replay-through-feedback", "- distillation", "- gating", "BI-R", "s-GR")
    assert set(labels) | {"Additions to standard GR", "Ablations from BI-R"} <= set(page.cells)
    rec = record.load(sweep / "only_last-s0")
    assert rec["config"]["trainer"]["only_last"] is True and {row["task"] for row in rec["losses"]} == {2}
    html = (tmp_path / "report.html").read_text()
    assert "Only last task: " in html and "(n=2); chance level: 25.00 %" in html  # 2 tasks of 2 classes trained
